#include "client/cli/latency_stats.h"

#include <algorithm>
#include <cmath>

namespace octet::cli {

absl::Duration NearestRankPercentile(absl::Span<const absl::Duration> sorted, double p) {
  const double n = static_cast<double>(sorted.size());
  // p * n first, so that whole ranks stay whole (95 * 100 / 100 == 95); the small slack absorbs
  // the rounding of a p like 99.9 that has no exact binary form, so it cannot push ceil() up a
  // rank.
  const double exact = p * n / 100.0;
  int64_t rank = static_cast<int64_t>(std::ceil(exact - 1e-9 * std::max(1.0, exact)));
  rank = std::clamp<int64_t>(rank, 1, static_cast<int64_t>(sorted.size()));
  return sorted[rank - 1];
}

LatencySummary SummarizeLatencies(std::vector<absl::Duration> latencies) {
  LatencySummary s;
  if (latencies.empty()) return s;
  std::sort(latencies.begin(), latencies.end());
  s.count = static_cast<int64_t>(latencies.size());
  s.min = latencies.front();
  s.max = latencies.back();
  absl::Duration total;
  for (absl::Duration d : latencies) total += d;
  s.mean = total / s.count;
  s.p50 = NearestRankPercentile(latencies, 50);
  s.p90 = NearestRankPercentile(latencies, 90);
  s.p95 = NearestRankPercentile(latencies, 95);
  s.p99 = NearestRankPercentile(latencies, 99);
  return s;
}

}  // namespace octet::cli
