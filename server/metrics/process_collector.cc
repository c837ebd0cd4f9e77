#include "server/metrics/process_collector.h"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"

namespace octet::server {
namespace {

constexpr double kBytesPerKibibyte = 1024;

// Fields of /proc/<pid>/stat counted from the state field (field 3, the first after the
// parenthesized command name, which may itself hold spaces and parentheses); see proc(5).
constexpr size_t kStatUtime = 14 - 3;
constexpr size_t kStatStime = 15 - 3;
constexpr size_t kStatStartTime = 22 - 3;

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) return std::nullopt;
  return contents.str();
}

std::optional<double> ParseNumber(absl::string_view text) {
  double value = 0;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(text), &value)) return std::nullopt;
  return value;
}

// The first word after `prefix` on the line that starts with it, as a number: "VmRSS:" in
// /proc/<pid>/status, "btime " in /proc/stat, "Max open files" in /proc/<pid>/limits.
std::optional<double> LineValue(absl::string_view text, absl::string_view prefix) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, prefix)) continue;
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.empty()) return std::nullopt;
    return ParseNumber(words[0]);
  }
  return std::nullopt;
}

std::vector<absl::string_view> StatFieldsAfterName(absl::string_view stat) {
  const size_t name_end = stat.rfind(')');
  if (name_end == absl::string_view::npos) return {};
  return absl::StrSplit(stat.substr(name_end + 1), absl::ByAnyChar(" \n"), absl::SkipEmpty());
}

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {metric}};
}

}  // namespace

ProcessCollector::ProcessCollector() : ProcessCollector(ProcessCollectorOptions()) {}

ProcessCollector::ProcessCollector(ProcessCollectorOptions options)
    : options_(std::move(options)) {}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const double ticks = options_.clock_ticks_per_second > 0
                           ? static_cast<double>(options_.clock_ticks_per_second)
                           : static_cast<double>(sysconf(_SC_CLK_TCK));

  if (std::optional<std::string> stat = ReadFile(options_.proc_dir + "/stat")) {
    const std::vector<absl::string_view> fields = StatFieldsAfterName(*stat);
    if (fields.size() > kStatStartTime) {
      std::optional<double> utime = ParseNumber(fields[kStatUtime]);
      std::optional<double> stime = ParseNumber(fields[kStatStime]);
      if (utime && stime) {
        families.push_back(Family("process_cpu_seconds_total",
                                  "Total user and system CPU time spent in seconds.",
                                  MetricType::Counter, (*utime + *stime) / ticks));
      }
      std::optional<double> start = ParseNumber(fields[kStatStartTime]);
      std::optional<std::string> system_stat = ReadFile(options_.system_stat_path);
      std::optional<double> boot = system_stat ? LineValue(*system_stat, "btime ") : std::nullopt;
      if (start && boot) {
        families.push_back(Family("process_start_time_seconds",
                                  "Start time of the process since unix epoch in seconds.",
                                  MetricType::Gauge, *boot + *start / ticks));
      }
    }
  }

  if (std::optional<std::string> status = ReadFile(options_.proc_dir + "/status")) {
    if (std::optional<double> rss = LineValue(*status, "VmRSS:")) {
      families.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                                MetricType::Gauge, *rss * kBytesPerKibibyte));
    }
    if (std::optional<double> size = LineValue(*status, "VmSize:")) {
      families.push_back(Family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                MetricType::Gauge, *size * kBytesPerKibibyte));
    }
    if (std::optional<double> threads = LineValue(*status, "Threads:")) {
      families.push_back(Family("process_threads", "Number of OS threads in the process.",
                                MetricType::Gauge, *threads));
    }
  }

  // Counted as the Go client counts them: every entry, the descriptor that lists them included.
  std::error_code error;
  std::filesystem::directory_iterator fds(options_.proc_dir + "/fd", error);
  if (!error) {
    double open = 0;
    for (auto it = fds; !error && it != std::filesystem::directory_iterator();
         it.increment(error)) {
      ++open;
    }
    if (!error) {
      families.push_back(
          Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, open));
    }
  }

  if (std::optional<std::string> limits = ReadFile(options_.proc_dir + "/limits")) {
    // "unlimited" does not parse, and then there is no maximum to report.
    if (std::optional<double> soft = LineValue(*limits, "Max open files")) {
      families.push_back(Family("process_max_fds", "Maximum number of open file descriptors.",
                                MetricType::Gauge, *soft));
    }
  }
  return families;
}

}  // namespace octet::server
