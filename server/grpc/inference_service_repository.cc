// InferenceService: the repository and statistics RPCs (Triton's "model_repository" and
// "statistics" extensions). The inference RPCs are in inference_service.cc.
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/grpc/inference_service.h"
#include "server/grpc/status_conversion.h"

namespace octet::server {

grpc::ServerUnaryReactor* InferenceService::ModelStatistics(
    grpc::CallbackServerContext* context, const inference::ModelStatisticsRequest* request,
    inference::ModelStatisticsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<std::vector<inference::ModelStatistics>> stats =
      options_.repository->Statistics(request->name(), request->version());
  if (stats.ok()) {
    for (inference::ModelStatistics& s : *stats) *response->add_model_stats() = std::move(s);
  }
  reactor->Finish(ToGrpcStatus(stats.status()));
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::RepositoryIndex(
    grpc::CallbackServerContext* context, const inference::RepositoryIndexRequest* request,
    inference::RepositoryIndexResponse* response) {
  // One repository per server: repository_name is not checked.
  for (const ModelRepository::IndexEntry& entry : options_.repository->Index(request->ready())) {
    inference::RepositoryIndexResponse::ModelIndex* model = response->add_models();
    model->set_name(entry.name);
    model->set_version(entry.version);
    model->set_state(entry.state);
    model->set_reason(entry.reason);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::RunControl(grpc::CallbackServerContext* context,
                                                       std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (options_.admin != nullptr) {
    if (absl::Status denied = options_.admin->Check(*context); !denied.ok()) {
      reactor->Finish(ToGrpcStatus(denied));
      return reactor;
    }
  }
  // The RPC stays open until `work` finishes; gRPC keeps `reactor` alive until then.
  const bool queued = control_.Schedule(
      [reactor, work = std::move(work)] { reactor->Finish(ToGrpcStatus(work())); });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(absl::UnavailableError("the server is shutting down")));
  }
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::RepositoryModelLoad(
    grpc::CallbackServerContext* context, const inference::RepositoryModelLoadRequest* request,
    inference::RepositoryModelLoadResponse*) {
  if (!request->parameters().empty()) {
    return RunControl(context, [name = request->parameters().begin()->first] {
      return absl::InvalidArgumentError(absl::StrCat(
          "load parameter '", name,
          "' is not supported: Octet loads models only from the repository directory"));
    });
  }
  return RunControl(context, [repository = options_.repository, name = request->model_name()] {
    return repository->Load(name);
  });
}

grpc::ServerUnaryReactor* InferenceService::RepositoryModelUnload(
    grpc::CallbackServerContext* context, const inference::RepositoryModelUnloadRequest* request,
    inference::RepositoryModelUnloadResponse*) {
  return RunControl(context, [repository = options_.repository, name = request->model_name()] {
    return repository->Unload(name);
  });
}

}  // namespace octet::server
