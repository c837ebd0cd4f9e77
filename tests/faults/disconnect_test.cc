// Clients that vanish in the middle of a call: a client process (octet_fault_client) is killed
// with SIGKILL while its requests wait in the batch queue, while its ModelStreamInfer stream is
// open with requests in it, while it is still uploading calibration samples, and while the
// calibration it started runs; other connections send garbage or stop half-way through the
// HTTP/2 preface. Each time the server keeps serving (right answers, the process alive), every
// request it had accepted is accounted for in its statistics, and a dead client's calibration
// publishes nothing and does not keep the model reserved.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/faults/fault_support.h"

namespace octet::faults {
namespace {

using ::testing::ElementsAre;

constexpr char kModel[] = "lenet";
constexpr int kClientRequests = 8;  // what octet_fault_client sends in unary and stream modes

class DisconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Requests wait in the queue for up to two seconds (the batch never fills), and the queue
    // holds exactly the fault client's requests, so that a refused probe proves they are in.
    repository_.AddModel(
        kModel,
        e2e::LenetConfig(64, absl::StrCat("dynamic_batching { max_queue_delay_microseconds: "
                                          "2000000 preferred_batch_size: [64] "
                                          "max_queue_size: ",
                                          kClientRequests, " }\nversion_policy { all { } }")));
    server_ = ServerProcess::Start(repository_.path());
    ASSERT_NE(server_, nullptr);
    client_ = e2e::MakeClient(server_->address());
  }

  // Probes until one is refused because the queue is full; returns how many it sent.
  int ProbeUntilQueueIsFull() {
    int probes = 0;
    EXPECT_TRUE(e2e::Eventually([&] {
      ++probes;
      client::InferRequest probe = e2e::ClientRequest(kModel, e2e::Images(99));
      probe.timeout = absl::Seconds(30);
      return client_->Infer(probe).status().code() == absl::StatusCode::kResourceExhausted;
    }));
    return probes;
  }

  // Every request the server received (`requests`) is counted as done, one way or the other.
  void ExpectAccounted(uint64_t requests, const std::string& what) {
    EXPECT_TRUE(e2e::Eventually([&] {
      const inference::ModelStatistics stats = e2e::Stats(*client_, kModel);
      return stats.inference_stats().success().count() + stats.inference_stats().fail().count() ==
             requests;
    })) << what
        << ": " << e2e::Stats(*client_, kModel).DebugString();
  }

  // The server is alive, and version 1 answers right.
  void ExpectServing(const std::string& what) {
    EXPECT_EQ(::kill(server_->pid(), 0), 0) << what << ": the server died\n" << server_->Log();
    client::InferRequest request = e2e::ClientRequest(kModel, e2e::Images(7));
    request.version = "1";
    absl::StatusOr<client::InferResult> result = client_->Infer(request);
    ASSERT_TRUE(result.ok()) << what << ": " << result.status();
    e2e::ExpectSameLogits(*result->AsFloats(e2e::kOutput), reference_.Logits(e2e::Images(7)), what);
  }

  e2e::TestRepository repository_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<client::Client> client_;
  e2e::ReferenceModel reference_;
};

TEST_F(DisconnectTest, ClientKilledWhileItsRequestsAreQueued) {
  std::unique_ptr<ChildProcess> dying = StartFaultClient("unary", server_->address(), kModel);
  ASSERT_NE(dying, nullptr);
  const int probes = ProbeUntilQueueIsFull();
  dying->Signal(SIGKILL);
  dying->Wait();
  ExpectAccounted(kClientRequests + probes, "after a client died mid-request");
  ExpectServing("after a client died mid-request");
}

TEST_F(DisconnectTest, ClientKilledInTheMiddleOfAStream) {
  std::unique_ptr<ChildProcess> dying = StartFaultClient("stream", server_->address(), kModel);
  ASSERT_NE(dying, nullptr);
  const int probes = ProbeUntilQueueIsFull();
  dying->Signal(SIGKILL);
  dying->Wait();
  ExpectAccounted(kClientRequests + probes, "after a client died mid-stream");
  ExpectServing("after a client died mid-stream");
}

TEST_F(DisconnectTest, ClientKilledWhileUploadingOrCalibratingPublishesNothing) {
  for (const std::string mode : {"calibrate-upload", "calibrate-job"}) {
    SCOPED_TRACE(mode);
    std::unique_ptr<ChildProcess> dying = StartFaultClient(mode, server_->address(), kModel);
    ASSERT_NE(dying, nullptr);
    dying->Signal(SIGKILL);
    dying->Wait();
    // The dead client's call releases the model once the server notices (a running job stops
    // at its next phase): until then another calibration is refused with ABORTED.
    absl::StatusOr<v1::CalibrationReport> report;
    EXPECT_TRUE(e2e::Eventually(
        [&] {
          report = client_->Calibrate(LenetSpec(kModel, 64), {LenetSamples(1, 64)}, nullptr);
          return report.status().code() != absl::StatusCode::kAborted;
        },
        absl::Seconds(120)));
    ASSERT_TRUE(report.ok()) << report.status() << "\n" << server_->Log();
    EXPECT_EQ(report->num_calibration_samples(), 64);  // ours, not the dead client's 4000
    EXPECT_EQ(report->published_version(), mode == "calibrate-upload" ? "2" : "3");
  }
  EXPECT_THAT(IndexedVersions(*client_, kModel), ElementsAre("1", "2", "3"));
  EXPECT_THAT(DirEntries(repository_.path() + "/" + kModel),
              ElementsAre("1", "2", "3", "config.pbtxt"));
  ExpectServing("after two calibrating clients died");
}

// Raw TCP connections that say nothing sensible: the server closes them and keeps serving.
TEST_F(DisconnectTest, GarbageAndHalfFinishedConnections) {
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const std::vector<std::string> payloads = {
      "",                                                // connect, then close
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",               // HTTP/1.1
      preface.substr(0, 10),                             // half a preface
      preface + std::string("\x00\x00\x06\x04\x00", 5),  // a frame header cut short
      preface + std::string(64, '\xff'),                 // a preface, then noise
      std::string(4096, '\x00'),                         // zeros
  };
  for (const std::string& payload : payloads) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(server_->port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    if (!payload.empty()) {
      ASSERT_EQ(::send(fd, payload.data(), payload.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(payload.size()));
    }
    ::close(fd);
  }
  ExpectServing("after garbage connections");
}

}  // namespace
}  // namespace octet::faults
