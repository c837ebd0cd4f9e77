#include "engine/calibration/range_selection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::calibration {
namespace {

using ::testing::HasSubstr;

constexpr CalibrationMethod kAllMethods[] = {CalibrationMethod::kMinMax,
                                             CalibrationMethod::kPercentile,
                                             CalibrationMethod::kEntropy, CalibrationMethod::kMse};
constexpr CalibrationMethod kClippingMethods[] = {
    CalibrationMethod::kPercentile, CalibrationMethod::kEntropy, CalibrationMethod::kMse};

std::vector<float> Gaussian(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> values(n);
  for (float& x : values) x = dist(rng);
  return values;
}

std::vector<float> Uniform(int n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(n);
  for (float& x : values) x = dist(rng);
  return values;
}

// The exact q-quantile of a sample (nearest rank).
float SampleQuantile(std::vector<float> values, double q) {
  std::sort(values.begin(), values.end());
  const size_t rank = std::min(values.size() - 1, static_cast<size_t>(q * values.size()));
  return values[rank];
}

// Feeds `values` in batches, as a calibration run would.
TensorObserver Observe(const std::vector<float>& values, size_t batch = 10000) {
  TensorObserver observer = *TensorObserver::Create("t");
  for (size_t start = 0; start < values.size(); start += batch) {
    const size_t size = std::min(batch, values.size() - start);
    observer.Observe(absl::MakeConstSpan(values.data() + start, size));
  }
  return observer;
}

Range Select(const TensorObserver& observer, CalibrationMethod method, double percentile = 99.99) {
  MethodOptions options;
  options.method = method;
  options.percentile = percentile;
  absl::StatusOr<Range> range = SelectRange(observer, options);
  EXPECT_TRUE(range.ok()) << range.status();
  if (!range.ok()) return Range{};
  EXPECT_TRUE(std::isfinite(range->lo) && std::isfinite(range->hi));
  EXPECT_LE(range->lo, range->hi);
  EXPECT_GE(range->lo, observer.min());
  EXPECT_LE(range->hi, observer.max());
  return *range;
}

TEST(CalibrationMethodTest, NamesRoundTrip) {
  for (CalibrationMethod method : kAllMethods) {
    absl::StatusOr<CalibrationMethod> parsed =
        ParseCalibrationMethod(CalibrationMethodName(method));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, method);
  }
  EXPECT_EQ(CalibrationMethodName(CalibrationMethod::kEntropy), "entropy");
  absl::StatusOr<CalibrationMethod> bad = ParseCalibrationMethod("kl");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("minmax"));
}

// A Gaussian bulk with one huge outlier on each side, arriving late (so the histogram re-bins).
class OutlierTest : public ::testing::Test {
 protected:
  static constexpr float kOutlier = 1000.0f;
  void SetUp() override {
    bulk_ = Gaussian(1000000, 1);
    std::vector<float> values = bulk_;
    values[700000] = kOutlier;
    values[800000] = -kOutlier;
    observer_ = Observe(values);
  }
  std::vector<float> bulk_;
  TensorObserver observer_ = *TensorObserver::Create("t");
};

TEST_F(OutlierTest, MinMaxKeepsOutliers) {
  const Range range = Select(observer_, CalibrationMethod::kMinMax);
  EXPECT_EQ(range.lo, -kOutlier);
  EXPECT_EQ(range.hi, kOutlier);
}

// How far each method may keep towards the outliers:
// - percentile cuts 0.01% per tail, far more than the two outliers: it lands in the bulk.
// - entropy cannot clip below `levels` bins (128 a side), and the outliers set the bin width to
//   about kOutlier / 2048, so its threshold is at least kOutlier / 16 (TensorRT shares this).
// - mse weighs the outliers' clipping error too: minimizing 2 (M - T)^2 + N (2T)^2 / (255^2 12)
//   over T gives T ~ 0.28 M for N = 1e6 - a compromise, not a cut at the bulk.
float MaxKeptFraction(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kPercentile:
      return 0.01f;
    case CalibrationMethod::kEntropy:
      return 0.15f;
    default:
      return 0.35f;
  }
}

TEST_F(OutlierTest, ClippingMethodsDropOutliers) {
  const float bulk_p99 = SampleQuantile(bulk_, 0.99);
  const float bulk_p01 = SampleQuantile(bulk_, 0.01);
  for (CalibrationMethod method : kClippingMethods) {
    SCOPED_TRACE(CalibrationMethodName(method));
    const Range range = Select(observer_, method);
    EXPECT_LT(range.hi, MaxKeptFraction(method) * kOutlier);
    EXPECT_GT(range.hi, bulk_p99);
    EXPECT_GT(range.lo, -MaxKeptFraction(method) * kOutlier);
    EXPECT_LT(range.lo, bulk_p01);
  }
}

TEST_F(OutlierTest, TwoPassFixedLimitAlsoClips) {
  TensorObserver::Options options;
  options.fixed_limit = std::max(-observer_.min(), observer_.max());
  TensorObserver second = *TensorObserver::Create("t", options);
  second.Observe(bulk_);
  second.Observe(std::vector<float>{kOutlier, -kOutlier});
  const float bulk_p99 = SampleQuantile(bulk_, 0.99);
  for (CalibrationMethod method : kClippingMethods) {
    SCOPED_TRACE(CalibrationMethodName(method));
    const Range range = Select(second, method);
    EXPECT_LT(range.hi, MaxKeptFraction(method) * kOutlier);
    EXPECT_GT(range.hi, bulk_p99);
  }
}

TEST(SelectRangeTest, AllZeroTensor) {
  const TensorObserver observer = Observe(std::vector<float>(5000, 0.0f));
  for (CalibrationMethod method : kAllMethods) {
    const Range range = Select(observer, method);
    EXPECT_EQ(range.lo, 0.0f);
    EXPECT_EQ(range.hi, 0.0f);
  }
}

TEST(SelectRangeTest, ConstantTensors) {
  for (float value : {3.5f, -2.0f}) {
    const TensorObserver observer = Observe(std::vector<float>(5000, value));
    for (CalibrationMethod method : kAllMethods) {
      const Range range = Select(observer, method);
      EXPECT_EQ(range.lo, value);
      EXPECT_EQ(range.hi, value);
    }
  }
}

TEST(SelectRangeTest, NonNegativeTensorKeepsItsMinimum) {
  std::vector<float> values = Gaussian(200000, 2);
  for (float& x : values) x = std::max(x, 0.0f);  // ReLU: half the values are exactly zero.
  const TensorObserver observer = Observe(values);
  for (CalibrationMethod method : kAllMethods) {
    SCOPED_TRACE(CalibrationMethodName(method));
    const Range range = Select(observer, method);
    EXPECT_EQ(range.lo, 0.0f);
    // Entropy clips a ReLU output harder (the spike at zero dominates P): on this data it cuts
    // between the 90th and the 99th percentile, as the reference algorithm does.
    const double q = method == CalibrationMethod::kEntropy ? 0.9 : 0.99;
    EXPECT_GT(range.hi, SampleQuantile(values, q));
  }
}

TEST(SelectRangeTest, NonPositiveTensorKeepsItsMaximum) {
  std::vector<float> values = Gaussian(200000, 3);
  for (float& x : values) x = std::min(x, -1.0f);
  const TensorObserver observer = Observe(values);
  for (CalibrationMethod method : kAllMethods) {
    SCOPED_TRACE(CalibrationMethodName(method));
    const Range range = Select(observer, method);
    EXPECT_EQ(range.hi, -1.0f);
    EXPECT_LT(range.lo, SampleQuantile(values, 0.01));
  }
}

TEST(SelectRangeTest, SignedSymmetricTensor) {
  const std::vector<float> values = Gaussian(200000, 4);
  const TensorObserver observer = Observe(values);
  for (CalibrationMethod method : kClippingMethods) {
    SCOPED_TRACE(CalibrationMethodName(method));
    const Range range = Select(observer, method, 99.9);
    EXPECT_LT(range.lo, SampleQuantile(values, 0.01));
    EXPECT_GT(range.hi, SampleQuantile(values, 0.99));
    EXPECT_NEAR(range.lo, -range.hi, 0.15f * range.hi);
  }
  // Percentile clips the same probability from each tail.
  const Range percentile = Select(observer, CalibrationMethod::kPercentile, 99.9);
  const float bin = observer.limit() / observer.num_bins();
  EXPECT_NEAR(percentile.lo, SampleQuantile(values, 0.001), 2 * bin);
  EXPECT_NEAR(percentile.hi, SampleQuantile(values, 0.999), 2 * bin);
  // Entropy is symmetric by construction unless [min, max] cuts it.
  const Range entropy = Select(observer, CalibrationMethod::kEntropy);
  if (entropy.lo > observer.min() && entropy.hi < observer.max()) {
    EXPECT_EQ(entropy.lo, -entropy.hi);
  }
}

TEST(SelectRangeTest, PercentileInterpolatesWithinBins) {
  std::vector<float> values(10000);
  for (int i = 0; i < 10000; ++i) values[i] = static_cast<float>(i);
  const TensorObserver observer = Observe(values, 1000);
  const float bin = observer.limit() / observer.num_bins();
  const Range range = Select(observer, CalibrationMethod::kPercentile, 99.0);
  EXPECT_EQ(range.lo, 0.0f);
  EXPECT_NEAR(range.hi, 9900.0f, 2 * bin);
  const Range full = Select(observer, CalibrationMethod::kPercentile, 100.0);
  EXPECT_EQ(full.lo, 0.0f);
  EXPECT_EQ(full.hi, 9999.0f);
}

TEST(SelectRangeTest, EntropyOnUniformKeepsNearlyTheFullRange) {
  {
    const TensorObserver observer = Observe(Uniform(200000, 0.0f, 1.0f, 5));
    const Range range = Select(observer, CalibrationMethod::kEntropy);
    EXPECT_EQ(range.lo, observer.min());
    EXPECT_GT(range.hi, 0.95f * observer.max());
  }
  {
    const TensorObserver observer = Observe(Uniform(200000, -1.0f, 1.0f, 6));
    const Range range = Select(observer, CalibrationMethod::kEntropy);
    EXPECT_LT(range.lo, 0.95f * observer.min());
    EXPECT_GT(range.hi, 0.95f * observer.max());
  }
}

// u8 with a zero point can spend its levels unevenly: mse searches lo and hi jointly.
TEST(SelectRangeTest, MseFollowsSkewedSignedTensor) {
  const TensorObserver observer = Observe(Uniform(200000, -0.5f, 10.0f, 7));
  const Range range = Select(observer, CalibrationMethod::kMse);
  EXPECT_GT(range.lo, -0.6f);
  EXPECT_LT(range.lo, -0.3f);
  EXPECT_GT(range.hi, 9.0f);
}

TEST(SelectRangeTest, InvariantsHoldOnAssortedData) {
  std::vector<std::vector<float>> cases = {
      {1.0f},
      {-1.0f, 1.0f},
      {0.0f, 0.0f, 1e-30f},
      {-3e38f, 3e38f},
      Uniform(1000, -1e-20f, 1e-20f, 8),
      Uniform(1000, 5.0f, 6.0f, 9),
      Uniform(1000, -6.0f, -5.0f, 10),
  };
  std::vector<float> sparse(100000, 0.0f);
  sparse[5] = 7.0f;
  sparse[6] = -0.001f;
  cases.push_back(sparse);
  for (const std::vector<float>& values : cases) {
    const TensorObserver observer = Observe(values);
    for (CalibrationMethod method : kAllMethods) {
      SCOPED_TRACE(CalibrationMethodName(method));
      Select(observer, method);
    }
  }
}

TEST(SelectRangeTest, ErrorsNameTheTensorAndCounts) {
  TensorObserver observer = *TensorObserver::Create("conv1/out");
  MethodOptions options;
  absl::StatusOr<Range> empty = SelectRange(observer, options);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(empty.status().message(), HasSubstr("conv1/out"));

  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  observer.Observe(std::vector<float>{1.0f, nan, inf, -inf, 2.0f, nan});
  for (CalibrationMethod method : kAllMethods) {
    options.method = method;
    absl::StatusOr<Range> range = SelectRange(observer, options);
    EXPECT_EQ(range.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(range.status().message(), HasSubstr("conv1/out"));
    EXPECT_THAT(range.status().message(), HasSubstr("2 NaN"));
    EXPECT_THAT(range.status().message(), HasSubstr("2 Inf"));
  }
}

TEST(SelectRangeTest, RejectsBadPercentile) {
  const TensorObserver observer = Observe(Gaussian(1000, 11));
  for (double percentile : {49.0, 100.5, std::nan("")}) {
    MethodOptions options{CalibrationMethod::kPercentile, percentile};
    EXPECT_EQ(SelectRange(observer, options).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace octet::calibration
