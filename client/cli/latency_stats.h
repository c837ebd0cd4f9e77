// LatencySummary: exact statistics of a set of recorded latencies, for `octet perf`.
//
//   std::vector<absl::Duration> latencies = ...;  // one per successful request
//   LatencySummary s = SummarizeLatencies(latencies);
//   s.p99  // the nearest-rank 99th percentile: a latency that some request really had
//
// Percentiles use the nearest-rank definition on the sorted samples: the p-th percentile of n
// samples is the ceil(p/100 * n)-th smallest (1-based), so p50 of {1,2,3,4} is 2 and p99 of 100
// samples is the 99th smallest. No histogram, no interpolation, no sampling.
//
// Stateless; thread-safe.
#ifndef OCTET_CLIENT_CLI_LATENCY_STATS_H_
#define OCTET_CLIENT_CLI_LATENCY_STATS_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"

namespace octet::cli {

struct LatencySummary {
  int64_t count = 0;
  // All zero when count is 0.
  absl::Duration min, max, mean, p50, p90, p95, p99;
};

// `sorted` ascending and not empty; 0 < p <= 100.
absl::Duration NearestRankPercentile(absl::Span<const absl::Duration> sorted, double p);

LatencySummary SummarizeLatencies(std::vector<absl::Duration> latencies);

}  // namespace octet::cli

#endif  // OCTET_CLIENT_CLI_LATENCY_STATS_H_
