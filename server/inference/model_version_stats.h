// ModelVersionStats: what one served model version has done, kept in two forms at once: the
// cumulative Triton statistics that the ModelStatistics RPC returns (InferStatistics, batch
// statistics, inference and execution counts), and events passed on to the MetricsSink (request
// outcome and durations, batches, pending requests).
//
//   stats.RequestQueued();                          // pending + 1
//   ... the batch runs ...
//   stats.BatchExecuted(samples, requests, times);
//   stats.RequestEnded(event, times, /*was_queued=*/true);  // pending - 1
//
// Ownership: the MetricsSink is borrowed and must outlive this object.
// Thread-safe: called from gRPC threads and batch threads at once; never blocks for long.
#ifndef OCTET_SERVER_INFERENCE_MODEL_VERSION_STATS_H_
#define OCTET_SERVER_INFERENCE_MODEL_VERSION_STATS_H_

#include <atomic>
#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "inference.pb.h"
#include "server/metrics/metrics_sink.h"

namespace octet::server {

// Where a request's (or a batch's) compute time went.
struct ComputeTimes {
  absl::Duration input;   // gathering the batch tensor
  absl::Duration infer;   // Session::Run
  absl::Duration output;  // scattering outputs into responses
};

class ModelVersionStats {
 public:
  ModelVersionStats(ModelKey key, MetricsSink* metrics);

  ModelVersionStats(const ModelVersionStats&) = delete;
  ModelVersionStats& operator=(const ModelVersionStats&) = delete;

  const ModelKey& key() const { return key_; }

  // A request entered the queue.
  void RequestQueued();
  // A request counted by RequestQueued() did not enter the queue after all (it stays with the
  // caller, who may try elsewhere or answer it through RequestEnded(..., was_queued=false)).
  void RequestUnqueued();
  // A request was answered. `was_queued`: it had been counted by RequestQueued(). `times` count
  // only for successful requests.
  void RequestEnded(const RequestEvent& event, const ComputeTimes& times, bool was_queued);
  // One run of the model on `samples` samples from `requests` requests.
  void BatchExecuted(int64_t samples, int64_t requests, const ComputeTimes& times);

  // Requests queued and not yet answered.
  int64_t pending() const { return pending_.load(std::memory_order_relaxed); }

  // Statistics so far; name and version from the key.
  inference::ModelStatistics Snapshot() const;

 private:
  struct Duration {
    uint64_t count = 0;
    uint64_t ns = 0;
    void Add(absl::Duration d);
  };
  struct BatchDurations {
    Duration input, infer, output;
  };

  // Constant after construction.
  const ModelKey key_;
  MetricsSink* const metrics_;

  std::atomic<int64_t> pending_{0};

  // State below is protected by mu_.
  mutable absl::Mutex mu_;
  Duration success_ ABSL_GUARDED_BY(mu_);
  Duration fail_ ABSL_GUARDED_BY(mu_);
  Duration queue_ ABSL_GUARDED_BY(mu_);
  Duration compute_input_ ABSL_GUARDED_BY(mu_);
  Duration compute_infer_ ABSL_GUARDED_BY(mu_);
  Duration compute_output_ ABSL_GUARDED_BY(mu_);
  uint64_t inference_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t execution_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_inference_ms_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, BatchDurations> batches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace octet::server

#endif  // OCTET_SERVER_INFERENCE_MODEL_VERSION_STATS_H_
