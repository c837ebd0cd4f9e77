// What the end-to-end tests share: temporary model repositories built from the example model,
// an in-process OctetServer on a free loopback port, clients (the octet_client library and the
// raw generated stub, for requests the library would refuse to send), deterministic inputs with
// the engine's own answers for them, and byte-level calls to grpc.health.v1 and server
// reflection (whose generated classes Debian does not ship).
//
// Test code: not thread-safe unless a function says so.
#ifndef OCTET_TESTS_E2E_E2E_SUPPORT_H_
#define OCTET_TESTS_E2E_E2E_SUPPORT_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/octet_client.h"
#include "engine/model.h"
#include "engine/session.h"
#include "grpcpp/channel.h"
#include "inference.grpc.pb.h"
#include "server/server.h"
#include "tests/support/temp_dir.h"

namespace octet::e2e {

// examples/models/fashion-lenet/1/model.onnx: input "input" [N,1,28,28], output "logits" [N,10].
std::string ExampleModelPath();
inline constexpr char kInput[] = "input";
inline constexpr char kOutput[] = "logits";
inline constexpr int kPixels = 28 * 28;
inline constexpr int kClasses = 10;

// The example model's input and output lines of a config.pbtxt, for building test configs.
std::string LenetConfig(int max_batch_size, const std::string& extra = "");

using ::octet::test::TempDir;  // tests/support/temp_dir.h

void WriteFile(const std::string& path, const std::string& contents);

// A model repository in a temporary directory.
class TestRepository {
 public:
  // <root>/<model>/config.pbtxt = `config`, and the example model as each of `versions`.
  void AddModel(const std::string& model, const std::string& config,
                const std::vector<int>& versions = {1});
  const std::string& path() const { return dir_.path(); }

 private:
  TempDir dir_;
};

// Options for an in-process server on 127.0.0.1:0 serving `repository`, quiet, one core.
server::OctetServerOptions ServerOptions(const std::string& repository);
// Starts it; fails the test (and returns null) when it cannot.
std::unique_ptr<server::OctetServer> StartServer(server::OctetServerOptions options);
std::string Address(const server::OctetServer& server);

std::unique_ptr<client::Client> MakeClient(const std::string& address,
                                           const std::string& token = "");
std::unique_ptr<inference::GRPCInferenceService::Stub> MakeStub(const std::string& address);

// `count` deterministic images (pixel values 0..255) for a seed, flattened.
std::vector<float> Images(int seed, int count = 1);

// The engine's logits for images, computed directly (no server). Thread-safe.
class ReferenceModel {
 public:
  ReferenceModel();  // the example model
  // Any model with the example model's interface ("input" [N,1,28,28] -> "logits").
  explicit ReferenceModel(std::shared_ptr<const Model> model) : model_(std::move(model)) {}
  std::vector<float> Logits(const std::vector<float>& images) const;

 private:
  std::shared_ptr<const Model> model_;
};

// EXPECTs that served logits equal the engine's (batching may change the arithmetic order, so
// within a small relative tolerance) and have the same top-1 per row.
void ExpectSameLogits(const std::vector<float>& served, const std::vector<float>& direct,
                      const std::string& what);
bool SameLogits(const std::vector<float>& served, const std::vector<float>& direct);

// A ModelInferRequest for the example model with raw contents.
inference::ModelInferRequest RawRequest(const std::string& model, const std::vector<float>& images);
client::InferRequest ClientRequest(const std::string& model, const std::vector<float>& images);
// The FP32 values of a response's first raw output.
std::vector<float> RawLogits(const inference::ModelInferResponse& response);

// grpc.health.v1.Health/Check for `service` ("" = the server): the serving status number
// (1 SERVING, 2 NOT_SERVING), or the call's error.
absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& service);
// The raw bytes of grpc.reflection.v1alpha's ListServiceResponse.
absl::StatusOr<std::string> ReflectionListServices(const std::shared_ptr<grpc::Channel>& channel);

// Calls `poll` until it returns true or `timeout` passes; returns its last answer. For waiting
// on what only polling can observe (server statistics), never for ordering threads.
bool Eventually(const std::function<bool()>& poll, absl::Duration timeout = absl::Seconds(60));

// Statistics of one model version ("" = the latest), or the default message on error.
inference::ModelStatistics Stats(const client::Client& client, const std::string& model);

}  // namespace octet::e2e

#endif  // OCTET_TESTS_E2E_E2E_SUPPORT_H_
