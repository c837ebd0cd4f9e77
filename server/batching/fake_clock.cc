#include "server/batching/fake_clock.h"

#include <algorithm>

namespace octet::batching {

FakeClock::FakeClock(absl::Time start) : now_ns_(absl::ToUnixNanos(start)) {}

absl::Time FakeClock::Now() const { return absl::FromUnixNanos(now_ns_.load()); }

bool FakeClock::AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                                  absl::Time deadline) {
  Waiter waiter{mu, deadline};
  {
    absl::MutexLock lock(&mu_);
    waiters_.push_back(&waiter);
  }
  // absl::Mutex re-evaluates this whenever *mu is released; AdvanceTime() releases it on purpose.
  auto done = [&] { return condition.Eval() || Now() >= deadline; };
  mu->Await(absl::Condition(&done));

  // An AdvanceTime() running now may hold `mu` and be about to lock it, and `*mu` may be destroyed
  // soon after we return. Wait for such calls to finish, with `*mu` released since they need it.
  mu->Unlock();
  {
    absl::MutexLock lock(&mu_);
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &waiter));
    mu_.Await(absl::Condition(
        +[](int* wakeups_in_flight) { return *wakeups_in_flight == 0; }, &wakeups_in_flight_));
  }
  mu->Lock();
  return condition.Eval();
}

void FakeClock::AdvanceTime(absl::Duration duration) {
  std::vector<absl::Mutex*> to_wake;
  {
    absl::MutexLock lock(&mu_);
    now_ns_.fetch_add(absl::ToInt64Nanoseconds(duration));
    for (const Waiter* waiter : waiters_) to_wake.push_back(waiter->mu);
    ++wakeups_in_flight_;
  }
  // Not under mu_: a waiter holds its own mutex while it registers with mu_, so taking them in the
  // other order here could deadlock. Unlocking makes absl::Mutex re-evaluate the waiters'
  // conditions.
  for (absl::Mutex* mu : to_wake) {
    mu->Lock();
    mu->Unlock();
  }
  absl::MutexLock lock(&mu_);
  --wakeups_in_flight_;
}

void FakeClock::BlockUntilWaiterWithDeadline(absl::Time deadline) {
  auto has_waiter = [this, deadline] {
    mu_.AssertReaderHeld();
    return std::any_of(waiters_.begin(), waiters_.end(),
                       [deadline](const Waiter* waiter) { return waiter->deadline == deadline; });
  };
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&has_waiter));
}

}  // namespace octet::batching
