// Servable: one loaded model version, ready to serve. It holds the engine Model (FP32, or INT8 /
// mixed when the version directory holds a calibration table), the completed config, the
// request signature, a BatchScheduler<InferTask> with one batch thread per instance, the
// BatchExecutor those threads run (one engine Session each) and the version's statistics.
//
//   OCTET_ASSIGN_OR_RETURN(std::shared_ptr<Servable> servable, Servable::Load(options));
//   std::unique_ptr<InferTask> task = ...;
//   if (absl::Status s = servable->Schedule(&task); !s.ok()) servable->Reject(std::move(task), s);
//   ...
//   servable->Shutdown();  // refuses new tasks, answers every queued one, joins the threads
//
// INT8 and mixed versions: `calibration.table` (engine/calibration/calibration_table.h) must
// have been made for the exact bytes of `model.onnx` (its digest is checked); the optional
// `calibration_report.pbtxt` (octet.v1.CalibrationReport, text format) gives the per-node plan
// in its `plan` map ("int8" / "fp32"; nodes it does not list run in FP32). Without a report
// every node that can run in INT8 does. The precision is "int8" when every eligible node runs in
// INT8 and "mixed" otherwise. A config asking for PRECISION_INT8 or PRECISION_MIXED for a
// version without a table is an error (FAILED_PRECONDITION: calibrate it first).
//
// Ownership: shared (the repository and in-flight requests hold it); the MetricsSink and clock
// in the options are borrowed and must outlive it. Thread-safe. Shutdown() blocks until the
// queue is drained: call it from a thread that may wait (never a gRPC reaction); the destructor
// calls it too, so drop the last reference on such a thread as well, or shut down first.
#ifndef OCTET_SERVER_REPOSITORY_SERVABLE_H_
#define OCTET_SERVER_REPOSITORY_SERVABLE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/model.h"
#include "inference.pb.h"
#include "octet/v1/model_config.pb.h"
#include "server/batching/batch_scheduler.h"
#include "server/batching/clock.h"
#include "server/config/model_config.h"
#include "server/inference/batch_executor.h"
#include "server/inference/infer_task.h"
#include "server/inference/model_version_stats.h"
#include "server/inference/tensor_codec.h"
#include "server/metrics/metrics_sink.h"
#include "server/shadow/shadow_runner.h"

namespace octet::server {

struct ServableOptions {
  std::string model_name;
  int64_t version = 0;
  // Holds model.onnx and the optional calibration files.
  std::string version_dir;
  // The model's config, validated (ValidateModelConfig) but not yet completed.
  v1::ModelConfig config;
  std::string config_path;  // for error messages
  ConfigDefaults defaults;
  MetricsSink* metrics = nullptr;                    // not owned; never null
  batching::Clock* clock = batching::Clock::Real();  // not owned; never null
  // INT8 and mixed versions hand config.shadow_fraction of their successful answers to it
  // (batch_executor.h). Not owned; null: no shadowing.
  ShadowRunner* shadow = nullptr;
};

class Servable {
 public:
  // Loads, quantizes if calibrated, compiles the plans for the batch buckets and starts the
  // batch threads. Errors name the version directory and say what is wrong.
  static absl::StatusOr<std::shared_ptr<Servable>> Load(const ServableOptions& options);

  ~Servable();
  Servable(const Servable&) = delete;
  Servable& operator=(const Servable&) = delete;

  const std::string& name() const { return key_.model; }
  int64_t version() const { return version_; }
  // "fp32", "int8" or "mixed".
  const std::string& precision() const { return key_.precision; }
  const ModelKey& key() const { return key_; }
  // The completed config (every default filled in).
  const v1::ModelConfig& config() const { return config_; }
  const ModelSignature& signature() const { return signature_; }
  // The engine model it runs (shared: it may outlive the Servable).
  const std::shared_ptr<const Model>& model() const { return model_; }

  // When a request received at `received` with the client's deadline `client_deadline`
  // (absl::InfiniteFuture() for none) stops being worth running: the earlier of that and the
  // config's default queue timeout.
  absl::Time Deadline(absl::Time received, absl::Time client_deadline) const;

  // Queues the task; never blocks. On error the task stays with the caller: RESOURCE_EXHAUSTED
  // when the queue is full, UNAVAILABLE once Shutdown() has begun, INVALID_ARGUMENT for a task
  // the batcher cannot take.
  absl::Status Schedule(std::unique_ptr<InferTask>* task);
  // Answers a task that Schedule() refused, counting it.
  void Reject(std::unique_ptr<InferTask> task, const absl::Status& status);
  // Counts a request for this version that failed to decode.
  void RecordInvalid(absl::Time received, const absl::Status& status);

  // Refuses new tasks, answers every queued one (running it), joins the batch threads and
  // reports the version as not ready. Idempotent; blocks until done.
  void Shutdown();

  int64_t pending() const { return stats_->pending(); }
  // The ModelStatistics entry of this version, with its memory usage.
  inference::ModelStatistics Statistics() const;

  // The layout's fingerprint of the files this was loaded from (repository_layout.h).
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  Servable() = default;

  // Constant after Load().
  ModelKey key_;
  int64_t version_ = 0;
  v1::ModelConfig config_;
  ModelSignature signature_;
  std::shared_ptr<const Model> model_;
  std::string fingerprint_;
  MetricsSink* metrics_ = nullptr;
  absl::Duration default_timeout_ = absl::ZeroDuration();
  std::unique_ptr<ModelVersionStats> stats_;
  std::unique_ptr<BatchExecutor> executor_;
  // Last: destroyed (shut down) first, while the executor it calls back is still alive.
  std::unique_ptr<batching::BatchScheduler<InferTask>> scheduler_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_REPOSITORY_SERVABLE_H_
