// PrometheusMetrics: the MetricsSink that turns the server's events into Prometheus metric
// families, held in a prometheus::Registry that a MetricsExposer (metrics_exposer.h) serves.
//
//   auto metrics = std::make_shared<PrometheusMetrics>();
//   server_options.metrics = metrics.get();
//   OCTET_ASSIGN_OR_RETURN(std::unique_ptr<MetricsExposer> exposer,
//                          MetricsExposer::Create(exposer_options, metrics->registry()));
//
// The families, each labelled {model, version} plus the labels shown (DESIGN.md, "Metrics"):
//
//   octet_inference_requests_total{outcome}        counter  every request, by RequestOutcome
//   octet_inference_samples_total{precision}       counter  samples of successful requests
//   octet_inference_batches_total{precision}       counter  batches run
//   octet_request_duration_seconds                 histogram  successful requests, end to end
//   octet_queue_duration_seconds                   histogram  successful requests, in the queue
//   octet_compute_duration_seconds                 histogram  successful requests, the engine
//                                                             time of the batch each ran in
//   octet_batch_size                               histogram  samples per batch
//   octet_pending_requests                         gauge    accepted and not yet answered
//   octet_queue_capacity                           gauge    most requests that may wait
//   octet_model_ready{precision}                   gauge    1 when the version serves
//   octet_model_load_duration_seconds              gauge    its last load
//   octet_calibration_accuracy{precision}          gauge    ratio (0 to 1), of the last
//                                                           calibration: the FP32 model's
//                                                           (precision="fp32") and the
//                                                           version's own precision's
//   octet_calibration_top1_agreement               gauge    ratio, same calibration
//   octet_layer_quantization_sqnr_db{layer}        gauge    same calibration, per layer
//   octet_labelled_requests_total{precision,result}  counter  result: correct | wrong; counts
//                                                  labelled samples (one per sample of a batch)
//   octet_shadow_comparisons_total{result}         counter  result: agree | disagree
//   octet_shadow_relative_error                    histogram  ||int8 - fp32|| / ||fp32||
//   octet_shadow_dropped_total                     counter  shadow runs skipped, queue full
//
// Latency histograms count successful requests only (failures are counted, by outcome, in
// octet_inference_requests_total): a fast rejection would otherwise pull p99 down exactly when
// the server is overloaded. Durations are in seconds with buckets from 50 us to 10 s; percents
// in the events are exported as ratios (Prometheus' base unit).
//
// Series of a version appear on its first event, all at once (zero-valued counters included,
// so rate() sees them from the start); calibration, load, capacity and shadow series appear
// with their first event. ForgetModel() removes every series of the version; an event that
// arrives for it later creates them again.
//
// Cardinality: every distinct (model, version, precision) creates series. The server must key
// events by versions it has loaded (a request for an unknown model is counted under an empty
// ModelKey), never by names taken unchecked from requests.
//
// Thread-safety: every method may be called from any thread. The hot methods (RecordRequest,
// RecordBatch, SetPendingRequests, RecordShadow, RecordShadowDropped) take a shared lock to
// find the version's cached children and update them with prometheus-cpp's atomic counters
// and per-histogram mutexes; only the first event of a version and the rare events
// (calibration, load, ready, capacity, forget) take the lock exclusively. Nothing blocks on
// I/O: a scrape reads the registry under prometheus-cpp's own per-family locks.
#ifndef OCTET_SERVER_METRICS_PROMETHEUS_METRICS_H_
#define OCTET_SERVER_METRICS_PROMETHEUS_METRICS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/metrics/metrics_sink.h"

namespace octet::server {

class PrometheusMetrics final : public MetricsSink {
 public:
  // Upper bounds of the duration histograms' buckets, in seconds: 50 us to 10 s, 1-2.5-5 steps.
  static const std::vector<double>& DurationBuckets();
  // Of octet_batch_size: powers of two, 1 to 1024 samples.
  static const std::vector<double>& BatchSizeBuckets();
  // Of octet_shadow_relative_error: 0.001 to 1.
  static const std::vector<double>& RelativeErrorBuckets();

  PrometheusMetrics();
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  // The registry holding every family above; hand it to MetricsExposer::Create(). Shared so that
  // an exposer may outlive this object without dangling (its series then stop changing).
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  void RecordRequest(const RequestEvent& event) override;
  void RecordBatch(const BatchEvent& event) override;
  void SetPendingRequests(const ModelKey& key, int64_t pending) override;
  void SetQueueCapacity(const ModelKey& key, int64_t capacity) override;
  void SetModelReady(const ModelKey& key, bool ready) override;
  void RecordModelLoad(const ModelKey& key, absl::Duration duration) override;
  void RecordCalibration(const CalibrationEvent& event) override;
  void RecordShadow(const ShadowEvent& event) override;
  void RecordShadowDropped(const ModelKey& key) override;
  void ForgetModel(const ModelKey& key) override;

  // Implementation details follow.
 private:
  static constexpr int kNumOutcomes = static_cast<int>(RequestOutcome::kError) + 1;

  // The families, created once in the constructor; owned by registry_.
  struct Families {
    prometheus::Family<prometheus::Counter>& requests;
    prometheus::Family<prometheus::Counter>& samples;
    prometheus::Family<prometheus::Counter>& batches;
    prometheus::Family<prometheus::Histogram>& request_duration;
    prometheus::Family<prometheus::Histogram>& queue_duration;
    prometheus::Family<prometheus::Histogram>& compute_duration;
    prometheus::Family<prometheus::Histogram>& batch_size;
    prometheus::Family<prometheus::Gauge>& pending;
    prometheus::Family<prometheus::Gauge>& queue_capacity;
    prometheus::Family<prometheus::Gauge>& ready;
    prometheus::Family<prometheus::Gauge>& load_duration;
    prometheus::Family<prometheus::Gauge>& calibration_accuracy;
    prometheus::Family<prometheus::Gauge>& calibration_top1_agreement;
    prometheus::Family<prometheus::Gauge>& layer_sqnr;
    prometheus::Family<prometheus::Counter>& labelled;
    prometheus::Family<prometheus::Counter>& shadow_comparisons;
    prometheus::Family<prometheus::Histogram>& shadow_relative_error;
    prometheus::Family<prometheus::Counter>& shadow_dropped;
  };

  // The children of one (model, version, precision). Pointers are owned by the families and stay
  // valid until ForgetModel() removes them, which only happens under mu_ held exclusively.
  struct PrecisionSeries {
    prometheus::Counter* samples = nullptr;
    prometheus::Counter* batches = nullptr;
    prometheus::Gauge* ready = nullptr;
    prometheus::Counter* labelled_correct = nullptr;
    prometheus::Counter* labelled_wrong = nullptr;
  };
  struct ShadowSeries {
    prometheus::Counter* agree = nullptr;
    prometheus::Counter* disagree = nullptr;
    prometheus::Histogram* relative_error = nullptr;
    prometheus::Counter* dropped = nullptr;
  };
  // The children of one (model, version). Null members are created by their first event.
  struct VersionSeries {
    std::array<prometheus::Counter*, kNumOutcomes> requests{};
    prometheus::Histogram* request_duration = nullptr;
    prometheus::Histogram* queue_duration = nullptr;
    prometheus::Histogram* compute_duration = nullptr;
    prometheus::Histogram* batch_size = nullptr;
    prometheus::Gauge* pending = nullptr;
    prometheus::Gauge* queue_capacity = nullptr;
    prometheus::Gauge* load_duration = nullptr;
    prometheus::Gauge* calibration_top1_agreement = nullptr;
    std::unique_ptr<ShadowSeries> shadow;
    absl::flat_hash_map<std::string, PrecisionSeries> precisions;
    absl::flat_hash_map<std::string, prometheus::Gauge*> calibration_accuracy;  // by precision
    absl::flat_hash_map<std::string, prometheus::Gauge*> layer_sqnr;            // by layer
  };
  struct SeriesRef {
    VersionSeries* version = nullptr;
    PrecisionSeries* precision = nullptr;
  };

  // (model, version), looked up without copying the event's strings.
  using VersionName = std::pair<std::string, std::string>;
  struct VersionNameHash {
    using is_transparent = void;
    size_t operator()(const std::pair<absl::string_view, absl::string_view>& name) const;
    size_t operator()(const VersionName& name) const;
  };
  struct VersionNameEq {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return absl::string_view(a.first) == b.first && absl::string_view(a.second) == b.second;
    }
  };

  // Runs fn(SeriesRef) on the key's series: under a shared lock when they exist (and, with
  // needs_shadow, so do its shadow series), else under the exclusive lock after creating them.
  template <typename Fn>
  void WithSeries(const ModelKey& key, bool needs_shadow, Fn&& fn);

  SeriesRef FindLocked(const ModelKey& key) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  SeriesRef GetOrCreateLocked(const ModelKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CreateShadowLocked(const ModelKey& key, VersionSeries& version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(VersionSeries& version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::shared_ptr<prometheus::Registry> registry_;
  const Families families_;

  // Which children exist, so that events find them without building label maps and
  // ForgetModel() knows what to remove. The lock also keeps children alive while they are used.
  mutable absl::Mutex mu_;
  absl::flat_hash_map<VersionName, std::unique_ptr<VersionSeries>, VersionNameHash, VersionNameEq>
      versions_ ABSL_GUARDED_BY(mu_);
};

// The Prometheus text exposition (format 0.0.4) of what `collectable` holds now: what a scrape of
// it would return. For tests, tools and debugging.
std::string ToTextExposition(const prometheus::Collectable& collectable);

}  // namespace octet::server

#endif  // OCTET_SERVER_METRICS_PROMETHEUS_METRICS_H_
