#include "server/batching/fake_clock.h"

#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace octet::batching {
namespace {

TEST(FakeClockTest, TimeMovesOnlyWhenAdvanced) {
  FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.AdvanceTime(absl::Seconds(2));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(102));
}

TEST(FakeClockTest, AwaitWithPastDeadlineReturnsConditionWithoutBlocking) {
  FakeClock clock;
  absl::Mutex mu;
  bool ready = false;
  absl::MutexLock lock(&mu);
  EXPECT_FALSE(clock.AwaitWithDeadline(&mu, absl::Condition(&ready), clock.Now()));
}

TEST(FakeClockTest, AdvancingTimeWakesWaiterAtItsDeadline) {
  FakeClock clock;
  const absl::Time deadline = clock.Now() + absl::Seconds(1);
  absl::Mutex mu;
  bool ready = false;
  bool result = true;
  bool returned = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.AwaitWithDeadline(&mu, absl::Condition(&ready), deadline);
    returned = true;
  });
  clock.BlockUntilWaiterWithDeadline(deadline);
  clock.AdvanceTime(absl::Milliseconds(999));  // short of the deadline: the waiter stays
  {
    absl::MutexLock lock(&mu);
    EXPECT_FALSE(returned);
  }
  clock.AdvanceTime(absl::Milliseconds(1));
  waiter.join();
  EXPECT_FALSE(result);  // timed out rather than saw the condition
}

TEST(FakeClockTest, ConditionWakesWaiterBeforeDeadline) {
  FakeClock clock;
  const absl::Time deadline = clock.Now() + absl::Seconds(1);
  absl::Mutex mu;
  bool ready = false;
  bool result = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.AwaitWithDeadline(&mu, absl::Condition(&ready), deadline);
  });
  clock.BlockUntilWaiterWithDeadline(deadline);
  {
    absl::MutexLock lock(&mu);
    ready = true;
  }
  waiter.join();
  EXPECT_TRUE(result);
}

}  // namespace
}  // namespace octet::batching
