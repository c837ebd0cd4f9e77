// RecordingMetricsSink: a MetricsSink for tests that keeps every event it receives, so a test
// can assert exactly what a module reported (requests, batches, calibrations, shadow
// comparisons and drops). Not for production: it grows without bound.
//
//   RecordingMetricsSink sink;
//   options.metrics = &sink;
//   ...
//   EXPECT_EQ(sink.Shadows().size(), 3u);
//
// Thread-safe: events may arrive from any thread; the accessors return copies.
#ifndef OCTET_SERVER_METRICS_RECORDING_METRICS_SINK_H_
#define OCTET_SERVER_METRICS_RECORDING_METRICS_SINK_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/metrics/metrics_sink.h"

namespace octet::server {

class RecordingMetricsSink final : public MetricsSink {
 public:
  void RecordRequest(const RequestEvent& event) override {
    absl::MutexLock lock(&mu_);
    requests_.push_back(event);
  }
  void RecordBatch(const BatchEvent& event) override {
    absl::MutexLock lock(&mu_);
    batches_.push_back(event);
  }
  void SetPendingRequests(const ModelKey&, int64_t) override {}
  void SetModelReady(const ModelKey&, bool) override {}
  void RecordModelLoad(const ModelKey&, absl::Duration) override {}
  void RecordCalibration(const CalibrationEvent& event) override {
    absl::MutexLock lock(&mu_);
    calibrations_.push_back(event);
  }
  void RecordShadow(const ShadowEvent& event) override {
    absl::MutexLock lock(&mu_);
    shadows_.push_back(event);
  }
  void RecordShadowDropped(const ModelKey& key) override {
    absl::MutexLock lock(&mu_);
    shadow_drops_.push_back(key);
  }
  void ForgetModel(const ModelKey&) override {}

  std::vector<RequestEvent> Requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  std::vector<BatchEvent> Batches() const {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  std::vector<CalibrationEvent> Calibrations() const {
    absl::MutexLock lock(&mu_);
    return calibrations_;
  }
  std::vector<ShadowEvent> Shadows() const {
    absl::MutexLock lock(&mu_);
    return shadows_;
  }
  std::vector<ModelKey> ShadowDrops() const {
    absl::MutexLock lock(&mu_);
    return shadow_drops_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<RequestEvent> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<BatchEvent> batches_ ABSL_GUARDED_BY(mu_);
  std::vector<CalibrationEvent> calibrations_ ABSL_GUARDED_BY(mu_);
  std::vector<ShadowEvent> shadows_ ABSL_GUARDED_BY(mu_);
  std::vector<ModelKey> shadow_drops_ ABSL_GUARDED_BY(mu_);
};

}  // namespace octet::server

#endif  // OCTET_SERVER_METRICS_RECORDING_METRICS_SINK_H_
