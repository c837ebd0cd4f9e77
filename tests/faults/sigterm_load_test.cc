// SIGTERM while clients keep the server busy: 16 client threads send back to back (one or
// several samples per request) and keep sending after the signal until they are refused. Every
// request either gets the right answer or is refused in one of the ways that mean "never
// accepted": the server's own UNAVAILABLE while it drains, CANCELLED by gRPC in the moment it
// stops, or the closed port. Anything else (a deadline, a reset connection, a wrong answer)
// would be a request lost or damaged. The process then exits 0. (tests/e2e's SigtermTest holds
// requests in a full queue instead; this is the same promise under continuous load.)
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/faults/fault_support.h"

namespace octet::faults {
namespace {

constexpr char kModel[] = "lenet";
constexpr int kThreads = 16;

// A refusal of a request the server never accepted (see OctetServer::Shutdown()).
bool IsRefusal(const absl::Status& status) {
  const std::string message(status.message());
  if (status.code() == absl::StatusCode::kCancelled) return true;  // gRPC's own shutdown race
  if (status.code() != absl::StatusCode::kUnavailable) return false;
  return absl::StrContains(message, "shutting down") ||       // Octet, draining
         absl::StrContains(message, "cannot reach") ||        // the client library: port closed
         absl::StrContains(message, "Connection refused") ||  // gRPC: port closed
         absl::StrContains(message, "failed to connect");
}

TEST(SigtermLoadTest, EveryRequestIsAnsweredOrRefusedAndTheServerExitsCleanly) {
  e2e::TestRepository repository;
  repository.AddModel(kModel, e2e::LenetConfig(16,
                                               "dynamic_batching { "
                                               "max_queue_delay_microseconds: 2000 }"));
  std::unique_ptr<ServerProcess> server = ServerProcess::Start(repository.path());
  ASSERT_NE(server, nullptr);
  std::unique_ptr<client::Client> client = e2e::MakeClient(server->address());
  e2e::ReferenceModel reference;
  std::vector<std::vector<float>> inputs, expected;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(e2e::Images(t, 1 + t % 3));
    expected.push_back(reference.Logits(inputs.back()));
  }

  std::atomic<bool> signalled{false};
  std::atomic<int> answered{0}, answered_after_signal{0}, refused{0};
  absl::Mutex mu;
  std::map<std::string, int> failures;  // message -> count
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        const bool after_signal = signalled.load();
        client::InferRequest request = e2e::ClientRequest(kModel, inputs[t]);
        request.timeout = absl::Seconds(60);
        absl::StatusOr<client::InferResult> result = client->Infer(request);
        if (result.ok() && e2e::SameLogits(*result->AsFloats(e2e::kOutput), expected[t])) {
          ++answered;
          if (after_signal) ++answered_after_signal;
          continue;
        }
        if (!result.ok() && IsRefusal(result.status())) {
          if (!signalled.load()) {  // refused before the signal: not expected either
            absl::MutexLock lock(&mu);
            ++failures["refused before SIGTERM: " + result.status().ToString()];
          }
          ++refused;
          return;  // this client is done: the server no longer accepts requests
        }
        absl::MutexLock lock(&mu);
        ++failures[result.ok() ? "wrong answer" : result.status().ToString()];
        if (!result.ok()) return;
      }
    });
  }
  ASSERT_TRUE(e2e::Eventually([&] { return answered.load() >= 200; }));
  signalled = true;
  server->process().Signal(SIGTERM);
  for (std::thread& thread : threads) thread.join();
  const int status = server->process().Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status << "\n"
                                                             << server->Log();
  EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
  EXPECT_EQ(refused.load(), kThreads);
  std::printf("answered %d requests (%d sent after SIGTERM), %d clients refused\n", answered.load(),
              answered_after_signal.load(), refused.load());
}

}  // namespace
}  // namespace octet::faults
