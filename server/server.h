// OctetServer: the whole inference server, wired from an Options struct: the model repository
// (every model loaded at start; one that fails is reported and the others serve), the gRPC
// server with inference.GRPCInferenceService, octet.v1.Calibration, grpc.health.v1 and server
// reflection, TLS or mTLS,
// the admin token for control RPCs, message and tensor size limits, the ShadowRunner that reruns
// sampled INT8 answers on FP32 (server/shadow), and the MetricsSink every module reports to.
//
//   OctetServerOptions options;
//   options.model_repository = "examples/models";
//   options.grpc_address = "127.0.0.1:0";  // port 0: any free port, see port()
//   OCTET_ASSIGN_OR_RETURN(std::unique_ptr<OctetServer> server, OctetServer::Start(options));
//   ...
//   server->Shutdown();  // not ready, refuse new requests, finish in-flight ones, stop
//
// Metrics: `metrics` is where events go (NoopMetricsSink when null). Serving them over HTTP is
// the metrics module's business: main.cc creates the Prometheus sink and its exposer on
// `metrics_address` and passes the sink here; this class only reports to the interface.
//
// Ownership: `metrics` and `clock` are borrowed and must outlive the server. Thread-safety:
// Shutdown() and Wait() may be called from any thread, Shutdown() more than once; the accessors
// are for tests and main.
#ifndef OCTET_SERVER_SERVER_H_
#define OCTET_SERVER_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "server/batching/clock.h"
#include "server/calibration/calibration_service.h"
#include "server/grpc/admin_auth.h"
#include "server/grpc/inference_service.h"
#include "server/metrics/metrics_sink.h"
#include "server/repository/model_repository.h"
#include "server/shadow/shadow_runner.h"

namespace octet::server {

struct OctetServerOptions {
  // The model repository directory (required).
  std::string model_repository;
  // host:port for gRPC; port 0 picks a free one (see OctetServer::port()).
  std::string grpc_address = "0.0.0.0:8001";
  // host:port for Prometheus' /metrics; served by the metrics module, not by OctetServer
  // (main.cc). Empty: metrics off.
  std::string metrics_address = "0.0.0.0:8002";

  // TLS: a PEM certificate chain and private key; both or neither. With `tls_client_ca_file`
  // (PEM), clients must present a certificate signed by that CA (mutual TLS).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;

  // When not empty, RepositoryModelLoad and RepositoryModelUnload (and calibration) need
  // `authorization: Bearer <admin_token>`.
  std::string admin_token;

  // Largest gRPC message received or sent; larger ones fail with RESOURCE_EXHAUSTED.
  int max_message_bytes = 64 << 20;
  // Largest element count of one request tensor (INVALID_ARGUMENT past it).
  int64_t max_tensor_elements = int64_t{1} << 24;
  // Queue bound of a model version whose config sets none.
  int max_queue_size = 1024;
  // Cores inference may use, divided between a model's instances where its config sets no
  // threads. 0: every core of the machine.
  int threads = 0;

  // Directory the Calibrate RPC may read server-side data sets from (relative paths inside it
  // only); empty: server-side data sets are refused.
  std::string dataset_root;
  // OpenMP threads of a running calibration (it shares the cores with serving).
  int calibration_threads = 1;

  // Shadow comparisons (a config's shadow_fraction): answers of INT8 and mixed versions that
  // may wait for their FP32 rerun; past it they are dropped (octet_shadow_dropped_total).
  int shadow_queue_size = 64;

  // How long Shutdown() lets calls still open after the drain (streams the client keeps open)
  // run before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(5);

  MetricsSink* metrics = nullptr;                    // not owned; null: NoopMetricsSink
  batching::Clock* clock = batching::Clock::Real();  // not owned; never null
  // One line per event worth an operator's attention; empty: standard error.
  std::function<void(const std::string&)> log;
};

class OctetServer {
 public:
  // Loads the repository and starts listening. Fails for bad options, unreadable TLS files or an
  // address it cannot bind; never because a model failed to load.
  static absl::StatusOr<std::unique_ptr<OctetServer>> Start(OctetServerOptions options);

  ~OctetServer();
  OctetServer(const OctetServer&) = delete;
  OctetServer& operator=(const OctetServer&) = delete;

  // The bound gRPC port.
  int port() const { return port_; }

  // Readiness false (ServerReady and grpc.health.v1 say NOT_SERVING), new inference requests
  // refused with UNAVAILABLE, running loads finished, every queued request answered, then the
  // gRPC server stopped. Blocks until done; idempotent. A request arriving in the moment gRPC
  // itself stops (after the drain) is cancelled by gRPC (CANCELLED) before Octet sees it; later
  // ones find the port closed (UNAVAILABLE). Neither was accepted, so neither is lost.
  void Shutdown();
  // Blocks until Shutdown() has finished.
  void Wait();

  ModelRepository& repository() { return *repository_; }

 private:
  OctetServer() = default;

  OctetServerOptions options_;
  NoopMetricsSink noop_metrics_;
  std::unique_ptr<AdminAuthorizer> admin_;
  // Before the repository, whose servables submit to it: destroyed after them.
  std::unique_ptr<ShadowRunner> shadow_;
  std::unique_ptr<ModelRepository> repository_;
  std::unique_ptr<InferenceService> service_;
  std::unique_ptr<CalibrationService> calibration_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  absl::Notification stopped_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_SERVER_H_
