// octet_onnx_conformance: runs ONNX backend node tests (Debian's libonnx-testdata) on Octet's
// FP32 engine and compares the results with the expected outputs at the ONNX backend
// tolerance, |actual - expected| <= atol + rtol * |expected| (rtol 1e-3, atol 1e-7), NaN
// matching NaN, shapes and element types equal.
//
//   octet_onnx_conformance --list claimed_tests.txt          # the ctest target
//   octet_onnx_conformance --only node/test_relu             # one test, for debugging
//   octet_onnx_conformance --discover octet [--list FILE]    # every test using only Octet's ops
//
// A test is a directory under the data root holding model.onnx and test_data_set_*/ with
// input_K.pb and output_K.pb (serialized TensorProto). input_K feeds the K-th graph input that
// is not an initializer, as the ONNX backend runner does. The list file names one test
// directory per line, relative to the root; '#' starts a comment. Every listed test must exist
// and pass, or the exit status is non-zero.
//
// --discover prints, for each test under node/, pytorch-converted/ and pytorch-operator/
// whose model uses only the given operators, whether it passes. Each test then runs in a child
// process, so that an engine crash is reported as CRASH instead of ending the survey. It reads
// the model's operator types with a small protobuf wire-format scanner: the test binary must
// not include the ONNX headers or compile a second copy of onnx.proto (DESIGN.md).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "engine/model.h"
#include "engine/onnx_importer.h"
#include "engine/op_schema.h"
#include "engine/session.h"
#include "engine/tensor.h"

namespace octet {
namespace {

namespace fs = std::filesystem;

constexpr char kDefaultRoot[] = "/usr/share/libonnx-testdata/data";
// The tolerances of onnx/backend/test/runner (np.testing.assert_allclose).
constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-7;
// The suites --discover surveys: operator tests, and PyTorch's module and operator exports
// (the former hold the depthwise and grouped convolutions).
constexpr const char* kDiscoverSuites[] = {"node", "pytorch-converted", "pytorch-operator"};

struct Options {
  std::string root = kDefaultRoot;
  std::string list;
  std::string only;
  std::string discover;  // comma-separated operator types, or "octet" for SupportedOps()
  int threads = 1;
};

void PrintUsage() {
  std::fprintf(stderr,
               "usage: octet_onnx_conformance [--root DIR] [--list FILE] [--only NAME]\n"
               "                              [--discover OPS|octet] [--threads N]\n");
}

bool ParseArgs(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "missing value for %s\n", arg.c_str());
      return false;
    }
    const std::string value = argv[++i];
    if (arg == "--root") {
      options.root = value;
    } else if (arg == "--list") {
      options.list = value;
    } else if (arg == "--only") {
      options.only = value;
    } else if (arg == "--discover") {
      options.discover = value;
    } else if (arg == "--threads") {
      if (!absl::SimpleAtoi(value, &options.threads) || options.threads < 1) {
        std::fprintf(stderr, "--threads wants a positive integer, got '%s'\n", value.c_str());
        return false;
      }
    } else {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Comparison.

std::string IndexToString(int64_t linear, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    index[d] = shape[d] > 0 ? linear % shape[d] : 0;
    linear = shape[d] > 0 ? linear / shape[d] : 0;
  }
  return absl::StrCat("[", absl::StrJoin(index, ","), "]");
}

double ElementAsDouble(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kFloat32:
      return t.data<float>()[i];
    case DataType::kUInt8:
      return t.data<uint8_t>()[i];
    case DataType::kInt8:
      return t.data<int8_t>()[i];
    case DataType::kInt32:
      return t.data<int32_t>()[i];
    case DataType::kInt64:
      return static_cast<double>(t.data<int64_t>()[i]);
  }
  return 0.0;
}

bool Close(double actual, double expected) {
  if (std::isnan(expected) || std::isnan(actual)) return std::isnan(expected) && std::isnan(actual);
  if (std::isinf(expected) || std::isinf(actual)) return actual == expected;
  return std::fabs(actual - expected) <= kAtol + kRtol * std::fabs(expected);
}

// OK when `actual` matches `expected`; otherwise says where and by how much it differs.
absl::Status CompareTensors(const Tensor& expected, const Tensor& actual) {
  if (actual.dtype() != expected.dtype()) {
    return absl::InvalidArgumentError(absl::StrCat("type ", DataTypeName(actual.dtype()),
                                                   ", expected ", DataTypeName(expected.dtype())));
  }
  if (actual.shape() != expected.shape()) {
    return absl::InvalidArgumentError(absl::StrCat("shape ", ShapeToString(actual.shape()),
                                                   ", expected ", ShapeToString(expected.shape())));
  }
  int64_t mismatches = 0;
  int64_t first = -1;
  double max_abs = 0.0;
  double max_rel = 0.0;
  for (int64_t i = 0; i < expected.num_elements(); ++i) {
    const double e = ElementAsDouble(expected, i);
    const double a = ElementAsDouble(actual, i);
    if (Close(a, e)) continue;
    if (first < 0) first = i;
    ++mismatches;
    const double abs_err = std::fabs(a - e);
    if (!std::isnan(abs_err)) {
      max_abs = std::max(max_abs, abs_err);
      if (e != 0.0) max_rel = std::max(max_rel, abs_err / std::fabs(e));
    }
  }
  if (mismatches == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat(
      "%d of %d elements differ; first at %s: %.9g vs expected %.9g; max abs error %.3g, max rel "
      "error %.3g",
      mismatches, expected.num_elements(), IndexToString(first, expected.shape()),
      ElementAsDouble(actual, first), ElementAsDouble(expected, first), max_abs, max_rel));
}

// ---------------------------------------------------------------------------------------------
// Running one test.

std::vector<std::string> NumberedFiles(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> files;
  for (int k = 0;; ++k) {
    fs::path file = dir / absl::StrCat(prefix, k, ".pb");
    if (!fs::exists(file)) break;
    files.push_back(file.string());
  }
  return files;
}

absl::Status RunDataSet(Session& session, const Model& model, const fs::path& dir) {
  std::vector<Tensor> inputs;
  for (const std::string& file : NumberedFiles(dir, "input_")) {
    auto t = ReadOnnxTensorFile(file);
    if (!t.ok()) {
      return absl::Status(t.status().code(), absl::StrCat(file, ": ", t.status().message()));
    }
    inputs.push_back(*std::move(t));
  }
  std::vector<Tensor> expected;
  for (const std::string& file : NumberedFiles(dir, "output_")) {
    auto t = ReadOnnxTensorFile(file);
    if (!t.ok()) {
      return absl::Status(t.status().code(),
                          absl::StrCat("expected output ", file, ": ", t.status().message()));
    }
    expected.push_back(*std::move(t));
  }
  if (inputs.size() != model.inputs().size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(inputs.size(), " input files for ", model.inputs().size(), " graph inputs"));
  }
  std::vector<TensorView> views;
  for (const Tensor& t : inputs) views.push_back(t.view());
  OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> actual, session.Run(views));
  if (actual.size() != expected.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(actual.size(), " outputs, expected ", expected.size()));
  }
  for (size_t k = 0; k < expected.size(); ++k) {
    absl::Status status = CompareTensors(expected[k], actual[k]);
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat("output ", k, " '", model.outputs()[k].name,
                                                      "': ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status RunTest(const Options& options, const std::string& name) {
  const fs::path dir = fs::path(options.root) / name;
  if (!fs::is_directory(dir)) {
    return absl::NotFoundError(absl::StrCat("missing test directory ", dir.string()));
  }
  ModelOptions model_options;
  model_options.dynamic_batch = false;  // the test data fixes every shape
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model,
                         Model::Load((dir / "model.onnx").string(), model_options));
  SessionOptions session_options;
  session_options.threads = options.threads;
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(model, session_options));
  std::vector<fs::path> data_sets;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory() &&
        absl::StartsWith(entry.path().filename().string(), "test_data_set_")) {
      data_sets.push_back(entry.path());
    }
  }
  if (data_sets.empty()) return absl::NotFoundError("no test_data_set_* directory");
  std::sort(data_sets.begin(), data_sets.end());
  for (const fs::path& data_set : data_sets) {
    absl::Status status = RunDataSet(*session, *model, data_set);
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(data_set.filename().string(), ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

// Set while a test runs, so that a crash names it (engine crashes are bugs to fix, but the
// run should still say where it died).
char g_current_test[512];

void ReportCrash(int signal) {
  const char* prefix = "CRASH ";
  (void)!write(STDOUT_FILENO, prefix, std::strlen(prefix));
  (void)!write(STDOUT_FILENO, g_current_test, std::strlen(g_current_test));
  (void)!write(STDOUT_FILENO, "\n", 1);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

// Runs `name`, prints one PASS/FAIL line, and returns whether it passed.
bool RunAndReport(const Options& options, const std::string& name) {
  std::snprintf(g_current_test, sizeof(g_current_test), "%s", name.c_str());
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = RunTest(options, name);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (status.ok()) {
    std::printf("PASS %s (%.0f ms)\n", name.c_str(), ms);
  } else {
    std::printf("FAIL %s: %s\n", name.c_str(), std::string(status.message()).c_str());
  }
  std::fflush(stdout);
  g_current_test[0] = '\0';
  return status.ok();
}

absl::StatusOr<std::vector<std::string>> ReadList(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open list file ", path));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view entry = line;
    entry = entry.substr(0, entry.find('#'));
    entry = absl::StripAsciiWhitespace(entry);
    if (!entry.empty()) names.emplace_back(entry);
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// --discover: which operators a model uses, read from the protobuf wire format.

// Reads protobuf's wire format (varints, fixed32/64 and length-delimited fields), enough to walk
// ModelProto.graph (field 7) -> GraphProto.node (1) -> NodeProto.op_type (4) / domain (7).
class WireReader {
 public:
  explicit WireReader(absl::string_view data) : data_(data) {}

  // The next field's number and wire type; false at the end or on malformed input.
  bool Next(uint64_t& field, int& wire_type) {
    uint64_t key;
    if (data_.empty() || !Varint(key)) return false;
    field = key >> 3;
    wire_type = static_cast<int>(key & 7);
    return true;
  }
  bool Bytes(absl::string_view& out) {
    uint64_t size;
    if (!Varint(size) || size > data_.size()) return Fail();
    out = data_.substr(0, size);
    data_.remove_prefix(size);
    return true;
  }
  bool Skip(int wire_type) {
    uint64_t ignored;
    absl::string_view bytes;
    switch (wire_type) {
      case 0:
        return Varint(ignored);
      case 1:
        return Advance(8);
      case 2:
        return Bytes(bytes);
      case 5:
        return Advance(4);
      default:  // groups: unused by onnx.proto
        return Fail();
    }
  }
  bool ok() const { return ok_; }

 private:
  bool Varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64 && !data_.empty(); shift += 7) {
      const uint8_t byte = static_cast<uint8_t>(data_[0]);
      data_.remove_prefix(1);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return Fail();
  }
  bool Advance(size_t n) {
    if (n > data_.size()) return Fail();
    data_.remove_prefix(n);
    return true;
  }
  bool Fail() {
    ok_ = false;
    data_ = {};
    return false;
  }

  absl::string_view data_;
  bool ok_ = true;
};

// The length-delimited fields numbered `field` of a message.
absl::StatusOr<std::vector<absl::string_view>> SubMessages(absl::string_view message,
                                                           uint64_t field) {
  std::vector<absl::string_view> found;
  WireReader reader(message);
  uint64_t number;
  int wire_type;
  while (reader.Next(number, wire_type)) {
    absl::string_view bytes;
    if (number == field && wire_type == 2) {
      if (reader.Bytes(bytes)) found.push_back(bytes);
    } else {
      reader.Skip(wire_type);
    }
  }
  if (!reader.ok()) return absl::InvalidArgumentError("malformed protobuf");
  return found;
}

// "Conv", or "com.microsoft.Foo" outside the default domain.
absl::StatusOr<std::set<std::string>> ModelOperators(const std::string& model_bytes) {
  OCTET_ASSIGN_OR_RETURN(std::vector<absl::string_view> graphs, SubMessages(model_bytes, 7));
  std::set<std::string> ops;
  for (absl::string_view graph : graphs) {
    OCTET_ASSIGN_OR_RETURN(std::vector<absl::string_view> nodes, SubMessages(graph, 1));
    for (absl::string_view node : nodes) {
      OCTET_ASSIGN_OR_RETURN(std::vector<absl::string_view> op_type, SubMessages(node, 4));
      OCTET_ASSIGN_OR_RETURN(std::vector<absl::string_view> domain, SubMessages(node, 7));
      std::string op = op_type.empty() ? "" : std::string(op_type.back());
      if (!domain.empty() && !domain.back().empty() && domain.back() != "ai.onnx") {
        op = absl::StrCat(domain.back(), ".", op);
      }
      ops.insert(op);
    }
  }
  return ops;
}

// Runs one test in a child process (this binary with --only) and prints its result line.
void RunIsolated(const Options& options, const std::string& name, const std::string& note) {
  std::error_code error;
  const std::string self = fs::read_symlink("/proc/self/exe", error).string();
  const std::string command = absl::StrCat("exec '", self, "' --root '", options.root, "' --only '",
                                           name, "' --threads ", options.threads, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    std::printf("FAIL %s: cannot start a child process%s\n", name.c_str(), note.c_str());
    return;
  }
  std::string output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int status = pclose(pipe);
  std::string result;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, "PASS ") || absl::StartsWith(line, "FAIL ")) {
      result = std::string(line);
    }
  }
  if (WIFSIGNALED(status)) {
    result = absl::StrCat("CRASH ", name, ": killed by signal ", WTERMSIG(status), " (",
                          strsignal(WTERMSIG(status)), ")");
  } else if (result.empty()) {
    result = absl::StrCat("FAIL ", name, ": child exited with status ", WEXITSTATUS(status));
  }
  std::printf("%s%s\n", result.c_str(), note.c_str());
  std::fflush(stdout);
}

int Discover(const Options& options) {
  std::set<std::string> allowed = {"Constant"};  // the importer turns it into a value
  if (options.discover == "octet") {
    for (const std::string& op : SupportedOps()) allowed.insert(op);
  } else {
    for (absl::string_view op : absl::StrSplit(options.discover, ',', absl::SkipEmpty())) {
      allowed.insert(std::string(op));
    }
  }
  std::set<std::string> claimed;
  if (!options.list.empty()) {
    auto names = ReadList(options.list);
    if (!names.ok()) {
      std::fprintf(stderr, "%s\n", std::string(names.status().message()).c_str());
      return 2;
    }
    claimed.insert(names->begin(), names->end());
  }
  for (const char* suite : kDiscoverSuites) {
    const fs::path suite_dir = fs::path(options.root) / suite;
    if (!fs::is_directory(suite_dir)) continue;
    std::vector<std::string> tests;
    for (const auto& entry : fs::directory_iterator(suite_dir)) {
      tests.push_back(absl::StrCat(suite, "/", entry.path().filename().string()));
    }
    std::sort(tests.begin(), tests.end());
    for (const std::string& name : tests) {
      auto bytes = ReadFileToString((fs::path(options.root) / name / "model.onnx").string());
      if (!bytes.ok()) continue;
      auto ops = ModelOperators(*bytes);
      if (!ops.ok() || ops->empty()) continue;
      const bool covered = std::all_of(ops->begin(), ops->end(),
                                       [&](const std::string& op) { return allowed.count(op); });
      if (!covered) continue;
      std::string note;
      if (!options.list.empty()) note = claimed.count(name) ? "  [claimed]" : "  [unclaimed]";
      RunIsolated(options, name, note);
    }
  }
  return 0;
}

int Main(int argc, char** argv) {
  Options options;
  if (!ParseArgs(argc, argv, options)) {
    PrintUsage();
    return 2;
  }
  if (!fs::is_directory(options.root)) {
    std::printf(
        "FAIL: no ONNX test data at %s. Install Debian's libonnx-testdata "
        "(apt-get install libonnx-testdata) or pass --root.\n",
        options.root.c_str());
    return 1;
  }
  if (!options.discover.empty()) return Discover(options);
  std::vector<std::string> names;
  if (!options.list.empty()) {
    auto listed = ReadList(options.list);
    if (!listed.ok()) {
      std::printf("FAIL: %s\n", std::string(listed.status().message()).c_str());
      return 1;
    }
    names = *std::move(listed);
  }
  if (!options.only.empty()) {
    if (!options.list.empty() &&
        std::find(names.begin(), names.end(), options.only) == names.end()) {
      std::printf("FAIL: %s is not in %s\n", options.only.c_str(), options.list.c_str());
      return 1;
    }
    names = {options.only};
  }
  if (names.empty()) {
    PrintUsage();
    return 2;
  }
  for (int signal : {SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL}) std::signal(signal, ReportCrash);
  int failed = 0;
  for (const std::string& name : names) failed += !RunAndReport(options, name);
  std::printf("%zu tests: %zu passed, %d failed\n", names.size(), names.size() - failed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace octet

int main(int argc, char** argv) { return octet::Main(argc, argv); }
