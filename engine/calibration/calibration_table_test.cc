#include "engine/calibration/calibration_table.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::calibration {
namespace {

using ::testing::HasSubstr;

constexpr char kDigestA[] =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kDigestB[] =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

CalibrationTable MakeTable() {
  CalibrationTable table;
  table.model_digest = kDigestA;
  table.weight_scheme = "pair-limited-8bit";
  table.method = {CalibrationMethod::kPercentile, 99.99};
  table.sample_count = 512;
  table.created = absl::FromUnixNanos(1714564800123456789);
  table.extra["dataset"] = "cifar10 \"test\" [0:512]";
  table.extra["tool"] = "octet 0.1\nsecond line";
  table.tensors["conv1"] = {0.0f, 6.25f, 0.0f, 17.5f};
  table.tensors["name with spaces"] = {-1.5f, 1.5f, std::nullopt, std::nullopt};
  table.tensors["quote\"d 'name'"] = {0.1f, 0.3f, -0.2f, std::nullopt};
  table.tensors["back\\slash\ttab"] = {-std::numeric_limits<float>::max(),
                                       std::numeric_limits<float>::max(), std::nullopt, 1e-45f};
  table.tensors["ünïcødé/名前"] = {-0.0f, 1e-7f, std::nullopt, std::nullopt};
  return table;
}

void ExpectTablesEqual(const CalibrationTable& a, const CalibrationTable& b) {
  EXPECT_EQ(a.model_digest, b.model_digest);
  EXPECT_EQ(a.weight_scheme, b.weight_scheme);
  EXPECT_EQ(a.method.method, b.method.method);
  if (a.method.method == CalibrationMethod::kPercentile) {
    EXPECT_EQ(a.method.percentile, b.method.percentile);
  }
  EXPECT_EQ(a.sample_count, b.sample_count);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.extra, b.extra);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (auto ia = a.tensors.begin(), ib = b.tensors.begin(); ia != a.tensors.end(); ++ia, ++ib) {
    SCOPED_TRACE(ia->first);
    EXPECT_EQ(ia->first, ib->first);
    // Bitwise: the text must preserve every float exactly (even the sign of zero).
    EXPECT_EQ(std::signbit(ia->second.min), std::signbit(ib->second.min));
    EXPECT_EQ(ia->second.min, ib->second.min);
    EXPECT_EQ(ia->second.max, ib->second.max);
    EXPECT_EQ(ia->second.observed_min, ib->second.observed_min);
    EXPECT_EQ(ia->second.observed_max, ib->second.observed_max);
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  return names;
}

class CalibrationTableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "/octet_calib_XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    ::chmod(dir_.c_str(), 0755);
    for (const std::string& name : ListDir(dir_)) {
      const std::string path = dir_ + "/" + name;
      if (::unlink(path.c_str()) != 0) ::rmdir(path.c_str());
    }
    ::rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST(CalibrationTableTextTest, RoundTripsEveryField) {
  const CalibrationTable table = MakeTable();
  absl::StatusOr<std::string> text = ToText(table);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, ::testing::StartsWith("# octet calibration table v1\n"));
  EXPECT_THAT(*text, HasSubstr("tensor \"name with spaces\" min=-1.5 max=1.5\n"));
  EXPECT_THAT(*text, HasSubstr("method percentile 99.99\n"));
  EXPECT_THAT(*text, HasSubstr("ünïcødé/名前"));  // UTF-8 stays readable.
  absl::StatusOr<CalibrationTable> parsed = Parse(*text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << *text;
  ExpectTablesEqual(table, *parsed);
  EXPECT_EQ(*ToText(*parsed), *text);  // Deterministic: same table, same bytes.
}

TEST(CalibrationTableTextTest, NonPercentileMethodAndEmptyTable) {
  CalibrationTable table;
  table.model_digest = kDigestB;
  table.method.method = CalibrationMethod::kEntropy;
  const std::string text = *ToText(table);
  EXPECT_THAT(text, HasSubstr("\nmethod entropy\n"));
  EXPECT_THAT(text, HasSubstr("\nend 0\n"));
  ExpectTablesEqual(table, *Parse(text));
}

TEST(CalibrationTableTextTest, EveryTruncationIsRejected) {
  const std::string text = *ToText(MakeTable());
  for (size_t size = 0; size < text.size(); ++size) {
    absl::StatusOr<CalibrationTable> parsed = Parse(text.substr(0, size));
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << "size " << size;
  }
  absl::StatusOr<CalibrationTable> cut = Parse(text.substr(0, text.rfind("end ")));
  EXPECT_THAT(cut.status().message(), HasSubstr("truncated"));
}

struct BadTableCase {
  std::string description;
  std::string from;  // Replaced in a valid table's text...
  std::string to;    // ...by this.
  std::string message;
  int line;  // 0: no line number expected.
};

class BadTableTest : public ::testing::TestWithParam<BadTableCase> {};

TEST_P(BadTableTest, RejectedWithLineNumber) {
  const BadTableCase& c = GetParam();
  CalibrationTable table;
  table.model_digest = kDigestA;
  table.weight_scheme = "w";
  table.sample_count = 8;
  table.tensors["a"] = {0.0f, 1.0f, std::nullopt, std::nullopt};
  table.tensors["b"] = {-1.0f, 2.0f, std::nullopt, std::nullopt};
  // Lines: 1 version, 2 model_digest, 3 weight_scheme, 4 method, 5 sample_count, 6 created,
  // 7 tensor "a", 8 tensor "b", 9 end 2.
  const std::string good = *ToText(table);
  ASSERT_THAT(good, HasSubstr(c.from));
  const std::string bad = absl::StrReplaceAll(good, {{c.from, c.to}});
  absl::StatusOr<CalibrationTable> parsed = Parse(bad);
  ASSERT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  EXPECT_THAT(parsed.status().message(), HasSubstr(c.message));
  if (c.line > 0) {
    EXPECT_THAT(parsed.status().message(), HasSubstr(absl::StrCat("line ", c.line, ":")));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Corrupt, BadTableTest,
    ::testing::Values(
        BadTableCase{"NewerVersion", "table v1", "table v2", "unsupported version 'v2'", 1},
        BadTableCase{"NotATable", "# octet calibration table v1", "hello", "not an octet", 1},
        BadTableCase{"BadNumber", "min=0 max=1", "min=abc max=1", "not a finite float", 7},
        BadTableCase{"NaN", "min=0 max=1", "min=nan max=1", "not a finite float", 7},
        BadTableCase{"Inf", "min=-1 max=2", "min=-1 max=inf", "not a finite float", 8},
        BadTableCase{"Overflow", "min=-1 max=2", "min=-1 max=1e39", "not a finite float", 8},
        BadTableCase{"MinAboveMax", "min=-1 max=2", "min=3 max=2", "min > max", 8},
        BadTableCase{"MissingMax", "min=-1 max=2", "min=-1", "both min= and max=", 8},
        BadTableCase{"UnknownField", "min=-1 max=2", "min=-1 max=2 scale=3", "unknown tensor field",
                     8},
        BadTableCase{"DuplicateTensor", "tensor \"b\"", "tensor \"a\"", "duplicate tensor", 8},
        BadTableCase{"UnterminatedName", "tensor \"b\"", "tensor \"b", "unterminated", 8},
        BadTableCase{"BadEscape", "tensor \"b\"", "tensor \"\\q\"", "bad escape", 8},
        BadTableCase{"EmptyName", "tensor \"b\"", "tensor \"\"", "empty tensor name", 8},
        BadTableCase{"UnknownKey", "sample_count 8", "samples 8", "unknown line 'samples'", 5},
        BadTableCase{"RepeatedKey", "sample_count 8\n", "sample_count 8\nsample_count 9\n",
                     "repeated 'sample_count'", 6},
        BadTableCase{"NegativeCount", "sample_count 8", "sample_count -8", "non-negative", 5},
        BadTableCase{"BadDigest", "model_digest sha256:ba78", "model_digest sha256:zz78",
                     "not sha256", 2},
        BadTableCase{"BadMethod", "method minmax", "method kl", "unknown calibration method", 4},
        BadTableCase{"PercentileWithoutValue", "method minmax", "method percentile",
                     "percentile in [50, 100]", 4},
        BadTableCase{"BadTime", "created 1970", "created yesterday", "RFC 3339", 6},
        BadTableCase{"EndCountMismatch", "end 2", "end 3", "end says 3 tensors but 2", 9},
        BadTableCase{"ContentAfterEnd", "end 2\n", "end 2\ntensor \"c\" min=0 max=1\n",
                     "after the 'end' line", 10},
        BadTableCase{"NoFinalNewline", "end 2\n", "end 2", "no newline", 9},
        BadTableCase{"MissingRequired", "weight_scheme \"w\"\n", "", "'weight_scheme' is missing",
                     0}),
    [](const ::testing::TestParamInfo<BadTableCase>& info) { return info.param.description; });

TEST(CalibrationTableTextTest, ToTextRejectsInvalidTables) {
  CalibrationTable table = MakeTable();
  table.model_digest = "md5:abc";
  EXPECT_EQ(ToText(table).status().code(), absl::StatusCode::kInvalidArgument);
  table = MakeTable();
  table.tensors["bad"] = {2.0f, 1.0f, std::nullopt, std::nullopt};
  EXPECT_EQ(ToText(table).status().code(), absl::StatusCode::kInvalidArgument);
  table = MakeTable();
  table.tensors[""] = {0.0f, 1.0f, std::nullopt, std::nullopt};
  EXPECT_EQ(ToText(table).status().code(), absl::StatusCode::kInvalidArgument);
  table = MakeTable();
  table.tensors["nan"] = {std::numeric_limits<float>::quiet_NaN(), 1.0f, std::nullopt,
                          std::nullopt};
  EXPECT_EQ(ToText(table).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CalibrationTableMatchTest, RefusesTableOfAnotherModel) {
  const CalibrationTable table = MakeTable();
  EXPECT_TRUE(CheckMatchesModel(table, kDigestA).ok());
  const absl::Status status = CheckMatchesModel(table, kDigestB);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr(kDigestA));
  EXPECT_THAT(status.message(), HasSubstr(kDigestB));
}

TEST_F(CalibrationTableFileTest, SaveLoadRoundTripAndOverwrite) {
  const std::string path = dir_ + "/calibration.txt";
  const CalibrationTable table = MakeTable();
  ASSERT_TRUE(Save(table, path).ok());
  absl::StatusOr<CalibrationTable> loaded = Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectTablesEqual(table, *loaded);

  CalibrationTable other = MakeTable();
  other.tensors.erase("conv1");
  ASSERT_TRUE(Save(other, path).ok());
  ExpectTablesEqual(other, *Load(path));
  EXPECT_THAT(ListDir(dir_), ::testing::ElementsAre("calibration.txt"));  // No temp left.
}

TEST_F(CalibrationTableFileTest, LoadErrorsNameThePath) {
  absl::StatusOr<CalibrationTable> missing = Load(dir_ + "/absent.txt");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("absent.txt"));

  const std::string path = dir_ + "/corrupt.txt";
  std::ofstream(path) << "# octet calibration table v1\nmodel_digest nope\n";
  absl::StatusOr<CalibrationTable> corrupt = Load(path);
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(corrupt.status().message(), HasSubstr("corrupt.txt', line 2:"));
}

TEST_F(CalibrationTableFileTest, MissingDirectoryIsNotFound) {
  const absl::Status status = Save(MakeTable(), dir_ + "/no/such/dir/calibration.txt");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("calibration.txt"));
}

TEST_F(CalibrationTableFileTest, ParentIsARegularFile) {
  const std::string file = dir_ + "/plain";
  std::ofstream(file) << "x";
  const absl::Status status = Save(MakeTable(), file + "/calibration.txt");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("plain/calibration.txt"));
  EXPECT_EQ(ReadFile(file), "x");
}

TEST_F(CalibrationTableFileTest, FailedRenameLeavesTargetAndNoTemp) {
  // The target is a non-empty directory: every step before rename succeeds, rename fails.
  const std::string target = dir_ + "/calibration.txt";
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  const std::string inside = target + "/keep";
  std::ofstream(inside) << "keep";
  EXPECT_FALSE(Save(MakeTable(), target).ok());
  EXPECT_EQ(ReadFile(inside), "keep");
  EXPECT_THAT(ListDir(dir_), ::testing::ElementsAre("calibration.txt"));
  ::unlink(inside.c_str());
}

// A failing write (here: the process's file size limit, which binds root too) must leave the
// previous table in place and no temporary file behind.
TEST_F(CalibrationTableFileTest, FailedWriteKeepsOldFile) {
  const std::string path = dir_ + "/calibration.txt";
  ASSERT_TRUE(Save(MakeTable(), path).ok());
  const std::string before = ReadFile(path);

  CalibrationTable big = MakeTable();
  for (int i = 0; i < 2000; ++i)
    big.tensors[absl::StrCat("layer", i)] = {-1.0f, 1.0f, std::nullopt, std::nullopt};

  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // Else exceeding it kills the process.
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const absl::Status status = Save(big, path);
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_EQ(ReadFile(path), before);
  EXPECT_THAT(ListDir(dir_), ::testing::ElementsAre("calibration.txt"));
}

TEST_F(CalibrationTableFileTest, ReadOnlyDirectoryIsPermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const std::string path = dir_ + "/calibration.txt";
  ASSERT_TRUE(Save(MakeTable(), path).ok());
  const std::string before = ReadFile(path);
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  CalibrationTable other = MakeTable();
  other.sample_count = 1;
  const absl::Status status = Save(other, path);
  ::chmod(dir_.c_str(), 0755);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_EQ(ReadFile(path), before);
}

}  // namespace
}  // namespace octet::calibration
