// The cost of PrometheusMetrics' events on the threads that report them (gRPC and batch
// threads), and of a scrape. Run: build/server/metrics/prometheus_metrics_benchmark
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "server/metrics/prometheus_metrics.h"

namespace octet::server {
namespace {

RequestEvent SuccessfulRequest(const ModelKey& key) {
  RequestEvent event;
  event.key = key;
  event.outcome = RequestOutcome::kSuccess;
  event.total = absl::Microseconds(900);
  event.queue = absl::Microseconds(300);
  event.compute = absl::Microseconds(500);
  event.samples = 4;
  event.labelled_samples = 4;
  event.correct_samples = 4;
  return event;
}

// A model name longer than std::string's inline buffer, as real names are.
const ModelKey kKey{"resnet8-mlperf-tiny", "12", "int8"};

PrometheusMetrics& Shared() {
  static auto* const metrics = new PrometheusMetrics();
  return *metrics;
}

// The whole hot path of a successful labelled request: find the version's series, three
// histograms, three counters. With ->Threads(n), n threads record into one version at once.
void BM_RecordRequest(benchmark::State& state) {
  PrometheusMetrics& metrics = Shared();
  const RequestEvent event = SuccessfulRequest(kKey);
  for (auto _ : state) metrics.RecordRequest(event);
}
BENCHMARK(BM_RecordRequest)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

// A failed request only counts.
void BM_RecordRejectedRequest(benchmark::State& state) {
  PrometheusMetrics& metrics = Shared();
  RequestEvent event = SuccessfulRequest(kKey);
  event.outcome = RequestOutcome::kRejected;
  for (auto _ : state) metrics.RecordRequest(event);
}
BENCHMARK(BM_RecordRejectedRequest);

// Requests spread over many versions: the lookup no longer hits the same cache lines.
void BM_RecordRequestManyVersions(benchmark::State& state) {
  PrometheusMetrics metrics;
  std::vector<RequestEvent> events;
  for (int i = 0; i < state.range(0); ++i) {
    events.push_back(SuccessfulRequest({"model-" + std::to_string(i % 10) + "-classifier",
                                        std::to_string(i), i % 2 ? "int8" : "fp32"}));
  }
  size_t next = 0;
  for (auto _ : state) {
    metrics.RecordRequest(events[next]);
    next = next + 1 == events.size() ? 0 : next + 1;
  }
}
BENCHMARK(BM_RecordRequestManyVersions)->Arg(100);

void BM_RecordBatch(benchmark::State& state) {
  PrometheusMetrics& metrics = Shared();
  const BatchEvent event{kKey, /*samples=*/16, /*requests=*/4, absl::Microseconds(800)};
  for (auto _ : state) metrics.RecordBatch(event);
}
BENCHMARK(BM_RecordBatch);

void BM_SetPendingRequests(benchmark::State& state) {
  PrometheusMetrics& metrics = Shared();
  int64_t pending = 0;
  for (auto _ : state) metrics.SetPendingRequests(kKey, ++pending & 63);
}
BENCHMARK(BM_SetPendingRequests);

// A scrape's serialization, with the given number of versions (each with every family).
void BM_TextExposition(benchmark::State& state) {
  PrometheusMetrics metrics;
  for (int i = 0; i < state.range(0); ++i) {
    const ModelKey key{"model", std::to_string(i), "int8"};
    metrics.RecordRequest(SuccessfulRequest(key));
    metrics.RecordBatch({key, 4, 1, absl::Microseconds(500)});
    metrics.RecordShadow({key, true, 0.01});
  }
  for (auto _ : state) benchmark::DoNotOptimize(ToTextExposition(*metrics.registry()));
}
BENCHMARK(BM_TextExposition)->Arg(10);

}  // namespace
}  // namespace octet::server
