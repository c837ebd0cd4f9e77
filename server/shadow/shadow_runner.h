// ShadowRunner: runs a sampled share of the requests that INT8 or mixed model versions answered
// again on the model's FP32 version, off the hot path, and reports how the two answers compare
// (MetricsSink::RecordShadow: top-1 agreement and the relative L2 error of the output).
//
// A batch thread, after it has answered its requests, offers each sampled one as a ShadowJob
// (the request's inputs and the version's answer, moved or copied: the cost is one allocation
// and a copy of the output rows). Submit() never blocks: a job that finds the bounded queue full
// is dropped and counted (MetricsSink::RecordShadowDropped), so shadow work can never delay a
// client. One worker thread, at the lowest CPU priority (nice 19), takes the jobs in order and
// runs each on the FP32 model that `reference` names for the job's model, with a Session of its
// own (an OpenMP team of `threads`, 1 by default); it records one ShadowEvent per sample.
//
//   ShadowRunner::Options options;
//   options.reference = [&repository](const std::string& model) { ...highest FP32 version... };
//   options.metrics = metrics;
//   OCTET_ASSIGN_OR_RETURN(std::unique_ptr<ShadowRunner> shadow, ShadowRunner::Create(options));
//   ShadowSampler sampler(config.shadow_fraction());
//   if (sampler.Sample()) shadow->Submit(std::move(job));   // on the batch thread
//   ...
//   shadow->Shutdown();  // after the last Submit(); queued jobs are discarded
//
// A job whose model has no FP32 reference (none serving) or whose reference run fails is
// skipped and counted in skipped(), not in the metrics: it is neither an agreement nor a drop.
//
// Ownership: the MetricsSink is borrowed and must outlive the runner; the FP32 models that
// `reference` returns are shared, so unloading a version never pulls a model from under a run.
// Thread-safety: Submit(), Shutdown(), WaitUntilIdle() and the counters may be called from any
// thread; `reference` is called on the worker thread only.
#ifndef OCTET_SERVER_SHADOW_SHADOW_RUNNER_H_
#define OCTET_SERVER_SHADOW_SHADOW_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/model.h"
#include "engine/session.h"
#include "engine/tensor.h"
#include "server/metrics/metrics_sink.h"

namespace octet::server {

// One answered request to compare with FP32.
struct ShadowJob {
  ModelKey key;  // the INT8 or mixed version that answered (ShadowEvents are keyed by it)
  // The request's inputs in the order of the model's inputs, with their full shapes.
  std::vector<Tensor> inputs;
  // Which of the model's outputs `output` is (its position in Model::outputs()).
  int output_index = 0;
  // The version's answer: that output, [samples, ...] rows for batching models (the whole
  // output otherwise).
  Tensor output;
  // Whether the first dimension of inputs and output is the batch (one comparison per row);
  // false: one comparison of the whole output.
  bool batching = true;
};

// Picks which requests of one version are shadowed: deterministic, exactly
// floor(n * fraction) of the first n calls to Sample() say yes (evenly spread: every k-th for
// fraction 1/k). Thread-safe and lock-free.
class ShadowSampler {
 public:
  // `fraction` is clamped to [0, 1].
  explicit ShadowSampler(double fraction);
  bool Sample();
  double fraction() const { return fraction_; }

 private:
  const double fraction_;
  std::atomic<uint64_t> count_{0};
};

class ShadowRunner {
 public:
  // The FP32 model to compare answers of `model` (a model name) with.
  using ReferenceFinder =
      std::function<absl::StatusOr<std::shared_ptr<const Model>>(const std::string& model)>;

  struct Options {
    ReferenceFinder reference;       // required
    MetricsSink* metrics = nullptr;  // not owned; required
    // Jobs that may wait; past it Submit() drops. Must be >= 1.
    int queue_capacity = 64;
    // OpenMP team of a reference run. Must be >= 1.
    int threads = 1;
    // Run the worker at the lowest CPU priority (nice 19).
    bool low_priority = true;
  };

  static absl::StatusOr<std::unique_ptr<ShadowRunner>> Create(Options options);

  // Shutdown().
  ~ShadowRunner();
  ShadowRunner(const ShadowRunner&) = delete;
  ShadowRunner& operator=(const ShadowRunner&) = delete;

  // Queues the job; never blocks. False (the job is dropped and RecordShadowDropped(job.key)
  // counted) when the queue is full or the runner has shut down.
  bool Submit(ShadowJob job);

  // Stops the worker after the job it is running; queued jobs are discarded. Idempotent.
  void Shutdown();

  // Blocks until the queue is empty and the worker idle (or shut down). For tests and drains.
  void WaitUntilIdle();

  // Jobs compared, and jobs skipped (no FP32 reference, or its run failed).
  int64_t compared() const { return compared_.load(std::memory_order_relaxed); }
  int64_t skipped() const { return skipped_.load(std::memory_order_relaxed); }

  // Implementation details follow.
 private:
  explicit ShadowRunner(Options options);

  void Work();
  // Await() conditions. REQUIRES: mu_ is held.
  bool IdleOrShutDown() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasWorkOrShutDown() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs one job on its FP32 reference and records the comparisons. Worker thread only.
  absl::Status Compare(const ShadowJob& job);

  // Constant after construction.
  const Options options_;

  std::atomic<int64_t> compared_{0};
  std::atomic<int64_t> skipped_{0};

  // Worker thread only: one Session per model, for the reference model it was made for.
  struct ReferenceSession {
    std::shared_ptr<const Model> model;
    std::unique_ptr<Session> session;
  };
  std::map<std::string, ReferenceSession> sessions_;

  // State below is protected by mu_.
  mutable absl::Mutex mu_;
  std::deque<ShadowJob> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;

  // Last: started once everything above exists.
  std::thread worker_;
};

// The comparison of one sample: ||int8 - fp32|| / ||fp32|| over `n` values (0 when both are
// zero) and whether their largest elements sit at the same index.
struct ShadowComparison {
  bool agree = false;
  double relative_error = 0;
};
ShadowComparison CompareOutputs(const float* int8, const float* fp32, int64_t n);

}  // namespace octet::server

#endif  // OCTET_SERVER_SHADOW_SHADOW_RUNNER_H_
