// BatchSchedulerOptions: how a BatchScheduler forms batches, and how many threads run them.
//
// A plain struct with documented defaults, checked once by ValidateBatchSchedulerOptions() (which
// BatchScheduler<TaskT>::Create() calls), instead of a constructor with a long argument list. It is
// not a template so that its validation is compiled once, here.
//
//   BatchSchedulerOptions options;
//   options.max_batch_size = 8;
//   options.max_queue_delay = absl::Milliseconds(2);
//   options.preferred_batch_sizes = {4, 8};
//
// Ownership: `clock` is borrowed and must outlive every scheduler created with these options.

#ifndef OCTET_SERVER_BATCHING_BATCH_SCHEDULER_OPTIONS_H_
#define OCTET_SERVER_BATCHING_BATCH_SCHEDULER_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/batching/clock.h"

namespace octet::batching {

struct BatchSchedulerOptions {
  // The largest batch, in samples (the sum of its tasks' size()). Tasks are never split, so a task
  // carrying more samples than this is rejected by Schedule().
  int max_batch_size = 32;

  // How long the oldest queued task may wait for others to join its batch. Zero (Triton's default)
  // means "never wait": a free batch thread takes whatever is queued, so batches grow only under
  // load, while every thread is busy.
  absl::Duration max_queue_delay = absl::ZeroDuration();

  // Batch sizes, in samples, that the model runs best at (for example the sizes it was compiled
  // for). Empty: none. When not empty, a free batch thread, before max_queue_delay has run out:
  //   1. takes the longest run of tasks from the head of the queue whose samples add up to one of
  //      these sizes (the largest preferred size that can be formed from what is queued);
  //   2. failing that, if what is queued already exceeds the largest preferred size (so waiting
  //      cannot reach one, as tasks are taken in order), takes the longest run from the head that
  //      fits in the largest preferred size (at least one task);
  //   3. otherwise waits for more tasks or for max_queue_delay.
  // Once max_queue_delay has run out it takes as much as fits in max_batch_size, preferred or not.
  // These are the rules of Triton's dynamic batcher, minus its per-shape grouping.
  // Each size must be in [1, max_batch_size].
  std::vector<int> preferred_batch_sizes;

  // The most tasks (requests, as in Triton's max_queue_size; not samples) that may wait. Schedule()
  // fails with RESOURCE_EXHAUSTED when the queue is full rather than wait: that is the
  // backpressure a server turns into an immediate answer. Must be >= 1.
  int max_queue_size = 1024;

  // Threads that form batches and run the callbacks, so they are where inference runs. Zero starts
  // none: the owner then drives the scheduler with ProcessOneBatchForTesting(), which is what
  // deterministic tests do.
  int num_batch_threads = 1;

  // Read for enqueue times, queue delays and task deadlines. Not owned; never null.
  Clock* clock = Clock::Real();

  // Batch threads are named "<prefix>-<index>" (as `top -H` shows them; Linux keeps 15 chars).
  std::string thread_name_prefix = "octet-batch";
};

// INVALID_ARGUMENT naming the first field that is out of range, else OK.
absl::Status ValidateBatchSchedulerOptions(const BatchSchedulerOptions& options);

}  // namespace octet::batching

#endif  // OCTET_SERVER_BATCHING_BATCH_SCHEDULER_OPTIONS_H_
