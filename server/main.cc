// octet-server: serves the models of a model repository over gRPC (KServe v2 / Open Inference
// Protocol), until SIGTERM or SIGINT, which drain it: readiness goes false, new requests are
// refused, in-flight ones finish, then the process exits 0.
//
//   octet-server --model-repository examples/models [--grpc-address 0.0.0.0:8001]
//
// Flags may be written with dashes or underscores (--model-repository, --model_repository).
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/dashed_flags.h"
#include "server/grpc/admin_auth.h"
#include "server/metrics/metrics_exposer.h"
#include "server/metrics/prometheus_metrics.h"
#include "server/server.h"

ABSL_FLAG(std::string, model_repository, "", "model repository directory (required)");
ABSL_FLAG(std::string, grpc_address, "0.0.0.0:8001", "host:port for gRPC (port 0: any free)");
ABSL_FLAG(std::string, metrics_address, "0.0.0.0:8002",
          "host:port for Prometheus /metrics; empty: no metrics at all (no exposer, and events "
          "go to a sink that discards them)");
ABSL_FLAG(int, threads, 0,
          "cores for inference, divided between a model's instances where its config sets no "
          "threads (0: all)");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM server certificate chain (enables TLS)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA that client certificates must be signed by (mutual TLS)");
ABSL_FLAG(std::string, admin_token_file, "",
          "file holding the bearer token that model load/unload and calibration require");
ABSL_FLAG(int, max_message_bytes, 64 << 20, "largest gRPC message received or sent");
ABSL_FLAG(int64_t, max_tensor_elements, int64_t{1} << 24,
          "largest element count of one request tensor");
ABSL_FLAG(int, max_queue_size, 1024, "queue bound of a model whose config sets none");
ABSL_FLAG(std::string, dataset_root, "",
          "directory the Calibrate RPC may read server-side data sets from (empty: none)");
ABSL_FLAG(int, calibration_threads, 1, "OpenMP threads of a running calibration");
ABSL_FLAG(int, shadow_queue_size, 64,
          "INT8 answers that may wait for their FP32 shadow run (config shadow_fraction); past "
          "it they are dropped and counted");
ABSL_FLAG(double, shutdown_grace_seconds, 5,
          "after draining, how long calls still open may run before they are cancelled");

namespace octet::server {
namespace {

int Run() {
  OctetServerOptions options;
  options.model_repository = absl::GetFlag(FLAGS_model_repository);
  if (options.model_repository.empty()) {
    std::fprintf(stderr, "octet-server: --model-repository is required\n");
    return 2;
  }
  options.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_tensor_elements = absl::GetFlag(FLAGS_max_tensor_elements);
  options.max_queue_size = absl::GetFlag(FLAGS_max_queue_size);
  options.shutdown_grace = absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds));
  if (const std::string path = absl::GetFlag(FLAGS_admin_token_file); !path.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(path);
    if (!token.ok()) {
      std::fprintf(stderr, "octet-server: %s\n", std::string(token.status().message()).c_str());
      return 2;
    }
    options.admin_token = *std::move(token);
  }
  options.dataset_root = absl::GetFlag(FLAGS_dataset_root);
  options.calibration_threads = absl::GetFlag(FLAGS_calibration_threads);
  options.shadow_queue_size = absl::GetFlag(FLAGS_shadow_queue_size);

  // Signals are taken by a dedicated thread with sigwait(): blocked here, before any other
  // thread starts, so that every thread inherits the mask and none runs a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Metrics: the Prometheus sink outlives the server; its exposer serves /metrics (civetweb's
  // threads start after the signal mask, so they inherit it). An empty --metrics-address turns
  // metrics off: the server then reports to a sink that discards everything (for measuring
  // what metrics cost, bench/metrics_overhead.sh).
  std::shared_ptr<PrometheusMetrics> metrics;
  std::unique_ptr<MetricsExposer> exposer;
  if (!options.metrics_address.empty()) {
    metrics = std::make_shared<PrometheusMetrics>();
    MetricsExposerOptions exposer_options;
    exposer_options.address = options.metrics_address;
    absl::StatusOr<std::unique_ptr<MetricsExposer>> created =
        MetricsExposer::Create(exposer_options, metrics->registry());
    if (!created.ok()) {
      std::fprintf(stderr, "octet-server: metrics: %s\n",
                   std::string(created.status().message()).c_str());
      return created.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
    }
    exposer = *std::move(created);
    options.metrics = metrics.get();
  } else {
    std::fprintf(stderr, "octet-server: metrics are off (--metrics-address is empty)\n");
  }

  absl::StatusOr<std::unique_ptr<OctetServer>> server = OctetServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "octet-server: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  // The port on stdout, one line, for scripts and tests that start the server on port 0.
  std::printf("octet-server listening on port %d\n", (*server)->port());
  std::fflush(stdout);

  std::thread signal_thread([&signals, s = server->get()] {
    int signal = 0;
    sigwait(&signals, &signal);
    std::fprintf(stderr, "octet-server: received %s\n", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    s->Shutdown();
  });
  (*server)->Wait();
  signal_thread.join();
  server->reset();  // no more metrics events
  exposer.reset();  // last: stopping civetweb may take up to 2 s
  return 0;
}

}  // namespace
}  // namespace octet::server

int main(int argc, char** argv) {
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles (a debug aid, on in its
  // build): 1-3% of the server's CPU in GraphCycles (bench/results/serving.md). The tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "serves a model repository over gRPC (KServe v2).\n"
      "  octet-server --model-repository DIR [--grpc-address HOST:PORT] [--threads N]\n"
      "  [--tls-cert-file F --tls-key-file F [--tls-client-ca-file F]] [--admin-token-file F]");
  // Accept --model-repository as well as --model_repository: absl flags use underscores.
  octet::DashedFlags flags(argc, argv);
  absl::ParseCommandLine(flags.argc(), flags.argv());
  return octet::server::Run();
}
