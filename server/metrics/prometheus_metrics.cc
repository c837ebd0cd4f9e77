#include "server/metrics/prometheus_metrics.h"

#include <algorithm>
#include <sstream>

#include "absl/hash/hash.h"
#include "prometheus/text_serializer.h"

namespace octet::server {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;

constexpr double kPercent = 100.0;

double Seconds(absl::Duration duration) { return std::max(0.0, absl::ToDoubleSeconds(duration)); }

Labels VersionLabels(const ModelKey& key) {
  return {{"model", key.model}, {"version", key.version}};
}

Labels With(Labels labels, const char* name, absl::string_view value) {
  labels.emplace(name, std::string(value));
  return labels;
}

// The counter of `outcome`; one outside the enum (a bad cast upstream) counts as an error.
template <size_t N>
Counter* OutcomeCounter(const std::array<Counter*, N>& counters, RequestOutcome outcome) {
  const auto index = static_cast<size_t>(outcome);
  return counters[index < N ? index : static_cast<size_t>(RequestOutcome::kError)];
}

template <typename T>
void RemoveIfSet(Family<T>& family, T* child) {
  if (child != nullptr) family.Remove(child);
}

}  // namespace

const std::vector<double>& PrometheusMetrics::DurationBuckets() {
  static const auto* const kBuckets =
      new std::vector<double>{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
                              50e-3, 100e-3, 250e-3, 500e-3, 1.0,  2.5,    5.0,  10.0};
  return *kBuckets;
}

const std::vector<double>& PrometheusMetrics::BatchSizeBuckets() {
  static const auto* const kBuckets =
      new std::vector<double>{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  return *kBuckets;
}

const std::vector<double>& PrometheusMetrics::RelativeErrorBuckets() {
  static const auto* const kBuckets =
      new std::vector<double>{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
  return *kBuckets;
}

size_t PrometheusMetrics::VersionNameHash::operator()(
    const std::pair<absl::string_view, absl::string_view>& name) const {
  return absl::Hash<std::pair<absl::string_view, absl::string_view>>()(name);
}

size_t PrometheusMetrics::VersionNameHash::operator()(const VersionName& name) const {
  return (*this)(std::pair<absl::string_view, absl::string_view>(name.first, name.second));
}

namespace {

template <typename T>
Family<T>& Build(prometheus::detail::Builder<T> builder, const char* name, const char* help,
                 prometheus::Registry& registry) {
  return builder.Name(name).Help(help).Register(registry);
}

}  // namespace

PrometheusMetrics::PrometheusMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_{
          Build(prometheus::BuildCounter(), "octet_inference_requests_total",
                "Inference requests answered, by outcome.", *registry_),
          Build(prometheus::BuildCounter(), "octet_inference_samples_total",
                "Samples (batch rows) of successful inference requests.", *registry_),
          Build(prometheus::BuildCounter(), "octet_inference_batches_total",
                "Batches run by the engine.", *registry_),
          Build(prometheus::BuildHistogram(), "octet_request_duration_seconds",
                "Time from receiving a successful request to sending its response.", *registry_),
          Build(prometheus::BuildHistogram(), "octet_queue_duration_seconds",
                "Time a successful request waited in the batcher's queue.", *registry_),
          Build(prometheus::BuildHistogram(), "octet_compute_duration_seconds",
                "Engine time of the batch each successful request ran in.", *registry_),
          Build(prometheus::BuildHistogram(), "octet_batch_size",
                "Samples per batch run by the engine.", *registry_),
          Build(prometheus::BuildGauge(), "octet_pending_requests",
                "Requests accepted and not yet answered.", *registry_),
          Build(prometheus::BuildGauge(), "octet_queue_capacity",
                "The most requests that may wait in the version's queue.", *registry_),
          Build(prometheus::BuildGauge(), "octet_model_ready",
                "1 when the model version serves requests, else 0.", *registry_),
          Build(prometheus::BuildGauge(), "octet_model_load_duration_seconds",
                "How long the version's last load took.", *registry_),
          Build(prometheus::BuildGauge(), "octet_calibration_accuracy",
                "Top-1 accuracy (ratio) on the calibration set, from the version's last "
                "calibration: of the FP32 model (precision=\"fp32\") and of the version.",
                *registry_),
          Build(prometheus::BuildGauge(), "octet_calibration_top1_agreement",
                "Share of calibration inputs whose top-1 class matches the FP32 model's, from "
                "the version's last calibration.",
                *registry_),
          Build(prometheus::BuildGauge(), "octet_layer_quantization_sqnr_db",
                "Signal-to-quantization-noise ratio of a layer's output in decibels, from the "
                "version's last calibration.",
                *registry_),
          Build(prometheus::BuildCounter(), "octet_labelled_requests_total",
                "Samples of successful requests that carried their ground-truth label, by "
                "whether the top-1 prediction matched it (a request of one sample counts one).",
                *registry_),
          Build(prometheus::BuildCounter(), "octet_shadow_comparisons_total",
                "Requests also run on the model's FP32 version, by whether the top-1 classes "
                "agree.",
                *registry_),
          Build(prometheus::BuildHistogram(), "octet_shadow_relative_error",
                "Relative L2 error of the version's output against the FP32 version's.",
                *registry_),
          Build(prometheus::BuildCounter(), "octet_shadow_dropped_total",
                "Shadow comparisons skipped because the shadow queue was full.", *registry_),
      } {}

PrometheusMetrics::~PrometheusMetrics() = default;

PrometheusMetrics::SeriesRef PrometheusMetrics::FindLocked(const ModelKey& key) const {
  auto version =
      versions_.find(std::pair<absl::string_view, absl::string_view>(key.model, key.version));
  if (version == versions_.end()) return {};
  auto precision = version->second->precisions.find(key.precision);
  if (precision == version->second->precisions.end()) return {};
  return {version->second.get(), &precision->second};
}

PrometheusMetrics::SeriesRef PrometheusMetrics::GetOrCreateLocked(const ModelKey& key) {
  const Labels labels = VersionLabels(key);
  std::unique_ptr<VersionSeries>& version = versions_[VersionName(key.model, key.version)];
  if (version == nullptr) {
    version = std::make_unique<VersionSeries>();
    for (int i = 0; i < kNumOutcomes; ++i) {
      version->requests[i] = &families_.requests.Add(
          With(labels, "outcome", RequestOutcomeName(static_cast<RequestOutcome>(i))));
    }
    version->request_duration = &families_.request_duration.Add(labels, DurationBuckets());
    version->queue_duration = &families_.queue_duration.Add(labels, DurationBuckets());
    version->compute_duration = &families_.compute_duration.Add(labels, DurationBuckets());
    version->batch_size = &families_.batch_size.Add(labels, BatchSizeBuckets());
    version->pending = &families_.pending.Add(labels);
  }
  auto [precision, inserted] = version->precisions.try_emplace(key.precision);
  if (inserted) {
    const Labels with_precision = With(labels, "precision", key.precision);
    PrecisionSeries& series = precision->second;
    series.samples = &families_.samples.Add(with_precision);
    series.batches = &families_.batches.Add(with_precision);
    series.ready = &families_.ready.Add(with_precision);
    series.labelled_correct = &families_.labelled.Add(With(with_precision, "result", "correct"));
    series.labelled_wrong = &families_.labelled.Add(With(with_precision, "result", "wrong"));
  }
  return {version.get(), &precision->second};
}

void PrometheusMetrics::CreateShadowLocked(const ModelKey& key, VersionSeries& version) {
  if (version.shadow != nullptr) return;
  const Labels labels = VersionLabels(key);
  auto shadow = std::make_unique<ShadowSeries>();
  shadow->agree = &families_.shadow_comparisons.Add(With(labels, "result", "agree"));
  shadow->disagree = &families_.shadow_comparisons.Add(With(labels, "result", "disagree"));
  shadow->relative_error = &families_.shadow_relative_error.Add(labels, RelativeErrorBuckets());
  shadow->dropped = &families_.shadow_dropped.Add(labels);
  version.shadow = std::move(shadow);
}

template <typename Fn>
void PrometheusMetrics::WithSeries(const ModelKey& key, bool needs_shadow, Fn&& fn) {
  {
    absl::ReaderMutexLock lock(&mu_);
    const SeriesRef series = FindLocked(key);
    if (series.version != nullptr && (!needs_shadow || series.version->shadow != nullptr)) {
      fn(series);
      return;
    }
  }
  absl::MutexLock lock(&mu_);
  const SeriesRef series = GetOrCreateLocked(key);
  if (needs_shadow) CreateShadowLocked(key, *series.version);
  fn(series);
}

void PrometheusMetrics::RecordRequest(const RequestEvent& event) {
  WithSeries(event.key, /*needs_shadow=*/false, [&event](const SeriesRef& series) {
    OutcomeCounter(series.version->requests, event.outcome)->Increment();
    if (event.outcome != RequestOutcome::kSuccess) return;
    series.precision->samples->Increment(static_cast<double>(std::max<int64_t>(0, event.samples)));
    series.version->request_duration->Observe(Seconds(event.total));
    series.version->queue_duration->Observe(Seconds(event.queue));
    series.version->compute_duration->Observe(Seconds(event.compute));
    if (event.labelled_samples > 0) {
      const int64_t correct = std::clamp<int64_t>(event.correct_samples, 0, event.labelled_samples);
      series.precision->labelled_correct->Increment(static_cast<double>(correct));
      series.precision->labelled_wrong->Increment(
          static_cast<double>(event.labelled_samples - correct));
    }
  });
}

void PrometheusMetrics::RecordBatch(const BatchEvent& event) {
  WithSeries(event.key, /*needs_shadow=*/false, [&event](const SeriesRef& series) {
    series.precision->batches->Increment();
    series.version->batch_size->Observe(static_cast<double>(event.samples));
  });
}

void PrometheusMetrics::SetPendingRequests(const ModelKey& key, int64_t pending) {
  WithSeries(key, /*needs_shadow=*/false, [pending](const SeriesRef& series) {
    series.version->pending->Set(static_cast<double>(pending));
  });
}

void PrometheusMetrics::SetQueueCapacity(const ModelKey& key, int64_t capacity) {
  absl::MutexLock lock(&mu_);
  VersionSeries& version = *GetOrCreateLocked(key).version;
  if (version.queue_capacity == nullptr) {
    version.queue_capacity = &families_.queue_capacity.Add(VersionLabels(key));
  }
  version.queue_capacity->Set(static_cast<double>(capacity));
}

void PrometheusMetrics::SetModelReady(const ModelKey& key, bool ready) {
  WithSeries(key, /*needs_shadow=*/false,
             [ready](const SeriesRef& series) { series.precision->ready->Set(ready ? 1 : 0); });
}

void PrometheusMetrics::RecordModelLoad(const ModelKey& key, absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  VersionSeries& version = *GetOrCreateLocked(key).version;
  if (version.load_duration == nullptr) {
    version.load_duration = &families_.load_duration.Add(VersionLabels(key));
  }
  version.load_duration->Set(Seconds(duration));
}

void PrometheusMetrics::RecordCalibration(const CalibrationEvent& event) {
  absl::MutexLock lock(&mu_);
  VersionSeries& version = *GetOrCreateLocked(event.key).version;
  const Labels labels = VersionLabels(event.key);

  // Only the last calibration counts: accuracies and agreement are overwritten, and layers it
  // did not report (a new precision plan may quantize others) lose their series.
  auto set_accuracy = [&](const std::string& precision, double percent) {
    prometheus::Gauge*& gauge = version.calibration_accuracy[precision];
    if (gauge == nullptr) {
      gauge = &families_.calibration_accuracy.Add(With(labels, "precision", precision));
    }
    gauge->Set(percent / kPercent);
  };
  set_accuracy("fp32", event.fp32_accuracy);
  set_accuracy(event.key.precision, event.accuracy);

  if (version.calibration_top1_agreement == nullptr) {
    version.calibration_top1_agreement = &families_.calibration_top1_agreement.Add(labels);
  }
  version.calibration_top1_agreement->Set(event.top1_agreement / kPercent);

  for (const auto& [layer, gauge] : version.layer_sqnr) families_.layer_sqnr.Remove(gauge);
  version.layer_sqnr.clear();
  for (const CalibrationEvent::Layer& layer : event.layers) {
    prometheus::Gauge*& gauge = version.layer_sqnr[layer.name];
    if (gauge == nullptr) gauge = &families_.layer_sqnr.Add(With(labels, "layer", layer.name));
    gauge->Set(layer.sqnr_db);
  }
}

void PrometheusMetrics::RecordShadow(const ShadowEvent& event) {
  WithSeries(event.key, /*needs_shadow=*/true, [&event](const SeriesRef& series) {
    ShadowSeries& shadow = *series.version->shadow;
    (event.agree ? shadow.agree : shadow.disagree)->Increment();
    shadow.relative_error->Observe(std::max(0.0, event.relative_error));
  });
}

void PrometheusMetrics::RecordShadowDropped(const ModelKey& key) {
  WithSeries(key, /*needs_shadow=*/true,
             [](const SeriesRef& series) { series.version->shadow->dropped->Increment(); });
}

void PrometheusMetrics::ForgetModel(const ModelKey& key) {
  absl::MutexLock lock(&mu_);
  auto version =
      versions_.find(std::pair<absl::string_view, absl::string_view>(key.model, key.version));
  if (version == versions_.end()) return;
  RemoveLocked(*version->second);
  versions_.erase(version);
}

void PrometheusMetrics::RemoveLocked(VersionSeries& version) {
  for (Counter* counter : version.requests) RemoveIfSet(families_.requests, counter);
  RemoveIfSet(families_.request_duration, version.request_duration);
  RemoveIfSet(families_.queue_duration, version.queue_duration);
  RemoveIfSet(families_.compute_duration, version.compute_duration);
  RemoveIfSet(families_.batch_size, version.batch_size);
  RemoveIfSet(families_.pending, version.pending);
  RemoveIfSet(families_.queue_capacity, version.queue_capacity);
  RemoveIfSet(families_.load_duration, version.load_duration);
  RemoveIfSet(families_.calibration_top1_agreement, version.calibration_top1_agreement);
  if (version.shadow != nullptr) {
    RemoveIfSet(families_.shadow_comparisons, version.shadow->agree);
    RemoveIfSet(families_.shadow_comparisons, version.shadow->disagree);
    RemoveIfSet(families_.shadow_relative_error, version.shadow->relative_error);
    RemoveIfSet(families_.shadow_dropped, version.shadow->dropped);
  }
  for (auto& [name, series] : version.precisions) {
    RemoveIfSet(families_.samples, series.samples);
    RemoveIfSet(families_.batches, series.batches);
    RemoveIfSet(families_.ready, series.ready);
    RemoveIfSet(families_.labelled, series.labelled_correct);
    RemoveIfSet(families_.labelled, series.labelled_wrong);
  }
  for (auto& [precision, gauge] : version.calibration_accuracy) {
    RemoveIfSet(families_.calibration_accuracy, gauge);
  }
  for (auto& [layer, gauge] : version.layer_sqnr) RemoveIfSet(families_.layer_sqnr, gauge);
}

std::string ToTextExposition(const prometheus::Collectable& collectable) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, collectable.Collect());
  return out.str();
}

}  // namespace octet::server
