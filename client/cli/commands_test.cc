// The commands against FakeInferenceServer (a test double; the real server is tested in
// tests/client once it exists).
#include "client/cli/commands.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "client/cli/testing/test_files.h"
#include "client/testing/fake_inference_server.h"
#include "datasets/file_tensor.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace octet::cli {
namespace {

using client::testing::FakeInferenceServer;
using client::testing::FakeModel;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempPath;

constexpr int kClasses = 10;

// 20 images sorted by class (two per class), like the shared data files; image i's first
// kClasses pixels of channel 0 are 10 except at its label, 200: the fake classifier's scores
// are those pixels, so it predicts the label.
std::string SortedCifar(const std::string& name) {
  std::vector<int> labels;
  for (int i = 0; i < 20; ++i) labels.push_back(i / 2);
  return testing::WriteCifar10(name, labels, [](int i, int c, int p) -> uint8_t {
    if (c == 0 && p < kClasses) return p == i / 2 ? 200 : 10;
    return static_cast<uint8_t>(i);
  });
}

google::protobuf::Struct ParseJson(const std::string& json) {
  google::protobuf::Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return parsed;
}

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeInferenceServer>> server = FakeInferenceServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->AddModel(FakeInferenceServer::Classifier("cifar", {3, 32, 32}, kClasses));
    client::ClientOptions options;
    options.url = server_->address();
    options.default_timeout = absl::Seconds(10);
    client_ = std::move(*client::Client::Create(options));
    dataset_ = "cifar10:" + SortedCifar("sorted.bin");
  }

  std::string Out() { return out_.str(); }
  std::string Err() { return err_.str(); }

  InferOptions Infer(int64_t index) {
    InferOptions options;
    options.model.name = "cifar";
    options.source.dataset = dataset_;
    options.source.index = index;
    return options;
  }

  std::unique_ptr<FakeInferenceServer> server_;
  std::unique_ptr<client::Client> client_;
  std::string dataset_;
  std::ostringstream out_, err_;
  Console console_{out_, err_, false};
};

TEST_F(CommandsTest, Health) {
  ASSERT_TRUE(RunHealth(*client_, "cifar", false, console_).ok());
  EXPECT_EQ(Out(), "server " + server_->address() + ": live, ready\nmodel cifar: ready\n");
  const absl::Status missing = RunHealth(*client_, "nope", true, console_);
  EXPECT_EQ(missing.message(), "model 'nope' is not ready");
  EXPECT_THAT(Out(), HasSubstr("\"model_ready\": false}"));
  server_->SetServerReady(false);
  EXPECT_THAT(RunHealth(*client_, "", false, console_).message(), HasSubstr("is not ready"));
}

TEST_F(CommandsTest, ModelsMetadataLoadUnloadStats) {
  ASSERT_TRUE(RunModels(*client_, false, false, console_).ok());
  EXPECT_THAT(Out(), HasSubstr("cifar  1        READY"));
  ASSERT_TRUE(RunUnloadModel(*client_, "cifar", console_).ok());
  ASSERT_TRUE(RunModels(*client_, /*ready_only=*/true, /*json=*/true, console_).ok());
  EXPECT_THAT(Out(), HasSubstr("unloaded cifar\n{\"models\":[]}\n"));
  ASSERT_TRUE(RunLoadModel(*client_, "cifar", console_).ok());
  EXPECT_EQ(RunLoadModel(*client_, "nope", console_).code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(RunMetadata(*client_, {"cifar", ""}, false, console_).ok());
  EXPECT_THAT(Out(), HasSubstr("input  FP32      [-1,3,32,32]"));
  const absl::Status unknown = RunMetadata(*client_, {"nope", ""}, false, console_);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.message(), "unknown model 'nope'");

  ASSERT_TRUE(RunInfer(*client_, Infer(0), console_).ok());
  ASSERT_TRUE(RunStats(*client_, {"cifar", ""}, true, console_).ok());
  EXPECT_THAT(Out(), HasSubstr("\"inference_count\":\"1\""));
}

TEST_F(CommandsTest, InferOneLabelledImage) {
  InferOptions options = Infer(5);  // class 2
  options.top_k = 3;
  options.labels_file = testing::WriteFile(
      "names.txt", "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n");
  options.source.prep.scale = 1.0 / 255;
  ASSERT_TRUE(RunInfer(*client_, options, console_).ok()) << Err();
  const std::vector<std::string> lines = absl::StrSplit(Out(), '\n');
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[0], "model cifar version 1, output 'scores' FP32 [1,10]");
  EXPECT_EQ(lines[1], "sample 0 (" + dataset_ + " #5, label 2 bird)");
  EXPECT_THAT(lines[3], HasSubstr("1      2  bird"));
  EXPECT_THAT(lines[3], HasSubstr("0.784314"));  // 200/255

  const std::vector<inference::ModelInferRequest> sent = server_->infer_requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_THAT(sent[0].inputs(0).shape(), ElementsAre(1, 3, 32, 32));
  EXPECT_EQ(sent[0].parameters().at("label").int64_param(), 2);
}

TEST_F(CommandsTest, InferABatchAsJson) {
  InferOptions options = Infer(6);
  options.source.batch = 3;
  options.json = true;
  options.top_k = 1;
  ASSERT_TRUE(RunInfer(*client_, options, console_).ok()) << Err();
  const google::protobuf::Struct json = ParseJson(Out());
  const auto& rows = json.fields().at("top_k").struct_value().fields().at("rows").list_value();
  ASSERT_EQ(rows.values_size(), 3);
  for (int row = 0; row < 3; ++row) {
    const auto& fields = rows.values(row).struct_value().fields();
    const int label = (6 + row) / 2;
    EXPECT_EQ(fields.at("label").number_value(), label);
    EXPECT_EQ(fields.at("classes")
                  .list_value()
                  .values(0)
                  .struct_value()
                  .fields()
                  .at("class")
                  .number_value(),
              label);
  }
  const auto& outputs = json.fields().at("outputs").list_value();
  EXPECT_EQ(outputs.values(0).struct_value().fields().at("data").list_value().values_size(), 30);
  const std::vector<inference::ModelInferRequest> sent = server_->infer_requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].parameters().count("label"), 0u);  // one label cannot describe a batch
}

TEST_F(CommandsTest, InferFromNpyAndRawFiles) {
  datasets::FileTensor npy;
  npy.dtype = "float32";
  npy.shape = {3, 32, 32};
  std::vector<float> values(3 * 32 * 32, 0.0f);
  values[7] = 5.0f;
  npy.bytes.resize(values.size() * 4);
  std::memcpy(npy.bytes.data(), values.data(), npy.bytes.size());
  const std::string path = TempPath("input.npy");
  ASSERT_TRUE(datasets::SaveNpy(path, npy).ok());
  InferOptions options;
  options.model.name = "cifar";
  options.source.file = path;
  options.top_k = 1;
  ASSERT_TRUE(RunInfer(*client_, options, console_).ok()) << Err();
  EXPECT_THAT(Out(), ::testing::ContainsRegex("\n   1      7 +5\n"));

  options.source.file =
      testing::WriteFile("input.bin", std::string(npy.bytes.begin(), npy.bytes.end()));
  options.source.shape = "1,3,32,32";
  ASSERT_TRUE(RunInfer(*client_, options, console_).ok()) << Err();
  options.source.shape = "1,3,16,64";
  EXPECT_THAT(RunInfer(*client_, options, console_).message(),
              HasSubstr("has shape [1,3,16,64] but input 'input' takes [-1,3,32,32]"));
}

TEST_F(CommandsTest, InferErrorsNameWhatFailed) {
  InferOptions options = Infer(19);
  options.source.batch = 2;
  EXPECT_THAT(RunInfer(*client_, options, console_).message(),
              HasSubstr("images 19..20 are past the end of '" + dataset_ + "' (20 images)"));
  options = Infer(0);
  options.source.dataset = "cifar10:" + TempPath("missing.bin");
  EXPECT_THAT(RunInfer(*client_, options, console_).message(), HasSubstr("missing.bin"));
  options = Infer(0);
  options.model.name = "nope";
  EXPECT_EQ(RunInfer(*client_, options, console_).code(), absl::StatusCode::kNotFound);
  options = Infer(0);
  options.labels_file = TempPath("no-labels.txt");
  EXPECT_THAT(RunInfer(*client_, options, console_).message(),
              HasSubstr("cannot read labels file"));
  options = Infer(0);
  options.output = "logits";
  EXPECT_EQ(RunInfer(*client_, options, console_).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Out(), "");
}

TEST_F(CommandsTest, CalibrateStreamsEvenlySpacedSamples) {
  CalibrateOptions options;
  options.model.name = "cifar";
  options.dataset = dataset_;
  options.samples = 10;
  options.validation_dataset = dataset_;
  options.chunk = 4;
  options.spec.set_method(octet::v1::ENTROPY);
  options.spec.set_tolerance(0.5);
  ASSERT_TRUE(RunCalibrate(*client_, options, console_).ok()) << Err();

  const std::vector<octet::v1::CalibrateRequest> sent = server_->calibrate_requests();
  ASSERT_EQ(sent.size(), 1u + 3 + 5);  // spec, 10 images in chunks of 4, 20 in chunks of 4
  const octet::v1::CalibrationSpec& spec = sent[0].spec();
  EXPECT_EQ(spec.model_name(), "cifar");
  EXPECT_EQ(spec.num_samples(), 10);
  EXPECT_EQ(spec.method(), octet::v1::ENTROPY);
  EXPECT_TRUE(spec.has_tolerance());
  std::vector<int> calibration_labels;
  int validation = 0;
  for (size_t i = 1; i < sent.size(); ++i) {
    const octet::v1::CalibrationSample& s = sent[i].sample();
    EXPECT_EQ(s.datatype(), "FP32");
    EXPECT_EQ(s.shape(1), 3);
    EXPECT_EQ(s.raw_contents().size(), s.shape(0) * 3 * 32 * 32 * sizeof(float));
    EXPECT_EQ(s.labels_size(), s.shape(0));
    if (s.role() == octet::v1::CalibrationSample::VALIDATION) {
      validation += static_cast<int>(s.shape(0));
    } else {
      EXPECT_EQ(s.role(), octet::v1::CalibrationSample::CALIBRATION);
      calibration_labels.insert(calibration_labels.end(), s.labels().begin(), s.labels().end());
    }
  }
  // Every class, not the first five: the file is sorted by class.
  EXPECT_THAT(calibration_labels, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
  EXPECT_EQ(validation, 20);

  EXPECT_THAT(Err(), HasSubstr("calibrate: cifar with 10 calibration images from " + dataset_ +
                               ", 20 validation images from " + dataset_ + "\n"));
  EXPECT_THAT(Err(), HasSubstr("calibrate: receiving 10/10 (100%)  received\n"));
  EXPECT_THAT(Err(), HasSubstr("calibrate: observing 10/10 (100%)  observed\n"));
  EXPECT_EQ(Err().find('\r'), std::string::npos);
  EXPECT_THAT(Out(), HasSubstr("calibrated cifar version 1 -> version 2 (mixed, entropy)"));
  EXPECT_THAT(Out(), HasSubstr("10 calibration, 20 validation; accuracy against labels"));
}

TEST_F(CommandsTest, CalibrateFromAServerDataSet) {
  CalibrateOptions options;
  options.model.name = "cifar";
  options.samples = 300;
  options.spec.set_server_dataset("cifar10:calib500.bin");
  options.json = true;
  ASSERT_TRUE(RunCalibrate(*client_, options, console_).ok()) << Err();
  const std::vector<octet::v1::CalibrateRequest> sent = server_->calibrate_requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].spec().server_dataset(), "cifar10:calib500.bin");
  EXPECT_EQ(sent[0].spec().num_samples(), 300);
  EXPECT_EQ(ParseJson(Out()).fields().at("published_version").string_value(), "2");
}

TEST_F(CommandsTest, CalibrateFailuresCarryTheServersMessage) {
  server_->FailCalibration(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                        "tolerance 0 cannot be met even with every layer in FP32"));
  CalibrateOptions options;
  options.model.name = "cifar";
  options.dataset = dataset_;
  const absl::Status s = RunCalibrate(*client_, options, console_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "tolerance 0 cannot be met even with every layer in FP32");
  EXPECT_EQ(Out(), "");

  options.model.name = "nope";
  EXPECT_EQ(RunCalibrate(*client_, options, console_).code(), absl::StatusCode::kNotFound);
}

PerfOptions Perf() {
  PerfOptions options;
  options.model.name = "cifar";
  options.requests = 20;
  options.warmup = absl::ZeroDuration();
  return options;
}

TEST_F(CommandsTest, PerfSweepsConcurrencyWithServerTimes) {
  FakeModel model = FakeInferenceServer::Classifier("cifar", {3, 32, 32}, kClasses);
  model.latency = absl::Milliseconds(2);
  model.queue_time = absl::Microseconds(250);
  server_->AddModel(model);
  PerfOptions options = Perf();
  options.concurrency = {1, 4};
  options.csv_path = TempPath("perf.csv");
  ASSERT_TRUE(RunPerf(*client_, options, console_).ok()) << Err();
  const std::vector<std::string> lines = absl::StrSplit(Out(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << Out();
  EXPECT_EQ(lines[0], "model cifar, batch 1");
  EXPECT_THAT(lines[2], ::testing::StartsWith("          1        20       0"));
  EXPECT_THAT(lines[3], ::testing::StartsWith("          4        20       0"));
  EXPECT_THAT(lines[3], HasSubstr("250.0"));   // server queue time
  EXPECT_THAT(lines[3], HasSubstr("2000.0"));  // server compute time
  EXPECT_THAT(Err(), HasSubstr("perf: concurrency 4: 20 requests, 0 errors"));
  // 1 validating request + 2 steps of 20.
  EXPECT_EQ(server_->infer_requests().size(), 41u);

  std::ifstream csv(options.csv_path);
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_THAT(header, ::testing::StartsWith("concurrency,rate,batch,requests"));
  EXPECT_THAT(row, ::testing::StartsWith("1,,1,20,0,"));
}

TEST_F(CommandsTest, PerfAtAFixedRateAsJson) {
  PerfOptions options = Perf();
  options.concurrency.clear();
  options.rates = {400};
  options.requests = 10;
  options.json = true;
  options.source.batch = 2;
  options.warmup = absl::Milliseconds(20);
  ASSERT_TRUE(RunPerf(*client_, options, console_).ok()) << Err();
  const google::protobuf::Struct json = ParseJson(Out());
  EXPECT_EQ(json.fields().at("batch").number_value(), 2);
  const auto& step = json.fields().at("steps").list_value().values(0).struct_value().fields();
  EXPECT_EQ(step.at("rate").number_value(), 400);
  EXPECT_EQ(step.at("requests").number_value(), 10);
  // Ten requests 2.5 ms apart take at least 22.5 ms: at most ~444/s.
  EXPECT_LT(step.at("throughput_per_s").number_value(), 450);
  const std::vector<inference::ModelInferRequest> sent = server_->infer_requests();
  EXPECT_THAT(sent.back().inputs(0).shape(), ElementsAre(2, 3, 32, 32));  // synthetic batch of 2
}

TEST_F(CommandsTest, PerfCountsErrorsAndFailsWhenNothingSucceeds) {
  FakeModel flaky = FakeInferenceServer::Classifier("cifar", {3, 32, 32}, kClasses);
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto classify = flaky.infer;
  flaky.infer = [calls, classify](const inference::ModelInferRequest& request,
                                  inference::ModelInferResponse* response) {
    const int n = (*calls)++;
    if (n > 0 && n % 4 == 0) return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "full");
    return classify(request, response);
  };
  server_->AddModel(flaky);
  ASSERT_TRUE(RunPerf(*client_, Perf(), console_).ok()) << Err();
  EXPECT_THAT(Out(), HasSubstr("errors at concurrency 1: RESOURCE_EXHAUSTED x5; first: full"));

  FakeModel broken = FakeInferenceServer::Classifier("cifar", {3, 32, 32}, kClasses);
  broken.infer = [calls](const inference::ModelInferRequest&, inference::ModelInferResponse*) {
    return ++*calls == 1 ? grpc::Status::OK : grpc::Status(grpc::StatusCode::INTERNAL, "boom");
  };
  *calls = 0;
  server_->AddModel(broken);
  const absl::Status s = RunPerf(*client_, Perf(), console_);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "every request failed at concurrency 1: boom");
}

TEST_F(CommandsTest, PerfRefusesABadInputOnce) {
  PerfOptions options = Perf();
  options.model.name = "nope";
  EXPECT_EQ(RunPerf(*client_, options, console_).code(), absl::StatusCode::kNotFound);
  FakeModel picky = FakeInferenceServer::Classifier("cifar", {3, 32, 32}, kClasses);
  picky.infer = [](const inference::ModelInferRequest&, inference::ModelInferResponse*) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "values out of range");
  };
  server_->AddModel(picky);
  const absl::Status s = RunPerf(*client_, Perf(), console_);
  EXPECT_EQ(s.message(), "first request failed: values out of range");
  EXPECT_EQ(server_->infer_requests().size(), 1u);
}

TEST_F(CommandsTest, PerfPlotNeedsGnuplot) {
  const char* saved = std::getenv("PATH");
  const std::string path = saved ? saved : "";
  setenv("PATH", ::testing::TempDir().c_str(), 1);
  PerfOptions options = Perf();
  options.plot_path = TempPath("perf.png");
  const absl::Status s = RunPerf(*client_, options, console_);
  setenv("PATH", path.c_str(), 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("--plot needs gnuplot, which is not installed"));
  EXPECT_TRUE(server_->infer_requests().empty());  // refused before any load
}

TEST_F(CommandsTest, PerfDrawsAPlotWithGnuplot) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "gnuplot is not installed (apt-get install gnuplot-nox)";
  }
  PerfOptions options = Perf();
  options.concurrency = {1, 2};
  options.plot_path = TempPath("perf.png");
  std::remove(options.plot_path.c_str());
  ASSERT_TRUE(RunPerf(*client_, options, console_).ok()) << Err();
  std::ifstream png(options.plot_path, std::ios::binary);
  char magic[4] = {};
  png.read(magic, 4);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
}

}  // namespace
}  // namespace octet::cli
