#include "server/grpc/inference_service.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/grpc/infer_stream.h"
#include "server/grpc/status_conversion.h"

namespace octet::server {
namespace {

// Answers a unary ModelInfer: the response is gRPC's, valid until the reactor finishes.
class UnaryResponder final : public InferResponder {
 public:
  UnaryResponder(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                 inference::ModelInferResponse* response)
      : context_(context), reactor_(reactor), response_(response) {}

  bool IsCancelled() const override { return context_->IsCancelled(); }
  inference::ModelInferResponse* response() override { return response_; }
  void Finish(const absl::Status& status) override { reactor_->Finish(ToGrpcStatus(status)); }

 private:
  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  inference::ModelInferResponse* const response_;
};

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

void AddTensorMetadata(const TensorSpec& spec, bool batching,
                       inference::ModelMetadataResponse::TensorMetadata* out) {
  out->set_name(spec.name);
  out->set_datatype(ProtocolDataTypeName(spec.dtype));
  if (batching) out->add_shape(-1);
  for (int64_t d : spec.dims) out->add_shape(d);
}

}  // namespace

absl::Time ClientDeadline(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  // gRPC reports "no deadline" as a time point centuries away.
  if (deadline >= std::chrono::system_clock::now() + std::chrono::hours(24 * 365 * 100)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

InferenceService::InferenceService(Options options) : options_(std::move(options)) {}

InferenceService::~InferenceService() { control_.Shutdown(); }

void InferenceService::Submit(const inference::ModelInferRequest& request,
                              absl::Time client_deadline,
                              std::unique_ptr<InferResponder> responder) {
  const absl::Time received = options_.clock->Now();
  // Identifies the answer even when it is an error (a stream's answers are matched by id).
  responder->response()->set_model_name(request.model_name());
  responder->response()->set_model_version(request.model_version());
  responder->response()->set_id(request.id());
  if (!accepting()) {
    responder->Finish(
        absl::UnavailableError("the server is shutting down: not accepting requests"));
    return;
  }
  // A reload may retire the version found here between Find() and Schedule(); then the request
  // goes to what replaced it, once.
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::shared_ptr<Servable>> servable =
        options_.repository->Find(request.model_name(), request.model_version());
    if (!servable.ok()) {
      responder->Finish(servable.status());
      return;
    }
    absl::StatusOr<DecodedRequest> decoded =
        DecodeInferRequest(request, (*servable)->signature(), options_.limits);
    if (!decoded.ok()) {
      (*servable)->RecordInvalid(received, decoded.status());
      responder->Finish(decoded.status());
      return;
    }
    responder->response()->set_model_version(absl::StrCat((*servable)->version()));
    auto task = std::make_unique<InferTask>(*std::move(decoded), std::move(responder), received,
                                            (*servable)->Deadline(received, client_deadline));
    absl::Status status = (*servable)->Schedule(&task);
    if (status.ok()) return;
    const bool retry = status.code() == absl::StatusCode::kUnavailable && attempt == 0 &&
                       accepting() &&
                       options_.repository->Find(request.model_name(), request.model_version())
                               .value_or(*servable) != *servable;
    if (!retry) {
      (*servable)->Reject(std::move(task), status);
      return;
    }
    responder = task->ReleaseResponder();
  }
}

grpc::ServerUnaryReactor* InferenceService::ServerLive(grpc::CallbackServerContext* context,
                                                       const inference::ServerLiveRequest*,
                                                       inference::ServerLiveResponse* response) {
  response->set_live(true);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ServerReady(grpc::CallbackServerContext* context,
                                                        const inference::ServerReadyRequest*,
                                                        inference::ServerReadyResponse* response) {
  response->set_ready(accepting());
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ModelReady(grpc::CallbackServerContext* context,
                                                       const inference::ModelReadyRequest* request,
                                                       inference::ModelReadyResponse* response) {
  absl::StatusOr<std::shared_ptr<Servable>> servable =
      options_.repository->Find(request->name(), request->version());
  if (!servable.ok() && servable.status().code() != absl::StatusCode::kUnavailable) {
    return FinishNow(context, servable.status());
  }
  response->set_ready(servable.ok() && accepting());
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ServerMetadata(
    grpc::CallbackServerContext* context, const inference::ServerMetadataRequest*,
    inference::ServerMetadataResponse* response) {
  response->set_name(options_.server_name);
  response->set_version(options_.server_version);
  response->add_extensions("model_repository");
  response->add_extensions("statistics");
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ModelMetadata(
    grpc::CallbackServerContext* context, const inference::ModelMetadataRequest* request,
    inference::ModelMetadataResponse* response) {
  absl::StatusOr<std::shared_ptr<Servable>> servable =
      options_.repository->Find(request->name(), request->version());
  if (!servable.ok()) return FinishNow(context, servable.status());
  absl::StatusOr<std::vector<int64_t>> versions =
      options_.repository->ServingVersions(request->name());
  const Servable& s = **servable;
  response->set_name(s.name());
  if (versions.ok()) {
    for (int64_t v : *versions) response->add_versions(absl::StrCat(v));
  }
  // The metadata has no parameters field: the precision travels in the platform string.
  response->set_platform(absl::StrCat("octet_onnx_", s.precision()));
  const ModelSignature& signature = s.signature();
  for (const TensorSpec& spec : signature.inputs) {
    AddTensorMetadata(spec, signature.batching(), response->add_inputs());
  }
  for (const TensorSpec& spec : signature.outputs) {
    AddTensorMetadata(spec, signature.batching(), response->add_outputs());
  }
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ModelInfer(grpc::CallbackServerContext* context,
                                                       const inference::ModelInferRequest* request,
                                                       inference::ModelInferResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Submit(*request, ClientDeadline(*context),
         std::make_unique<UnaryResponder>(context, reactor, response));
  return reactor;
}

grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>*
InferenceService::ModelStreamInfer(grpc::CallbackServerContext* context) {
  return new InferStreamReactor(context, this);
}

}  // namespace octet::server
