// octet_sample_exposition [FILE]: writes (to FILE, or to stdout) what Prometheus receives when it
// scrapes Octet's /metrics, after one event of every kind, so that every family Octet exposes has
// series. It serves a PrometheusMetrics through a MetricsExposer (process metrics and
// prometheus-cpp's own exposer_* metrics included) on a free loopback port and scrapes it over
// HTTP. The checks in this directory run `promtool check metrics` and the Grafana dashboard check
// against its output.
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/metrics/http_get_for_testing.h"
#include "server/metrics/metrics_exposer.h"
#include "server/metrics/prometheus_metrics.h"

namespace octet::server {
namespace {

void RecordOneOfEach(PrometheusMetrics& metrics) {
  const ModelKey fp32{"resnet8", "1", "fp32"};
  const ModelKey int8{"resnet8", "2", "int8"};
  for (const ModelKey& key : {fp32, int8}) {
    metrics.RecordModelLoad(key, absl::Milliseconds(850));
    metrics.SetModelReady(key, true);
    metrics.SetQueueCapacity(key, 1024);
    metrics.SetPendingRequests(key, 3);
    RequestEvent request;
    request.key = key;
    request.total = absl::Microseconds(900);
    request.queue = absl::Microseconds(300);
    request.compute = absl::Microseconds(500);
    request.samples = 4;
    request.labelled_samples = 4;
    request.correct_samples = 3;
    metrics.RecordRequest(request);
    request.outcome = RequestOutcome::kTimeout;
    metrics.RecordRequest(request);
    metrics.RecordBatch({key, /*samples=*/4, /*requests=*/1, absl::Microseconds(500)});
  }
  CalibrationEvent calibration;
  calibration.key = int8;
  calibration.fp32_accuracy = 75.48;
  calibration.accuracy = 75.1;
  calibration.top1_agreement = 97.5;
  calibration.layers = {{"conv1", 38.5}, {"fc", 31.25}};
  metrics.RecordCalibration(calibration);
  metrics.RecordShadow({int8, /*agree=*/true, /*relative_error=*/0.012});
  metrics.RecordShadowDropped(int8);
}

int Run(const char* path) {
  auto metrics = std::make_shared<PrometheusMetrics>();
  RecordOneOfEach(*metrics);
  MetricsExposerOptions options;
  options.address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<MetricsExposer>> exposer =
      MetricsExposer::Create(options, metrics->registry());
  if (!exposer.ok()) {
    std::cerr << exposer.status() << "\n";
    return 1;
  }
  absl::StatusOr<HttpResponse> response = HttpGetForTesting((*exposer)->port(), "/metrics");
  if (!response.ok() || response->status != 200) {
    std::cerr << "scraping /metrics: "
              << (response.ok() ? response->headers : response.status().ToString()) << "\n";
    return 1;
  }
  if (path == nullptr) {
    std::cout << response->body;
    return 0;
  }
  std::ofstream file(path);
  file << response->body;
  file.close();
  if (!file) {
    std::cerr << "cannot write " << path << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace octet::server

int main(int argc, char** argv) { return octet::server::Run(argc > 1 ? argv[1] : nullptr); }
