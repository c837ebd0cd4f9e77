#include "client/cli/load_generator.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace octet::cli {
namespace {

TEST(GenerateLoad, RequestCountIsExactWithInlineCompletions) {
  int sent = 0;
  const AsyncRequest send = [&](std::function<void(const absl::Status&)> done) {
    ++sent;
    done(absl::OkStatus());  // completes on the calling thread: must not recurse or deadlock
  };
  LoadShape shape;
  shape.concurrency = 4;
  shape.requests = 100;
  const LoadResult r = GenerateLoad(send, shape);
  EXPECT_EQ(sent, 100);
  EXPECT_EQ(r.latencies.size(), 100u);
  EXPECT_EQ(r.failed(), 0);
  EXPECT_TRUE(r.first_error.ok());
}

TEST(GenerateLoad, CountsErrorsPerCode) {
  int sent = 0;
  const AsyncRequest send = [&](std::function<void(const absl::Status&)> done) {
    ++sent;
    if (sent % 5 == 0) {
      done(absl::UnavailableError("busy"));
    } else if (sent % 7 == 0) {
      done(absl::ResourceExhaustedError("queue full"));
    } else {
      done(absl::OkStatus());
    }
  };
  LoadShape shape;
  shape.requests = 35;
  const LoadResult r = GenerateLoad(send, shape);
  EXPECT_EQ(r.errors.at(absl::StatusCode::kUnavailable), 7);
  EXPECT_EQ(r.errors.at(absl::StatusCode::kResourceExhausted), 4);  // 7, 14, 21, 28 (35 is %5)
  EXPECT_EQ(r.failed(), 11);
  EXPECT_EQ(r.latencies.size(), 24u);
  EXPECT_EQ(r.first_error, absl::UnavailableError("busy"));
}

// Completes each request after `delay` on a thread of its own, and records the most in flight.
class DelayedServer {
 public:
  explicit DelayedServer(absl::Duration delay) : delay_(delay) {}
  ~DelayedServer() {
    for (std::thread& t : threads_) t.join();
  }

  AsyncRequest Sender() {
    return [this](std::function<void(const absl::Status&)> done) {
      {
        absl::MutexLock lock(&mutex_);
        max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
        ++sent_;
      }
      threads_.emplace_back([this, done = std::move(done)] {
        absl::SleepFor(delay_);
        {
          absl::MutexLock lock(&mutex_);
          --in_flight_;
        }
        done(absl::OkStatus());
      });
    };
  }

  int max_in_flight() {
    absl::MutexLock lock(&mutex_);
    return max_in_flight_;
  }
  int sent() {
    absl::MutexLock lock(&mutex_);
    return sent_;
  }

 private:
  const absl::Duration delay_;
  std::vector<std::thread> threads_;  // touched by the sending thread only
  absl::Mutex mutex_;
  int in_flight_ = 0, max_in_flight_ = 0, sent_ = 0;
};

TEST(GenerateLoad, ClosedLoopKeepsExactlyConcurrencyInFlight) {
  DelayedServer server(absl::Milliseconds(5));
  LoadShape shape;
  shape.concurrency = 3;
  shape.requests = 30;
  const LoadResult r = GenerateLoad(server.Sender(), shape);
  EXPECT_EQ(server.max_in_flight(), 3);
  EXPECT_EQ(r.latencies.size(), 30u);
  for (absl::Duration latency : r.latencies) EXPECT_GE(latency, absl::Milliseconds(5));
  // 30 requests, 3 at a time, 5 ms each: at least 10 rounds.
  EXPECT_GE(r.wall, absl::Milliseconds(50));
}

TEST(GenerateLoad, DurationModeStopsAndDrains) {
  DelayedServer server(absl::Milliseconds(2));
  LoadShape shape;
  shape.concurrency = 2;
  shape.duration = absl::Milliseconds(100);
  const absl::Time start = absl::Now();
  const LoadResult r = GenerateLoad(server.Sender(), shape);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_GE(r.wall, absl::Milliseconds(100));
  EXPECT_EQ(static_cast<int>(r.latencies.size()), server.sent());  // all drained and recorded
  EXPECT_GT(r.latencies.size(), 5u);
}

TEST(GenerateLoad, FixedRateSpacesRequests) {
  DelayedServer server(absl::Milliseconds(1));
  LoadShape shape;
  shape.rate = 200;  // one every 5 ms
  shape.requests = 20;
  const LoadResult r = GenerateLoad(server.Sender(), shape);
  EXPECT_EQ(r.latencies.size(), 20u);
  // The 20th request starts at 95 ms.
  EXPECT_GE(r.wall, absl::Milliseconds(95));
  EXPECT_LE(server.max_in_flight(), 20);
}

TEST(GenerateLoad, FixedRateRespectsMaxOutstanding) {
  DelayedServer server(absl::Milliseconds(20));
  LoadShape shape;
  shape.rate = 10000;
  shape.max_outstanding = 2;
  shape.requests = 10;
  const LoadResult r = GenerateLoad(server.Sender(), shape);
  EXPECT_EQ(server.max_in_flight(), 2);
  EXPECT_EQ(r.latencies.size(), 10u);
}

}  // namespace
}  // namespace octet::cli
