#include "client/octet_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/internal/calibrate_call.h"
#include "client/internal/grpc_status.h"
#include "common/status_macros.h"

namespace octet::client {
namespace {

// Reads a PEM file named by option `option`; errors name both.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const char* option) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    const int error = errno;
    const std::string why =
        absl::StrCat("cannot read ", option, " '", path, "': ", std::strerror(error));
    if (error == EACCES) return absl::PermissionDeniedError(why);
    return absl::NotFoundError(why);
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  if (contents.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(option, " '", path, "' is empty"));
  }
  return contents.str();
}

constexpr char kModelInfer[] = "inference.GRPCInferenceService/ModelInfer";

absl::Status ValidateOptions(const ClientOptions& o) {
  if (o.url.empty()) return absl::InvalidArgumentError("the server url is empty");
  for (char c : o.url) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          absl::StrCat("the server url '", o.url, "' contains a space or control character"));
    }
  }
  if (absl::StartsWithIgnoreCase(o.url, "http://") ||
      absl::StartsWithIgnoreCase(o.url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the server url '", o.url, "' has an http scheme; give host:port (and tls for https)"));
  }
  if (o.default_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the default timeout must be positive");
  }
  if (o.calibration_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the calibration timeout must be positive");
  }
  if (o.max_message_bytes <= 0) {
    return absl::InvalidArgumentError("max_message_bytes must be positive");
  }
  if (!o.tls &&
      (!o.root_ca_file.empty() || !o.client_cert_file.empty() || !o.client_key_file.empty())) {
    return absl::InvalidArgumentError(
        "a CA, certificate or key file is given but TLS is off; turn TLS on");
  }
  if (o.client_cert_file.empty() != o.client_key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs its key and a key its certificate: give both or neither");
  }
  for (char c : o.token) {
    if (c < ' ' || c > '~') {
      return absl::InvalidArgumentError(
          "the token contains a non-printable character (a trailing newline?)");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(const ClientOptions& o) {
  if (!o.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!o.root_ca_file.empty()) {
    OCTET_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPemFile(o.root_ca_file, "CA file"));
  }
  if (!o.client_cert_file.empty()) {
    OCTET_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                           ReadPemFile(o.client_cert_file, "client certificate file"));
    OCTET_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPemFile(o.client_key_file, "client key file"));
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  OCTET_RETURN_IF_ERROR(ValidateOptions(options));
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                         MakeCredentials(options));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  args.SetUserAgentPrefix("octet-client");
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.url, credentials, args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create a channel to '", options.url, "'"));
  }
  return std::unique_ptr<Client>(new Client(options, std::move(channel)));
}

Client::Client(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      inference_(inference::GRPCInferenceService::NewStub(channel_)),
      calibration_(octet::v1::Calibration::NewStub(channel_)) {}

Client::~Client() = default;

void Client::PrepareContext(grpc::ClientContext* context, absl::Duration timeout) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!options_.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
}

absl::Status Client::ToStatus(const grpc::Status& status, const char* rpc) const {
  if (status.ok()) return absl::OkStatus();
  return internal::FromGrpcStatus(
      status, options_.url, channel_->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY,
      rpc);
}

template <typename Response, typename Call>
absl::StatusOr<Response> Client::Unary(const char* rpc, Call call) const {
  grpc::ClientContext context;
  PrepareContext(&context, options_.default_timeout);
  Response response;
  const grpc::Status status = call(&context, &response);
  if (!status.ok()) return ToStatus(status, rpc);
  return response;
}

absl::StatusOr<bool> Client::ServerLive() const {
  OCTET_ASSIGN_OR_RETURN(auto response, Unary<inference::ServerLiveResponse>(
                                            "inference.GRPCInferenceService/ServerLive",
                                            [&](auto* context, auto* response) {
                                              return inference_->ServerLive(context, {}, response);
                                            }));
  return response.live();
}

absl::StatusOr<bool> Client::ServerReady() const {
  OCTET_ASSIGN_OR_RETURN(auto response, Unary<inference::ServerReadyResponse>(
                                            "inference.GRPCInferenceService/ServerReady",
                                            [&](auto* context, auto* response) {
                                              return inference_->ServerReady(context, {}, response);
                                            }));
  return response.ready();
}

absl::StatusOr<bool> Client::ModelReady(const std::string& model,
                                        const std::string& version) const {
  inference::ModelReadyRequest request;
  request.set_name(model);
  request.set_version(version);
  OCTET_ASSIGN_OR_RETURN(
      auto response,
      Unary<inference::ModelReadyResponse>(
          "inference.GRPCInferenceService/ModelReady", [&](auto* context, auto* response) {
            return inference_->ModelReady(context, request, response);
          }));
  return response.ready();
}

absl::StatusOr<inference::ServerMetadataResponse> Client::ServerMetadata() const {
  return Unary<inference::ServerMetadataResponse>(
      "inference.GRPCInferenceService/ServerMetadata", [&](auto* context, auto* response) {
        return inference_->ServerMetadata(context, {}, response);
      });
}

absl::StatusOr<inference::ModelMetadataResponse> Client::ModelMetadata(
    const std::string& model, const std::string& version) const {
  inference::ModelMetadataRequest request;
  request.set_name(model);
  request.set_version(version);
  return Unary<inference::ModelMetadataResponse>(
      "inference.GRPCInferenceService/ModelMetadata", [&](auto* context, auto* response) {
        return inference_->ModelMetadata(context, request, response);
      });
}

absl::StatusOr<inference::RepositoryIndexResponse> Client::RepositoryIndex(bool ready_only) const {
  inference::RepositoryIndexRequest request;
  request.set_ready(ready_only);
  return Unary<inference::RepositoryIndexResponse>(
      "inference.GRPCInferenceService/RepositoryIndex", [&](auto* context, auto* response) {
        return inference_->RepositoryIndex(context, request, response);
      });
}

absl::Status Client::LoadModel(const std::string& name) const {
  inference::RepositoryModelLoadRequest request;
  request.set_model_name(name);
  return Unary<inference::RepositoryModelLoadResponse>(
             "inference.GRPCInferenceService/RepositoryModelLoad",
             [&](auto* context, auto* response) {
               return inference_->RepositoryModelLoad(context, request, response);
             })
      .status();
}

absl::Status Client::UnloadModel(const std::string& name) const {
  inference::RepositoryModelUnloadRequest request;
  request.set_model_name(name);
  return Unary<inference::RepositoryModelUnloadResponse>(
             "inference.GRPCInferenceService/RepositoryModelUnload",
             [&](auto* context, auto* response) {
               return inference_->RepositoryModelUnload(context, request, response);
             })
      .status();
}

absl::StatusOr<inference::ModelStatisticsResponse> Client::ModelStatistics(
    const std::string& model, const std::string& version) const {
  inference::ModelStatisticsRequest request;
  request.set_name(model);
  request.set_version(version);
  return Unary<inference::ModelStatisticsResponse>(
      "inference.GRPCInferenceService/ModelStatistics", [&](auto* context, auto* response) {
        return inference_->ModelStatistics(context, request, response);
      });
}

absl::StatusOr<octet::v1::CalibrationReport> Client::GetCalibrationReport(
    const std::string& model, const std::string& version) const {
  octet::v1::GetCalibrationReportRequest request;
  request.set_model_name(model);
  request.set_version(version);
  return Unary<octet::v1::CalibrationReport>(
      "octet.v1.Calibration/GetCalibrationReport", [&](auto* context, auto* response) {
        return calibration_->GetCalibrationReport(context, request, response);
      });
}

absl::StatusOr<InferResult> Client::Infer(const InferRequest& request) const {
  OCTET_ASSIGN_OR_RETURN(inference::ModelInferRequest proto, BuildModelInferRequest(request));
  grpc::ClientContext context;
  PrepareContext(&context, request.timeout.value_or(options_.default_timeout));
  inference::ModelInferResponse response;
  const grpc::Status status = inference_->ModelInfer(&context, proto, &response);
  if (!status.ok()) return ToStatus(status, kModelInfer);
  return ParseModelInferResponse(std::move(response));
}

namespace {

// The state of one AsyncInfer call, alive from the send until `done` has run. It holds the stub
// and the channel so that the call outlives a Client destroyed meanwhile.
struct AsyncInferCall {
  grpc::ClientContext context;
  inference::ModelInferRequest request;
  inference::ModelInferResponse response;
  std::shared_ptr<inference::GRPCInferenceService::Stub> stub;
  std::shared_ptr<grpc::Channel> channel;
  std::string url;
  std::function<void(absl::StatusOr<InferResult>)> done;
};

}  // namespace

void Client::AsyncInfer(const InferRequest& request,
                        std::function<void(absl::StatusOr<InferResult>)> done) const {
  absl::StatusOr<inference::ModelInferRequest> proto = BuildModelInferRequest(request);
  if (!proto.ok()) {
    done(proto.status());
    return;
  }
  auto* call = new AsyncInferCall;
  call->request = std::move(*proto);
  call->stub = inference_;
  call->channel = channel_;
  call->url = options_.url;
  call->done = std::move(done);
  PrepareContext(&call->context, request.timeout.value_or(options_.default_timeout));
  call->stub->async()->ModelInfer(
      &call->context, &call->request, &call->response, [call](grpc::Status status) {
        std::unique_ptr<AsyncInferCall> owned(call);
        if (!status.ok()) {
          owned->done(internal::FromGrpcStatus(
              status, owned->url, owned->channel->GetState(false) == GRPC_CHANNEL_READY,
              kModelInfer));
          return;
        }
        owned->done(ParseModelInferResponse(std::move(owned->response)));
      });
}

absl::StatusOr<octet::v1::CalibrationReport> Client::Calibrate(
    const octet::v1::CalibrationSpec& spec,
    const std::vector<octet::v1::CalibrationSample>& samples,
    std::function<void(const octet::v1::CalibrationProgress&)> on_progress) const {
  if (spec.model_name().empty()) {
    return absl::InvalidArgumentError("the calibration spec names no model");
  }
  grpc::ClientContext context;
  PrepareContext(&context, options_.calibration_timeout);
  octet::v1::CalibrationReport report;
  bool got_report = false;
  const grpc::Status status = internal::RunCalibrateCall(*calibration_, context, spec, samples,
                                                         on_progress, &report, &got_report);
  if (!status.ok()) return ToStatus(status, "octet.v1.Calibration/Calibrate");
  if (!got_report) {
    return absl::InternalError(absl::StrCat("the server ended the calibration of '",
                                            spec.model_name(), "' without a report"));
  }
  return report;
}

}  // namespace octet::client
