#include "client/cli/load_generator.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace octet::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

absl::Duration Since(SteadyClock::time_point start) {
  return absl::FromChrono(SteadyClock::now() - start);
}

// What completions share with the starting thread.
struct Recorder {
  absl::Mutex mutex;
  int64_t in_flight ABSL_GUARDED_BY(mutex) = 0;
  SteadyClock::time_point last_completion ABSL_GUARDED_BY(mutex);
  LoadResult result ABSL_GUARDED_BY(mutex);

  void Complete(SteadyClock::time_point started, const absl::Status& status) {
    const SteadyClock::time_point now = SteadyClock::now();
    absl::MutexLock lock(&mutex);
    if (status.ok()) {
      result.latencies.push_back(absl::FromChrono(now - started));
    } else {
      if (result.first_error.ok()) result.first_error = status;
      ++result.errors[status.code()];
    }
    last_completion = std::max(last_completion, now);
    --in_flight;
  }
};

}  // namespace

int64_t LoadResult::failed() const {
  int64_t n = 0;
  for (const auto& [code, count] : errors) n += count;
  return n;
}

LoadResult GenerateLoad(const AsyncRequest& send, const LoadShape& shape) {
  // Shared with the completions, which may still be leaving Complete() when GenerateLoad returns.
  auto shared = std::make_shared<Recorder>();
  Recorder& recorder = *shared;
  const bool open_loop = shape.rate > 0;
  const int64_t cap =
      open_loop ? std::max(shape.max_outstanding, 1) : std::max(shape.concurrency, 1);
  const SteadyClock::time_point start = SteadyClock::now();
  const absl::Time wall_start = absl::Now();
  {
    absl::MutexLock lock(&recorder.mutex);
    recorder.last_completion = start;
  }
  for (int64_t started = 0;; ++started) {
    if (shape.requests > 0 ? started >= shape.requests : Since(start) >= shape.duration) break;
    if (open_loop) {
      const absl::Duration due = absl::Seconds(started / shape.rate);
      const absl::Duration wait = due - Since(start);
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
      if (shape.requests <= 0 && Since(start) >= shape.duration) break;
    }
    {
      // Room for one more in flight; bounded by the phase's end in duration mode.
      absl::MutexLock lock(&recorder.mutex);
      auto has_room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(recorder.mutex) {
        return recorder.in_flight < cap;
      };
      if (shape.requests > 0) {
        recorder.mutex.Await(absl::Condition(&has_room));
      } else if (!recorder.mutex.AwaitWithDeadline(absl::Condition(&has_room),
                                                   wall_start + shape.duration)) {
        break;
      }
      ++recorder.in_flight;
    }
    const SteadyClock::time_point sent = SteadyClock::now();
    send([shared, sent](const absl::Status& status) { shared->Complete(sent, status); });
  }
  absl::MutexLock lock(&recorder.mutex);
  auto drained = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(recorder.mutex) {
    return recorder.in_flight == 0;
  };
  recorder.mutex.Await(absl::Condition(&drained));
  LoadResult result = std::move(recorder.result);
  result.wall = absl::FromChrono(recorder.last_completion - start);
  return result;
}

}  // namespace octet::cli
