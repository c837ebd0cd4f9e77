#include "client/octet_client.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "client/testing/fake_inference_server.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace octet::client {
namespace {

using ::testing::ElementsAre;
using testing::FakeInferenceServer;
using ::testing::HasSubstr;

// ---- Create() validation: no server needed ----

absl::Status CreateError(const ClientOptions& options) { return Client::Create(options).status(); }

TEST(ClientCreate, DefaultsAreValidAndDoNotConnect) {
  ClientOptions options;
  options.url = "127.0.0.1:1";  // nothing listens there; Create must not care
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->options().url, "127.0.0.1:1");
  EXPECT_EQ(ClientOptions().url, "localhost:8001");
  EXPECT_EQ(ClientOptions().default_timeout, absl::Seconds(30));
  EXPECT_EQ(ClientOptions().max_message_bytes, 64 << 20);
}

TEST(ClientCreate, RejectsBadUrls) {
  ClientOptions options;
  options.url = "";
  EXPECT_THAT(CreateError(options).message(), HasSubstr("url is empty"));
  options.url = "http://localhost:8001";
  EXPECT_THAT(CreateError(options).message(), HasSubstr("http scheme"));
  options.url = "local host:1";
  EXPECT_EQ(CreateError(options).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClientCreate, RejectsNonPositiveLimits) {
  ClientOptions options;
  options.default_timeout = absl::ZeroDuration();
  EXPECT_THAT(CreateError(options).message(), HasSubstr("timeout must be positive"));
  options = ClientOptions();
  options.calibration_timeout = -absl::Seconds(1);
  EXPECT_FALSE(CreateError(options).ok());
  options = ClientOptions();
  options.max_message_bytes = 0;
  EXPECT_THAT(CreateError(options).message(), HasSubstr("max_message_bytes"));
}

TEST(ClientCreate, TlsFilesNeedTlsAndComeInPairs) {
  ClientOptions options;
  options.root_ca_file = "ca.pem";
  EXPECT_THAT(CreateError(options).message(), HasSubstr("TLS is off"));
  options = ClientOptions();
  options.tls = true;
  options.client_cert_file = "cert.pem";
  EXPECT_THAT(CreateError(options).message(), HasSubstr("give both or neither"));
}

TEST(ClientCreate, UnreadableCertificateFilesAreNamed) {
  ClientOptions options;
  options.tls = true;
  options.root_ca_file = "/nonexistent/ca.pem";
  const absl::Status s = CreateError(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("cannot read CA file '/nonexistent/ca.pem'"));

  const std::string empty = ::testing::TempDir() + "/empty.pem";
  std::ofstream(empty).close();
  options.root_ca_file = "";
  options.client_cert_file = empty;
  options.client_key_file = empty;
  EXPECT_THAT(CreateError(options).message(),
              HasSubstr("client certificate file '" + empty + "' is empty"));
}

TEST(ClientCreate, TlsWithSystemRootsNeedsNoFiles) {
  ClientOptions options;
  options.tls = true;
  EXPECT_TRUE(Client::Create(options).ok());
}

TEST(ClientCreate, RejectsATokenWithANewline) {
  ClientOptions options;
  options.token = "secret\n";
  EXPECT_THAT(CreateError(options).message(), HasSubstr("non-printable"));
}

// ---- Calls against the fake server ----

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(FakeInferenceServer::Options()); }

  void Start(FakeInferenceServer::Options server_options, ClientOptions options = ClientOptions()) {
    client_.reset();
    server_.reset();
    absl::StatusOr<std::unique_ptr<FakeInferenceServer>> server =
        FakeInferenceServer::Start(server_options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->AddModel(FakeInferenceServer::Classifier("digits", {4}, 3));
    options.url = server_->address();
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  static InferRequest DigitsRequest(std::vector<float> values) {
    InferRequest request;
    request.model = "digits";
    request.inputs.push_back(
        InferInput::FromFloats("input", {static_cast<int64_t>(values.size() / 4), 4}, values));
    return request;
  }

  std::unique_ptr<FakeInferenceServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, Health) {
  EXPECT_EQ(*client_->ServerLive(), true);
  EXPECT_EQ(*client_->ServerReady(), true);
  server_->SetServerReady(false);
  EXPECT_EQ(*client_->ServerReady(), false);
  EXPECT_EQ(*client_->ModelReady("digits"), true);
  EXPECT_EQ(*client_->ModelReady("digits", "1"), true);
  EXPECT_EQ(*client_->ModelReady("nope"), false);
}

TEST_F(ClientTest, Metadata) {
  absl::StatusOr<inference::ServerMetadataResponse> server = client_->ServerMetadata();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(server->name(), "fake-octet");

  absl::StatusOr<inference::ModelMetadataResponse> model = client_->ModelMetadata("digits");
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ(model->inputs_size(), 1);
  EXPECT_THAT(model->inputs(0).shape(), ElementsAre(-1, 4));

  const absl::Status missing = client_->ModelMetadata("nope").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "unknown model 'nope'");
  EXPECT_EQ(client_->ModelMetadata("digits", "9").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, RepositoryLoadUnloadAndStatistics) {
  absl::StatusOr<inference::RepositoryIndexResponse> index = client_->RepositoryIndex();
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->models_size(), 1);
  EXPECT_EQ(index->models(0).state(), "READY");

  ASSERT_TRUE(client_->UnloadModel("digits").ok());
  EXPECT_EQ(client_->RepositoryIndex()->models(0).state(), "UNAVAILABLE");
  EXPECT_EQ(client_->RepositoryIndex(/*ready_only=*/true)->models_size(), 0);
  EXPECT_EQ(client_->Infer(DigitsRequest({1, 2, 3, 4})).status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE(client_->LoadModel("digits").ok());
  EXPECT_EQ(client_->LoadModel("nope").code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(client_->Infer(DigitsRequest({1, 2, 3, 4, 5, 6, 7, 8})).ok());
  absl::StatusOr<inference::ModelStatisticsResponse> stats = client_->ModelStatistics("digits");
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->model_stats_size(), 1);
  EXPECT_EQ(stats->model_stats(0).inference_count(), 2u);  // one request of batch 2
  EXPECT_EQ(stats->model_stats(0).execution_count(), 1u);
}

TEST_F(ClientTest, InferRoundTrip) {
  InferRequest request = DigitsRequest({0.1f, 0.9f, 0.3f, 0.0f, 5, 1, 2, 0});
  request.id = "abc";
  request.parameters["label"] = int64_t{1};
  absl::StatusOr<InferResult> result = client_->Infer(request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->model_name, "digits");
  EXPECT_EQ(result->model_version, "1");
  EXPECT_EQ(result->id, "abc");
  EXPECT_THAT(*result->ArgMax("scores"), ElementsAre(1, 0));
  const std::vector<inference::ModelInferRequest> sent = server_->infer_requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].parameters().at("label").int64_param(), 1);
  EXPECT_EQ(sent[0].raw_input_contents_size(), 1);
}

TEST_F(ClientTest, ServerErrorsKeepCodeAndMessage) {
  InferRequest request = DigitsRequest({1, 2, 3, 4});
  request.inputs[0].name = "wrong";
  const absl::Status s = client_->Infer(request).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "model 'digits' has no input 'wrong'");
}

TEST_F(ClientTest, InvalidRequestsAreRefusedBeforeSending) {
  InferRequest request = DigitsRequest({1, 2, 3, 4});
  request.inputs[0].raw.pop_back();
  EXPECT_EQ(client_->Infer(request).status().code(), absl::StatusCode::kInvalidArgument);
  bool called = false;
  client_->AsyncInfer(request, [&](absl::StatusOr<InferResult> r) {
    called = true;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  });
  EXPECT_TRUE(called);  // inline, as documented
  EXPECT_TRUE(server_->infer_requests().empty());
}

TEST_F(ClientTest, AsyncInferCallsBackOncePerRequest) {
  constexpr int kRequests = 20;
  absl::Mutex mutex;
  int done = 0;
  std::vector<int64_t> classes;
  absl::Notification all_done;
  for (int i = 0; i < kRequests; ++i) {
    std::vector<float> v(4, 0.0f);
    v[i % 3] = 1.0f;
    client_->AsyncInfer(DigitsRequest(v), [&, i](absl::StatusOr<InferResult> r) {
      ASSERT_TRUE(r.ok()) << r.status();
      absl::MutexLock lock(&mutex);
      EXPECT_EQ((*r->ArgMax("scores"))[0], i % 3);
      if (++done == kRequests) all_done.Notify();
    });
  }
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::MutexLock lock(&mutex);
  EXPECT_EQ(done, kRequests);
}

TEST_F(ClientTest, AsyncInferOutlivesTheClient) {
  testing::FakeModel slow = FakeInferenceServer::Classifier("slow", {4}, 3);
  slow.latency = absl::Milliseconds(100);
  server_->AddModel(slow);
  InferRequest request = DigitsRequest({1, 2, 3, 4});
  request.model = "slow";
  absl::Notification done;
  absl::Status status = absl::UnknownError("not called");
  client_->AsyncInfer(request, [&](absl::StatusOr<InferResult> r) {
    status = r.status();
    done.Notify();
  });
  client_.reset();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(ClientTest, EveryCallHasADeadline) {
  testing::FakeModel slow = FakeInferenceServer::Classifier("slow", {4}, 3);
  slow.latency = absl::Seconds(5);
  server_->AddModel(slow);
  InferRequest request = DigitsRequest({1, 2, 3, 4});
  request.model = "slow";
  request.timeout = absl::Milliseconds(200);
  const absl::Time start = absl::Now();
  const absl::Status s = client_->Infer(request).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("cannot reach")));  // it was connected
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(ClientTest, TokenIsSentAsBearerHeader) {
  FakeInferenceServer::Options server_options;
  server_options.required_token = "s3cret";
  ClientOptions options;
  options.token = "s3cret";
  Start(server_options, options);
  ASSERT_TRUE(client_->ServerLive().ok());
  EXPECT_THAT(server_->authorization_headers(), ElementsAre("Bearer s3cret"));

  Start(server_options, ClientOptions());
  const absl::Status s = client_->RepositoryIndex().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
}

TEST(ClientConnection, UnreachableServerIsUnavailableNamingTheUrl) {
  std::string address;
  {
    auto server = FakeInferenceServer::Start();
    ASSERT_TRUE(server.ok());
    address = (*server)->address();
  }  // now nothing listens there
  ClientOptions options;
  options.url = address;
  options.default_timeout = absl::Seconds(5);
  std::unique_ptr<Client> client = *Client::Create(options);
  const absl::Time start = absl::Now();
  const absl::Status s = client->ServerLive().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("cannot reach " + address + ": "));
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));  // fails fast, not at the deadline
}

// ---- Calibration ----

std::vector<octet::v1::CalibrationSample> Samples(int chunks, int per_chunk) {
  std::vector<octet::v1::CalibrationSample> samples;
  for (int c = 0; c < chunks; ++c) {
    octet::v1::CalibrationSample s;
    s.set_role(c == chunks - 1 ? octet::v1::CalibrationSample::VALIDATION
                               : octet::v1::CalibrationSample::CALIBRATION);
    s.set_datatype("FP32");
    s.add_shape(per_chunk);
    s.add_shape(4);
    s.set_raw_contents(std::string(per_chunk * 4 * sizeof(float), '\0'));
    for (int i = 0; i < per_chunk; ++i) s.add_labels(c);
    samples.push_back(std::move(s));
  }
  return samples;
}

TEST_F(ClientTest, CalibrateStreamsSpecThenSamplesAndReturnsTheReport) {
  octet::v1::CalibrationSpec spec;
  spec.set_model_name("digits");
  spec.set_method(octet::v1::PERCENTILE);
  spec.set_percentile(99.9);
  spec.set_tolerance(0.5);
  std::vector<octet::v1::CalibrationProgress> progress;
  absl::StatusOr<octet::v1::CalibrationReport> report = client_->Calibrate(
      spec, Samples(5, 8), [&](const octet::v1::CalibrationProgress& p) { progress.push_back(p); });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->model_name(), "digits");
  EXPECT_EQ(report->published_version(), "2");
  EXPECT_EQ(report->num_calibration_samples(), 32);
  EXPECT_EQ(report->num_validation_samples(), 8);
  EXPECT_TRUE(report->accuracy_from_labels());
  ASSERT_EQ(progress.size(), 2u);
  EXPECT_EQ(progress[0].phase(), octet::v1::CalibrationProgress::RECEIVING);
  EXPECT_EQ(progress[1].phase(), octet::v1::CalibrationProgress::OBSERVING);

  const std::vector<octet::v1::CalibrateRequest> sent = server_->calibrate_requests();
  ASSERT_EQ(sent.size(), 6u);
  EXPECT_TRUE(sent[0].has_spec());
  EXPECT_EQ(sent[0].spec().percentile(), 99.9);
  for (int i = 1; i < 6; ++i) {
    ASSERT_TRUE(sent[i].has_sample());
    EXPECT_EQ(sent[i].sample().labels(0), i - 1);  // in order
  }

  absl::StatusOr<octet::v1::CalibrationReport> stored = client_->GetCalibrationReport("digits");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->published_version(), "2");
  EXPECT_EQ(client_->GetCalibrationReport("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, CalibrateReturnsServerErrors) {
  octet::v1::CalibrationSpec spec;
  spec.set_model_name("nope");
  absl::Status s = client_->Calibrate(spec, Samples(50, 64), nullptr).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "unknown model 'nope'");

  server_->FailCalibration(
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "tolerance cannot be met"));
  spec.set_model_name("digits");
  s = client_->Calibrate(spec, Samples(2, 2), nullptr).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "tolerance cannot be met");

  spec.clear_model_name();
  EXPECT_EQ(client_->Calibrate(spec, {}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, CalibrateWithNoSamplesStillCompletes) {
  octet::v1::CalibrationSpec spec;
  spec.set_model_name("digits");
  spec.set_server_dataset("cifar10:calib.bin");
  absl::StatusOr<octet::v1::CalibrationReport> report = client_->Calibrate(spec, {}, nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->num_calibration_samples(), 0);
}

// ---- TLS, against the fake server with certificates made by openssl ----

// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`; false when the
// openssl command is missing or fails.
bool MakeCertificates(const std::string& dir) {
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string script = absl::StrCat(
      "set -e; cd '", dir, "';", "openssl req -x509 ", ec,
      " -keyout ca.key -out ca.pem -days 2 -subj /CN=octet-test-ca;", "openssl req ", ec,
      " -keyout server.key -out server.csr -subj /CN=localhost;",
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext;",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 ",
      "-extfile san.ext -out server.pem;", "openssl req ", ec,
      " -keyout client.key -out client.csr -subj /CN=octet-test-client;",
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 ",
      "-out client.pem");
  return std::system(absl::StrCat("(", script, ") >/dev/null 2>&1").c_str()) == 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

class ClientTlsTest : public ::testing::Test {
 protected:
  // Each test process makes its own certificates in its own directory: ctest -j runs this
  // fixture's tests at the same time, and with one shared directory (as there once was) one
  // test's openssl rewrote the key the other's server was reading, failing its handshake.
  void SetUp() override {
    ASSERT_FALSE(certificates_.path().empty());
    dir_ = certificates_.path();
    if (!MakeCertificates(dir_)) GTEST_SKIP() << "openssl could not make test certificates";
  }

  // A fake server over TLS that requires (and verifies) a client certificate when `mutual`.
  std::unique_ptr<FakeInferenceServer> StartServer(bool mutual) {
    grpc::SslServerCredentialsOptions ssl(
        mutual ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
               : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_root_certs = ReadAll(dir_ + "/ca.pem");
    ssl.pem_key_cert_pairs.push_back(
        {ReadAll(dir_ + "/server.key"), ReadAll(dir_ + "/server.pem")});
    FakeInferenceServer::Options options;
    options.credentials = grpc::SslServerCredentials(ssl);
    absl::StatusOr<std::unique_ptr<FakeInferenceServer>> server =
        FakeInferenceServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  absl::StatusOr<bool> Live(const std::string& url, bool tls, bool client_cert) {
    ClientOptions options;
    options.url = url;
    options.tls = tls;
    options.default_timeout = absl::Seconds(20);  // room for a TLS handshake on a loaded machine
    if (tls) options.root_ca_file = dir_ + "/ca.pem";
    if (client_cert) {
      options.client_cert_file = dir_ + "/client.pem";
      options.client_key_file = dir_ + "/client.key";
    }
    OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Create(options));
    return client->ServerLive();
  }

  octet::test::TempDir certificates_;
  std::string dir_;
};

TEST_F(ClientTlsTest, ServerAuthentication) {
  std::unique_ptr<FakeInferenceServer> server = StartServer(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  absl::StatusOr<bool> live = Live(server->address(), /*tls=*/true, /*client_cert=*/false);
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_TRUE(*live);
  // Plaintext to a TLS port never gets an answer it understands.
  EXPECT_EQ(Live(server->address(), false, false).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ClientTlsTest, MutualTls) {
  std::unique_ptr<FakeInferenceServer> server = StartServer(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  absl::StatusOr<bool> live = Live(server->address(), /*tls=*/true, /*client_cert=*/true);
  ASSERT_TRUE(live.ok()) << live.status();
  const absl::Status refused = Live(server->address(), true, /*client_cert=*/false).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.message(), HasSubstr("cannot reach " + server->address()));
}

}  // namespace
}  // namespace octet::client
