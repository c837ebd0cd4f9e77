// BatchScheduler<TaskT>: a dynamic batcher. Callers Schedule() tasks; batch threads group queued
// tasks into batches (closing a batch when it is full, reaches a preferred size, or its oldest
// task has waited max_queue_delay; see BatchSchedulerOptions) and pass each batch to a callback.
// Modelled on TensorFlow Serving's batching library; it knows nothing of gRPC or the engine.
//
// The task concept. TaskT is any class with:
//   size_t size() const;           // samples it carries, >= 1 (any integral type will do)
//   absl::Time deadline() const;   // when its answer becomes useless; absl::InfiniteFuture() if
//   never bool IsCancelled() const;      // true once the client has gone away
// deadline() and IsCancelled() are called with the scheduler's mutex held, from any thread, while
// other threads may be cancelling the task: they must be thread-safe, cheap, must not block and
// must not call back into the scheduler (an atomic flag and a stored absl::Time are typical).
//
// Example:
//
//   auto scheduler = BatchScheduler<InferTask>::Create(
//       options,
//       [&](std::unique_ptr<Batch<InferTask>> batch) { RunAndAnswer(*batch); },
//       [](std::unique_ptr<InferTask> task, absl::Status status) { task->Finish(status); });
//   if (!scheduler.ok()) return scheduler.status();
//   std::unique_ptr<InferTask> task = ...;
//   absl::Status status = (*scheduler)->Schedule(&task);
//   if (!status.ok()) task->Finish(status);  // Still ours: Schedule() did not take it.
//
// Ownership: Schedule() takes the task iff it returns OK. From then on the scheduler owns it until
// it hands it, exactly once, to one of the two callbacks: the batch callback (inside a Batch), or
// the dropped-task callback with CANCELLED or DEADLINE_EXCEEDED if it was cancelled or expired
// before its batch closed. No accepted task is lost, including at shutdown.
//
// Thread safety: all public methods are thread-safe. Callbacks run on the batch threads (or, with
// num_batch_threads == 0, on the thread calling ProcessOneBatchForTesting() or Shutdown()), several
// at a time, without the scheduler's mutex held, so they may call Schedule() but not Shutdown() or
// the destructor. Shutdown (also done by the destructor) refuses new tasks with UNAVAILABLE, runs
// every queued task through the callbacks without waiting for max_queue_delay, then joins the
// threads.

#ifndef OCTET_SERVER_BATCHING_BATCH_SCHEDULER_H_
#define OCTET_SERVER_BATCHING_BATCH_SCHEDULER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/batching/batch.h"
#include "server/batching/batch_scheduler_options.h"
#include "server/batching/clock.h"
#include "server/batching/internal/task_queue.h"
#include "server/batching/internal/thread_name.h"

namespace octet::batching {

template <typename TaskT>
class BatchScheduler {
 public:
  using Options = BatchSchedulerOptions;
  using ProcessBatchCallback = std::function<void(std::unique_ptr<Batch<TaskT>> batch)>;
  using DroppedTaskCallback = std::function<void(std::unique_ptr<TaskT> task, absl::Status status)>;

  // INVALID_ARGUMENT if the options are out of range or a callback is empty.
  static absl::StatusOr<std::unique_ptr<BatchScheduler>> Create(const Options& options,
                                                                ProcessBatchCallback process_batch,
                                                                DroppedTaskCallback drop_task);

  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Shutdown().
  ~BatchScheduler() { Shutdown(); }

  // Queues *task; never blocks. Ownership of *task is transferred to the callee iff the method
  // returns OK; otherwise *task is left as it was. Errors: INVALID_ARGUMENT if task or *task is
  // null or its size() is outside [1, max_batch_size]; UNAVAILABLE once shutdown has begun;
  // RESOURCE_EXHAUSTED if max_queue_size tasks are already queued.
  absl::Status Schedule(std::unique_ptr<TaskT>* task);

  // Stops accepting tasks, delivers every queued one and joins the batch threads; returns when all
  // of that is done. Idempotent.
  void Shutdown();

  // For gauges; the values may be stale by the time they are read. Tasks count until they are
  // handed to a callback, including cancelled or expired ones not yet noticed.
  size_t NumPendingTasks() const;
  size_t NumPendingSamples() const;

  // The puppet mode of num_batch_threads == 0: does on the calling thread what one wake-up of a
  // batch thread would, at the clock's current time and without waiting. Hands the cancelled and
  // expired tasks at the head of the queue to the dropped-task callback and, if a batch is due,
  // passes it to the batch callback and returns true.
  bool ProcessOneBatchForTesting();

 private:
  using Queue = internal::TaskQueue<TaskT>;
  using Work = typename Queue::PollResult;

  BatchScheduler(const Options& options, ProcessBatchCallback process_batch,
                 DroppedTaskCallback drop_task)
      : clock_(options.clock),
        process_batch_(std::move(process_batch)),
        drop_task_(std::move(drop_task)),
        queue_(options) {}

  void StartThreads(int num_threads, const std::string& name_prefix);
  void BatchThreadLoop();
  // Blocks until there is work for a batch thread and returns true, or returns false once shut
  // down with nothing left.
  // REQUIRES: mu_ is held.
  bool WaitForWork(Work* work) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // REQUIRES: mu_ is held.
  Work Poll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the callbacks; must not hold mu_ since they may Schedule().
  void Deliver(Work work) ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  Clock* const clock_;
  const ProcessBatchCallback process_batch_;
  const DroppedTaskCallback drop_task_;
  // Filled by Create() before anyone else can see the scheduler; joined once, by Shutdown().
  std::vector<std::thread> threads_;
  absl::once_flag join_once_;

  // State below is protected by mu_.
  mutable absl::Mutex mu_;
  Queue queue_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // Bumped whenever the queue changes, which is what waiting batch threads wake up for.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

// Implementation details follow.

template <typename TaskT>
absl::StatusOr<std::unique_ptr<BatchScheduler<TaskT>>> BatchScheduler<TaskT>::Create(
    const Options& options, ProcessBatchCallback process_batch, DroppedTaskCallback drop_task) {
  if (absl::Status status = ValidateBatchSchedulerOptions(options); !status.ok()) return status;
  if (!process_batch) return absl::InvalidArgumentError("process_batch callback is empty");
  if (!drop_task) return absl::InvalidArgumentError("drop_task callback is empty");
  std::unique_ptr<BatchScheduler> scheduler(
      new BatchScheduler(options, std::move(process_batch), std::move(drop_task)));
  scheduler->StartThreads(options.num_batch_threads, options.thread_name_prefix);
  return scheduler;
}

template <typename TaskT>
void BatchScheduler<TaskT>::StartThreads(int num_threads, const std::string& name_prefix) {
  threads_.reserve(num_threads);
  for (int i = 0; i < num_threads; ++i) {
    threads_.emplace_back([this, name = absl::StrCat(name_prefix, "-", i)] {
      internal::SetCurrentThreadName(name);
      BatchThreadLoop();
    });
  }
}

template <typename TaskT>
absl::Status BatchScheduler<TaskT>::Schedule(std::unique_ptr<TaskT>* task) {
  if (task == nullptr || *task == nullptr) return absl::InvalidArgumentError("null task");
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return absl::UnavailableError("batch scheduler is shutting down");
  // Read under mu_ so that enqueue times follow queue order.
  if (absl::Status status = queue_.Push(task, clock_->Now()); !status.ok()) return status;
  ++generation_;
  return absl::OkStatus();
}

template <typename TaskT>
void BatchScheduler<TaskT>::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
  }
  absl::call_once(join_once_, [this] {
    for (std::thread& thread : threads_) thread.join();
  });
  // Batch threads leave only once the queue is empty, so this drains only when there are none.
  for (;;) {
    Work work;
    {
      absl::MutexLock lock(&mu_);
      work = Poll();
    }
    if (work.empty()) return;
    Deliver(std::move(work));
  }
}

template <typename TaskT>
size_t BatchScheduler<TaskT>::NumPendingTasks() const {
  absl::MutexLock lock(&mu_);
  return queue_.num_tasks();
}

template <typename TaskT>
size_t BatchScheduler<TaskT>::NumPendingSamples() const {
  absl::MutexLock lock(&mu_);
  return queue_.num_samples();
}

template <typename TaskT>
bool BatchScheduler<TaskT>::ProcessOneBatchForTesting() {
  Work work;
  {
    absl::MutexLock lock(&mu_);
    work = Poll();
  }
  const bool has_batch = work.batch != nullptr;
  Deliver(std::move(work));
  return has_batch;
}

template <typename TaskT>
void BatchScheduler<TaskT>::BatchThreadLoop() {
  for (;;) {
    Work work;
    {
      absl::MutexLock lock(&mu_);
      if (!WaitForWork(&work)) return;
    }
    Deliver(std::move(work));
  }
}

template <typename TaskT>
bool BatchScheduler<TaskT>::WaitForWork(Work* work) {
  mu_.AssertHeld();
  for (;;) {
    *work = Poll();
    if (!work->empty()) return true;
    // Poll() flushes once shutting down, so nothing queued is left behind here.
    if (shutting_down_) return false;
    const uint64_t seen = generation_;
    auto queue_changed = [this, seen] {
      mu_.AssertReaderHeld();
      return generation_ != seen || shutting_down_;
    };
    clock_->AwaitWithDeadline(&mu_, absl::Condition(&queue_changed), work->next_poll);
  }
}

template <typename TaskT>
typename BatchScheduler<TaskT>::Work BatchScheduler<TaskT>::Poll() {
  mu_.AssertHeld();
  Work work = queue_.Poll(clock_->Now(), /*flush=*/shutting_down_);
  // Other waiting threads computed their wake-up time from the old head of the queue.
  if (!work.empty()) ++generation_;
  return work;
}

template <typename TaskT>
void BatchScheduler<TaskT>::Deliver(Work work) {
  for (auto& dropped : work.dropped) drop_task_(std::move(dropped.task), std::move(dropped.status));
  if (work.batch != nullptr) process_batch_(std::move(work.batch));
}

}  // namespace octet::batching

#endif  // OCTET_SERVER_BATCHING_BATCH_SCHEDULER_H_
