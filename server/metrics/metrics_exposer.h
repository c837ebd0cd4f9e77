// MetricsExposer: serves Prometheus metrics over HTTP at /metrics (prometheus-cpp's Exposer, on
// its own port, apart from the gRPC server), together with the process metrics of
// ProcessCollector.
//
//   auto metrics = std::make_shared<PrometheusMetrics>();
//   MetricsExposerOptions options;
//   options.address = "0.0.0.0:8002";
//   OCTET_ASSIGN_OR_RETURN(std::unique_ptr<MetricsExposer> exposer,
//                          MetricsExposer::Create(options, metrics->registry()));
//
// Create() checks the address first (so a flag typo is an INVALID_ARGUMENT naming the flag's
// value, not whatever the HTTP library makes of it) and returns UNAVAILABLE when the port cannot
// be bound, for example because it is in use. The server answers scrapes on its own threads from
// Create() until the exposer is destroyed; destruction may take up to 2 s (civetweb's listener
// polls in 2 s quanta and is joined), so a server should destroy it last, or alongside other
// shutdown work.
//
// Ownership: the exposer shares ownership of what it serves, so either may be destroyed first.
// Thread-safety: port() may be called from any thread.
#ifndef OCTET_SERVER_METRICS_METRICS_EXPOSER_H_
#define OCTET_SERVER_METRICS_METRICS_EXPOSER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "server/metrics/process_collector.h"

namespace octet::server {

struct MetricsExposerOptions {
  // Where to listen: "IPV4:PORT" or "[IPV6]:PORT", with a numeric address ("0.0.0.0" for every
  // interface). Port 0 picks a free port; port() says which.
  std::string address = "0.0.0.0:8002";
  // Threads answering scrapes. Must be >= 1.
  int num_threads = 2;
  // Serve ProcessCollector's process_* metrics too.
  bool process_metrics = true;
  ProcessCollectorOptions process;
};

// OK when `address` is one MetricsExposerOptions::address accepts. Servers may call it while
// parsing flags, to fail before loading models.
absl::Status ValidateMetricsAddress(absl::string_view address);

class MetricsExposer {
 public:
  // Starts serving `collectable` (a PrometheusMetrics::registry(), usually) at /metrics.
  static absl::StatusOr<std::unique_ptr<MetricsExposer>> Create(
      const MetricsExposerOptions& options, std::shared_ptr<prometheus::Collectable> collectable);

  ~MetricsExposer();
  MetricsExposer(const MetricsExposer&) = delete;
  MetricsExposer& operator=(const MetricsExposer&) = delete;

  // The port it listens on (the one chosen when the address asked for port 0).
  int port() const { return port_; }

 private:
  MetricsExposer(std::unique_ptr<prometheus::Exposer> exposer,
                 std::vector<std::shared_ptr<prometheus::Collectable>> collectables, int port);

  // prometheus::Exposer holds only weak references to what it serves; these keep it alive.
  const std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  const std::unique_ptr<prometheus::Exposer> exposer_;
  const int port_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_METRICS_METRICS_EXPOSER_H_
