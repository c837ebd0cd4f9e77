// FakeInferenceServer: a test double of an Octet server for the client library's and the CLI's
// tests. It is not the server: it serves inference.GRPCInferenceService and octet.v1.Calibration
// on 127.0.0.1 (a free port) from a table of fake models, answers with canned or computed
// responses, and records what clients sent so that tests can assert on it.
//
//   ASSIGN_OR_RETURN(auto server, FakeInferenceServer::Start());
//   server->AddModel(FakeInferenceServer::Classifier("digits", {1, 28, 28}, 10));
//   ClientOptions options;
//   options.url = server->address();
//   ... client->Infer(...) ...
//   EXPECT_EQ(server->infer_requests().size(), 1);
//
// Behaviour worth knowing:
//  - ModelInfer checks the request against the model's metadata (names, datatypes, rank and fixed
//    dimensions, raw sizes) like a real server, then runs FakeModel::infer. A FakeModel::latency
//    delays the answer with a gRPC alarm; no gRPC thread is blocked.
//  - ModelStatistics reports per model: successes, inference (batch elements) and execution
//    counts, queue time = FakeModel::queue_time per request and compute time = latency.
//  - Calibrate takes the spec, records every sample, and after the client half-closes streams two
//    progress messages (RECEIVING, OBSERVING) and a report summarizing what it received, or ends
//    with the error set by FailCalibration().
//  - With Options::required_token, every RPC without "authorization: Bearer <token>" gets
//    UNAUTHENTICATED.
//
// Threads: all methods are thread-safe; the server runs on gRPC's threads until destroyed.
#ifndef OCTET_CLIENT_TESTING_FAKE_INFERENCE_SERVER_H_
#define OCTET_CLIENT_TESTING_FAKE_INFERENCE_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "inference.grpc.pb.h"
#include "octet/v1/calibration.grpc.pb.h"

namespace octet::client::testing {

struct FakeModel {
  // name, versions (the first is reported by RepositoryIndex), platform, inputs and outputs.
  inference::ModelMetadataResponse metadata;
  // Computes the answer to a request already checked against `metadata`.
  std::function<grpc::Status(const inference::ModelInferRequest&, inference::ModelInferResponse*)>
      infer;
  absl::Duration latency = absl::ZeroDuration();
  absl::Duration queue_time = absl::ZeroDuration();
  // Unloaded models answer ModelReady false and ModelInfer UNAVAILABLE.
  bool loaded = true;
};

class FakeInferenceServer {
 public:
  struct Options {
    // Empty: no authorization required.
    std::string required_token;
    // Default: plaintext.
    std::shared_ptr<grpc::ServerCredentials> credentials;
  };

  static absl::StatusOr<std::unique_ptr<FakeInferenceServer>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<FakeInferenceServer>> Start() { return Start(Options()); }
  ~FakeInferenceServer();

  // "127.0.0.1:<port>".
  std::string address() const { return address_; }

  // Adds or replaces a model (by metadata.name()).
  void AddModel(FakeModel model);

  // A classifier: one FP32 input "input" of shape [-1, input_dims...] (UINT8 with `uint8_input`)
  // and one FP32 output "scores" of shape [-1, classes], where row b's scores[c] is element c of
  // input row b (0 past its end). Tests pick the predicted class by the input they send.
  static FakeModel Classifier(const std::string& name, std::vector<int64_t> input_dims, int classes,
                              bool uint8_input = false);

  void SetServerReady(bool ready);
  // Calibrate calls end with `status` (after reading the samples) until cleared with OkStatus.
  void FailCalibration(grpc::Status status);

  // What clients sent, in arrival order.
  std::vector<inference::ModelInferRequest> infer_requests() const;
  std::vector<octet::v1::CalibrateRequest> calibrate_requests() const;
  // The authorization header of every call ("" when absent).
  std::vector<std::string> authorization_headers() const;

  // ---- Implementation details follow ----
  // State shared with the services; public only so that they can name it.
  struct State {
    mutable absl::Mutex mutex;
    std::string required_token;  // constant after Start
    bool server_ready ABSL_GUARDED_BY(mutex) = true;
    std::map<std::string, FakeModel> models ABSL_GUARDED_BY(mutex);
    std::map<std::string, inference::ModelStatistics> stats ABSL_GUARDED_BY(mutex);
    grpc::Status calibration_error ABSL_GUARDED_BY(mutex);
    std::map<std::string, octet::v1::CalibrationReport> reports ABSL_GUARDED_BY(mutex);
    std::vector<inference::ModelInferRequest> infer_requests ABSL_GUARDED_BY(mutex);
    std::vector<octet::v1::CalibrateRequest> calibrate_requests ABSL_GUARDED_BY(mutex);
    std::vector<std::string> authorization_headers ABSL_GUARDED_BY(mutex);

    // Records the call's authorization header; UNAUTHENTICATED when a required token is missing.
    grpc::Status CheckToken(const grpc::CallbackServerContext* context);
  };

 private:
  FakeInferenceServer() = default;

  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::unique_ptr<grpc::Service> inference_service_;
  std::unique_ptr<grpc::Service> calibration_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace octet::client::testing

#endif  // OCTET_CLIENT_TESTING_FAKE_INFERENCE_SERVER_H_
