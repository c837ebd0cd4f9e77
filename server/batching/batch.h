// Batch<TaskT>: the tasks that one call of the batch callback processes together.
//
// A BatchScheduler hands each batch to its callback by unique_ptr, so the callback owns the tasks:
// it gathers their inputs, runs the model once, and answers each task. The batch also records when
// each task was enqueued and when the batch was closed, which is what a queue-time metric needs:
//
//   void ProcessBatch(std::unique_ptr<Batch<InferTask>> batch) {
//     for (size_t i = 0; i < batch->num_tasks(); ++i) {
//       queue_seconds.Observe(absl::ToDoubleSeconds(batch->queue_time(i)));
//     }
//     ... run batch->size() samples, then answer each batch->task(i) ...
//   }
//
// Ownership and thread safety: a Batch owns its tasks. It is not thread-safe; one thread at a time.

#ifndef OCTET_SERVER_BATCHING_BATCH_H_
#define OCTET_SERVER_BATCHING_BATCH_H_

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace octet::batching {

template <typename TaskT>
class Batch {
 public:
  // `close_time` is when the scheduler decided to run the batch; queue times end there.
  explicit Batch(absl::Time close_time) : close_time_(close_time) {}

  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  Batch(Batch&&) = default;
  Batch& operator=(Batch&&) = default;

  void AddTask(std::unique_ptr<TaskT> task, absl::Time enqueue_time) {
    num_samples_ += static_cast<size_t>(task->size());
    tasks_.push_back(Entry{std::move(task), enqueue_time});
  }

  size_t num_tasks() const { return tasks_.size(); }
  bool empty() const { return tasks_.empty(); }
  // Samples: the sum of the tasks' size().
  size_t size() const { return num_samples_; }

  TaskT& task(size_t i) { return *tasks_[i].task; }
  const TaskT& task(size_t i) const { return *tasks_[i].task; }

  absl::Time close_time() const { return close_time_; }
  absl::Time enqueue_time(size_t i) const { return tasks_[i].enqueue_time; }
  absl::Duration queue_time(size_t i) const { return close_time_ - tasks_[i].enqueue_time; }

  // For callbacks that pass the tasks on (for example to finish them elsewhere); leaves the batch
  // empty.
  std::vector<std::unique_ptr<TaskT>> RemoveAllTasks() {
    std::vector<std::unique_ptr<TaskT>> tasks;
    tasks.reserve(tasks_.size());
    for (Entry& entry : tasks_) tasks.push_back(std::move(entry.task));
    tasks_.clear();
    num_samples_ = 0;
    return tasks;
  }

 private:
  struct Entry {
    std::unique_ptr<TaskT> task;
    absl::Time enqueue_time;
  };

  absl::Time close_time_;
  std::vector<Entry> tasks_;
  size_t num_samples_ = 0;
};

}  // namespace octet::batching

#endif  // OCTET_SERVER_BATCHING_BATCH_H_
