// End to end over real gRPC on loopback: an in-process OctetServer on the example model,
// called through the octet_client library (and the raw generated stub for requests the library
// would refuse to build). Health, reflection, metadata, inference against the engine's own
// answers, streaming, every kind of bad request, many concurrent clients, limits, admin token.
#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"

namespace octet::e2e {
namespace {

using ::testing::HasSubstr;

constexpr char kModel[] = "lenet";

class ServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repository_.AddModel(kModel, LenetConfig(8, "dynamic_batching { }"));
    server_ = StartServer(ServerOptions(repository_.path()));
    ASSERT_NE(server_, nullptr);
    client_ = MakeClient(Address(*server_));
    stub_ = MakeStub(Address(*server_));
  }

  // A raw ModelInfer; the status as absl.
  absl::Status RawInfer(const inference::ModelInferRequest& request,
                        inference::ModelInferResponse* response = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    inference::ModelInferResponse ignored;
    grpc::Status status =
        stub_->ModelInfer(&context, request, response != nullptr ? response : &ignored);
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }

  TestRepository repository_;
  std::unique_ptr<server::OctetServer> server_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
  ReferenceModel reference_;
};

TEST_F(ServingTest, HealthReflectionAndMetadata) {
  EXPECT_TRUE(*client_->ServerLive());
  EXPECT_TRUE(*client_->ServerReady());
  EXPECT_TRUE(*client_->ModelReady(kModel));
  EXPECT_TRUE(*client_->ModelReady(kModel, "1"));
  EXPECT_EQ(client_->ModelReady("nope").status().code(), absl::StatusCode::kNotFound);

  auto channel = grpc::CreateChannel(Address(*server_), grpc::InsecureChannelCredentials());
  EXPECT_EQ(*HealthCheck(channel, ""), 1);  // SERVING
  absl::StatusOr<std::string> services = ReflectionListServices(channel);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, HasSubstr("inference.GRPCInferenceService"));
  EXPECT_THAT(*services, HasSubstr("grpc.health.v1.Health"));

  auto server = client_->ServerMetadata();
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server->name(), "octet");
  EXPECT_THAT(server->extensions(), ::testing::Contains("model_repository"));
  auto model = client_->ModelMetadata(kModel);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->platform(), "octet_onnx_fp32");
  EXPECT_THAT(model->versions(), ::testing::ElementsAre("1"));
  ASSERT_EQ(model->inputs_size(), 1);
  EXPECT_EQ(model->inputs(0).datatype(), "FP32");
  EXPECT_THAT(model->inputs(0).shape(), ::testing::ElementsAre(-1, 1, 28, 28));
  EXPECT_THAT(model->outputs(0).shape(), ::testing::ElementsAre(-1, 10));
}

TEST_F(ServingTest, InferReturnsTheEnginesOutputForOneAndSeveralSamples) {
  for (int n : {1, 3, 8}) {
    const std::vector<float> images = Images(n, n);
    client::InferRequest request = ClientRequest(kModel, images);
    request.id = absl::StrCat("req-", n);
    absl::StatusOr<client::InferResult> result = client_->Infer(request);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->id, request.id);
    EXPECT_EQ(result->model_version, "1");
    ASSERT_EQ(result->outputs.size(), 1u);
    EXPECT_THAT(result->outputs[0].shape, ::testing::ElementsAre(n, 10));
    ExpectSameLogits(*result->AsFloats(kOutput), reference_.Logits(images), request.id);
  }
  // Typed contents give the same answer as raw ones.
  const std::vector<float> image = Images(42);
  inference::ModelInferRequest typed = RawRequest(kModel, image);
  typed.clear_raw_input_contents();
  for (float p : image) typed.mutable_inputs(0)->mutable_contents()->add_fp32_contents(p);
  inference::ModelInferResponse response;
  ASSERT_TRUE(RawInfer(typed, &response).ok());
  ExpectSameLogits(RawLogits(response), reference_.Logits(image), "typed contents");

  inference::ModelStatistics stats = Stats(*client_, kModel);
  EXPECT_EQ(stats.inference_count(), 1u + 3u + 8u + 1u);
  EXPECT_EQ(stats.inference_stats().success().count(), 4u);
}

TEST_F(ServingTest, StreamAnswersEveryRequestAndReportsErrorsInline) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub_->ModelStreamInfer(&context);
  constexpr int kRequests = 6;
  for (int i = 0; i < kRequests; ++i) {
    inference::ModelInferRequest request = RawRequest(kModel, Images(100 + i));
    request.set_id(absl::StrCat(i));
    if (i == 3) request.mutable_inputs(0)->set_datatype("INT32");
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  inference::ModelStreamInferResponse response;
  int answers = 0;
  while (stream->Read(&response)) {
    ++answers;
    const int i = std::stoi(response.infer_response().id());
    if (i == 3) {
      EXPECT_THAT(response.error_message(), HasSubstr("datatype 'INT32'"));
    } else {
      EXPECT_EQ(response.error_message(), "");
      ExpectSameLogits(RawLogits(response.infer_response()), reference_.Logits(Images(100 + i)),
                       absl::StrCat("stream request ", i));
    }
  }
  EXPECT_EQ(answers, kRequests);
  EXPECT_TRUE(stream->Finish().ok());
}

// Every way a request can be wrong gets NOT_FOUND or INVALID_ARGUMENT saying what, and the
// server keeps serving.
TEST_F(ServingTest, BadRequestsGetClearErrorsAndTheServerKeepsServing) {
  const std::vector<float> image = Images(7);
  struct Case {
    std::string what;
    std::function<void(inference::ModelInferRequest*)> mutate;
    absl::StatusCode code;
    std::string message;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<Case> cases = {
      {"unknown model", [](auto* r) { r->set_model_name("resnet"); }, absl::StatusCode::kNotFound,
       "unknown model 'resnet'"},
      {"unknown version", [](auto* r) { r->set_model_version("7"); }, absl::StatusCode::kNotFound,
       "has no version 7"},
      {"bad version", [](auto* r) { r->set_model_version("latest"); }, absl::StatusCode::kNotFound,
       "no version 'latest'"},
      {"wrong dtype", [](auto* r) { r->mutable_inputs(0)->set_datatype("UINT8"); },
       absl::StatusCode::kInvalidArgument, "datatype 'UINT8' but the model expects FP32"},
      {"wrong rank", [](auto* r) { r->mutable_inputs(0)->mutable_shape()->RemoveLast(); },
       absl::StatusCode::kInvalidArgument, "has rank 3; expected rank 4"},
      {"wrong dim", [](auto* r) { r->mutable_inputs(0)->set_shape(2, 27); },
       absl::StatusCode::kInvalidArgument, "dimension 2 is 27, expected 28"},
      {"negative dim", [](auto* r) { r->mutable_inputs(0)->set_shape(0, -1); },
       absl::StatusCode::kInvalidArgument, "negative dimension"},
      {"huge batch", [](auto* r) { r->mutable_inputs(0)->set_shape(0, int64_t{1} << 62); },
       absl::StatusCode::kInvalidArgument, "exceeds the model's max_batch_size 8"},
      {"byte count", [](auto* r) { r->mutable_raw_input_contents(0)->resize(100); },
       absl::StatusCode::kInvalidArgument, "holds 100 bytes but shape [1, 1, 28, 28]"},
      {"byte count for the batch", [](auto* r) { r->mutable_inputs(0)->set_shape(0, 2); },
       absl::StatusCode::kInvalidArgument, "needs 6272"},
      {"missing input",
       [](auto* r) {
         r->clear_inputs();
         r->clear_raw_input_contents();
       },
       absl::StatusCode::kInvalidArgument, "missing input 'input'"},
      {"unknown input", [](auto* r) { r->mutable_inputs(0)->set_name("image"); },
       absl::StatusCode::kInvalidArgument, "unknown input 'image'"},
      {"NaN",
       [nan](auto* r) {
         std::string& raw = *r->mutable_raw_input_contents(0);
         std::memcpy(raw.data() + 40, &nan, sizeof(nan));
       },
       absl::StatusCode::kInvalidArgument, "element 10 is NaN"},
      {"unknown output", [](auto* r) { r->add_outputs()->set_name("probs"); },
       absl::StatusCode::kInvalidArgument, "requested output 'probs'"},
      {"label type", [](auto* r) { (*r->mutable_parameters())["label"].set_bool_param(true); },
       absl::StatusCode::kInvalidArgument, "parameter 'label'"},
  };
  for (const Case& c : cases) {
    inference::ModelInferRequest request = RawRequest(kModel, image);
    c.mutate(&request);
    absl::Status status = RawInfer(request);
    EXPECT_EQ(status.code(), c.code) << c.what << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message)) << c.what;
  }
  inference::ModelInferResponse response;
  ASSERT_TRUE(RawInfer(RawRequest(kModel, image), &response).ok());
  ExpectSameLogits(RawLogits(response), reference_.Logits(image), "after the bad requests");
  // Requests that reached the model (all but the unknown model and versions) count as failed.
  EXPECT_EQ(Stats(*client_, kModel).inference_stats().fail().count(), cases.size() - 3);
}

// Many clients at once, each with its own input: each gets its own answer even when the batcher
// puts requests of several clients (some with several samples) into one batch.
TEST(ConcurrencyTest, ConcurrentClientsEachGetTheAnswerForTheirOwnInput) {
  TestRepository repository;
  repository.AddModel(kModel, LenetConfig(16,
                                          "dynamic_batching { max_queue_delay_microseconds: 3000 "
                                          "preferred_batch_size: [8, 16] }"));
  std::unique_ptr<server::OctetServer> server = StartServer(ServerOptions(repository.path()));
  ASSERT_NE(server, nullptr);
  constexpr int kThreads = 32;
  constexpr int kRequestsPerThread = 6;
  // Inputs and the engine's answers, computed before the clients start.
  ReferenceModel reference;
  std::vector<std::vector<std::vector<float>>> inputs(kThreads), expected(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRequestsPerThread; ++r) {
      inputs[t].push_back(Images(1000 * t + r, 1 + (t + r) % 3));
      expected[t].push_back(reference.Logits(inputs[t].back()));
    }
  }
  std::unique_ptr<client::Client> client = MakeClient(Address(*server));
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRequestsPerThread; ++r) {
        client::InferRequest request = ClientRequest(kModel, inputs[t][r]);
        request.id = absl::StrCat(t, "/", r);
        absl::StatusOr<client::InferResult> result = client->Infer(request);
        if (!result.ok() || result->id != request.id) {
          ++failures;
          continue;
        }
        if (!SameLogits(*result->AsFloats(kOutput), expected[t][r])) ++mismatches;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  inference::ModelStatistics stats = Stats(*client, kModel);
  EXPECT_EQ(stats.inference_stats().success().count(), uint64_t{kThreads * kRequestsPerThread});
  // Requests did share batches: fewer executions than requests.
  EXPECT_LT(stats.execution_count(), uint64_t{kThreads * kRequestsPerThread});
}

TEST(LimitsTest, OversizedMessagesAndTensorsAreRefused) {
  TestRepository repository;
  repository.AddModel(kModel, LenetConfig(8));
  server::OctetServerOptions options = ServerOptions(repository.path());
  options.max_message_bytes = 64 << 10;
  options.max_tensor_elements = 2 * kPixels;
  std::unique_ptr<server::OctetServer> server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto stub = MakeStub(Address(*server));
  auto call = [&](const inference::ModelInferRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    inference::ModelInferResponse response;
    return stub->ModelInfer(&context, request, &response);
  };
  EXPECT_TRUE(call(RawRequest(kModel, Images(1, 2))).ok());
  grpc::Status elements = call(RawRequest(kModel, Images(1, 3)));
  EXPECT_EQ(elements.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(elements.error_message(), HasSubstr("limit of 1568"));
  // 80 KB of raw bytes: over the 64 KiB message limit, whatever the tensor says.
  inference::ModelInferRequest big = RawRequest(kModel, Images(1));
  big.mutable_raw_input_contents(0)->resize(80 << 10);
  EXPECT_EQ(call(big).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(call(RawRequest(kModel, Images(2))).ok());
}

TEST(AdminTokenTest, LoadAndUnloadNeedTheTokenAndNothingChangesWithoutIt) {
  TestRepository repository;
  repository.AddModel(kModel, LenetConfig(8));
  server::OctetServerOptions options = ServerOptions(repository.path());
  options.admin_token = "open-sesame";
  std::unique_ptr<server::OctetServer> server = StartServer(options);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<client::Client> anonymous = MakeClient(Address(*server));
  std::unique_ptr<client::Client> wrong = MakeClient(Address(*server), "open-sesame!");
  std::unique_ptr<client::Client> admin = MakeClient(Address(*server), "open-sesame");

  for (client::Client* c : {anonymous.get(), wrong.get()}) {
    absl::Status unload = c->UnloadModel(kModel);
    EXPECT_EQ(unload.code(), absl::StatusCode::kUnauthenticated) << unload;
    EXPECT_EQ(c->LoadModel(kModel).code(), absl::StatusCode::kUnauthenticated);
    EXPECT_TRUE(*c->ModelReady(kModel));                           // nothing changed
    EXPECT_TRUE(c->Infer(ClientRequest(kModel, Images(1))).ok());  // inference needs no token
  }
  EXPECT_THAT(std::string(anonymous->UnloadModel(kModel).message()),
              HasSubstr("needs the admin token"));
  EXPECT_THAT(std::string(wrong->UnloadModel(kModel).message()), HasSubstr("wrong admin token"));
  ASSERT_TRUE(admin->UnloadModel(kModel).ok());
  EXPECT_FALSE(*admin->ModelReady(kModel));
  ASSERT_TRUE(admin->LoadModel(kModel).ok());
  EXPECT_TRUE(*admin->ModelReady(kModel));
}

TEST(RepositoryTest, BrokenModelsAreReportedWhileOthersServe) {
  TestRepository repository;
  repository.AddModel(kModel, LenetConfig(8));
  repository.AddModel("broken", "max_batch_size: 8 input [ { name: \"x\" } ]");
  repository.AddModel("fixed-shape", LenetConfig(0));  // no batch dimension: full shapes
  std::unique_ptr<server::OctetServer> server = StartServer(ServerOptions(repository.path()));
  ASSERT_NE(server, nullptr);
  std::unique_ptr<client::Client> client = MakeClient(Address(*server));
  absl::StatusOr<inference::RepositoryIndexResponse> index = client->RepositoryIndex();
  ASSERT_TRUE(index.ok());
  ASSERT_EQ(index->models_size(), 3);
  for (const auto& model : index->models()) {
    if (model.name() == "broken") {
      EXPECT_EQ(model.state(), "UNAVAILABLE");
      EXPECT_THAT(model.reason(), HasSubstr("data_type TYPE_INVALID is not supported"));
    } else {
      EXPECT_EQ(model.state(), "READY") << model.name();
    }
  }
  absl::Status broken = client->Infer(ClientRequest("broken", Images(1))).status();
  EXPECT_EQ(broken.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(broken.message()), HasSubstr("TYPE_INVALID"));
  EXPECT_TRUE(client->Infer(ClientRequest(kModel, Images(1))).ok());

  ReferenceModel reference;
  absl::StatusOr<client::InferResult> fixed =
      client->Infer(ClientRequest("fixed-shape", Images(5)));
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_THAT(fixed->outputs[0].shape, ::testing::ElementsAre(1, 10));
  ExpectSameLogits(*fixed->AsFloats(kOutput), reference.Logits(Images(5)), "max_batch_size 0");
  EXPECT_EQ(client->Infer(ClientRequest("fixed-shape", Images(5, 2))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace octet::e2e
