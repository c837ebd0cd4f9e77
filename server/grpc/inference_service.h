// InferenceService: inference.GRPCInferenceService (KServe v2 plus Triton's repository, statistics
// and streaming extensions) on gRPC's callback API, in front of a ModelRepository.
//
// ModelInfer runs on the gRPC thread only as far as decoding and validating the request against
// the model version's signature and queueing an InferTask on that version's BatchScheduler; the
// batch thread that runs it finishes the RPC (DESIGN.md, "Data flow of one request"). No
// reaction blocks: loads and unloads run on a SerialExecutor and finish their RPC from there.
// ModelStreamInfer takes the same path for each request of a stream and writes each answer (or
// its error, in error_message) as soon as it is ready, in completion order.
//
//   InferenceService service(options);
//   builder.RegisterService(&service);
//   ...
//   service.StopAccepting();  // ServerReady false; new inference requests: UNAVAILABLE
//   service.StopControl();    // waits for running loads and unloads
//
// Ownership: the repository and the authorizer are borrowed and must outlive the service and
// every RPC it serves. Thread-safety: thread-safe; gRPC calls it from any thread.
#ifndef OCTET_SERVER_GRPC_INFERENCE_SERVICE_H_
#define OCTET_SERVER_GRPC_INFERENCE_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "inference.grpc.pb.h"
#include "server/batching/clock.h"
#include "server/grpc/admin_auth.h"
#include "server/grpc/serial_executor.h"
#include "server/inference/infer_task.h"
#include "server/inference/tensor_codec.h"
#include "server/repository/model_repository.h"

namespace octet::server {

class InferenceService final : public inference::GRPCInferenceService::CallbackService {
 public:
  struct Options {
    ModelRepository* repository = nullptr;   // not owned; never null
    const AdminAuthorizer* admin = nullptr;  // not owned; null: control RPCs are open
    CodecLimits limits;
    std::string server_name = "octet";
    std::string server_version = "0.1.0";
    batching::Clock* clock = batching::Clock::Real();  // not owned; when requests arrive
  };

  explicit InferenceService(Options options);
  ~InferenceService() override;

  // Readiness goes false and inference requests are refused with UNAVAILABLE from now on.
  void StopAccepting() { accepting_.store(false); }
  bool accepting() const { return accepting_.load(); }
  // Refuses new loads and unloads and returns once the running ones have finished.
  void StopControl() { control_.Shutdown(); }

  // Decodes `request`, finds its model version and queues it; every outcome, including each
  // error, is answered through `responder`. Never blocks. `client_deadline` is
  // absl::InfiniteFuture() when the client set none.
  void Submit(const inference::ModelInferRequest& request, absl::Time client_deadline,
              std::unique_ptr<InferResponder> responder);

  // inference.GRPCInferenceService.
  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest* request,
                                       inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const inference::ServerReadyRequest* request,
                                        inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest* request,
                                           inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) override;
  grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>*
  ModelStreamInfer(grpc::CallbackServerContext* context) override;

  // Defined in inference_service_repository.cc.
  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* context,
                                            const inference::RepositoryIndexRequest* request,
                                            inference::RepositoryIndexResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelLoad(
      grpc::CallbackServerContext* context, const inference::RepositoryModelLoadRequest* request,
      inference::RepositoryModelLoadResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelUnload(
      grpc::CallbackServerContext* context, const inference::RepositoryModelUnloadRequest* request,
      inference::RepositoryModelUnloadResponse* response) override;

 private:
  // Runs `work` (a load or unload) on the control thread after the admin check, and finishes
  // the RPC with its status.
  grpc::ServerUnaryReactor* RunControl(grpc::CallbackServerContext* context,
                                       std::function<absl::Status()> work);

  // Constant after construction.
  const Options options_;

  std::atomic<bool> accepting_{true};
  SerialExecutor control_;
};

// The client's deadline of a call; absl::InfiniteFuture() when it set none.
absl::Time ClientDeadline(const grpc::ServerContextBase& context);

}  // namespace octet::server

#endif  // OCTET_SERVER_GRPC_INFERENCE_SERVICE_H_
