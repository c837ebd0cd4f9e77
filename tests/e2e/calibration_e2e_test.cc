// End to end over real gRPC: calibration through octet.v1.Calibration on a shared model
// (ResNet-8, MLPerf Tiny, CIFAR-10), then inference on the INT8 version it published, while
// version 1 keeps serving; a second calibration of the same model is refused, a cancelled one
// publishes nothing, control needs the admin token, server-side data sets stay inside
// --dataset-root. The INT8 version's answers are also shadowed on FP32 (shadow_fraction 1).
//
// Needs ../shared/data (models/resnet8-mlperf-tiny.onnx, cifar10-jpeg/{calib500,test}.bin):
// skipped with the missing path when absent, a failure in CI (CI=true).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "client/octet_client.h"
#include "engine/model.h"
#include "engine/session.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "octet/v1/calibration.grpc.pb.h"
#include "server/metrics/recording_metrics_sink.h"
#include "tests/e2e/e2e_support.h"

namespace octet::e2e {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Progress = v1::CalibrationProgress;

constexpr char kModel[] = "resnet8";
constexpr int kImageValues = 3 * 32 * 32;
constexpr int kCifarRecord = 1 + kImageValues;  // label byte, then CHW pixels
constexpr int kCalibrationImages = 200;         // of calib500.bin, evenly spaced
constexpr int kValidationImages = 1000;         // of test.bin, every 10th
constexpr int kValidationStride = 10;
constexpr int kChunk = 100;  // images per CalibrationSample message

std::string SharedData(const std::string& relative) {
  return std::string(OCTET_SHARED_DATA) + "/" + relative;
}

// Skips the test (fails it in CI) when a shared file is missing.
#define REQUIRE_SHARED_FILE(path)                                                     \
  do {                                                                                \
    if (!fs::exists(path)) {                                                          \
      const char* ci = std::getenv("CI");                                             \
      if (ci != nullptr && std::string(ci) == "true") FAIL() << "missing " << (path); \
      GTEST_SKIP() << "missing " << (path);                                           \
    }                                                                                 \
  } while (0)

// Images of a CIFAR-10 binary file as the model takes them (raw 0..255 pixels, NCHW).
struct Images {
  std::vector<float> pixels;  // count * kImageValues
  std::vector<int32_t> labels;
  int64_t count() const { return static_cast<int64_t>(labels.size()); }
  std::vector<float> Slice(int64_t first, int64_t n) const {
    return std::vector<float>(pixels.begin() + first * kImageValues,
                              pixels.begin() + (first + n) * kImageValues);
  }
};

// Records `indices` of the CIFAR-10 binary file at `path`.
Images ReadCifar(const std::string& path, const std::vector<int64_t>& indices) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  Images images;
  std::vector<unsigned char> record(kCifarRecord);
  for (int64_t index : indices) {
    in.seekg(index * kCifarRecord);
    in.read(reinterpret_cast<char*>(record.data()), kCifarRecord);
    EXPECT_TRUE(in.good()) << path << " record " << index;
    images.labels.push_back(record[0]);
    for (int i = 1; i < kCifarRecord; ++i) images.pixels.push_back(record[i]);
  }
  return images;
}

std::vector<int64_t> Spaced(int64_t total, int64_t count) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < count; ++i) indices.push_back(i * total / count);
  return indices;
}

std::vector<v1::CalibrationSample> Samples(const Images& images, v1::CalibrationSample::Role role,
                                           bool with_labels) {
  std::vector<v1::CalibrationSample> samples;
  for (int64_t first = 0; first < images.count(); first += kChunk) {
    const int64_t n = std::min<int64_t>(kChunk, images.count() - first);
    v1::CalibrationSample sample;
    sample.set_role(role);
    sample.set_datatype("FP32");
    for (int64_t d : {n, int64_t{3}, int64_t{32}, int64_t{32}}) sample.add_shape(d);
    const std::vector<float> pixels = images.Slice(first, n);
    sample.set_raw_contents(pixels.data(), pixels.size() * sizeof(float));
    if (with_labels) {
      for (int64_t i = first; i < first + n; ++i) sample.add_labels(images.labels[i]);
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

client::InferRequest Request(const std::vector<float>& pixels, const std::string& version) {
  client::InferRequest request;
  request.model = kModel;
  request.version = version;
  request.inputs.push_back(client::InferInput::FromFloats(
      "input", {static_cast<int64_t>(pixels.size() / kImageValues), 3, 32, 32}, pixels));
  return request;
}

int64_t ArgMax(const float* row) { return std::max_element(row, row + 10) - row; }

// The model served as version 1 of a temporary repository, every version serving (so version 1
// stays beside the INT8 one) and every INT8 answer shadowed on FP32.
class CalibrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_SHARED_FILE(SharedData("models/resnet8-mlperf-tiny.onnx"));
    REQUIRE_SHARED_FILE(SharedData("cifar10-jpeg/calib500.bin"));
    REQUIRE_SHARED_FILE(SharedData("cifar10-jpeg/test.bin"));
    WriteFile(ModelDir() + "/config.pbtxt",
              "max_batch_size: 16\n"
              "input [ { name: \"input\" data_type: TYPE_FP32 dims: [3, 32, 32] } ]\n"
              "output [ { name: \"probs\" data_type: TYPE_FP32 dims: [10] } ]\n"
              "dynamic_batching { }\n"
              "version_policy { all { } }\n"
              "shadow_fraction: 1.0\n");
    fs::create_directories(ModelDir() + "/1");
    fs::copy_file(SharedData("models/resnet8-mlperf-tiny.onnx"), ModelDir() + "/1/model.onnx");
  }

  void Start(server::OctetServerOptions options) {
    options.metrics = &sink_;
    server_ = StartServer(std::move(options));
    ASSERT_NE(server_, nullptr);
    client_ = MakeClient(Address(*server_), token_);
    ASSERT_NE(client_, nullptr);
  }
  void Start() { Start(ServerOptions(repository_.path())); }

  std::string ModelDir() const { return repository_.path() + "/" + kModel; }

  // The entries of the model directory, sorted (version directories, config, hidden ones).
  std::vector<std::string> ModelDirEntries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(ModelDir())) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  static v1::CalibrationSpec Spec() {
    v1::CalibrationSpec spec;
    spec.set_model_name(kModel);
    spec.set_precision(v1::PRECISION_INT8);
    spec.set_num_samples(kCalibrationImages);
    return spec;
  }

  // Calibration samples (evenly spaced through calib500.bin, which is sorted by class) and
  // labelled validation samples (every 10th test image).
  static std::vector<v1::CalibrationSample> StreamedSamples(Images* validation = nullptr) {
    const Images calibration =
        ReadCifar(SharedData("cifar10-jpeg/calib500.bin"), Spaced(500, kCalibrationImages));
    std::vector<int64_t> strided;
    for (int64_t i = 0; i < kValidationImages; ++i) strided.push_back(i * kValidationStride);
    Images held_out = ReadCifar(SharedData("cifar10-jpeg/test.bin"), strided);
    std::vector<v1::CalibrationSample> samples =
        Samples(calibration, v1::CalibrationSample::CALIBRATION, /*with_labels=*/false);
    for (auto& s : Samples(held_out, v1::CalibrationSample::VALIDATION, /*with_labels=*/true)) {
      samples.push_back(std::move(s));
    }
    if (validation != nullptr) *validation = std::move(held_out);
    return samples;
  }

  TestRepository repository_;
  server::RecordingMetricsSink sink_;
  std::string token_;
  std::unique_ptr<server::OctetServer> server_;
  std::unique_ptr<client::Client> client_;
};

// FP32 top-1 accuracy (percent) of the model on `images`, computed by the engine directly.
double EngineAccuracy(const Images& images) {
  auto model = Model::Load(SharedData("models/resnet8-mlperf-tiny.onnx"));
  EXPECT_TRUE(model.ok()) << model.status();
  auto session = Session::Create(*model, SessionOptions{1});
  EXPECT_TRUE(session.ok());
  int64_t correct = 0;
  for (int64_t first = 0; first < images.count(); first += kChunk) {
    const int64_t n = std::min<int64_t>(kChunk, images.count() - first);
    const std::vector<float> pixels = images.Slice(first, n);
    Tensor input(DataType::kFloat32, {n, 3, 32, 32});
    std::memcpy(input.raw_data(), pixels.data(), pixels.size() * sizeof(float));
    auto out = (*session)->Run({input.view()});
    EXPECT_TRUE(out.ok()) << out.status();
    for (int64_t i = 0; i < n; ++i) {
      correct += ArgMax((*out)[0].data<float>() + i * 10) == images.labels[first + i];
    }
  }
  return 100.0 * static_cast<double>(correct) / static_cast<double>(images.count());
}

TEST_F(CalibrationTest, PublishesAnInt8VersionThatServesWhileVersionOneNeverStops) {
  Start();
  Images validation;
  const std::vector<v1::CalibrationSample> samples = StreamedSamples(&validation);

  // Version 1 answers all along: before, during and after the calibration and the swap.
  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, failed{0};
  std::string first_failure;
  std::thread traffic([&] {
    const client::InferRequest request = Request(validation.Slice(0, 1), "1");
    while (!stop.load()) {
      absl::StatusOr<client::InferResult> result = client_->Infer(request);
      if (result.ok()) {
        ++served;
      } else if (failed++ == 0) {
        first_failure = result.status().ToString();
      }
    }
  });

  absl::Mutex progress_mu;
  std::vector<Progress::Phase> phases;
  absl::Notification running;
  absl::StatusOr<v1::CalibrationReport> report;
  std::thread calibrate([&] {
    report = client_->Calibrate(Spec(), samples, [&](const Progress& p) {
      absl::MutexLock lock(&progress_mu);
      phases.push_back(p.phase());
      if (!running.HasBeenNotified()) running.Notify();
    });
    if (!running.HasBeenNotified()) running.Notify();
  });
  // A second calibration of the same model while the first runs is refused at once.
  running.WaitForNotification();
  absl::StatusOr<v1::CalibrationReport> second = client_->Calibrate(Spec(), {}, nullptr);
  calibrate.join();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted) << second.status();
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("already running"));
  ASSERT_TRUE(report.ok()) << report.status();

  // Progress: every phase of an INT8 calibration, in order.
  {
    absl::MutexLock lock(&progress_mu);
    EXPECT_TRUE(std::is_sorted(phases.begin(), phases.end())) << ::testing::PrintToString(phases);
    for (Progress::Phase phase : {Progress::RECEIVING, Progress::OBSERVING, Progress::QUANTIZING,
                                  Progress::EVALUATING, Progress::PUBLISHING}) {
      EXPECT_THAT(phases, ::testing::Contains(phase)) << Progress::Phase_Name(phase);
    }
  }

  // The report.
  EXPECT_EQ(report->model_name(), kModel);
  EXPECT_EQ(report->source_version(), "1");
  EXPECT_EQ(report->published_version(), "2");
  EXPECT_EQ(report->precision(), v1::PRECISION_INT8);
  EXPECT_EQ(report->num_calibration_samples(), kCalibrationImages);
  EXPECT_EQ(report->num_validation_samples(), kValidationImages);
  EXPECT_TRUE(report->accuracy_from_labels());
  EXPECT_NEAR(report->fp32_accuracy(), EngineAccuracy(validation), 0.051);
  EXPECT_NEAR(report->accuracy(), report->fp32_accuracy(), 1.0);
  EXPECT_GT(report->top1_agreement(), 90.0);
  ASSERT_GT(report->layers_size(), 0);
  EXPECT_EQ(report->plan_size(), report->layers_size());
  for (const v1::LayerReport& layer : report->layers()) {
    EXPECT_EQ(report->plan().at(layer.node_name()), "int8") << layer.node_name();
    EXPECT_TRUE(std::isfinite(layer.sqnr_db())) << layer.node_name();
  }
  EXPECT_LT(report->weight_bytes(), report->weight_bytes_fp32());

  // The stored report is the streamed one, by version and as the latest (sensitivity_db is NaN
  // where no ranking was needed, hence a comparator for which NaN equals NaN).
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  for (const std::string version : {"2", ""}) {
    absl::StatusOr<v1::CalibrationReport> stored = client_->GetCalibrationReport(kModel, version);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_TRUE(differencer.Compare(*stored, *report))
        << "stored:\n"
        << stored->DebugString() << "streamed:\n"
        << report->DebugString();
  }

  // Both versions are READY and the new one is INT8.
  absl::StatusOr<inference::RepositoryIndexResponse> index = client_->RepositoryIndex();
  ASSERT_TRUE(index.ok()) << index.status();
  std::map<std::string, std::string> states;
  for (const auto& model : index->models()) {
    if (model.name() == kModel) states[model.version()] = model.state();
  }
  EXPECT_EQ(states["1"], "READY");
  EXPECT_EQ(states["2"], "READY");
  absl::StatusOr<inference::ModelMetadataResponse> metadata = client_->ModelMetadata(kModel, "2");
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_EQ(metadata->platform(), "octet_onnx_int8");

  // Version 2 answers like FP32: the same top-1 on nearly every image, close probabilities.
  constexpr int kCompared = 64;
  int agree = 0;
  double error = 0;
  for (int first = 0; first < kCompared; first += 16) {
    const std::vector<float> pixels = validation.Slice(first, 16);
    absl::StatusOr<client::InferResult> int8 = client_->Infer(Request(pixels, "2"));
    absl::StatusOr<client::InferResult> fp32 = client_->Infer(Request(pixels, "1"));
    ASSERT_TRUE(int8.ok()) << int8.status();
    ASSERT_TRUE(fp32.ok()) << fp32.status();
    EXPECT_EQ(int8->model_version, "2");
    const std::vector<float> a = *int8->AsFloats("probs");
    const std::vector<float> b = *fp32->AsFloats("probs");
    ASSERT_EQ(a.size(), b.size());
    for (size_t row = 0; row < a.size() / 10; ++row) {
      agree += ArgMax(&a[row * 10]) == ArgMax(&b[row * 10]);
      double diff = 0, norm = 0;
      for (size_t i = row * 10; i < row * 10 + 10; ++i) {
        diff += (a[i] - b[i]) * (a[i] - b[i]);
        norm += b[i] * b[i];
      }
      error += std::sqrt(diff / norm) / kCompared;
    }
  }
  EXPECT_GE(agree, kCompared * 9 / 10);
  EXPECT_LT(error, 0.25) << "mean relative L2 error of INT8 probabilities";

  stop = true;
  traffic.join();
  EXPECT_EQ(failed.load(), 0) << "version 1 failed during calibration: " << first_failure;
  EXPECT_GT(served.load(), 0);

  // Every INT8 answer was rerun on FP32 (shadow_fraction 1): one comparison per sample, keyed
  // by version 2, agreeing as often as the report says (within what 64 images can show).
  ASSERT_TRUE(Eventually([&] { return sink_.Shadows().size() >= kCompared; }));
  int shadow_agree = 0;
  for (const server::ShadowEvent& e : sink_.Shadows()) {
    EXPECT_EQ(e.key.version, "2");
    EXPECT_EQ(e.key.precision, "int8");
    EXPECT_GE(e.relative_error, 0);
    shadow_agree += e.agree;
  }
  EXPECT_EQ(sink_.Shadows().size(), static_cast<size_t>(kCompared));
  EXPECT_EQ(shadow_agree, agree);
  // The calibration's summary went to the metrics sink, under the published version.
  ASSERT_EQ(sink_.Calibrations().size(), 1u);
  EXPECT_EQ(sink_.Calibrations()[0].key.version, "2");
  EXPECT_DOUBLE_EQ(sink_.Calibrations()[0].top1_agreement, report->top1_agreement());
}

TEST_F(CalibrationTest, ACancelledCalibrationPublishesNothingAndVersionOneServes) {
  Start();
  const std::vector<v1::CalibrationSample> samples = StreamedSamples();
  auto stub = v1::Calibration::NewStub(
      grpc::CreateChannel(Address(*server_), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  auto stream = stub->Calibrate(&context);
  v1::CalibrateRequest request;
  *request.mutable_spec() = Spec();
  ASSERT_TRUE(stream->Write(request));
  for (const v1::CalibrationSample& sample : samples) {
    *request.mutable_sample() = sample;
    ASSERT_TRUE(stream->Write(request));
  }
  ASSERT_TRUE(stream->WritesDone());
  v1::CalibrateResponse response;
  bool cancelled_while_evaluating = false;
  while (stream->Read(&response)) {
    ASSERT_FALSE(response.has_report()) << "the calibration finished before it was cancelled";
    if (response.progress().phase() == Progress::EVALUATING) {
      context.TryCancel();
      cancelled_while_evaluating = true;
      break;
    }
  }
  ASSERT_TRUE(cancelled_while_evaluating);
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();

  // Version 1 still serves, alone.
  Images image = ReadCifar(SharedData("cifar10-jpeg/test.bin"), {0});
  absl::StatusOr<client::InferResult> result = client_->Infer(Request(image.pixels, ""));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->model_version, "1");

  // Once the server has finished (Shutdown waits for running calibrations), nothing was
  // published, not even in part: no version 2, no hidden ".calibrating-*" directory.
  server_->Shutdown();
  EXPECT_THAT(ModelDirEntries(), ::testing::ElementsAre("1", "config.pbtxt"));
  EXPECT_TRUE(sink_.Calibrations().empty());
}

TEST_F(CalibrationTest, CalibrateNeedsTheAdminTokenWhenOneIsConfigured) {
  server::OctetServerOptions options = ServerOptions(repository_.path());
  options.admin_token = "let-me-calibrate";
  Start(options);
  // Without the token, or with a wrong one: refused before anything is read.
  for (const std::string token : {"", "wrong"}) {
    std::unique_ptr<client::Client> client = MakeClient(Address(*server_), token);
    absl::StatusOr<v1::CalibrationReport> report = client->Calibrate(Spec(), {}, nullptr);
    EXPECT_EQ(report.status().code(), absl::StatusCode::kUnauthenticated) << report.status();
  }
  // With it, the call gets as far as the data: here a server-side data set, which this server
  // (no --dataset-root) refuses.
  std::unique_ptr<client::Client> admin = MakeClient(Address(*server_), options.admin_token);
  v1::CalibrationSpec spec = Spec();
  spec.set_server_dataset("cifar10:calib500.bin");
  absl::StatusOr<v1::CalibrationReport> report = admin->Calibrate(spec, {}, nullptr);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied) << report.status();
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("--dataset-root"));
  EXPECT_THAT(ModelDirEntries(), ::testing::ElementsAre("1", "config.pbtxt"));
}

TEST_F(CalibrationTest, ServerSideDataSetsComeOnlyFromInsideTheDatasetRoot) {
  // The root holds a copy of calib500.bin (a symbolic link to the shared file would itself lead
  // outside the root, and is refused like any other), and a link to a directory outside it.
  TempDir root;
  fs::copy_file(SharedData("cifar10-jpeg/calib500.bin"), root.path() + "/calib500.bin");
  fs::create_directory_symlink(SharedData("cifar10-jpeg"), root.path() + "/outside");
  fs::create_symlink(SharedData("cifar10-jpeg/calib500.bin"), root.path() + "/link.bin");
  server::OctetServerOptions options = ServerOptions(repository_.path());
  options.dataset_root = root.path();
  Start(options);

  for (const std::string& dataset : std::vector<std::string>{
           "cifar10:../calib500.bin", "cifar10:outside/calib500.bin", "cifar10:link.bin",
           "cifar10:" + SharedData("cifar10-jpeg/calib500.bin")}) {
    v1::CalibrationSpec spec = Spec();
    spec.set_server_dataset(dataset);
    absl::StatusOr<v1::CalibrationReport> report = client_->Calibrate(spec, {}, nullptr);
    EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied)
        << dataset << ": " << report.status();
  }
  EXPECT_THAT(ModelDirEntries(), ::testing::ElementsAre("1", "config.pbtxt"));

  v1::CalibrationSpec spec = Spec();
  spec.set_num_samples(100);
  spec.set_server_dataset("cifar10:calib500.bin");
  spec.set_validation_dataset("cifar10:calib500.bin");
  absl::StatusOr<v1::CalibrationReport> report = client_->Calibrate(spec, {}, nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->published_version(), "2");
  EXPECT_EQ(report->num_calibration_samples(), 100);
  EXPECT_EQ(report->num_validation_samples(), 500);
  EXPECT_TRUE(report->accuracy_from_labels());
  EXPECT_NEAR(report->accuracy(), report->fp32_accuracy(), 1.5);
  EXPECT_TRUE(*client_->ModelReady(kModel, "2"));
}

}  // namespace
}  // namespace octet::e2e
