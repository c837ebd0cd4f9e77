// End to end over TLS and mutual TLS, with certificates the test makes with the openssl tool:
// a CA, a server certificate for localhost / 127.0.0.1, a client certificate from the same CA and
// one from a CA the server does not trust.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"

namespace octet::e2e {
namespace {

constexpr char kModel[] = "lenet";

// The test's certificates, made once for the whole suite.
class Certificates {
 public:
  static const Certificates* Get() {
    static Certificates* certificates = new Certificates();
    return certificates->ok_ ? certificates : nullptr;
  }
  std::string File(const std::string& name) const { return dir_.path() + "/" + name; }

 private:
  Certificates() {
    const std::string d = dir_.path();
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    WriteFile(d + "/server.ext",
              "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
              "extendedKeyUsage=serverAuth\n");
    WriteFile(d + "/client.ext", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
    const std::string script = absl::StrCat(
        "set -e; cd '", d, "'; ",
        // Two CAs: the one the server trusts, and a stranger.
        "openssl req -x509 ", key, " -keyout ca.key -out ca.pem -days 2 -subj '/CN=Octet Test CA';",
        "openssl req -x509 ", key, " -keyout other-ca.key -out other-ca.pem -days 2 ",
        "-subj '/CN=Other CA';",
        // Server and client certificates.
        "openssl req ", key, " -keyout server.key -out server.csr -subj '/CN=localhost';",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial ",
        "-out server.pem -days 2 -extfile server.ext;", "openssl req ", key,
        " -keyout client.key -out client.csr -subj '/CN=client';",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial ",
        "-out client.pem -days 2 -extfile client.ext;", "openssl req ", key,
        " -keyout stranger.key -out stranger.csr -subj '/CN=stranger';",
        "openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key ",
        "-CAcreateserial -out stranger.pem -days 2 -extfile client.ext");
    ok_ = std::system(absl::StrCat("(", script, ") > '", d, "/openssl.log' 2>&1").c_str()) == 0;
  }

  TempDir dir_;
  bool ok_ = false;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certificates_ = Certificates::Get();
    if (certificates_ == nullptr) {
      if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {
        FAIL() << "could not make test certificates with the openssl tool";
      }
      GTEST_SKIP() << "could not make test certificates with the openssl tool (package openssl)";
    }
    repository_.AddModel(kModel, LenetConfig(4));
  }

  std::unique_ptr<server::OctetServer> Start(bool mutual) {
    server::OctetServerOptions options = ServerOptions(repository_.path());
    options.tls_cert_file = certificates_->File("server.pem");
    options.tls_key_file = certificates_->File("server.key");
    if (mutual) options.tls_client_ca_file = certificates_->File("ca.pem");
    return StartServer(options);
  }

  // ServerLive and one inference through a client with these TLS settings.
  absl::Status Call(const server::OctetServer& server, bool tls, const std::string& root_ca,
                    const std::string& client_cert = "", const std::string& client_key = "") {
    client::ClientOptions options;
    // 127.0.0.1, which the server certificate names too (IP SAN): no name lookup needed.
    options.url = absl::StrCat("127.0.0.1:", server.port());
    options.tls = tls;
    options.root_ca_file = root_ca.empty() ? "" : certificates_->File(root_ca);
    options.client_cert_file = client_cert.empty() ? "" : certificates_->File(client_cert);
    options.client_key_file = client_key.empty() ? "" : certificates_->File(client_key);
    options.default_timeout = absl::Seconds(20);
    absl::StatusOr<std::unique_ptr<client::Client>> client = client::Client::Create(options);
    if (!client.ok()) return client.status();
    absl::StatusOr<bool> live = (*client)->ServerLive();
    if (!live.ok()) return live.status();
    return (*client)->Infer(ClientRequest(kModel, Images(1))).status();
  }

  const Certificates* certificates_ = nullptr;
  TestRepository repository_;
};

TEST_F(TlsTest, ServesClientsThatTrustItsCertificate) {
  std::unique_ptr<server::OctetServer> server = Start(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(Call(*server, /*tls=*/true, "ca.pem").ok());
  EXPECT_FALSE(Call(*server, /*tls=*/false, "").ok()) << "plaintext must not get through";
  EXPECT_FALSE(Call(*server, /*tls=*/true, "other-ca.pem").ok()) << "untrusted server accepted";
}

TEST_F(TlsTest, MutualTlsNeedsAClientCertificateFromTheTrustedCa) {
  std::unique_ptr<server::OctetServer> server = Start(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(Call(*server, true, "ca.pem", "client.pem", "client.key").ok());
  EXPECT_FALSE(Call(*server, true, "ca.pem").ok()) << "no client certificate";
  EXPECT_FALSE(Call(*server, true, "ca.pem", "stranger.pem", "stranger.key").ok())
      << "client certificate from an untrusted CA";
}

TEST_F(TlsTest, BadTlsSettingsStopTheServerFromStarting) {
  server::OctetServerOptions options = ServerOptions(repository_.path());
  options.tls_cert_file = certificates_->File("server.pem");
  EXPECT_EQ(server::OctetServer::Start(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.tls_key_file = certificates_->File("absent.key");
  EXPECT_EQ(server::OctetServer::Start(options).status().code(), absl::StatusCode::kNotFound);
  options = ServerOptions(repository_.path());
  options.tls_client_ca_file = certificates_->File("ca.pem");
  EXPECT_EQ(server::OctetServer::Start(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace octet::e2e
