#include "server/batching/clock.h"

namespace octet::batching {
namespace {

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }

  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                         absl::Time deadline) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return mu->AwaitWithDeadline(condition, deadline);
  }
};

}  // namespace

Clock* Clock::Real() {
  // Leaked on purpose: batch threads may still read it while static destructors run.
  static Clock* const clock = new RealClock();
  return clock;
}

}  // namespace octet::batching
