#include "engine/calibration/observer.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace octet::calibration {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

int64_t Total(const TensorObserver& observer) {
  return std::accumulate(observer.counts().begin(), observer.counts().end(), int64_t{0});
}

TensorObserver Make(int num_bins, float fixed_limit = 0.0f) {
  TensorObserver::Options options;
  options.num_bins = num_bins;
  options.fixed_limit = fixed_limit;
  absl::StatusOr<TensorObserver> observer = TensorObserver::Create("t", options);
  EXPECT_TRUE(observer.ok()) << observer.status();
  return *std::move(observer);
}

TEST(TensorObserverTest, MinMaxAndCountAcrossBatches) {
  TensorObserver observer = Make(2048);
  EXPECT_EQ(observer.count(), 0);
  observer.Observe(std::vector<float>{1.0f, 2.0f, 3.0f});
  observer.Observe(std::vector<float>{-4.0f, 0.5f});
  observer.Observe({});
  observer.Observe(std::vector<float>{10.0f});
  EXPECT_EQ(observer.count(), 6);
  EXPECT_EQ(observer.min(), -4.0f);
  EXPECT_EQ(observer.max(), 10.0f);
  EXPECT_EQ(observer.nan_count(), 0);
  EXPECT_EQ(observer.inf_count(), 0);
  EXPECT_EQ(Total(observer), 6);
  EXPECT_GE(observer.limit(), 10.0f);
}

TEST(TensorObserverTest, FixedLimitBinsAndClampsIntoEndBins) {
  // 16 bins of width 1 a side.
  TensorObserver observer = Make(16, 16.0f);
  observer.Observe(std::vector<float>{0.0f, 0.5f, 1.0f, 1.5f});
  observer.Observe(std::vector<float>{15.9f, 20.0f, -0.5f, -3.2f, -100.0f, -0.0f});
  auto pos = [&](int k) { return observer.positive_count(k); };
  auto neg = [&](int k) { return observer.negative_count(k); };
  EXPECT_EQ(pos(0), 3);   // 0, 0.5 and -0.0 (zero is non-negative, whatever its sign bit).
  EXPECT_EQ(pos(1), 2);   // 1, 1.5
  EXPECT_EQ(pos(15), 2);  // 15.9 and 20 (clamped)
  EXPECT_EQ(neg(0), 1);   // -0.5
  EXPECT_EQ(neg(3), 1);   // -3.2
  EXPECT_EQ(neg(15), 1);  // -100 (clamped)
  EXPECT_EQ(Total(observer), observer.count());
  EXPECT_EQ(observer.limit(), 16.0f);
  // The clamped values still show in the exact range.
  EXPECT_EQ(observer.min(), -100.0f);
  EXPECT_EQ(observer.max(), 20.0f);
}

// Re-binning merges whole bins, so a growing observer ends with the same counts as one fixed to
// the final limit from the start (the values avoid the few bin edges where ties could differ).
TEST(TensorObserverTest, RebinningMatchesFixedLimitHistogram) {
  std::mt19937 rng(7);
  std::vector<std::vector<float>> batches;
  for (float magnitude : {1.0f, 3.0f, 9.0f}) {
    std::uniform_real_distribution<float> dist(-magnitude, magnitude);
    std::vector<float> batch(5000);
    for (float& x : batch) x = dist(rng);
    batch[0] = magnitude;  // Each batch reaches its magnitude exactly: limits 1, 3, 9.
    batches.push_back(batch);
  }
  TensorObserver growing = Make(2048);
  TensorObserver fixed = Make(2048, 9.0f);
  for (const std::vector<float>& batch : batches) {
    growing.Observe(batch);
    fixed.Observe(batch);
  }
  EXPECT_EQ(growing.limit(), 9.0f);
  EXPECT_EQ(growing.counts(), fixed.counts());
  EXPECT_EQ(Total(growing), 15000);
}

TEST(TensorObserverTest, HugeGrowthCollapsesOldBinsIntoFirst) {
  TensorObserver observer = Make(16);
  observer.Observe(std::vector<float>{0.25f, 1.0f, -0.5f});
  observer.Observe(std::vector<float>{1000.0f});
  EXPECT_EQ(observer.limit(), 1000.0f);
  EXPECT_EQ(observer.positive_count(0), 2);
  EXPECT_EQ(observer.negative_count(0), 1);
  EXPECT_EQ(observer.positive_count(15), 1);
  EXPECT_EQ(Total(observer), 4);
}

TEST(TensorObserverTest, ZerosThenValues) {
  TensorObserver observer = Make(16);
  observer.Observe(std::vector<float>(100, 0.0f));
  EXPECT_EQ(observer.limit(), 0.0f);
  EXPECT_EQ(observer.positive_count(0), 100);
  EXPECT_EQ(observer.min(), 0.0f);
  EXPECT_EQ(observer.max(), 0.0f);
  observer.Observe(std::vector<float>{2.0f, -2.0f});
  EXPECT_EQ(observer.limit(), 2.0f);
  EXPECT_EQ(observer.positive_count(0), 100);
  EXPECT_EQ(observer.positive_count(15), 1);
  EXPECT_EQ(observer.negative_count(15), 1);
}

TEST(TensorObserverTest, CountsNanAndInfWithoutPoisoningStatistics) {
  TensorObserver observer = Make(64);
  observer.Observe(std::vector<float>{1.0f, kNaN, kInf, -kInf, 2.0f});
  observer.Observe(std::vector<float>{kNaN, kNaN});  // Nothing finite in this batch.
  EXPECT_EQ(observer.count(), 2);
  EXPECT_EQ(observer.nan_count(), 3);
  EXPECT_EQ(observer.inf_count(), 2);
  EXPECT_EQ(observer.min(), 1.0f);
  EXPECT_EQ(observer.max(), 2.0f);
  EXPECT_EQ(observer.limit(), 2.0f);
  EXPECT_EQ(Total(observer), 2);
}

TEST(TensorObserverTest, RejectsBadOptions) {
  TensorObserver::Options options;
  options.num_bins = 0;
  EXPECT_EQ(TensorObserver::Create("t", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.num_bins = 2048;
  for (float limit : {-1.0f, kNaN, kInf}) {
    options.fixed_limit = limit;
    EXPECT_EQ(TensorObserver::Create("t", options).status().code(),
              absl::StatusCode::kInvalidArgument)
        << limit;
  }
}

TEST(TensorObserverTest, TinyLimitDoesNotOverflowBinIndex) {
  TensorObserver observer = Make(2048);
  const float tiny = std::numeric_limits<float>::denorm_min();
  observer.Observe(std::vector<float>{0.0f, tiny, -tiny});
  EXPECT_EQ(observer.positive_count(0), 1);
  EXPECT_EQ(observer.positive_count(2047), 1);
  EXPECT_EQ(observer.negative_count(2047), 1);
}

}  // namespace
}  // namespace octet::calibration
