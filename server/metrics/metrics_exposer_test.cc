#include "server/metrics/metrics_exposer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics/http_get_for_testing.h"
#include "server/metrics/prometheus_metrics.h"

namespace octet::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A socket that closes itself.
class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  const int fd_;
};

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// The body of GET http://127.0.0.1:<port><path>, or the error, as text to match.
std::string Scrape(int port, const std::string& path = "/metrics") {
  absl::StatusOr<HttpResponse> response = HttpGetForTesting(port, path);
  if (!response.ok()) return response.status().ToString();
  return response->body;
}

// Each test that scrapes costs about 2 s at the end: civetweb's listener polls in 2 s quanta,
// and destroying the exposer waits for the poll to end. Hence few, larger tests here.
MetricsExposerOptions AnyFreePort() {
  MetricsExposerOptions options;
  options.address = "127.0.0.1:0";
  return options;
}

TEST(MetricsExposerTest, ServesTheRegistryAndProcessMetricsAtSlashMetrics) {
  auto metrics = std::make_shared<PrometheusMetrics>();
  RequestEvent request;
  request.key = {"resnet8", "1", "fp32"};
  request.total = absl::Milliseconds(2);
  metrics->RecordRequest(request);
  absl::StatusOr<std::unique_ptr<MetricsExposer>> exposer =
      MetricsExposer::Create(AnyFreePort(), metrics->registry());
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  ASSERT_GT((*exposer)->port(), 0);

  absl::StatusOr<HttpResponse> http = HttpGetForTesting((*exposer)->port(), "/metrics");
  ASSERT_TRUE(http.ok()) << http.status();
  EXPECT_EQ(http->status, 200);
  EXPECT_THAT(http->headers, HasSubstr("Content-Type: text/plain"));
  const std::string& response = http->body;
  EXPECT_THAT(response, HasSubstr("# TYPE octet_inference_requests_total counter"));
  EXPECT_THAT(
      response,
      HasSubstr(
          R"(octet_inference_requests_total{model="resnet8",outcome="success",version="1"} 1)"));
  EXPECT_THAT(response, HasSubstr("# TYPE octet_request_duration_seconds histogram"));
  for (const char* process : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                              "process_open_fds", "process_threads"}) {
    EXPECT_THAT(response, HasSubstr(absl::StrCat("\n", process, " "))) << process;
  }

  // Later events show in the next scrape.
  metrics->RecordRequest(request);
  EXPECT_THAT(
      Scrape((*exposer)->port()),
      HasSubstr(
          R"(octet_inference_requests_total{model="resnet8",outcome="success",version="1"} 2)"));
}

TEST(MetricsExposerTest, ProcessMetricsCanBeLeftOut) {
  auto metrics = std::make_shared<PrometheusMetrics>();
  MetricsExposerOptions options = AnyFreePort();
  options.process_metrics = false;
  absl::StatusOr<std::unique_ptr<MetricsExposer>> exposer =
      MetricsExposer::Create(options, metrics->registry());
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  EXPECT_THAT(Scrape((*exposer)->port()), Not(HasSubstr("process_")));
}

TEST(MetricsExposerTest, KeepsServingWhenTheSinkIsGoneAndStopsWhenDestroyed) {
  auto metrics = std::make_unique<PrometheusMetrics>();
  RequestEvent request;
  request.key = {"resnet8", "1", "fp32"};
  metrics->RecordRequest(request);
  absl::StatusOr<std::unique_ptr<MetricsExposer>> exposer =
      MetricsExposer::Create(AnyFreePort(), metrics->registry());
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  const int port = (*exposer)->port();
  metrics.reset();
  EXPECT_THAT(Scrape(port), HasSubstr("octet_inference_requests_total{"));

  exposer->reset();
  EXPECT_EQ(HttpGetForTesting(port, "/metrics").status().code(), absl::StatusCode::kUnavailable);
}

TEST(MetricsExposerTest, ABusyPortIsUnavailableAndSaysSo) {
  Socket listener;
  sockaddr_in address = Loopback(0);
  ASSERT_EQ(bind(listener.fd(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener.fd(), 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener.fd(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int busy_port = ntohs(address.sin_port);

  MetricsExposerOptions options;
  options.address = absl::StrCat("127.0.0.1:", busy_port);
  absl::StatusOr<std::unique_ptr<MetricsExposer>> exposer =
      MetricsExposer::Create(options, std::make_shared<PrometheusMetrics>()->registry());
  EXPECT_EQ(exposer.status().code(), absl::StatusCode::kUnavailable) << exposer.status();
  EXPECT_THAT(exposer.status().message(), HasSubstr(options.address));
  EXPECT_THAT(exposer.status().message(), HasSubstr("in use"));
}

TEST(MetricsExposerTest, RefusesBadOptions) {
  auto registry = std::make_shared<PrometheusMetrics>()->registry();
  MetricsExposerOptions options = AnyFreePort();
  options.num_threads = 0;
  EXPECT_EQ(MetricsExposer::Create(options, registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsExposer::Create(AnyFreePort(), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = AnyFreePort();
  options.address = "localhost:8002";
  absl::Status status = MetricsExposer::Create(options, registry).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("localhost:8002"));
}

TEST(ValidateMetricsAddressTest, AcceptsNumericHostsAndPorts) {
  for (const char* address :
       {"0.0.0.0:8002", "127.0.0.1:0", "10.1.2.3:65535", "[::]:8002", "[::1]:9100"}) {
    EXPECT_TRUE(ValidateMetricsAddress(address).ok()) << address;
  }
}

TEST(ValidateMetricsAddressTest, RefusesWhatCivetwebWouldReadAsSomethingElse) {
  for (const char* address :
       {"", "8002", ":8002", "localhost:8002", "0.0.0.0", "0.0.0.0:", "0.0.0.0:8002s",
        "0.0.0.0:8002r", "0.0.0.0:8002,0.0.0.0:8003", "0.0.0.0:65536", "0.0.0.0:-1", "0.0.0.0:+80",
        "256.0.0.1:80", "::1:8002", "[::1]8002", "[::1]:", "[nope]:80"}) {
    EXPECT_EQ(ValidateMetricsAddress(address).code(), absl::StatusCode::kInvalidArgument)
        << address;
  }
}

}  // namespace
}  // namespace octet::server
