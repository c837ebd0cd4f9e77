#include "client/cli/latency_stats.h"

#include <algorithm>
#include <random>

#include "gtest/gtest.h"

namespace octet::cli {
namespace {

std::vector<absl::Duration> Millis(std::vector<int> values) {
  std::vector<absl::Duration> out;
  for (int v : values) out.push_back(absl::Milliseconds(v));
  return out;
}

TEST(NearestRankPercentile, OneToHundred) {
  std::vector<int> values(100);
  for (int i = 0; i < 100; ++i) values[i] = i + 1;
  const std::vector<absl::Duration> sorted = Millis(values);
  EXPECT_EQ(NearestRankPercentile(sorted, 50), absl::Milliseconds(50));
  EXPECT_EQ(NearestRankPercentile(sorted, 90), absl::Milliseconds(90));
  EXPECT_EQ(NearestRankPercentile(sorted, 95), absl::Milliseconds(95));
  EXPECT_EQ(NearestRankPercentile(sorted, 99), absl::Milliseconds(99));
  EXPECT_EQ(NearestRankPercentile(sorted, 99.5), absl::Milliseconds(100));
  EXPECT_EQ(NearestRankPercentile(sorted, 100), absl::Milliseconds(100));
  EXPECT_EQ(NearestRankPercentile(sorted, 0.5), absl::Milliseconds(1));
}

TEST(NearestRankPercentile, SmallSetsTakeRealSamples) {
  const std::vector<absl::Duration> sorted = Millis({1, 2, 3, 4});
  EXPECT_EQ(NearestRankPercentile(sorted, 50), absl::Milliseconds(2));  // no interpolation (2.5)
  EXPECT_EQ(NearestRankPercentile(sorted, 51), absl::Milliseconds(3));
  EXPECT_EQ(NearestRankPercentile(sorted, 90), absl::Milliseconds(4));
  EXPECT_EQ(NearestRankPercentile(Millis({7}), 99), absl::Milliseconds(7));
}

TEST(NearestRankPercentile, FractionalPercentilesDoNotSlipARank) {
  std::vector<int> values(1000);
  for (int i = 0; i < 1000; ++i) values[i] = i + 1;
  const std::vector<absl::Duration> sorted = Millis(values);
  // 99.9% of 1000 is exactly rank 999, although 99.9 has no exact binary form.
  EXPECT_EQ(NearestRankPercentile(sorted, 99.9), absl::Milliseconds(999));
  EXPECT_EQ(NearestRankPercentile(sorted, 95), absl::Milliseconds(950));
}

TEST(SummarizeLatencies, SortsAndSummarizes) {
  std::vector<int> values(200);
  for (int i = 0; i < 200; ++i) values[i] = i + 1;
  std::vector<absl::Duration> shuffled = Millis(values);
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
  const LatencySummary s = SummarizeLatencies(shuffled);
  EXPECT_EQ(s.count, 200);
  EXPECT_EQ(s.min, absl::Milliseconds(1));
  EXPECT_EQ(s.max, absl::Milliseconds(200));
  EXPECT_EQ(s.mean, absl::Microseconds(100500));
  EXPECT_EQ(s.p50, absl::Milliseconds(100));
  EXPECT_EQ(s.p90, absl::Milliseconds(180));
  EXPECT_EQ(s.p95, absl::Milliseconds(190));
  EXPECT_EQ(s.p99, absl::Milliseconds(198));
}

TEST(SummarizeLatencies, EmptyIsAllZero) {
  const LatencySummary s = SummarizeLatencies({});
  EXPECT_EQ(s.count, 0);
  EXPECT_EQ(s.p99, absl::ZeroDuration());
}

}  // namespace
}  // namespace octet::cli
