// The `octet` binary against the real octet-server binary on loopback: health, models,
// metadata, load, unload (with and without an admin token), stats, infer (data set, .npy and
// raw inputs; text and JSON), report, and the error cases of issue 5 (connection refused,
// unknown model, bad file, wrong shape, no hang). Calibrate and perf: cli_calibrate_perf_test.cc.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_support.h"

namespace octet::cli_test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;

// A failed command: exit 1 and one error line on stderr, "octet COMMAND: ...", last; before
// it only the command's own progress lines ("calibrate: ..."), and nothing that looks like a
// crash.
void ExpectOneLineFailure(const CommandResult& r, const std::string& command,
                          const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, kExitFailure) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.err, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), StartsWith("octet " + command + ": "));
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_THAT(lines[i], StartsWith(command + ": ")) << r.err;
  }
  EXPECT_THAT(r.err, AllOf(Not(HasSubstr("terminate")), Not(HasSubstr("Abort")),
                           Not(HasSubstr("Segmentation"))));
  EXPECT_EQ(r.out, "");
}

class CliServerTest : public ::testing::Test {
 protected:
  CommandResult Run(std::vector<std::string> args, const RunOptions& options = {}) {
    return Octet(served_.url(), std::move(args), options);
  }
  ServedRepository served_;
};

TEST_F(CliServerTest, HealthModelsAndMetadata) {
  ASSERT_TRUE(served_.started());
  CommandResult r = Run({"health"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "server " + served_.url() + ": live, ready\n");

  r = Run({"health", kModel});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            absl::StrCat("server ", served_.url(), ": live, ready\nmodel ", kModel, ": ready\n"));
  r = Run({"--json", "health", kModel});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  google::protobuf::Value json = ParseJson(r.out);
  EXPECT_TRUE(Field(json, "live").bool_value());
  EXPECT_TRUE(Field(json, "ready").bool_value());
  EXPECT_TRUE(Field(json, "model_ready").bool_value());
  EXPECT_EQ(Field(json, "url").string_value(), served_.url());

  r = Run({"models"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "MODEL          VERSION  STATE  REASON\n"
            "fashion-lenet  1        READY\n");
  r = Run({"models", "--json"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  json = ParseJson(r.out);
  ASSERT_EQ(Field(json, "models").list_value().values_size(), 1) << r.out;
  const auto& entry = At(Field(json, "models"), 0);
  EXPECT_EQ(Field(entry, "name").string_value(), kModel);
  EXPECT_EQ(Field(entry, "version").string_value(), "1");
  EXPECT_EQ(Field(entry, "state").string_value(), "READY");

  r = Run({"metadata", kModel});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "model     fashion-lenet\n"
            "platform  octet_onnx_fp32\n"
            "versions  1\n"
            "INPUT  DATATYPE  SHAPE\n"
            "input  FP32      [-1,1,28,28]\n"
            "OUTPUT  DATATYPE  SHAPE\n"
            "logits  FP32      [-1,10]\n");
  r = Run({"metadata", kModel, "--json", "--model-version", "1"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  json = ParseJson(r.out);
  EXPECT_EQ(Field(json, "name").string_value(), kModel);
  const auto& input = At(Field(json, "inputs"), 0);
  EXPECT_EQ(Field(input, "name").string_value(), "input");
  EXPECT_EQ(Field(input, "datatype").string_value(), "FP32");
  std::vector<int64_t> shape;
  for (const auto& d : Field(input, "shape").list_value().values()) shape.push_back(Integer(d));
  EXPECT_EQ(shape, (std::vector<int64_t>{-1, 1, 28, 28}));
}

TEST_F(CliServerTest, UnloadAndLoadWithoutAdminToken) {
  ASSERT_TRUE(served_.started());
  TempDir dir;
  const std::string raw = dir.path() + "/zeros.bin";
  ASSERT_TRUE(WriteFile(raw, RawFloat32(std::vector<float>(kPixels, 0.f))).ok());
  const std::vector<std::string> infer = {"infer", kModel, "--file", raw, "--shape", "1,1,28,28"};
  CommandResult r = Run({"unload", kModel});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "unloaded fashion-lenet\n");
  r = Run({"models"});
  EXPECT_THAT(r.out, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(r.out, Not(HasSubstr("READY")));
  r = Run({"models", "--ready"});
  EXPECT_EQ(r.out, "no models\n");
  // Not ready: health says so and fails.
  r = Run({"health", kModel});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_THAT(r.out, HasSubstr("model fashion-lenet: not ready"));
  EXPECT_EQ(r.err, "octet health: model 'fashion-lenet' is not ready (UNAVAILABLE)\n");
  r = Run(infer);
  ExpectOneLineFailure(r, "infer", "infer on an unloaded model");
  EXPECT_THAT(r.err, HasSubstr("'fashion-lenet'"));

  r = Run({"load", kModel});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "loaded fashion-lenet\n");
  r = Run({"health", kModel});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  r = Run(infer);
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;

  r = Run({"load", "no-such-model"});
  ExpectOneLineFailure(r, "load", "load of a model without a directory");
  EXPECT_THAT(r.err, AllOf(HasSubstr("no-such-model"), HasSubstr("(NOT_FOUND)")));
}

TEST(CliAdminTokenTest, LoadUnloadAndCalibrateNeedTheToken) {
  TempDir dir;
  const std::string token_file = dir.path() + "/token";
  ASSERT_TRUE(WriteFile(token_file, "s3cret-token\n").ok());
  ServedRepository served({"--admin-token-file", token_file});
  ASSERT_TRUE(served.started());
  const std::string url = served.url();

  // Reads need no token.
  EXPECT_EQ(Octet(url, {"models"}).exit_code, kExitOk);
  EXPECT_EQ(Octet(url, {"metadata", kModel}).exit_code, kExitOk);
  EXPECT_EQ(Octet(url, {"stats", kModel}).exit_code, kExitOk);

  CommandResult r = Octet(url, {"unload", kModel});
  ExpectOneLineFailure(r, "unload", "unload without a token");
  EXPECT_THAT(r.err, AllOf(HasSubstr("admin token"), HasSubstr("(UNAUTHENTICATED)")));
  r = Octet(url, {"load", kModel});
  ExpectOneLineFailure(r, "load", "load without a token");
  EXPECT_THAT(r.err, HasSubstr("(UNAUTHENTICATED)"));
  r = Octet(url, {"--token", "wrong", "unload", kModel});
  ExpectOneLineFailure(r, "unload", "unload with a wrong token");
  EXPECT_EQ(r.err, "octet unload: wrong admin token (UNAUTHENTICATED)\n");
  r = Octet(url, {"calibrate", kModel, "--server-dataset", "idx:x.gz"});
  ExpectOneLineFailure(r, "calibrate", "calibrate without a token");
  EXPECT_THAT(r.err, HasSubstr("(UNAUTHENTICATED)"));
  // Still loaded after the refusals.
  EXPECT_EQ(Octet(url, {"health", kModel}).exit_code, kExitOk);

  r = Octet(url, {"--token", "s3cret-token", "unload", kModel});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "unloaded fashion-lenet\n");
  EXPECT_EQ(Octet(url, {"health", kModel}).exit_code, kExitFailure);
  r = Octet(url, {"--token-file", token_file, "load", kModel});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "loaded fashion-lenet\n");
  EXPECT_EQ(Octet(url, {"health", kModel}).exit_code, kExitOk);
}

TEST_F(CliServerTest, InferFromTheDataSetShowsTheKnownClassByName) {
  REQUIRE_FASHION_MNIST();
  ASSERT_TRUE(served_.started());
  CommandResult r = Run({"infer", kModel, "--dataset", TestImages(), "--index", "0", "--labels",
                         LabelsFile(), "--top-k", "3"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  ASSERT_GE(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0], "model fashion-lenet version 1, output 'logits' FP32 [1,10]");
  EXPECT_EQ(lines[1], absl::StrCat("sample 0 (", TestImages(), " #0, label 9 Ankle boot)"));
  EXPECT_THAT(lines[2], AllOf(HasSubstr("CLASS"), HasSubstr("NAME"), HasSubstr("SCORE")));
  EXPECT_THAT(lines[3], StartsWith("   1      9  Ankle boot"));
  EXPECT_EQ(NumLines(r.out), 2 + 1 + 3);

  // JSON: every output tensor, and the top-k with names.
  r = Run({"infer", kModel, "--dataset", TestImages(), "--labels", LabelsFile(), "--json", "--id",
           "req-7"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const google::protobuf::Value json = ParseJson(r.out);
  EXPECT_EQ(Field(json, "model_name").string_value(), kModel);
  EXPECT_EQ(Field(json, "model_version").string_value(), "1");
  EXPECT_EQ(Field(json, "id").string_value(), "req-7");
  const auto& output = At(Field(json, "outputs"), 0);
  EXPECT_EQ(Field(output, "name").string_value(), "logits");
  EXPECT_EQ(Field(output, "datatype").string_value(), "FP32");
  const auto& data = Field(output, "data").list_value();
  ASSERT_EQ(data.values_size(), 10);
  int argmax = 0;
  for (int i = 1; i < 10; ++i) {
    if (Number(data.values(i)) > Number(data.values(argmax))) argmax = i;
  }
  EXPECT_EQ(argmax, 9);
  const auto& row = At(Field(Field(json, "top_k"), "rows"), 0);
  EXPECT_EQ(Number(Field(row, "label")), 9);
  const auto& best = At(Field(row, "classes"), 0);
  EXPECT_EQ(Number(Field(best, "class")), 9);
  EXPECT_EQ(Field(best, "name").string_value(), "Ankle boot");
  EXPECT_FLOAT_EQ(Number(Field(best, "score")), Number(data.values(9)));

  // A batch of eight: every row's top-1.
  r = Run({"infer", kModel, "--dataset", TestImages(), "--batch", "8", "--top-k", "1", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const google::protobuf::Value batch = ParseJson(r.out);
  const auto& rows = Field(Field(batch, "top_k"), "rows").list_value();
  ASSERT_EQ(rows.values_size(), 8);
  for (int i = 0; i < 8; ++i) {
    const auto& top = At(Field(rows.values(i), "classes"), 0);
    EXPECT_EQ(Number(Field(top, "class")), kExpectedTop1[i]) << "image " << i;
  }
}

// The logits of `octet infer --json` as floats.
std::vector<float> JsonLogits(const CommandResult& r) {
  std::vector<float> logits;
  const google::protobuf::Value json = ParseJson(r.out);
  for (const auto& v : Field(At(Field(json, "outputs"), 0), "data").list_value().values()) {
    logits.push_back(static_cast<float>(Number(v)));
  }
  return logits;
}

TEST_F(CliServerTest, InferFromNpyAndRawFilesGivesTheDataSetsAnswer) {
  REQUIRE_FASHION_MNIST();
  ASSERT_TRUE(served_.started());
  const std::vector<float> image = FirstTestImages(1);
  ASSERT_EQ(image.size(), static_cast<size_t>(kPixels));
  TempDir dir;
  const std::string npy = dir.path() + "/image0.npy";
  const std::string npy_chw = dir.path() + "/image0-chw.npy";
  const std::string raw = dir.path() + "/image0.bin";
  ASSERT_TRUE(WriteFile(npy, NpyFloat32({1, 1, 28, 28}, image)).ok());
  ASSERT_TRUE(WriteFile(npy_chw, NpyFloat32({1, 28, 28}, image)).ok());  // no batch dimension
  ASSERT_TRUE(WriteFile(raw, RawFloat32(image)).ok());

  const CommandResult from_dataset = Run({"infer", kModel, "--dataset", TestImages(), "--json"});
  ASSERT_EQ(from_dataset.exit_code, kExitOk) << from_dataset.err;
  const std::vector<float> expected = JsonLogits(from_dataset);
  ASSERT_EQ(expected.size(), 10u);
  for (const std::vector<std::string>& input :
       {std::vector<std::string>{"--file", npy}, std::vector<std::string>{"--file", npy_chw},
        std::vector<std::string>{"--file", raw, "--shape", "1,1,28,28"}}) {
    std::vector<std::string> args = {"infer", kModel, "--json"};
    args.insert(args.end(), input.begin(), input.end());
    const CommandResult r = Run(args);
    ASSERT_EQ(r.exit_code, kExitOk) << input[1] << ": " << r.err;
    const std::vector<float> logits = JsonLogits(r);
    ASSERT_EQ(logits.size(), 10u) << r.out;
    for (int i = 0; i < 10; ++i) {
      EXPECT_NEAR(logits[i], expected[i], 1e-4f * (1 + std::fabs(expected[i])))
          << input[1] << " class " << i;
    }
  }
  // Text output of a file input: no data set origin, the same top-1.
  const CommandResult r = Run({"infer", kModel, "--file", npy, "--labels", LabelsFile()});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nsample 0\n"));
  EXPECT_THAT(r.out, HasSubstr("   1      9  Ankle boot"));
}

TEST_F(CliServerTest, StatsCountWhatWasServed) {
  ASSERT_TRUE(served_.started());
  CommandResult r = Run({"stats", kModel, "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const google::protobuf::Value stats_before = ParseJson(r.out);
  ASSERT_EQ(Field(stats_before, "model_stats").list_value().values_size(), 1) << r.out;
  const auto& before = At(Field(stats_before, "model_stats"), 0);
  EXPECT_EQ(Integer(Field(before, "inference_count")), 0);

  TempDir dir;
  const std::string raw = dir.path() + "/zeros.bin";
  ASSERT_TRUE(WriteFile(raw, RawFloat32(std::vector<float>(4 * kPixels, 0.f))).ok());
  for (int i = 0; i < 3; ++i) {
    r = Run({"infer", kModel, "--file", raw, "--shape", "4,1,28,28"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  }
  r = Run({"stats", kModel, "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const google::protobuf::Value stats_after = ParseJson(r.out);
  ASSERT_EQ(Field(stats_after, "model_stats").list_value().values_size(), 1) << r.out;
  const auto& after = At(Field(stats_after, "model_stats"), 0);
  EXPECT_EQ(Field(after, "name").string_value(), kModel);
  EXPECT_EQ(Field(after, "version").string_value(), "1");
  EXPECT_EQ(Integer(Field(after, "inference_count")), 12);  // samples
  EXPECT_EQ(Integer(Field(Field(Field(after, "inference_stats"), "success"), "count")), 3);
  EXPECT_GT(Integer(Field(Field(Field(after, "inference_stats"), "compute_infer"), "ns")), 0);

  r = Run({"stats", kModel});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("MODEL          VERSION  INFERENCES  EXECUTIONS  SUCCESS  FAIL"));
  EXPECT_THAT(r.out, HasSubstr("fashion-lenet  1                12"));
  EXPECT_THAT(r.out, HasSubstr("fashion-lenet version 1 batch sizes: 4 x3 ("));
  // Without MODEL: every model.
  r = Run({"stats"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("fashion-lenet  1"));
}

TEST_F(CliServerTest, ReportOfAVersionThatWasNotCalibratedIsNotFound) {
  ASSERT_TRUE(served_.started());
  const CommandResult r = Run({"report", kModel});
  ExpectOneLineFailure(r, "report", "report of version 1");
  EXPECT_THAT(r.err,
              AllOf(HasSubstr("fashion-lenet"), HasSubstr("calibrat"), HasSubstr("(NOT_FOUND)")));
}

TEST_F(CliServerTest, UnknownModelIsOneLineNamingIt) {
  ASSERT_TRUE(served_.started());
  TempDir dir;
  const std::string raw = dir.path() + "/zeros.bin";
  ASSERT_TRUE(WriteFile(raw, RawFloat32(std::vector<float>(kPixels, 0.f))).ok());
  const std::vector<std::vector<std::string>> commands = {
      {"health", "nope"},
      {"metadata", "nope"},
      {"stats", "nope"},
      {"infer", "nope", "--file", raw, "--shape", "1,1,28,28"},
      {"perf", "nope", "--duration", "1s"},
      {"report", "nope"},
      {"calibrate", "nope", "--server-dataset", "idx:x.gz"},
  };
  for (const auto& args : commands) {
    const CommandResult r = Run(args);
    ExpectOneLineFailure(r, args[0], absl::StrCat("octet ", args[0], " nope"));
    EXPECT_THAT(r.err, AllOf(HasSubstr("nope"), HasSubstr("(NOT_FOUND)")));
  }
  EXPECT_EQ(Run({"health", kModel}).exit_code, kExitOk);
}

TEST_F(CliServerTest, BadFilesAndWrongShapesAreOneLineNamingTheProblem) {
  ASSERT_TRUE(served_.started());
  TempDir dir;
  const std::string garbage = dir.path() + "/garbage.npy";
  const std::string truncated = dir.path() + "/truncated.npy";
  const std::string narrow = dir.path() + "/narrow.npy";
  const std::string raw = dir.path() + "/image.bin";
  ASSERT_TRUE(WriteFile(garbage, "this is not a tensor\n").ok());
  const std::string npy = NpyFloat32({1, 1, 28, 28}, std::vector<float>(kPixels, 1.f));
  ASSERT_TRUE(WriteFile(truncated, npy.substr(0, npy.size() - 100)).ok());
  ASSERT_TRUE(WriteFile(narrow, NpyFloat32({1, 1, 28, 27}, std::vector<float>(28 * 27))).ok());
  ASSERT_TRUE(WriteFile(raw, RawFloat32(std::vector<float>(kPixels, 1.f))).ok());

  struct Case {
    std::vector<std::string> args;
    std::string expected;  // in the message
  };
  const std::vector<Case> cases = {
      {{"--file", dir.path() + "/absent.npy"}, "absent.npy"},
      {{"--file", garbage}, "is not a .npy file"},
      {{"--file", truncated}, "truncated.npy"},
      // Wrong shapes: a .npy of 28x27, a raw file given that shape (and the bytes for it), a
      // raw file whose size does not match its shape.
      {{"--file", narrow}, "has shape [1,1,28,27] but input 'input' takes [-1,1,28,28]"},
      {{"--file", raw, "--shape", "1,1,28,28,1"}, "input 'input' takes [-1,1,28,28]"},
      {{"--file", raw, "--shape", "1,1,28,27"}, "needs exactly 3024"},
      {{"--file", raw}, "needs --shape"},
      {{"--dataset", "idx:" + garbage}, "garbage.npy"},
      {{"--dataset", TestImages(), "--index", "10000"}, "past the end"},
  };
  for (const Case& c : cases) {
    if (c.args[0] == "--dataset" && c.args[1] == TestImages() && !HaveFashionMnist()) continue;
    std::vector<std::string> args = {"infer", kModel};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CommandResult r = Run(args);
    ExpectOneLineFailure(r, "infer", absl::StrJoin(c.args, " "));
    EXPECT_THAT(r.err, HasSubstr(c.expected)) << absl::StrJoin(c.args, " ");
  }
  const CommandResult labels = Run({"infer", kModel, "--file", raw, "--shape", "1,1,28,28",
                                    "--labels", dir.path() + "/no-labels.txt"});
  ExpectOneLineFailure(labels, "infer", "missing labels file");
  EXPECT_THAT(labels.err, HasSubstr("no-labels.txt"));
  // The server is unharmed.
  EXPECT_EQ(Run({"health", kModel}).exit_code, kExitOk);
}

TEST(CliConnectionTest, RefusedConnectionIsOneLineNamingTheAddressForEveryCommand) {
  const std::string url = absl::StrCat("127.0.0.1:", UnusedPort());
  TempDir dir;
  const std::string raw = dir.path() + "/zeros.bin";
  ASSERT_TRUE(WriteFile(raw, RawFloat32(std::vector<float>(kPixels, 0.f))).ok());
  const std::vector<std::vector<std::string>> commands = {
      {"health"},
      {"models"},
      {"metadata", kModel},
      {"load", kModel},
      {"unload", kModel},
      {"stats"},
      {"infer", kModel, "--file", raw, "--shape", "1,1,28,28"},
      {"calibrate", kModel, "--server-dataset", "idx:x.gz"},
      {"report", kModel},
      {"perf", kModel, "--duration", "1s"},
  };
  for (const auto& args : commands) {
    const CommandResult r = Octet(url, args, {absl::Seconds(60)});
    ExpectOneLineFailure(r, args[0], absl::StrCat("octet ", args[0], " with nothing listening"));
    EXPECT_THAT(r.err, AllOf(HasSubstr("cannot reach " + url), HasSubstr("Connection refused"),
                             HasSubstr("(UNAVAILABLE)")));
    EXPECT_LT(r.elapsed, absl::Seconds(20)) << args[0];
  }
}

TEST(CliConnectionTest, AServerThatNeverAnswersEndsAtTheDeadline) {
  SilentListener silent;
  CommandResult r = Octet(silent.address(), {"--timeout", "2s", "models"}, {absl::Seconds(60)});
  ExpectOneLineFailure(r, "models", "--timeout 2s");
  EXPECT_THAT(r.err,
              AllOf(HasSubstr("cannot reach " + silent.address()), HasSubstr("DEADLINE_EXCEEDED")));
  EXPECT_GE(r.elapsed, absl::Seconds(2));
  EXPECT_LT(r.elapsed, absl::Seconds(10));

  // No --timeout: the default deadline (30 s, or gRPC's 20 s connection timeout before it)
  // still ends the command.
  r = Octet(silent.address(), {"models"}, {absl::Seconds(90)});
  ExpectOneLineFailure(r, "models", "the default deadline");
  EXPECT_THAT(r.err, HasSubstr("cannot reach " + silent.address()));
  EXPECT_LT(r.elapsed, absl::Seconds(40));
}

}  // namespace
}  // namespace octet::cli_test
