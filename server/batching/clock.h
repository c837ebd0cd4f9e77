// Clock: where the batcher reads the time and how it sleeps until a time.
//
// BatchScheduler never calls absl::Now() or sleeps on its own; it asks a Clock. Production code
// uses Clock::Real(); tests inject a FakeClock (fake_clock.h) whose time only moves when the test
// says so, which makes "the batch closes after max_queue_delay" checkable without sleeping.
//
//   Clock* clock = Clock::Real();
//   absl::MutexLock lock(&mu);
//   clock->AwaitWithDeadline(&mu, absl::Condition(&work_ready), clock->Now() + delay);
//
// Waiting is part of the interface, not just Now(), because a fake time only helps if the waits
// measured against it also end when that time advances.
//
// Ownership and thread safety: implementations must be thread-safe. Clock::Real() is a process-wide
// singleton that is never destroyed. Whoever injects another clock keeps it alive for as long as
// any user of it runs.

#ifndef OCTET_SERVER_BATCHING_CLOCK_H_
#define OCTET_SERVER_BATCHING_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace octet::batching {

class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() const = 0;

  // Like absl::Mutex::AwaitWithDeadline, but `deadline` is on this clock: releases `*mu`, blocks
  // until `condition` holds or Now() >= deadline, reacquires `*mu` and returns `condition`'s value.
  // `*mu` may be released and reacquired more than once, so callers re-check their state after.
  // REQUIRES: `*mu` is held exclusively.
  virtual bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                                 absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;

  // The wall clock; never null.
  static Clock* Real();
};

}  // namespace octet::batching

#endif  // OCTET_SERVER_BATCHING_CLOCK_H_
