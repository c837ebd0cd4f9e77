// Client: a C++ client of an Octet server (or any KServe v2 / Triton gRPC server): health,
// metadata, the model repository, statistics, synchronous and asynchronous inference, and the
// calibration service (octet.v1.Calibration).
//
//   ClientOptions options;
//   options.url = "localhost:8001";
//   ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Create(options));
//   ASSIGN_OR_RETURN(bool ready, client->ModelReady("resnet8"));
//   InferRequest request;
//   request.model = "resnet8";
//   request.inputs.push_back(InferInput::FromFloats("input", {1, 3, 32, 32}, pixels));
//   ASSIGN_OR_RETURN(InferResult result, client->Infer(request));
//
// Errors: every method returns absl::Status(Or); a server error keeps its gRPC code and message;
// a server that cannot be reached gives UNAVAILABLE "cannot reach <url>: ..." (see
// internal/grpc_status.h). Every call carries a deadline (ClientOptions::default_timeout, or
// InferRequest::timeout, or ClientOptions::calibration_timeout for Calibrate), so none can hang.
// Create() does not connect: the channel connects on the first call, and reconnects by itself.
//
// Ownership and threads: a Client owns one gRPC channel, which multiplexes concurrent calls over
// one connection. All methods are const and thread-safe; callbacks (AsyncInfer's `done`,
// Calibrate's `on_progress`) run on gRPC's threads and must not block for long. A Client may be
// destroyed while AsyncInfer calls are in flight: each call keeps the channel alive until its
// `done` has run.
#ifndef OCTET_CLIENT_OCTET_CLIENT_H_
#define OCTET_CLIENT_OCTET_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/infer_types.h"
#include "inference.grpc.pb.h"
#include "inference.pb.h"
#include "octet/v1/calibration.grpc.pb.h"
#include "octet/v1/calibration.pb.h"

namespace octet::client {

struct ClientOptions {
  // A gRPC target: "host:port", "ipv4:127.0.0.1:8001", "unix:/path/to/socket", ... (no http://).
  std::string url = "localhost:8001";

  // TLS. Without `root_ca_file` the system's root certificates verify the server. A client
  // certificate (mutual TLS) needs both `client_cert_file` and `client_key_file`. PEM files; any of
  // them set while `tls` is false is an error rather than a silent plaintext connection.
  bool tls = false;
  std::string root_ca_file;
  std::string client_cert_file;
  std::string client_key_file;

  // Sent with every call as "authorization: Bearer <token>" when not empty.
  std::string token;

  // Deadline of every call that does not name its own.
  absl::Duration default_timeout = absl::Seconds(30);
  // Deadline of a whole Calibrate call (streaming, calibrating, evaluating and publishing).
  absl::Duration calibration_timeout = absl::Minutes(30);

  // Largest message sent or received.
  int max_message_bytes = 64 << 20;
};

class Client {
 public:
  // InvalidArgument for inconsistent options; NotFound / PermissionDenied naming the file when a
  // certificate or key cannot be read.
  static absl::StatusOr<std::unique_ptr<Client>> Create(const ClientOptions& options);

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  const ClientOptions& options() const { return options_; }

  // ---- Health and metadata ----
  absl::StatusOr<bool> ServerLive() const;
  absl::StatusOr<bool> ServerReady() const;
  // `version` empty: the version the server's policy picks.
  absl::StatusOr<bool> ModelReady(const std::string& model, const std::string& version = "") const;
  absl::StatusOr<inference::ServerMetadataResponse> ServerMetadata() const;
  absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(
      const std::string& model, const std::string& version = "") const;

  // ---- Model repository and statistics (Triton extensions) ----
  absl::StatusOr<inference::RepositoryIndexResponse> RepositoryIndex(bool ready_only = false) const;
  absl::Status LoadModel(const std::string& name) const;
  absl::Status UnloadModel(const std::string& name) const;
  // Empty `model`: every model; empty `version`: every version.
  absl::StatusOr<inference::ModelStatisticsResponse> ModelStatistics(
      const std::string& model = "", const std::string& version = "") const;

  // ---- Inference ----
  // The request is checked (BuildModelInferRequest) before anything is sent.
  absl::StatusOr<InferResult> Infer(const InferRequest& request) const;

  // Sends `request` and returns at once; `done` is called exactly once with the result, on a gRPC
  // thread, or, when the request is invalid and nothing is sent, on the calling thread before
  // AsyncInfer returns. `done` may start further calls.
  void AsyncInfer(const InferRequest& request,
                  std::function<void(absl::StatusOr<InferResult>)> done) const;

  // ---- Calibration (octet.v1.Calibration) ----
  // Streams `spec`, then each sample (in order), then half-closes; `on_progress` (may be empty)
  // receives every progress message, one at a time, on a gRPC thread. Returns the final report, or
  // the server's error with its code and message. The whole call is bounded by
  // ClientOptions::calibration_timeout.
  absl::StatusOr<octet::v1::CalibrationReport> Calibrate(
      const octet::v1::CalibrationSpec& spec,
      const std::vector<octet::v1::CalibrationSample>& samples,
      std::function<void(const octet::v1::CalibrationProgress&)> on_progress) const;

  // The report stored beside a calibrated version; empty `version`: the latest calibrated one.
  absl::StatusOr<octet::v1::CalibrationReport> GetCalibrationReport(
      const std::string& model, const std::string& version = "") const;

  // ---- Implementation details follow ----
 private:
  Client(ClientOptions options, std::shared_ptr<grpc::Channel> channel);

  // Sets the deadline and the authorization header of one call.
  void PrepareContext(grpc::ClientContext* context, absl::Duration timeout) const;
  // `rpc`: the full method name ("inference.GRPCInferenceService/ModelInfer"), for messages.
  absl::Status ToStatus(const grpc::Status& status, const char* rpc) const;
  // One unary call with the default deadline: `call(context, response)` issues it.
  template <typename Response, typename Call>
  absl::StatusOr<Response> Unary(const char* rpc, Call call) const;

  // Constant after construction. The stubs are shared with in-flight asynchronous calls.
  const ClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::shared_ptr<inference::GRPCInferenceService::Stub> inference_;
  const std::shared_ptr<octet::v1::Calibration::Stub> calibration_;
};

}  // namespace octet::client

#endif  // OCTET_CLIENT_OCTET_CLIENT_H_
