// What the server reports about its work, as events. The server's modules call a MetricsSink
// given to them in their Options (never a global), so tests can pass a fake and measure exactly
// what was recorded; the Prometheus implementation (prometheus_metrics.h) turns the events
// into metric families, and NoopMetricsSink discards them.
//
// Every method may be called from any thread at any time and must not block: the
// implementation is thread-safe and cheap (it runs on gRPC and batch threads).
#ifndef OCTET_SERVER_METRICS_METRICS_SINK_H_
#define OCTET_SERVER_METRICS_METRICS_SINK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace octet::server {

// How an inference request ended, as counted by octet_inference_requests_total{outcome}.
enum class RequestOutcome {
  kSuccess,
  kInvalid,    // INVALID_ARGUMENT / NOT_FOUND: the request was wrong
  kRejected,   // RESOURCE_EXHAUSTED (queue full) or UNAVAILABLE (shutting down, not ready)
  kTimeout,    // its deadline passed before it ran
  kCancelled,  // the client went away before it ran
  kError,      // the server failed
};

const char* RequestOutcomeName(RequestOutcome outcome);

// Identifies a model version in every event. precision: "fp32", "int8" or "mixed".
struct ModelKey {
  std::string model;
  std::string version;
  std::string precision;
};

struct RequestEvent {
  ModelKey key;
  RequestOutcome outcome = RequestOutcome::kSuccess;
  absl::Duration total;    // received -> response sent
  absl::Duration queue;    // scheduled -> its batch started (zero when not queued)
  absl::Duration compute;  // its batch's engine time (zero when not run)
  int64_t samples = 0;     // the request's batch dimension
  // Of the request's samples, how many carried a ground-truth class (request parameter "label":
  // all of them or none) and how many of those the top-1 prediction matched.
  int64_t labelled_samples = 0;
  int64_t correct_samples = 0;
};

struct BatchEvent {
  ModelKey key;
  int64_t samples = 0;  // batch size in samples
  int64_t requests = 0;
  absl::Duration compute;
};

// The summary of one calibration, published with the version it created.
struct CalibrationEvent {
  ModelKey key;
  double fp32_accuracy = 0;   // percent
  double accuracy = 0;        // percent, of the published precision
  double top1_agreement = 0;  // percent
  struct Layer {
    std::string name;
    double sqnr_db = 0;
  };
  std::vector<Layer> layers;
};

// One INT8 result compared with the FP32 version on the same input, off the hot path.
struct ShadowEvent {
  ModelKey key;  // the INT8 version
  bool agree = false;
  double relative_error = 0;  // ||int8 - fp32|| / ||fp32|| of the output
};

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;

  virtual void RecordRequest(const RequestEvent& event) = 0;
  virtual void RecordBatch(const BatchEvent& event) = 0;
  // Requests accepted and not yet answered, per model version.
  virtual void SetPendingRequests(const ModelKey& key, int64_t pending) = 0;
  // The most requests that may wait for the version (its batcher's max_queue_size), so that
  // "queue near full" can be alerted on as pending / capacity. Set once when the version's
  // scheduler is created; a default so that sinks which do not need it need not implement it.
  virtual void SetQueueCapacity(const ModelKey& /*key*/, int64_t /*capacity*/) {}
  virtual void SetModelReady(const ModelKey& key, bool ready) = 0;
  virtual void RecordModelLoad(const ModelKey& key, absl::Duration duration) = 0;
  virtual void RecordCalibration(const CalibrationEvent& event) = 0;
  virtual void RecordShadow(const ShadowEvent& event) = 0;
  // A shadow comparison skipped because its queue was full.
  virtual void RecordShadowDropped(const ModelKey& key) = 0;
  // The version is gone: its series may be removed.
  virtual void ForgetModel(const ModelKey& key) = 0;
};

// Discards everything.
class NoopMetricsSink final : public MetricsSink {
 public:
  void RecordRequest(const RequestEvent&) override {}
  void RecordBatch(const BatchEvent&) override {}
  void SetPendingRequests(const ModelKey&, int64_t) override {}
  void SetModelReady(const ModelKey&, bool) override {}
  void RecordModelLoad(const ModelKey&, absl::Duration) override {}
  void RecordCalibration(const CalibrationEvent&) override {}
  void RecordShadow(const ShadowEvent&) override {}
  void RecordShadowDropped(const ModelKey&) override {}
  void ForgetModel(const ModelKey&) override {}
};

}  // namespace octet::server

#endif  // OCTET_SERVER_METRICS_METRICS_SINK_H_
