#include "server/metrics/process_collector.h"

#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/metric_type.h"

namespace octet::server {
namespace {

using ::testing::Contains;
using ::testing::Key;
using ::testing::Not;

// name -> value of every family Collect() returned (each has one sample, without labels).
std::map<std::string, double> Collect(const ProcessCollector& collector) {
  std::map<std::string, double> values;
  for (const prometheus::MetricFamily& family : collector.Collect()) {
    EXPECT_EQ(family.metric.size(), 1u) << family.name;
    if (family.metric.empty()) continue;
    values[family.name] = family.type == prometheus::MetricType::Counter
                              ? family.metric[0].counter.value
                              : family.metric[0].gauge.value;
  }
  return values;
}

class FakeProc : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) /
            ("proc_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "self" / "fd");
    options_.proc_dir = (root_ / "self").string();
    options_.system_stat_path = (root_ / "stat").string();
    options_.clock_ticks_per_second = 100;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Write(const std::filesystem::path& relative, const std::string& contents) {
    std::ofstream(root_ / relative) << contents;
  }
  void WriteAll() {
    // The command name holds spaces and parentheses, as a process may name itself.
    Write("self/stat",
          "4242 (octet (worker) 1) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 150 0 0 20 0 7 0 "
          "500 123456789 512 18446744073709551615\n");
    Write("self/status",
          "Name:\toctet\nVmPeak:\t  999999 kB\nVmSize:\t  120000 kB\nVmRSS:\t    2048 kB\n"
          "Threads:\t7\n");
    Write("self/limits",
          "Limit                     Soft Limit           Hard Limit           Units     \n"
          "Max cpu time              unlimited            unlimited            seconds   \n"
          "Max open files            1024                 524288               files     \n");
    Write("stat", "cpu  1 2 3 4\nbtime 1700000000\nprocesses 99\n");
    for (const char* fd : {"0", "1", "2"}) Write(std::filesystem::path("self/fd") / fd, "");
  }

  std::filesystem::path root_;
  ProcessCollectorOptions options_;
};

TEST_F(FakeProc, ReadsEveryMetricFromProc) {
  WriteAll();
  const std::map<std::string, double> values = Collect(ProcessCollector(options_));
  EXPECT_EQ(values, (std::map<std::string, double>{
                        {"process_cpu_seconds_total", 4.0},
                        {"process_start_time_seconds", 1700000005.0},
                        {"process_resident_memory_bytes", 2048.0 * 1024},
                        {"process_virtual_memory_bytes", 120000.0 * 1024},
                        {"process_threads", 7},
                        {"process_open_fds", 3},
                        {"process_max_fds", 1024},
                    }));
}

TEST_F(FakeProc, CpuTimeIsACounterAndTheRestAreGauges) {
  WriteAll();
  for (const prometheus::MetricFamily& family : ProcessCollector(options_).Collect()) {
    EXPECT_EQ(family.type, family.name == "process_cpu_seconds_total"
                               ? prometheus::MetricType::Counter
                               : prometheus::MetricType::Gauge)
        << family.name;
    EXPECT_FALSE(family.help.empty()) << family.name;
  }
}

TEST_F(FakeProc, LeavesOutWhatItCannotRead) {
  WriteAll();
  std::filesystem::remove(root_ / "self" / "status");
  std::filesystem::remove(root_ / "stat");
  Write("self/limits",
        "Max open files            unlimited            unlimited            files\n");
  const std::map<std::string, double> values = Collect(ProcessCollector(options_));
  EXPECT_THAT(values, Not(Contains(Key("process_resident_memory_bytes"))));
  EXPECT_THAT(values, Not(Contains(Key("process_threads"))));
  EXPECT_THAT(values, Not(Contains(Key("process_start_time_seconds"))));
  EXPECT_THAT(values, Not(Contains(Key("process_max_fds"))));
  EXPECT_EQ(values.at("process_cpu_seconds_total"), 4.0);
  EXPECT_EQ(values.at("process_open_fds"), 3);
}

TEST_F(FakeProc, ReportsNothingForAMissingProcess) {
  options_.proc_dir = (root_ / "gone").string();
  EXPECT_TRUE(ProcessCollector(options_).Collect().empty());
}

TEST(ProcessCollectorTest, SeesThisProcess) {
  // ThreadSanitizer starts a background thread of its own at a process's first pthread_create;
  // one thread created and joined first keeps that out of the count below.
  std::thread([] {}).join();
  ProcessCollector collector;
  const std::map<std::string, double> before = Collect(collector);
  EXPECT_GT(before.at("process_resident_memory_bytes"), 0);
  EXPECT_GE(before.at("process_cpu_seconds_total"), 0);
  EXPECT_GE(before.at("process_open_fds"), 3);  // at least stdin, stdout, stderr
  EXPECT_GT(before.at("process_start_time_seconds"), 1e9);

  // A thread and a file more show up in the next scrape.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread thread([&] {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  });
  std::ifstream extra_file("/proc/self/status");
  const std::map<std::string, double> after = Collect(collector);
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_one();
  thread.join();
  EXPECT_EQ(after.at("process_threads"), before.at("process_threads") + 1);
  EXPECT_EQ(after.at("process_open_fds"), before.at("process_open_fds") + 1);
}

}  // namespace
}  // namespace octet::server
