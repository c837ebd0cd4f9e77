// INT8 acceptance on real models and full test sets (issue: INT8 and mixed precision):
//   (a) all-INT8 ResNet-8 within 0.5 top-1 points of FP32 (calibrated on calib500.bin) and
//       mnist-8 within 0.2 (calibrated on mnist-train10k);
//   (b) MobileNet-tiny with per-channel and per-tensor weights, and mixed precision with a
//       0.5-point tolerance meeting it (also when full 8-bit weights force a fallback on CPUs
//       without VNNI);
//   (d) INT8 weights take at most 30% of the FP32 weights' bytes.
// The numbers come from the same code octet-bench runs (bench/quantized_model.h).
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench/quantized_model.h"
#include "datasets/dataset.h"
#include "datasets/preprocessing.h"
#include "engine/cpu_info.h"
#include "engine/model.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

const std::string kShared = OCTET_SHARED_DATA;

// Skips (or, in CI, fails) when a shared file is missing; returns false then.
bool Require(const std::string& path) {
  if (std::filesystem::exists(path)) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    ADD_FAILURE() << "required shared file is missing: " << path;
  } else {
    std::cout << "[  SKIPPED ] missing " << path << "\n";
  }
  return false;
}

struct Case {
  std::string model, test, calibration, scale, mean, stddev;
};

Case ResNet8() {
  return {kShared + "/models/resnet8-mlperf-tiny.onnx",
          "cifar10:" + kShared + "/cifar10-jpeg/test.bin",
          "cifar10:" + kShared + "/cifar10-jpeg/calib500.bin",
          "1",
          "",
          ""};
}

Case Mnist8() {
  return {kShared + "/models/mnist-8.onnx",
          "idx:" + kShared + "/mnist/t10k-images-idx3-ubyte.gz",
          "idx:" + kShared + "/mnist-train10k/train10k-images-idx3-ubyte.gz",
          "1",
          "",
          ""};
}

Case MobileNet() {
  return {kShared + "/models/mobilenet-tiny-cifar10.onnx",
          "cifar10:" + kShared + "/cifar10-jpeg/test.bin",
          "cifar10:" + kShared + "/cifar10-jpeg/calib500.bin",
          "1/255",
          "0.4914,0.4822,0.4465",
          "0.2470,0.2435,0.2616"};
}

// Calibrates, plans and reports on the full test set, as `octet-bench eval` does.
calibration::PrecisionReport Quantize(const Case& s, bench::QuantizeRequest request) {
  auto model = Model::Load(s.model);
  EXPECT_TRUE(model.ok()) << model.status();
  auto prep = datasets::ParsePreprocessing(s.scale, s.mean, s.stddev, "NCHW");
  EXPECT_TRUE(prep.ok()) << prep.status();
  auto test = datasets::LoadDataset(s.test);
  EXPECT_TRUE(test.ok()) << test.status();
  if (!model.ok() || !prep.ok() || !test.ok()) return {};
  EXPECT_EQ(test->count, 10000);
  request.model_path = s.model;
  request.calibration_data = s.calibration;
  auto result = bench::QuantizeForBench(*model, *prep, &*test, request);
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return {};
  EXPECT_EQ(result->report->samples, 10000);
  return *result->report;
}

bench::QuantizeRequest Int8() {
  bench::QuantizeRequest request;
  request.precision = "int8";
  return request;
}

void ExpectWeightBytesAtMost30Percent(const calibration::PrecisionReport& r) {
  ASSERT_GT(r.weight_bytes_fp32, 0);
  EXPECT_LE(r.weight_bytes, 0.30 * r.weight_bytes_fp32)
      << r.weight_bytes << " INT8 weight bytes vs " << r.weight_bytes_fp32 << " FP32";
}

TEST(Int8AccuracyTest, ResNet8AllInt8WithinHalfAPoint) {
  const Case s = ResNet8();
  if (!Require(s.model) || !Require(kShared + "/cifar10-jpeg/test.bin")) return;
  const calibration::PrecisionReport r = Quantize(s, Int8());
  EXPECT_NEAR(r.fp32_accuracy, 75.48, 0.021);
  EXPECT_EQ(r.plan.CountInt8(), 10);  // 9 Conv + the Gemm
  EXPECT_GE(r.accuracy, r.fp32_accuracy - 0.5) << "INT8 " << r.accuracy;
  EXPECT_GE(r.agreement, 94.0);
  ExpectWeightBytesAtMost30Percent(r);
}

TEST(Int8AccuracyTest, Mnist8AllInt8WithinPointTwo) {
  const Case s = Mnist8();
  if (!Require(s.model) || !Require(kShared + "/mnist-train10k/train10k-images-idx3-ubyte.gz")) {
    return;
  }
  const calibration::PrecisionReport r = Quantize(s, Int8());
  EXPECT_NEAR(r.fp32_accuracy, 98.91, 0.021);
  EXPECT_EQ(r.plan.CountInt8(), 3);  // 2 Conv + the Gemm (MatMul + bias)
  EXPECT_GE(r.accuracy, r.fp32_accuracy - 0.2) << "INT8 " << r.accuracy;
  ExpectWeightBytesAtMost30Percent(r);
}

TEST(Int8AccuracyTest, MobileNetPerChannelAndPerTensorWeights) {
  const Case s = MobileNet();
  if (!Require(s.model)) return;
  const calibration::PrecisionReport per_channel = Quantize(s, Int8());
  bench::QuantizeRequest request = Int8();
  request.per_tensor_weights = true;
  const calibration::PrecisionReport per_tensor = Quantize(s, request);
  std::cout << "MobileNet-tiny INT8: per-channel " << per_channel.accuracy << "%, per-tensor "
            << per_tensor.accuracy << "%, FP32 " << per_channel.fp32_accuracy << "%\n";
  EXPECT_GE(per_channel.accuracy, per_channel.fp32_accuracy - 0.5);
  EXPECT_GT(per_tensor.accuracy, 60.0);  // measured 69.90: no collapse after BN folding
  ExpectWeightBytesAtMost30Percent(per_channel);
}

TEST(Int8AccuracyTest, MobileNetMixedMeetsHalfPointTolerance) {
  const Case s = MobileNet();
  if (!Require(s.model)) return;
  bench::QuantizeRequest request;
  request.precision = "mixed";
  request.tolerance = 0.5;
  const calibration::PrecisionReport r = Quantize(s, request);
  EXPECT_TRUE(r.tolerance_met);
  EXPECT_GE(r.accuracy, r.fp32_accuracy - 0.5);
  EXPECT_EQ(r.layers.size(), 23u);
}

TEST(Int8AccuracyTest, MixedFallsBackWhenFullRangeWeightsSaturate) {
  if (CpuHasVnni()) {
    GTEST_SKIP() << "full 8-bit weights are exact with VNNI (" << CpuIsaName()
                 << "); nothing to fall back from";
  }
  const Case s = MobileNet();
  if (!Require(s.model)) return;
  bench::QuantizeRequest request;
  request.precision = "mixed";
  request.weight_scheme = "full8";  // saturates vpmaddubsw on AVX2: all-INT8 loses ~6 points
  const calibration::PrecisionReport r = Quantize(s, request);
  EXPECT_LT(r.int8_accuracy, r.fp32_accuracy - 0.5) << "expected saturation damage";
  EXPECT_FALSE(r.fallback.empty());
  EXPECT_TRUE(r.tolerance_met) << "final " << r.accuracy << "% after " << r.fallback.size()
                               << " layers returned to FP32";
}

}  // namespace
}  // namespace octet
