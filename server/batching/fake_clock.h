// FakeClock: a Clock whose time moves only when a test calls AdvanceTime().
//
// Threads waiting in AwaitWithDeadline() against this clock wake up when AdvanceTime() carries the
// time past their deadline, so a test can check time-driven behaviour (a batch closing after
// max_queue_delay) with real threads, deterministically and without sleeping:
//
//   FakeClock clock;
//   options.clock = &clock;
//   ... schedule a task on a scheduler with one batch thread ...
//   clock.BlockUntilWaiterWithDeadline(clock.Now() + options.max_queue_delay);  // thread parked
//   clock.AdvanceTime(options.max_queue_delay);                                // batch closes
//
// Ownership and thread safety: thread-safe. The clock must outlive every thread that waits on it.
// A mutex passed to AwaitWithDeadline() must outlive that call only; AdvanceTime() never touches
// it after the call has returned.

#ifndef OCTET_SERVER_BATCHING_FAKE_CLOCK_H_
#define OCTET_SERVER_BATCHING_FAKE_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/batching/clock.h"

namespace octet::batching {

class FakeClock final : public Clock {
 public:
  // An arbitrary fixed start keeps test expectations independent of the wall clock.
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'000'000'000));

  absl::Time Now() const override;
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                         absl::Time deadline) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Moves the time forward and wakes the waiters whose deadline it reaches.
  void AdvanceTime(absl::Duration duration);

  // Returns once some thread waits in AwaitWithDeadline() with exactly this deadline. Lets a test
  // know that a batch thread has looked at the queue and decided to wait, before moving time on.
  void BlockUntilWaiterWithDeadline(absl::Time deadline);

 private:
  struct Waiter {
    absl::Mutex* mu;
    absl::Time deadline;
  };

  // Read inside absl::Condition callbacks that run under the waiters' mutexes, where taking mu_
  // would be a lock-order hazard; hence atomic rather than guarded.
  std::atomic<int64_t> now_ns_;

  absl::Mutex mu_;
  std::vector<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);
  // AdvanceTime() calls that may still lock a waiter's mutex; a waiter leaves only when this is 0.
  int wakeups_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace octet::batching

#endif  // OCTET_SERVER_BATCHING_FAKE_CLOCK_H_
