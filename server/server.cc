#include "server/server.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace octet::server {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the ", what, " file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " file ", path, " is empty"));
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const OctetServerOptions& options) {
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (!tls) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "a client CA (mutual TLS) needs a server certificate and key as well");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate file and a key file");
  }
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  OCTET_ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(options.tls_cert_file, "TLS certificate"));
  OCTET_ASSIGN_OR_RETURN(pair.private_key, ReadPem(options.tls_key_file, "TLS key"));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!options.tls_client_ca_file.empty()) {
    OCTET_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(options.tls_client_ca_file, "client CA"));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<OctetServer>> OctetServer::Start(OctetServerOptions options) {
  if (options.model_repository.empty()) {
    return absl::InvalidArgumentError("no model repository given");
  }
  if (options.clock == nullptr) return absl::InvalidArgumentError("the clock must not be null");
  if (options.max_message_bytes < 1 || options.max_tensor_elements < 1 ||
      options.max_queue_size < 1 || options.threads < 0 || options.shadow_queue_size < 1) {
    return absl::InvalidArgumentError(
        "message and tensor limits and the queue sizes must be positive; threads >= 0");
  }
  if (!options.log) {
    options.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  }
  std::unique_ptr<OctetServer> server(new OctetServer());
  server->options_ = std::move(options);
  const OctetServerOptions& o = server->options_;
  MetricsSink* metrics = o.metrics != nullptr ? o.metrics : &server->noop_metrics_;
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, MakeCredentials(o));

  // Shadow runs compare with the model's highest serving FP32 version; they only start once
  // requests are served, after the repository below exists.
  ShadowRunner::Options shadow_options;
  shadow_options.metrics = metrics;
  shadow_options.queue_capacity = o.shadow_queue_size;
  shadow_options.reference = [s = server.get()](const std::string& model) {
    return s->repository_->Fp32Reference(model);
  };
  OCTET_ASSIGN_OR_RETURN(server->shadow_, ShadowRunner::Create(std::move(shadow_options)));

  ModelRepositoryOptions repository_options;
  repository_options.root = o.model_repository;
  repository_options.defaults.max_queue_size = o.max_queue_size;
  repository_options.defaults.max_tensor_elements = o.max_tensor_elements;
  repository_options.defaults.cpu_cores =
      o.threads > 0 ? o.threads
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  repository_options.metrics = metrics;
  repository_options.clock = o.clock;
  repository_options.log = o.log;
  repository_options.shadow = server->shadow_.get();
  OCTET_ASSIGN_OR_RETURN(server->repository_, ModelRepository::Create(repository_options));
  // A model that fails is reported (log, RepositoryIndex) and the others serve.
  if (absl::Status loaded = server->repository_->LoadAll(); !loaded.ok()) {
    o.log(absl::StrCat("warning: ", loaded.message()));
  }

  server->admin_ = std::make_unique<AdminAuthorizer>(o.admin_token);
  InferenceService::Options service_options;
  service_options.repository = server->repository_.get();
  service_options.admin = server->admin_.get();
  service_options.limits.max_tensor_elements = o.max_tensor_elements;
  service_options.clock = o.clock;
  server->service_ = std::make_unique<InferenceService>(service_options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.grpc_address, credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(o.max_message_bytes);
  builder.SetMaxSendMessageSize(o.max_message_bytes);
  builder.RegisterService(server->service_.get());
  CalibrationService::Options calibration_options;
  calibration_options.repository = server->repository_.get();
  calibration_options.admin = server->admin_.get();
  calibration_options.metrics = metrics;
  calibration_options.dataset_root = o.dataset_root;
  calibration_options.threads = o.calibration_threads;
  calibration_options.log = o.log;
  server->calibration_ = std::make_unique<CalibrationService>(calibration_options);
  builder.RegisterService(server->calibration_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", o.grpc_address));
  }
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  o.log(absl::StrCat("octet-server: serving gRPC on port ", server->port_, " (",
                     o.tls_cert_file.empty()        ? "plaintext"
                     : o.tls_client_ca_file.empty() ? "TLS"
                                                    : "mutual TLS",
                     ")"));
  return server;
}

OctetServer::~OctetServer() { Shutdown(); }

void OctetServer::Shutdown() {
  bool first = false;
  {
    absl::MutexLock lock(&shutdown_mu_);
    first = !shut_down_;
    shut_down_ = true;
  }
  if (!first) {  // Another thread is shutting down, or has.
    stopped_.WaitForNotification();
    return;
  }
  // Start() may have failed half way: each part is stopped only if it exists.
  if (server_ != nullptr) {
    options_.log("octet-server: shutting down: not ready, refusing new requests, draining");
    server_->GetHealthCheckService()->SetServingStatus(false);
  }
  if (service_ != nullptr) {
    service_->StopAccepting();
    service_->StopControl();
  }
  // Running calibrations stop at their next phase and publish nothing; their calls finish
  // while gRPC still runs.
  if (calibration_ != nullptr) calibration_->Shutdown();
  // Answers every request still queued: each finishes its RPC.
  if (repository_ != nullptr) repository_->Shutdown();
  // No servable submits any more; comparisons still queued are dropped.
  if (shadow_ != nullptr) shadow_->Shutdown();
  if (server_ != nullptr) {
    // Every accepted unary call has its answer now; this waits for them to be sent and cancels
    // only calls kept open past the grace period (streams the client did not close).
    server_->Shutdown(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(options_.shutdown_grace));
    server_->Wait();
    options_.log("octet-server: stopped");
  }
  stopped_.Notify();
}

void OctetServer::Wait() { stopped_.WaitForNotification(); }

}  // namespace octet::server
