// TaskQueue<TaskT>: the FIFO behind a BatchScheduler and the rule that cuts batches from its head.
//
// Implementation detail of batch_scheduler.h; include that instead. It holds no lock, starts no
// thread and reads no clock: the scheduler serializes every call under its mutex and passes the
// time in. Keeping the batching rule here, apart from the threading, keeps each readable alone.
//
// Ownership: the queue owns queued tasks; Poll() hands them out in a batch or as dropped tasks.
// Not thread-safe.

#ifndef OCTET_SERVER_BATCHING_INTERNAL_TASK_QUEUE_H_
#define OCTET_SERVER_BATCHING_INTERNAL_TASK_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/batching/batch.h"
#include "server/batching/batch_scheduler_options.h"

namespace octet::batching::internal {

// Compile-time check of the task concept documented in batch_scheduler.h.
template <typename TaskT>
constexpr bool CheckTaskConcept() {
  static_assert(std::is_integral_v<decltype(std::declval<const TaskT&>().size())>,
                "TaskT needs `size_t size() const`: the number of samples it carries");
  static_assert(std::is_same_v<decltype(std::declval<const TaskT&>().deadline()), absl::Time>,
                "TaskT needs `absl::Time deadline() const` (absl::InfiniteFuture() if none)");
  static_assert(std::is_same_v<decltype(std::declval<const TaskT&>().IsCancelled()), bool>,
                "TaskT needs `bool IsCancelled() const`");
  return true;
}

template <typename TaskT>
class TaskQueue {
 public:
  struct DroppedTask {
    std::unique_ptr<TaskT> task;
    absl::Status status;  // CANCELLED or DEADLINE_EXCEEDED
  };

  struct PollResult {
    std::unique_ptr<Batch<TaskT>> batch;  // null when no batch is due
    std::vector<DroppedTask> dropped;
    // When no batch is due: the earliest time at which one may be, or a queued task expires.
    absl::Time next_poll = absl::InfiniteFuture();

    bool empty() const { return batch == nullptr && dropped.empty(); }
  };

  explicit TaskQueue(const BatchSchedulerOptions& options)
      : max_batch_size_(static_cast<size_t>(options.max_batch_size)),
        max_queue_size_(static_cast<size_t>(options.max_queue_size)),
        max_queue_delay_(options.max_queue_delay),
        preferred_sizes_(options.preferred_batch_sizes.begin(),
                         options.preferred_batch_sizes.end()) {
    std::sort(preferred_sizes_.begin(), preferred_sizes_.end());
    largest_preferred_ = preferred_sizes_.empty() ? max_batch_size_ : preferred_sizes_.back();
  }

  size_t num_tasks() const { return entries_.size(); }
  size_t num_samples() const { return num_samples_; }

  // Same contract as BatchScheduler::Schedule(): takes *task iff it returns OK.
  absl::Status Push(std::unique_ptr<TaskT>* task, absl::Time now) {
    const auto size = (*task)->size();
    if (size < 1 || static_cast<size_t>(size) > max_batch_size_) {
      return absl::InvalidArgumentError(absl::StrCat("task size ", size, " is outside [1, ",
                                                     max_batch_size_, "] (max_batch_size)"));
    }
    if (entries_.size() >= max_queue_size_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("batch queue is full (", max_queue_size_, " tasks)"));
    }
    num_samples_ += static_cast<size_t>(size);
    entries_.push_back(Entry{std::move(*task), now});
    return absl::OkStatus();
  }

  // Removes cancelled and expired tasks from the head of the queue, the part that the next batch
  // would come from (tasks further back are checked once they get there, which keeps this
  // O(batch)), and closes the next batch if the rules in BatchSchedulerOptions make it due at
  // `now`. `flush` closes a batch from whatever is queued, for draining at shutdown.
  PollResult Poll(absl::Time now, bool flush) {
    PollResult result;
    size_t num_tasks = 0;        // the longest run from the head that fits in max_batch_size
    size_t num_samples = 0;      // ... and its samples
    size_t preferred_tasks = 0;  // longest run whose samples are a preferred size
    size_t capped_tasks = 0;     // longest run that fits in the largest preferred size
    bool next_does_not_fit = false;
    absl::Time earliest_deadline = absl::InfiniteFuture();
    auto it = entries_.begin();
    while (it != entries_.end()) {
      const TaskT& task = *it->task;
      absl::Status dead = DeadReason(task, now);
      if (!dead.ok()) {
        num_samples_ -= static_cast<size_t>(task.size());
        result.dropped.push_back(DroppedTask{std::move(it->task), std::move(dead)});
        it = entries_.erase(it);
        continue;
      }
      const size_t size = static_cast<size_t>(task.size());
      if (num_samples + size > max_batch_size_) {
        next_does_not_fit = true;
        break;
      }
      num_samples += size;
      ++num_tasks;
      earliest_deadline = std::min(earliest_deadline, task.deadline());
      if (num_samples <= largest_preferred_) capped_tasks = num_tasks;
      if (std::binary_search(preferred_sizes_.begin(), preferred_sizes_.end(), num_samples)) {
        preferred_tasks = num_tasks;
      }
      ++it;
    }
    if (num_tasks == 0) return result;  // The queue is empty: the head task always fits.

    const absl::Time delay_end = entries_.front().enqueue_time + max_queue_delay_;
    size_t take = 0;
    if (flush || now >= delay_end) {
      take = num_tasks;
    } else if (preferred_tasks > 0) {
      take = preferred_tasks;
    } else if (num_samples >= largest_preferred_ || next_does_not_fit) {
      take = std::max<size_t>(capped_tasks, 1);
    }
    if (take == 0) {
      result.next_poll = std::min(delay_end, earliest_deadline);
      return result;
    }
    result.batch = std::make_unique<Batch<TaskT>>(now);
    for (size_t i = 0; i < take; ++i) {
      Entry& entry = entries_.front();
      num_samples_ -= static_cast<size_t>(entry.task->size());
      result.batch->AddTask(std::move(entry.task), entry.enqueue_time);
      entries_.pop_front();
    }
    return result;
  }

 private:
  static_assert(CheckTaskConcept<TaskT>());

  struct Entry {
    std::unique_ptr<TaskT> task;
    absl::Time enqueue_time;
  };

  static absl::Status DeadReason(const TaskT& task, absl::Time now) {
    if (task.IsCancelled()) return absl::CancelledError("cancelled while queued for batching");
    if (task.deadline() <= now) {
      return absl::DeadlineExceededError("deadline passed while queued for batching");
    }
    return absl::OkStatus();
  }

  const size_t max_batch_size_;
  const size_t max_queue_size_;
  const absl::Duration max_queue_delay_;
  std::vector<size_t> preferred_sizes_;  // sorted
  size_t largest_preferred_;             // max_batch_size_ when there are no preferred sizes

  // Oldest first: the head's enqueue time is the one max_queue_delay is measured from.
  std::deque<Entry> entries_;
  size_t num_samples_ = 0;
};

}  // namespace octet::batching::internal

#endif  // OCTET_SERVER_BATCHING_INTERNAL_TASK_QUEUE_H_
