// Calibration as a server feature, without gRPC: a job publishes a whole INT8 version or
// nothing; cancellation and failures leave the repository as it was; server-side data set
// paths cannot leave the allowed root; streamed samples are validated.
#include "server/calibration/calibration_job.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/calibration/calibration_table.h"
#include "engine/calibration/model_digest.h"
#include "engine/model.h"
#include "gtest/gtest.h"
#include "server/calibration/calibration_inputs.h"
#include "server/calibration/version_publisher.h"
#include "server/repository/repository_layout.h"

namespace octet::server {
namespace {

namespace fs = std::filesystem;

const std::string kExampleModel = OCTET_SOURCE_DIR "/examples/models/fashion-lenet/1/model.onnx";

class CalibrationJobTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(testing::TempDir()) /
            ("calib-" + std::to_string(::getpid()) + "-" +
             testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "lenet" / "1");
    fs::copy_file(kExampleModel, root_ / "lenet" / "1" / "model.onnx");
  }
  void TearDown() override { fs::remove_all(root_); }

  // Deterministic pseudo-images in 0..255, the example model's input range.
  static std::vector<Tensor> Images(int batches, int per_batch) {
    std::vector<Tensor> out;
    uint32_t state = 7;
    for (int b = 0; b < batches; ++b) {
      Tensor t(DataType::kFloat32, {per_batch, 1, 28, 28});
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        state = state * 1664525u + 1013904223u;
        t.data<float>()[i] = static_cast<float>(state >> 24);
      }
      out.push_back(std::move(t));
    }
    return out;
  }

  CalibrationJob Job() {
    CalibrationJob job;
    job.model_name = "lenet";
    job.model_dir = (root_ / "lenet").string();
    job.source_version = 1;
    job.spec.set_model_name("lenet");
    job.spec.set_precision(v1::PRECISION_INT8);
    job.inputs.calibration = Images(2, 20);
    job.threads = 1;
    return job;
  }

  std::vector<std::string> Entries() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(root_ / "lenet")) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path root_;
};

TEST_F(CalibrationJobTest, PublishesAWholeInt8Version) {
  CalibrationJob job = Job();
  std::vector<v1::CalibrationProgress::Phase> phases;
  job.progress = [&](const v1::CalibrationProgress& p) { phases.push_back(p.phase()); };
  auto outcome = RunCalibration(job);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->published_version, 2);
  EXPECT_EQ(Entries(), (std::vector<std::string>{"1", "2"}));
  const fs::path v2 = root_ / "lenet" / "2";
  for (const char* file : {kModelFileName, kCalibrationTableFileName, kCalibrationReportFileName}) {
    EXPECT_TRUE(fs::exists(v2 / file)) << file;
  }
  auto table = calibration::Load((v2 / kCalibrationTableFileName).string());
  ASSERT_TRUE(table.ok()) << table.status();
  auto digest = calibration::FileDigest((v2 / kModelFileName).string());
  ASSERT_TRUE(digest.ok());
  EXPECT_TRUE(calibration::CheckMatchesModel(*table, *digest).ok());
  EXPECT_EQ(table->sample_count, 40);

  const v1::CalibrationReport& report = outcome->report;
  EXPECT_EQ(report.published_version(), "2");
  EXPECT_EQ(report.source_version(), "1");
  EXPECT_EQ(report.precision(), v1::PRECISION_INT8);
  EXPECT_FALSE(report.accuracy_from_labels());
  EXPECT_DOUBLE_EQ(report.fp32_accuracy(), 100.0);  // FP32 is the reference without labels
  EXPECT_GT(report.top1_agreement(), 80.0);
  EXPECT_EQ(report.layers_size(), 5);  // 2 Conv + 3 Gemm
  EXPECT_EQ(report.plan_size(), 5);
  EXPECT_LE(report.weight_bytes(), 0.3 * report.weight_bytes_fp32());
  auto on_disk = ReadCalibrationReport(v2.string());
  ASSERT_TRUE(on_disk.ok()) << on_disk.status();
  EXPECT_EQ(on_disk->published_version(), "2");
  EXPECT_EQ(on_disk->plan_size(), 5);
  ASSERT_FALSE(phases.empty());
  EXPECT_EQ(phases.front(), v1::CalibrationProgress::OBSERVING);
  EXPECT_EQ(phases.back(), v1::CalibrationProgress::PUBLISHING);

  // The published version loads as INT8 through the engine.
  auto model = Model::Load((v2 / kModelFileName).string());
  ASSERT_TRUE(model.ok());
}

TEST_F(CalibrationJobTest, CancelledJobPublishesNothing) {
  CalibrationJob job = Job();
  job.cancelled = [] { return true; };
  auto outcome = RunCalibration(job);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Entries(), (std::vector<std::string>{"1"}));
}

TEST_F(CalibrationJobTest, MissingSourceVersionIsAnErrorAndPublishesNothing) {
  CalibrationJob job = Job();
  job.source_version = 7;
  auto outcome = RunCalibration(job);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Entries(), (std::vector<std::string>{"1"}));
}

TEST_F(CalibrationJobTest, NoSamplesIsInvalid) {
  CalibrationJob job = Job();
  job.inputs.calibration.clear();
  EXPECT_EQ(RunCalibration(job).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CalibrationJobTest, AbandonedPublicationsAreInvisibleAndRemovable) {
  fs::create_directories(root_ / "lenet" / ".calibrating-2-12345");
  std::ofstream(root_ / "lenet" / ".calibrating-2-12345" / "model.onnx") << "partial";
  auto versions = ListVersions((root_ / "lenet").string());
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(*versions, std::vector<int64_t>{1});
  auto removed = RemoveAbandonedPublications((root_ / "lenet").string());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1);
  EXPECT_EQ(Entries(), (std::vector<std::string>{"1"}));
}

TEST(CalibrationInputsTest, ServerDatasetPathsStayInsideTheRoot) {
  const fs::path root = fs::path(testing::TempDir()) / ("dsroot-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "sets");
  std::ofstream(root / "sets" / "a.bin") << "x";
  const fs::path outside = fs::path(testing::TempDir()) / ("outside-" + std::to_string(::getpid()));
  std::ofstream(outside) << "secret";
  fs::create_symlink(outside, root / "sets" / "escape.bin");

  EXPECT_TRUE(ResolveInsideRoot(root.string(), "sets/a.bin").ok());
  EXPECT_EQ(ResolveInsideRoot(root.string(), "../outside").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ResolveInsideRoot(root.string(), "sets/../../x").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ResolveInsideRoot(root.string(), outside.string()).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ResolveInsideRoot(root.string(), "sets/escape.bin").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ResolveInsideRoot(root.string(), "sets/missing.bin").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveInsideRoot("", "sets/a.bin").status().code(),
            absl::StatusCode::kPermissionDenied);
  fs::remove_all(root);
  fs::remove(outside);
}

TEST(CalibrationInputsTest, StreamedSamplesAreValidated) {
  const TensorInfo input{"input", DataType::kFloat32, {-1, 1, 28, 28}};
  v1::CalibrationSample sample;
  sample.set_datatype("FP32");
  for (int64_t d : {2, 1, 28, 28}) sample.add_shape(d);
  sample.set_raw_contents(std::string(2 * 28 * 28 * 4, '\0'));
  auto ok = DecodeCalibrationSample(sample, input);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->shape(), (Shape{2, 1, 28, 28}));

  v1::CalibrationSample wrong_type = sample;
  wrong_type.set_datatype("UINT8");
  EXPECT_EQ(DecodeCalibrationSample(wrong_type, input).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::CalibrationSample wrong_shape = sample;
  wrong_shape.set_shape(2, 27);
  EXPECT_EQ(DecodeCalibrationSample(wrong_shape, input).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::CalibrationSample short_bytes = sample;
  short_bytes.mutable_raw_contents()->pop_back();
  EXPECT_EQ(DecodeCalibrationSample(short_bytes, input).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::CalibrationSample bad_labels = sample;
  bad_labels.add_labels(3);
  EXPECT_EQ(DecodeCalibrationSample(bad_labels, input).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::CalibrationSample huge = sample;
  huge.set_shape(0, int64_t{1} << 40);
  EXPECT_EQ(DecodeCalibrationSample(huge, input).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace octet::server
