// ProcessCollector: the standard Prometheus process metrics of the running process, read from
// Linux's /proc on every scrape (as the Go and Python clients do), so no thread samples them in
// the background:
//
//   process_cpu_seconds_total       counter  user + system CPU time
//   process_resident_memory_bytes   gauge    VmRSS
//   process_virtual_memory_bytes    gauge    VmSize
//   process_open_fds                gauge    entries of /proc/self/fd
//   process_max_fds                 gauge    the soft RLIMIT_NOFILE
//   process_threads                 gauge    Threads
//   process_start_time_seconds      gauge    since the Unix epoch
//
// A metric whose file cannot be read or parsed is left out of that scrape rather than reported
// as zero; Collect() never throws.
//
//   auto collector = std::make_shared<ProcessCollector>();
//   exposer.RegisterCollectable(collector);
//
// Thread-safety: Collect() keeps no state and may run on several threads at once.
#ifndef OCTET_SERVER_METRICS_PROCESS_COLLECTOR_H_
#define OCTET_SERVER_METRICS_PROCESS_COLLECTOR_H_

#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace octet::server {

struct ProcessCollectorOptions {
  // The process's /proc directory: stat, status, limits and fd/ are read below it. Tests point it
  // at a directory of fixed files.
  std::string proc_dir = "/proc/self";
  // The system-wide stat file, for the boot time ("btime") that start times count from.
  std::string system_stat_path = "/proc/stat";
  // Clock ticks per second of the times in stat; 0: sysconf(_SC_CLK_TCK).
  long clock_ticks_per_second = 0;
};

class ProcessCollector final : public prometheus::Collectable {
 public:
  ProcessCollector();
  explicit ProcessCollector(ProcessCollectorOptions options);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ProcessCollectorOptions options_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_METRICS_PROCESS_COLLECTOR_H_
