// BatchExecutor: the batch thread's side of one model version. It is what a
// BatchScheduler<InferTask> calls back: it gathers the tasks of a batch into one input tensor per
// model input (one copy), runs the model once on an engine Session, scatters the output rows into
// each task's response and answers each task; expired or cancelled tasks get their error. It also
// answers the tasks that never reached the queue, so that every answer is recorded in one place
// (ModelVersionStats, which feeds the ModelStatistics RPC and the MetricsSink).
//
//   OCTET_ASSIGN_OR_RETURN(auto executor, BatchExecutor::Create(options));
//   auto scheduler = BatchScheduler<InferTask>::Create(
//       scheduler_options,
//       [e = executor.get()](auto batch) { e->ProcessBatch(std::move(batch)); },
//       [e = executor.get()](auto task, absl::Status s) { e->DropTask(std::move(task), s); });
//
// Batching models: the tasks of a batch are grouped by their non-batch input shapes (they differ
// only where the config has -1 dims), and each group runs as one batch, padded with zero rows up
// to the smallest of the configured batch-size buckets that holds it, so that the engine compiles
// one plan per bucket rather than per size. Without dynamic batching, or for models with
// max_batch_size 0, every task runs on its own with the shape it was sent with.
//
// Sessions: one engine Session per instance (batch thread), each with an OpenMP team of
// `threads`; a batch takes a free one for the duration of its run, so no two threads share a
// Session.
//
// Labels: a request may carry one ground-truth class per sample (DecodedRequest::labels); each
// answer's RequestEvent counts its labelled samples and those whose top-1 (of the first output)
// matched.
//
// Shadowing (INT8 and mixed versions): with a ShadowRunner and a shadow fraction, that share of
// successful requests (ShadowSampler) is handed to the runner after every request of the run has
// been answered: the task's inputs are moved, its rows of the first output copied, and Submit()
// never blocks, so no client waits for it.
//
// Ownership: the model is shared; `stats`, `clock` and `shadow` are borrowed and must outlive
// this.
// Thread-safe: ProcessBatch, DropTask, Reject and RecordInvalid may run on several threads.
#ifndef OCTET_SERVER_INFERENCE_BATCH_EXECUTOR_H_
#define OCTET_SERVER_INFERENCE_BATCH_EXECUTOR_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/model.h"
#include "engine/session.h"
#include "server/batching/batch.h"
#include "server/batching/clock.h"
#include "server/inference/infer_task.h"
#include "server/inference/model_version_stats.h"
#include "server/inference/tensor_codec.h"
#include "server/inference/warmup.h"
#include "server/metrics/metrics_sink.h"
#include "server/shadow/shadow_runner.h"

namespace octet::server {

class BatchExecutor {
 public:
  struct Options {
    std::shared_ptr<const Model> model;
    ModelSignature signature;
    // Batch sizes, ascending, the last one >= max_batch_size (batching models only).
    std::vector<int> batch_buckets;
    // False: tasks never share a run, even when the scheduler hands over several.
    bool dynamic_batching = true;
    // Sessions, one per batch thread, and the OpenMP team size of each.
    int instances = 1;
    int threads = 1;
    ModelVersionStats* stats = nullptr;
    batching::Clock* clock = batching::Clock::Real();
    // Where sampled answers are compared with FP32 (null: nowhere), and the share sampled.
    ShadowRunner* shadow = nullptr;
    double shadow_fraction = 0;
  };

  static absl::StatusOr<std::unique_ptr<BatchExecutor>> Create(Options options);

  // Compiles the plans requests will need (every bucket, or the fixed shape of a model that does
  // not batch) so that the first requests do not pay for it. Inputs with variable dims are
  // compiled on first use instead.
  absl::Status CompilePlans();

  // Runs a config warm-up `request.count` times on every instance's session, padded to its
  // bucket as a batch of that size would be. Not counted in statistics. Call before the
  // scheduler starts (it holds every session for the whole run).
  absl::Status RunWarmup(const WarmupRequest& request);

  // The BatchScheduler's callbacks.
  void ProcessBatch(std::unique_ptr<batching::Batch<InferTask>> batch);
  void DropTask(std::unique_ptr<InferTask> task, const absl::Status& status);

  // Answers a task the scheduler refused (queue full, shutting down) with `status`.
  void Reject(std::unique_ptr<InferTask> task, const absl::Status& status);
  // Counts a request that failed to decode (INVALID_ARGUMENT), received at `received`.
  void RecordInvalid(absl::Time received, const absl::Status& status);

 private:
  explicit BatchExecutor(Options options);

  struct Queued {
    std::unique_ptr<InferTask> task;
    absl::Duration queue_time;
  };

  // Runs the tasks as one engine run and answers them.
  void RunGroup(std::vector<Queued> group);
  // The batch-dimension size the group runs at.
  int64_t BucketFor(int64_t samples) const;
  // Records and sends one answer; `correct_samples` of its labelled samples were predicted right.
  void Answer(InferTask& task, const absl::Status& status, absl::Duration queue_time,
              const ComputeTimes& times, bool was_queued, int64_t correct_samples);
  // Hands the sampled successful tasks of an answered group to the shadow runner.
  // `first_rows[i]`: where task i's rows start in `outputs`.
  void OfferShadows(std::vector<Queued>& group, const std::vector<absl::Status>& results,
                    const std::vector<int64_t>& first_rows, const std::vector<Tensor>& outputs);

  std::unique_ptr<Session> AcquireSession();
  void ReleaseSession(std::unique_ptr<Session> session);

  // Constant after construction.
  const Options options_;

  // Which successful requests are shadowed (thread-safe).
  ShadowSampler shadow_sampler_;

  absl::Mutex mu_;
  // Sessions not in use; a batch thread takes one per run. There are as many as batch threads.
  std::vector<std::unique_ptr<Session>> free_sessions_ ABSL_GUARDED_BY(mu_);
};

// How a status counts in metrics.
RequestOutcome OutcomeOf(const absl::Status& status);

}  // namespace octet::server

#endif  // OCTET_SERVER_INFERENCE_BATCH_EXECUTOR_H_
