// End to end over real gRPC: what happens to requests around the batch queue and the model
// lifecycle - deadlines (the client's and the config's), cancellation, a full queue, and models
// loaded, reloaded and unloaded while clients keep sending.
//
// Requests are held in the queue, where needed, by a long max_queue_delay with a preferred
// batch size the test never reaches; "the request is queued now" is established by a queue of
// known size refusing one more, not by sleeping.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"

namespace octet::e2e {
namespace {

using ::testing::HasSubstr;

// A batching model whose requests wait in the queue for a minute unless something else happens.
std::string HeldConfig(int max_queue_size, const std::string& queue_policy = "") {
  return LenetConfig(64, absl::StrCat("dynamic_batching { max_queue_delay_microseconds: 60000000 "
                                      "preferred_batch_size: [64] max_queue_size: ",
                                      max_queue_size, " ", queue_policy, " }"));
}

// One asynchronous raw ModelInfer; its status once done.
class PendingCall {
 public:
  PendingCall(inference::GRPCInferenceService::Stub* stub, inference::ModelInferRequest request,
              absl::Duration timeout = absl::Seconds(120))
      : request_(std::move(request)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    stub->async()->ModelInfer(&context_, &request_, &response_, [this](grpc::Status status) {
      absl::MutexLock lock(&mu_);
      status_ = status;
      done_ = true;
    });
  }
  ~PendingCall() { Wait(); }

  bool done() {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  grpc::Status Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
    return status_;
  }
  void Cancel() { context_.TryCancel(); }
  const inference::ModelInferResponse& response() const { return response_; }

 private:
  grpc::ClientContext context_;
  inference::ModelInferRequest request_;
  inference::ModelInferResponse response_;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

// Waits until one of `calls` is done and returns its index.
size_t WaitForFirst(const std::vector<std::unique_ptr<PendingCall>>& calls) {
  size_t first = calls.size();
  EXPECT_TRUE(Eventually([&] {
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls[i]->done()) {
        first = i;
        return true;
      }
    }
    return false;
  }));
  return first;
}

class LifecycleTest : public ::testing::Test {
 protected:
  void Start() {
    server_ = StartServer(ServerOptions(repository_.path()));
    ASSERT_NE(server_, nullptr);
    client_ = MakeClient(Address(*server_));
    stub_ = MakeStub(Address(*server_));
  }

  TestRepository repository_;
  std::unique_ptr<server::OctetServer> server_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
  ReferenceModel reference_;
};

TEST_F(LifecycleTest, FullQueueIsRefusedAtOnceAndQueuedRequestsSurviveUnload) {
  repository_.AddModel("held", HeldConfig(/*max_queue_size=*/2));
  Start();
  std::vector<std::unique_ptr<PendingCall>> calls;
  for (int i = 0; i < 3; ++i) {
    calls.push_back(std::make_unique<PendingCall>(stub_.get(), RawRequest("held", Images(i))));
  }
  // Two fit in the queue and wait there; the third is refused at once.
  const size_t refused = WaitForFirst(calls);
  ASSERT_LT(refused, calls.size());
  grpc::Status status = calls[refused]->Wait();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("queue is full"));
  // Unloading drains the queue: the two accepted requests are run and answered.
  ASSERT_TRUE(client_->UnloadModel("held").ok());
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i == refused) continue;
    ASSERT_TRUE(calls[i]->Wait().ok()) << calls[i]->Wait().error_message();
    ExpectSameLogits(RawLogits(calls[i]->response()), reference_.Logits(Images(i)),
                     absl::StrCat("queued request ", i));
  }
}

TEST_F(LifecycleTest, ExpiredRequestsAreDroppedBeforeTheyRun) {
  repository_.AddModel("held", HeldConfig(16));
  // No client deadline needed: the config's default queue timeout is 200 ms.
  repository_.AddModel("impatient",
                       HeldConfig(16,
                                  "default_queue_policy { default_timeout_microseconds: "
                                  "200000 }"));
  Start();
  client::InferRequest request = ClientRequest("held", Images(1));
  request.timeout = absl::Milliseconds(300);
  EXPECT_EQ(client_->Infer(request).status().code(), absl::StatusCode::kDeadlineExceeded);
  // The server noticed too: the request was dropped at its deadline, never run.
  EXPECT_TRUE(
      Eventually([&] { return Stats(*client_, "held").inference_stats().fail().count() == 1; }));
  EXPECT_EQ(Stats(*client_, "held").execution_count(), 0u);

  absl::Status timed_out = client_->Infer(ClientRequest("impatient", Images(2))).status();
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kDeadlineExceeded) << timed_out;
  EXPECT_THAT(std::string(timed_out.message()), HasSubstr("deadline passed while queued"));
  EXPECT_EQ(Stats(*client_, "impatient").execution_count(), 0u);
}

TEST_F(LifecycleTest, CancelledRequestsAreDroppedBeforeTheyRun) {
  // The batch closes after 2 s; a cancelled request in it is dropped rather than run.
  repository_.AddModel("slow",
                       LenetConfig(64,
                                   "dynamic_batching { max_queue_delay_microseconds: 2000000 "
                                   "preferred_batch_size: [64] max_queue_size: 1 }"));
  Start();
  std::vector<std::unique_ptr<PendingCall>> calls;
  for (int i = 0; i < 2; ++i) {
    calls.push_back(std::make_unique<PendingCall>(stub_.get(), RawRequest("slow", Images(i))));
  }
  const size_t refused = WaitForFirst(calls);
  ASSERT_LT(refused, calls.size());
  ASSERT_EQ(calls[refused]->Wait().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  PendingCall& queued = *calls[1 - refused];
  queued.Cancel();
  EXPECT_EQ(queued.Wait().error_code(), grpc::StatusCode::CANCELLED);
  // Refused + cancelled: two failures, and the model never ran.
  EXPECT_TRUE(
      Eventually([&] { return Stats(*client_, "slow").inference_stats().fail().count() == 2; }));
  EXPECT_EQ(Stats(*client_, "slow").execution_count(), 0u);
  EXPECT_EQ(Stats(*client_, "slow").inference_stats().success().count(), 0u);
  // Still serving.
  EXPECT_TRUE(client_->Infer(ClientRequest("slow", Images(3))).ok());
}

// Clients keep sending while the model is unloaded, loaded, reloaded with a new version and
// unloaded again: every request either succeeds with the right answer or is refused cleanly
// (NOT_FOUND / UNAVAILABLE naming the model); none fails otherwise or is lost.
TEST_F(LifecycleTest, LoadAndUnloadUnderTraffic) {
  repository_.AddModel("m",
                       LenetConfig(8, "dynamic_batching { max_queue_delay_microseconds: 1000 }"));
  Start();
  constexpr int kThreads = 8;
  std::vector<std::vector<float>> expected;
  for (int t = 0; t < kThreads; ++t) expected.push_back(reference_.Logits(Images(t)));
  std::atomic<bool> stop{false};
  std::atomic<int> successes{0}, refusals{0}, failures{0};
  absl::Mutex mu;
  std::vector<std::string> failure_messages;
  std::vector<std::thread> traffic;
  for (int t = 0; t < kThreads; ++t) {
    traffic.emplace_back([&, t] {
      while (!stop.load()) {
        absl::StatusOr<client::InferResult> result = client_->Infer(ClientRequest("m", Images(t)));
        const bool clean_refusal = !result.ok() &&
                                   (result.status().code() == absl::StatusCode::kNotFound ||
                                    result.status().code() == absl::StatusCode::kUnavailable) &&
                                   absl::StrContains(result.status().message(), "model 'm'");
        if (result.ok() && SameLogits(*result->AsFloats(kOutput), expected[t])) {
          ++successes;
        } else if (clean_refusal) {
          ++refusals;
        } else {
          ++failures;
          absl::MutexLock lock(&mu);
          failure_messages.push_back(result.ok() ? "wrong answer" : result.status().ToString());
        }
      }
    });
  }
  // Each step waits for some answered traffic first, so that changes land under load.
  auto answered = [&] { return successes.load() + refusals.load(); };
  auto with_traffic = [&](const std::function<absl::Status()>& step) {
    const int before = answered();
    EXPECT_TRUE(Eventually([&] { return answered() >= before + 10; }));
    absl::Status status = step();
    EXPECT_TRUE(status.ok()) << status;
  };
  for (int round = 0; round < 2; ++round) {
    with_traffic([&] { return client_->UnloadModel("m"); });
    with_traffic([&] { return client_->LoadModel("m"); });
  }
  // A new version: the reload swaps it in while version 1's requests finish.
  repository_.AddModel(
      "m", LenetConfig(8, "dynamic_batching { max_queue_delay_microseconds: 1000 }"), {2});
  with_traffic([&] { return client_->LoadModel("m"); });
  with_traffic([&] { return client_->UnloadModel("m"); });
  with_traffic([&] { return client_->LoadModel("m"); });
  const int before = successes.load();
  EXPECT_TRUE(Eventually([&] { return successes.load() >= before + 10; }));
  stop = true;
  for (std::thread& thread : traffic) thread.join();
  EXPECT_EQ(failures.load(), 0) << ::testing::PrintToString(failure_messages);
  EXPECT_GT(successes.load(), 0);
  EXPECT_EQ(*client_->ModelMetadata("m")->versions().begin(), "2");
}

// The octet-server binary as a subprocess: SIGTERM makes it finish every request it had
// accepted (held in the queue, which only the drain can release early) and exit 0.
TEST(SigtermTest, DrainsAcceptedRequestsThenExitsCleanly) {
  TestRepository repository;
  repository.AddModel("held", HeldConfig(/*max_queue_size=*/4));
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(OCTET_SERVER_BINARY, OCTET_SERVER_BINARY, "--model-repository", repository.path().c_str(),
          "--grpc-address", "127.0.0.1:0", "--threads", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* server_stdout = fdopen(out[0], "r");
  char line[256] = {};
  int port = 0;
  ASSERT_NE(fgets(line, sizeof(line), server_stdout), nullptr) << "octet-server did not start";
  ASSERT_EQ(sscanf(line, "octet-server listening on port %d", &port), 1) << line;
  auto stub = MakeStub(absl::StrCat("127.0.0.1:", port));

  // Four requests fill the queue and wait there (for a minute, but for the drain); a fifth is
  // refused, which tells that the four are in.
  std::vector<std::unique_ptr<PendingCall>> calls;
  for (int i = 0; i < 5; ++i) {
    calls.push_back(std::make_unique<PendingCall>(stub.get(), RawRequest("held", Images(i))));
  }
  const size_t refused = WaitForFirst(calls);
  ASSERT_LT(refused, calls.size());
  ASSERT_EQ(calls[refused]->Wait().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  const absl::Time sigterm = absl::Now();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  ReferenceModel reference;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i == refused) continue;
    grpc::Status status = calls[i]->Wait();
    EXPECT_TRUE(status.ok()) << "accepted request " << i << ": " << status.error_message();
    ExpectSameLogits(RawLogits(calls[i]->response()), reference.Logits(Images(i)),
                     absl::StrCat("drained request ", i));
  }
  // Released by the drain, not by the 60 s queue delay.
  EXPECT_LT(absl::Now() - sigterm, absl::Seconds(30));
  // Anything sent now is refused: UNAVAILABLE from the server while it drains, or from the
  // connection once it has closed. One that races with gRPC's own shutdown (after the drain) is
  // cancelled by gRPC before the server sees it, which is a refusal too: it was never accepted.
  PendingCall late(stub.get(), RawRequest("held", Images(9)), absl::Seconds(30));
  const grpc::Status late_status = late.Wait();
  EXPECT_TRUE(late_status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              late_status.error_code() == grpc::StatusCode::CANCELLED)
      << late_status.error_code() << ": " << late_status.error_message();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  fclose(server_stdout);
}

}  // namespace
}  // namespace octet::e2e
