#include "server/batching/batch_scheduler.h"

#include <atomic>
#include <cstddef>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/batching/fake_clock.h"

namespace octet::batching {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

class FakeTask {
 public:
  FakeTask(int id, size_t size, absl::Time deadline) : id_(id), size_(size), deadline_(deadline) {}

  int id() const { return id_; }
  size_t size() const { return size_; }
  absl::Time deadline() const { return deadline_; }
  bool IsCancelled() const { return cancelled_.load(); }
  void Cancel() { cancelled_.store(true); }

 private:
  const int id_;
  const size_t size_;
  const absl::Time deadline_;
  std::atomic<bool> cancelled_{false};
};

using Scheduler = BatchScheduler<FakeTask>;

// Keeps what reaches the callbacks, which may run on several threads at once.
class Recorder {
 public:
  Scheduler::ProcessBatchCallback BatchCallback() {
    return [this](std::unique_ptr<Batch<FakeTask>> batch) {
      absl::MutexLock lock(&mu_);
      num_delivered_ += batch->num_tasks();
      batches_.push_back(std::move(batch));
    };
  }
  Scheduler::DroppedTaskCallback DropCallback() {
    return [this](std::unique_ptr<FakeTask> task, absl::Status status) {
      absl::MutexLock lock(&mu_);
      ++num_delivered_;
      dropped_.emplace_back(task->id(), status.code());
    };
  }

  // The ids in each batch, in delivery order.
  std::vector<std::vector<int>> BatchIds() const {
    absl::MutexLock lock(&mu_);
    std::vector<std::vector<int>> ids;
    for (const auto& batch : batches_) {
      ids.emplace_back();
      for (size_t i = 0; i < batch->num_tasks(); ++i) ids.back().push_back(batch->task(i).id());
    }
    return ids;
  }
  std::vector<std::pair<int, absl::StatusCode>> Dropped() const {
    absl::MutexLock lock(&mu_);
    return dropped_;
  }
  absl::Duration QueueTime(size_t batch, size_t task) const {
    absl::MutexLock lock(&mu_);
    return batches_.at(batch)->queue_time(task);
  }
  // Blocks until this many tasks have reached either callback.
  void AwaitDelivered(size_t num_tasks) const {
    auto delivered = [this, num_tasks] {
      mu_.AssertReaderHeld();
      return num_delivered_ >= num_tasks;
    };
    absl::MutexLock lock(&mu_, absl::Condition(&delivered));
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Batch<FakeTask>>> batches_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<int, absl::StatusCode>> dropped_ ABSL_GUARDED_BY(mu_);
  size_t num_delivered_ ABSL_GUARDED_BY(mu_) = 0;
};

std::unique_ptr<FakeTask> MakeTask(int id, size_t size = 1,
                                   absl::Time deadline = absl::InfiniteFuture()) {
  return std::make_unique<FakeTask>(id, size, deadline);
}

// Defaults to the thread-free puppet mode; tests drive it with ProcessOneBatchForTesting().
class BatchSchedulerTest : public ::testing::Test {
 protected:
  BatchSchedulerTest() {
    options_.clock = &clock_;
    options_.num_batch_threads = 0;
    options_.max_batch_size = 4;
    options_.max_queue_delay = absl::Milliseconds(10);
  }

  void Start() {
    auto scheduler =
        Scheduler::Create(options_, recorder_.BatchCallback(), recorder_.DropCallback());
    ASSERT_TRUE(scheduler.ok()) << scheduler.status();
    scheduler_ = *std::move(scheduler);
  }

  absl::Status Add(int id, size_t size = 1, absl::Time deadline = absl::InfiniteFuture()) {
    std::unique_ptr<FakeTask> task = MakeTask(id, size, deadline);
    return scheduler_->Schedule(&task);
  }

  FakeClock clock_;
  Scheduler::Options options_;
  Recorder recorder_;
  std::unique_ptr<Scheduler> scheduler_;  // Last: its shutdown delivers to recorder_.
};

TEST_F(BatchSchedulerTest, ClosesWhenFull) {
  Start();
  for (int id = 0; id < 3; ++id) ASSERT_TRUE(Add(id).ok());
  EXPECT_FALSE(scheduler_->ProcessOneBatchForTesting());
  ASSERT_TRUE(Add(3).ok());
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(0, 1, 2, 3)));
}

TEST_F(BatchSchedulerTest, ClosesWhenNextTaskDoesNotFit) {
  Start();
  ASSERT_TRUE(Add(0, /*size=*/3).ok());
  ASSERT_TRUE(Add(1, /*size=*/2).ok());
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_FALSE(scheduler_->ProcessOneBatchForTesting());  // Task 1 alone waits for the delay.
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(0)));
}

TEST_F(BatchSchedulerTest, ClosesAfterMaxQueueDelayAndReportsQueueTimes) {
  Start();
  ASSERT_TRUE(Add(0).ok());
  clock_.AdvanceTime(absl::Milliseconds(9));
  ASSERT_TRUE(Add(1).ok());
  EXPECT_FALSE(scheduler_->ProcessOneBatchForTesting());
  clock_.AdvanceTime(absl::Milliseconds(1));
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(0, 1)));
  EXPECT_EQ(recorder_.QueueTime(0, 0), absl::Milliseconds(10));
  EXPECT_EQ(recorder_.QueueTime(0, 1), absl::Milliseconds(1));
}

TEST_F(BatchSchedulerTest, ZeroDelayTakesWhatIsQueued) {
  options_.max_queue_delay = absl::ZeroDuration();
  Start();
  ASSERT_TRUE(Add(0).ok());
  ASSERT_TRUE(Add(1).ok());
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(0, 1)));
}

TEST_F(BatchSchedulerTest, TakesLargestPreferredSizeFormable) {
  options_.max_batch_size = 16;
  options_.preferred_batch_sizes = {4, 2};
  Start();
  ASSERT_TRUE(Add(0).ok());
  EXPECT_FALSE(scheduler_->ProcessOneBatchForTesting());
  for (int id = 1; id < 5; ++id) ASSERT_TRUE(Add(id).ok());
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());   // 4 of the 5 queued
  EXPECT_FALSE(scheduler_->ProcessOneBatchForTesting());  // 1 is not preferred: wait
  ASSERT_TRUE(Add(5).ok());
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(0, 1, 2, 3), ElementsAre(4, 5)));
}

TEST_F(BatchSchedulerTest, PreferredSizeOutOfReachClosesBelowLargestPreferred) {
  options_.max_batch_size = 16;
  options_.preferred_batch_sizes = {4};
  Start();
  ASSERT_TRUE(Add(0, /*size=*/3).ok());
  ASSERT_TRUE(Add(1, /*size=*/3).ok());  // 6 queued: no run from the head adds up to 4
  ASSERT_TRUE(Add(2, /*size=*/6).ok());
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());  // 3 + 6 > 4 as well
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());  // larger than any preferred size: alone
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(0), ElementsAre(1), ElementsAre(2)));
}

TEST_F(BatchSchedulerTest, AfterDelayTakesAllThatFitsRatherThanPreferred) {
  options_.max_batch_size = 8;
  options_.preferred_batch_sizes = {2};
  Start();
  for (int id = 0; id < 3; ++id) ASSERT_TRUE(Add(id).ok());
  clock_.AdvanceTime(options_.max_queue_delay);
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(0, 1, 2)));
}

TEST_F(BatchSchedulerTest, FullQueueIsResourceExhaustedAndCallerKeepsTask) {
  options_.max_queue_size = 2;
  Start();
  ASSERT_TRUE(Add(0).ok());
  ASSERT_TRUE(Add(1).ok());
  std::unique_ptr<FakeTask> task = MakeTask(2);
  EXPECT_EQ(scheduler_->Schedule(&task).code(), absl::StatusCode::kResourceExhausted);
  ASSERT_NE(task, nullptr);
  EXPECT_EQ(task->id(), 2);

  clock_.AdvanceTime(options_.max_queue_delay);
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_TRUE(scheduler_->Schedule(&task).ok());
  EXPECT_EQ(task, nullptr);
}

TEST_F(BatchSchedulerTest, RejectsTasksOfInvalidSizeAndCallerKeepsThem) {
  Start();
  std::unique_ptr<FakeTask> too_big = MakeTask(0, /*size=*/5);
  EXPECT_EQ(scheduler_->Schedule(&too_big).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_big, nullptr);
  std::unique_ptr<FakeTask> empty = MakeTask(1, /*size=*/0);
  EXPECT_EQ(scheduler_->Schedule(&empty).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(empty, nullptr);
  std::unique_ptr<FakeTask> null;
  EXPECT_EQ(scheduler_->Schedule(&null).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler_->Schedule(nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler_->NumPendingTasks(), 0u);
}

TEST_F(BatchSchedulerTest, DropsExpiredTasksInsteadOfRunningThem) {
  Start();
  const absl::Time start = clock_.Now();
  ASSERT_TRUE(Add(0, 1, start + absl::Milliseconds(5)).ok());
  ASSERT_TRUE(Add(1).ok());
  ASSERT_TRUE(Add(2, 1, start + absl::Milliseconds(20)).ok());
  ASSERT_TRUE(Add(3, 1, start).ok());  // already expired when scheduled
  clock_.AdvanceTime(options_.max_queue_delay);
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(1, 2)));
  EXPECT_THAT(recorder_.Dropped(), ElementsAre(Pair(0, absl::StatusCode::kDeadlineExceeded),
                                               Pair(3, absl::StatusCode::kDeadlineExceeded)));
}

TEST_F(BatchSchedulerTest, DropsCancelledTasksInsteadOfRunningThem) {
  options_.max_queue_delay = absl::ZeroDuration();
  Start();
  std::unique_ptr<FakeTask> task = MakeTask(0);
  FakeTask* cancelled = task.get();
  ASSERT_TRUE(scheduler_->Schedule(&task).ok());
  ASSERT_TRUE(Add(1).ok());
  cancelled->Cancel();
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(1)));
  EXPECT_THAT(recorder_.Dropped(), ElementsAre(Pair(0, absl::StatusCode::kCancelled)));
}

TEST_F(BatchSchedulerTest, QueueOfOnlyDeadTasksDeliversDropsButNoBatch) {
  Start();
  ASSERT_TRUE(Add(0, 1, clock_.Now()).ok());
  EXPECT_FALSE(scheduler_->ProcessOneBatchForTesting());
  EXPECT_THAT(recorder_.BatchIds(), IsEmpty());
  EXPECT_THAT(recorder_.Dropped(), ElementsAre(Pair(0, absl::StatusCode::kDeadlineExceeded)));
  EXPECT_EQ(scheduler_->NumPendingTasks(), 0u);
}

TEST_F(BatchSchedulerTest, ShutdownDrainsQueueWithoutWaitingThenRefuses) {
  options_.max_batch_size = 2;
  options_.max_queue_delay = absl::Hours(1);
  Start();
  for (int id = 0; id < 5; ++id) ASSERT_TRUE(Add(id).ok());
  std::unique_ptr<FakeTask> cancelled = MakeTask(5);
  FakeTask* cancelled_ptr = cancelled.get();
  ASSERT_TRUE(scheduler_->Schedule(&cancelled).ok());
  cancelled_ptr->Cancel();

  scheduler_->Shutdown();
  EXPECT_THAT(recorder_.BatchIds(),
              ElementsAre(ElementsAre(0, 1), ElementsAre(2, 3), ElementsAre(4)));
  EXPECT_THAT(recorder_.Dropped(), ElementsAre(Pair(5, absl::StatusCode::kCancelled)));
  std::unique_ptr<FakeTask> late = MakeTask(6);
  EXPECT_EQ(scheduler_->Schedule(&late).code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(late, nullptr);
}

TEST_F(BatchSchedulerTest, DestructorDrainsQueue) {
  options_.max_queue_delay = absl::Hours(1);
  Start();
  ASSERT_TRUE(Add(0).ok());
  scheduler_.reset();
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(0)));
}

TEST_F(BatchSchedulerTest, CountsPendingTasksAndSamples) {
  Start();
  ASSERT_TRUE(Add(0, /*size=*/2).ok());
  ASSERT_TRUE(Add(1, /*size=*/1).ok());
  EXPECT_EQ(scheduler_->NumPendingTasks(), 2u);
  EXPECT_EQ(scheduler_->NumPendingSamples(), 3u);
  ASSERT_TRUE(Add(2, /*size=*/3).ok());
  EXPECT_TRUE(scheduler_->ProcessOneBatchForTesting());  // 2 + 1; 3 more does not fit
  EXPECT_EQ(scheduler_->NumPendingTasks(), 1u);
  EXPECT_EQ(scheduler_->NumPendingSamples(), 3u);
}

TEST(BatchSchedulerCreateTest, RejectsBadOptionsAndEmptyCallbacks) {
  Recorder recorder;
  auto create = [&](const Scheduler::Options& options) {
    return Scheduler::Create(options, recorder.BatchCallback(), recorder.DropCallback()).status();
  };
  Scheduler::Options options;
  options.max_batch_size = 0;
  EXPECT_EQ(create(options).code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.preferred_batch_sizes = {options.max_batch_size + 1};
  EXPECT_EQ(create(options).code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.max_queue_delay = -absl::Milliseconds(1);
  EXPECT_EQ(create(options).code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.max_queue_size = 0;
  EXPECT_EQ(create(options).code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.num_batch_threads = -1;
  EXPECT_EQ(create(options).code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.clock = nullptr;
  EXPECT_EQ(create(options).code(), absl::StatusCode::kInvalidArgument);
  options = {};
  EXPECT_EQ(Scheduler::Create(options, nullptr, recorder.DropCallback()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Scheduler::Create(options, recorder.BatchCallback(), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(create(options).ok());
}

// With real batch threads. Still no sleeps: the tests wait for events, never for time.

TEST_F(BatchSchedulerTest, BatchThreadWakesWhenClockPassesQueueDelay) {
  options_.num_batch_threads = 1;
  Start();
  const absl::Time enqueue_time = clock_.Now();
  ASSERT_TRUE(Add(0).ok());
  // The thread has seen the task and chosen to wait for the delay, so nothing can have run yet.
  clock_.BlockUntilWaiterWithDeadline(enqueue_time + options_.max_queue_delay);
  EXPECT_THAT(recorder_.BatchIds(), IsEmpty());
  clock_.AdvanceTime(options_.max_queue_delay);
  recorder_.AwaitDelivered(1);
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(0)));
  EXPECT_EQ(recorder_.QueueTime(0, 0), options_.max_queue_delay);
}

TEST_F(BatchSchedulerTest, BatchThreadWakesWhenBatchFills) {
  options_.num_batch_threads = 1;
  options_.max_queue_delay = absl::Hours(1);
  Start();
  for (int id = 0; id < 4; ++id) ASSERT_TRUE(Add(id).ok());
  recorder_.AwaitDelivered(4);
  EXPECT_THAT(recorder_.BatchIds(), ElementsAre(ElementsAre(0, 1, 2, 3)));
}

TEST_F(BatchSchedulerTest, BatchThreadsDrainAtShutdown) {
  options_.num_batch_threads = 2;
  options_.max_queue_delay = absl::Hours(1);
  Start();
  for (int id = 0; id < 10; ++id) ASSERT_TRUE(Add(id).ok());
  scheduler_->Shutdown();
  size_t num_run = 0;
  for (const auto& ids : recorder_.BatchIds()) num_run += ids.size();
  EXPECT_EQ(num_run, 10u);
  EXPECT_EQ(scheduler_->NumPendingTasks(), 0u);
}

TEST_F(BatchSchedulerTest, EveryAcceptedTaskReachesExactlyOneCallbackUnderConcurrentSchedule) {
  constexpr int kNumProducers = 4;
  constexpr int kTasksPerProducer = 500;
  options_.num_batch_threads = 2;
  options_.max_queue_delay = absl::ZeroDuration();  // no waiting: batches form as threads free up
  options_.max_queue_size = 64;                     // small, so that some Schedule() calls fail
  Start();
  const absl::Time now = clock_.Now();

  std::vector<std::vector<int>> accepted(kNumProducers);
  std::vector<int> num_refused(kNumProducers, 0);
  std::vector<std::thread> producers;
  for (int p = 0; p < kNumProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kTasksPerProducer; ++i) {
        const int id = p * kTasksPerProducer + i;
        // Every 7th task has expired; every 5th is cancelled before it is scheduled.
        auto task = MakeTask(id, 1 + id % 3, id % 7 == 0 ? now : absl::InfiniteFuture());
        if (id % 5 == 0) task->Cancel();
        const absl::Status status = scheduler_->Schedule(&task);
        if (status.ok()) {
          accepted[p].push_back(id);
        } else {
          EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
          EXPECT_NE(task, nullptr);
          ++num_refused[p];
        }
      }
    });
  }
  for (std::thread& producer : producers) producer.join();
  scheduler_->Shutdown();

  std::multiset<int> delivered;
  for (const auto& ids : recorder_.BatchIds()) {
    for (int id : ids) {
      EXPECT_NE(id % 5, 0) << "cancelled task " << id << " ran";
      EXPECT_NE(id % 7, 0) << "expired task " << id << " ran";
      delivered.insert(id);
    }
  }
  for (const auto& [id, code] : recorder_.Dropped()) {
    EXPECT_EQ(code,
              id % 5 == 0 ? absl::StatusCode::kCancelled : absl::StatusCode::kDeadlineExceeded);
    delivered.insert(id);
  }
  std::multiset<int> expected;
  int total_refused = 0;
  for (int p = 0; p < kNumProducers; ++p) {
    expected.insert(accepted[p].begin(), accepted[p].end());
    total_refused += num_refused[p];
  }
  EXPECT_EQ(delivered, expected);
  EXPECT_EQ(expected.size() + total_refused, size_t{kNumProducers * kTasksPerProducer});
}

}  // namespace
}  // namespace octet::batching
