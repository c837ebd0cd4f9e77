// PerfStep: the measured outcome of one step of `octet perf` (one concurrency or one rate), and
// its renderings: an aligned table, CSV, JSON, and a gnuplot script plotting latency against
// throughput.
//
// Units: throughput in inferences (requests) per second; client latencies in milliseconds; server
// times in microseconds per request, averaged from the ModelStatistics delta over the step.
//
// Plain values and stateless functions; thread-compatible.
#ifndef OCTET_CLIENT_CLI_PERF_REPORT_H_
#define OCTET_CLIENT_CLI_PERF_REPORT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/cli/latency_stats.h"

namespace octet::cli {

struct PerfStep {
  // The load offered: a concurrency (closed loop), or a rate in requests/s when rate > 0.
  int concurrency = 0;
  double rate = 0;

  int64_t completed = 0;  // successful requests
  int64_t failed = 0;
  std::map<std::string, int64_t> errors_by_code;  // "UNAVAILABLE" -> 3
  std::string first_error;                        // "" when none failed
  double wall_seconds = 0;
  double throughput = 0;  // completed / wall_seconds
  LatencySummary latency;
  // Unset when the server gave no statistics.
  std::optional<double> server_queue_us;
  std::optional<double> server_compute_us;
};

struct PerfRun {
  std::string model;
  std::string version;
  int64_t batch = 1;
  std::vector<PerfStep> steps;
};

std::string PerfTable(const PerfRun& run);
std::string PerfCsv(const PerfRun& run);
std::string PerfJson(const PerfRun& run);
// A gnuplot script that reads `csv_path` (PerfCsv's output) and writes a PNG of p50/p90/p95/p99
// latency against throughput to `png_path`.
std::string GnuplotScript(const PerfRun& run, const std::string& csv_path,
                          const std::string& png_path);

}  // namespace octet::cli

#endif  // OCTET_CLIENT_CLI_PERF_REPORT_H_
