#include "tests/e2e/e2e_support.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/impl/codegen/client_unary_call.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"

namespace octet::e2e {
namespace {

namespace fs = std::filesystem;

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes;
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

std::string ExampleModelPath() {
  return std::string(OCTET_SOURCE_DIR) + "/examples/models/fashion-lenet/1/model.onnx";
}

std::string LenetConfig(int max_batch_size, const std::string& extra) {
  return absl::StrCat("max_batch_size: ", max_batch_size, "\n",
                      max_batch_size > 0
                          ? "input [ { name: \"input\" data_type: TYPE_FP32 dims: [1,28,28] } ]\n"
                            "output [ { name: \"logits\" data_type: TYPE_FP32 dims: [10] } ]\n"
                          : "input [ { name: \"input\" data_type: TYPE_FP32 dims: [1,1,28,28] } ]"
                            "\noutput [ { name: \"logits\" data_type: TYPE_FP32 dims: [1,10] } ]\n",
                      extra, "\n");
}

void WriteFile(const std::string& path, const std::string& contents) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << contents;
}

void TestRepository::AddModel(const std::string& model, const std::string& config,
                              const std::vector<int>& versions) {
  WriteFile(absl::StrCat(path(), "/", model, "/config.pbtxt"), config);
  for (int v : versions) {
    const std::string dir = absl::StrCat(path(), "/", model, "/", v);
    fs::create_directories(dir);
    fs::copy_file(ExampleModelPath(), dir + "/model.onnx", fs::copy_options::overwrite_existing);
  }
}

server::OctetServerOptions ServerOptions(const std::string& repository) {
  server::OctetServerOptions options;
  options.model_repository = repository;
  options.grpc_address = "127.0.0.1:0";
  options.threads = 1;
  options.log = [](const std::string&) {};
  return options;
}

std::unique_ptr<server::OctetServer> StartServer(server::OctetServerOptions options) {
  absl::StatusOr<std::unique_ptr<server::OctetServer>> server =
      server::OctetServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

std::string Address(const server::OctetServer& server) {
  return absl::StrCat("127.0.0.1:", server.port());
}

std::unique_ptr<client::Client> MakeClient(const std::string& address, const std::string& token) {
  client::ClientOptions options;
  options.url = address;
  options.token = token;
  options.default_timeout = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<client::Client>> client = client::Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

std::unique_ptr<inference::GRPCInferenceService::Stub> MakeStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return inference::GRPCInferenceService::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

std::vector<float> Images(int seed, int count) {
  std::vector<float> pixels(static_cast<size_t>(count) * kPixels);
  uint32_t state = 2654435761u * static_cast<uint32_t>(seed + 1);
  for (float& p : pixels) {
    state = state * 1664525u + 1013904223u;
    p = static_cast<float>((state >> 24) & 0xff);
  }
  return pixels;
}

ReferenceModel::ReferenceModel() {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(ExampleModelPath());
  EXPECT_TRUE(model.ok()) << model.status();
  if (model.ok()) model_ = *model;
}

std::vector<float> ReferenceModel::Logits(const std::vector<float>& images) const {
  const int64_t n = static_cast<int64_t>(images.size() / kPixels);
  Tensor input(DataType::kFloat32, {n, 1, 28, 28});
  std::memcpy(input.raw_data(), images.data(), images.size() * sizeof(float));
  SessionOptions options;
  options.threads = 1;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(model_, options);
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return {};
  absl::StatusOr<std::vector<Tensor>> outputs = (*session)->Run({input.view()});
  EXPECT_TRUE(outputs.ok()) << outputs.status();
  if (!outputs.ok()) return {};
  const Tensor& logits = (*outputs)[0];
  return std::vector<float>(logits.data<float>(), logits.data<float>() + logits.num_elements());
}

bool SameLogits(const std::vector<float>& served, const std::vector<float>& direct) {
  if (served.size() != direct.size() || served.empty()) return false;
  for (size_t i = 0; i < served.size(); ++i) {
    if (std::fabs(served[i] - direct[i]) > 1e-3f * (1.0f + std::fabs(direct[i]))) return false;
  }
  for (size_t row = 0; row + kClasses <= served.size(); row += kClasses) {
    auto top = [&](const std::vector<float>& v) {
      return std::max_element(v.begin() + row, v.begin() + row + kClasses) - v.begin();
    };
    if (top(served) != top(direct)) return false;
  }
  return true;
}

void ExpectSameLogits(const std::vector<float>& served, const std::vector<float>& direct,
                      const std::string& what) {
  EXPECT_TRUE(SameLogits(served, direct)) << what << ": served " << ::testing::PrintToString(served)
                                          << "\n engine " << ::testing::PrintToString(direct);
}

inference::ModelInferRequest RawRequest(const std::string& model,
                                        const std::vector<float>& images) {
  inference::ModelInferRequest request;
  request.set_model_name(model);
  auto* input = request.add_inputs();
  input->set_name(kInput);
  input->set_datatype("FP32");
  for (int64_t d :
       {static_cast<int64_t>(images.size() / kPixels), int64_t{1}, int64_t{28}, int64_t{28}}) {
    input->add_shape(d);
  }
  request.add_raw_input_contents(
      std::string(reinterpret_cast<const char*>(images.data()), images.size() * sizeof(float)));
  return request;
}

client::InferRequest ClientRequest(const std::string& model, const std::vector<float>& images) {
  client::InferRequest request;
  request.model = model;
  request.inputs.push_back(client::InferInput::FromFloats(
      kInput, {static_cast<int64_t>(images.size() / kPixels), 1, 28, 28}, images));
  return request;
}

std::vector<float> RawLogits(const inference::ModelInferResponse& response) {
  if (response.raw_output_contents_size() < 1) return {};
  const std::string& raw = response.raw_output_contents(0);
  std::vector<float> values(raw.size() / sizeof(float));
  std::memcpy(values.data(), raw.data(), values.size() * sizeof(float));
  return values;
}

absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& service) {
  // HealthCheckRequest { string service = 1; }
  std::string request;
  if (!service.empty()) {
    request = absl::StrCat(std::string(1, '\x0a'),
                           std::string(1, static_cast<char>(service.size())), service);
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::ByteBuffer response;
  grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel.get(),
      grpc::internal::RpcMethod("/grpc.health.v1.Health/Check",
                                grpc::internal::RpcMethod::NORMAL_RPC),
      &context, ToByteBuffer(request), &response);
  if (!status.ok()) return FromGrpc(status);
  // HealthCheckResponse { ServingStatus status = 1; }: absent means 0 (UNKNOWN).
  const std::string bytes = FromByteBuffer(response);
  if (bytes.size() == 2 && bytes[0] == '\x08') return static_cast<int>(bytes[1]);
  return 0;
}

absl::StatusOr<std::string> ReflectionListServices(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel.get(),
          grpc::internal::RpcMethod(
              "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
              grpc::internal::RpcMethod::BIDI_STREAMING),
          &context));
  // ServerReflectionRequest { string list_services = 7; } with an empty value.
  const std::string request("\x3a\x00", 2);
  if (!stream->Write(ToByteBuffer(request))) return absl::UnavailableError("write failed");
  stream->WritesDone();
  grpc::ByteBuffer response;
  std::string bytes;
  while (stream->Read(&response)) bytes += FromByteBuffer(response);
  grpc::Status status = stream->Finish();
  if (!status.ok()) return FromGrpc(status);
  return bytes;
}

bool Eventually(const std::function<bool()>& poll, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  for (;;) {
    if (poll()) return true;
    if (absl::Now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

inference::ModelStatistics Stats(const client::Client& client, const std::string& model) {
  absl::StatusOr<inference::ModelStatisticsResponse> stats = client.ModelStatistics(model);
  if (!stats.ok() || stats->model_stats_size() == 0) return inference::ModelStatistics();
  return stats->model_stats(stats->model_stats_size() - 1);
}

}  // namespace octet::e2e
