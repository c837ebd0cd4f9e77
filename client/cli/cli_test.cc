// The program as users meet it: exit codes and one-line errors, in-process through
// RunCommandLine and as the real binary in a child process (against FakeInferenceServer).
#include "client/cli/cli.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli/flags.h"
#include "client/cli/testing/test_files.h"
#include "client/testing/fake_inference_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::cli {
namespace {

using client::testing::FakeInferenceServer;
using ::testing::HasSubstr;

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// An address where nothing listens: a fake server's, after it is gone.
std::string DeadAddress() {
  auto server = FakeInferenceServer::Start();
  EXPECT_TRUE(server.ok());
  return (*server)->address();
}

class CommandLineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = FakeInferenceServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->AddModel(FakeInferenceServer::Classifier("digits", {4}, 3));
    absl::SetFlag(&FLAGS_url, server_->address());
  }

  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "octet");
    out_.str("");
    err_.str("");
    return RunCommandLine(args, console_);
  }

  absl::FlagSaver saver_;
  std::unique_ptr<FakeInferenceServer> server_;
  std::ostringstream out_, err_;
  Console console_{out_, err_, false};
};

TEST_F(CommandLineTest, Success) {
  EXPECT_EQ(Run({"models"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("digits  1        READY"));
  EXPECT_EQ(err_.str(), "");
  EXPECT_EQ(Run({"help"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("usage: octet"));
  EXPECT_EQ(Run({"help", "calibrate"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("--tolerance-mode"));
}

TEST_F(CommandLineTest, UsageErrorsExitTwoWithOneLine) {
  EXPECT_EQ(Run({}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("usage: octet"));
  EXPECT_EQ(Run({"frobnicate"}), kExitUsage);
  EXPECT_THAT(err_.str(), ::testing::StartsWith("octet: unknown command 'frobnicate' (commands: "));
  EXPECT_EQ(Run({"metadata"}), kExitUsage);
  EXPECT_EQ(err_.str(), "octet metadata: missing argument; usage: octet metadata MODEL [flags]\n");
  EXPECT_EQ(Run({"models", "extra"}), kExitUsage);
  EXPECT_EQ(err_.str(), "octet models: unexpected argument 'extra'; usage: octet models [flags]\n");
  absl::SetFlag(&FLAGS_top_k, 2);
  EXPECT_EQ(Run({"models"}), kExitUsage);
  EXPECT_EQ(err_.str(), "octet models: --top-k does not apply to 'models'\n");
  absl::SetFlag(&FLAGS_top_k, 5);
  EXPECT_EQ(Run({"infer", "digits"}), kExitUsage);
  EXPECT_EQ(
      err_.str(),
      "octet infer: infer needs an input: --dataset FORMAT:PATH [--index N] or --file PATH\n");
  absl::SetFlag(&FLAGS_url, "http://localhost:8001");
  EXPECT_EQ(Run({"models"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("has an http scheme"));
}

TEST_F(CommandLineTest, FailuresExitOneWithOneLine) {
  EXPECT_EQ(Run({"metadata", "nope"}), kExitFailure);
  EXPECT_EQ(err_.str(), "octet metadata: unknown model 'nope' (NOT_FOUND)\n");
  EXPECT_EQ(out_.str(), "");

  absl::SetFlag(&FLAGS_file, testing::TempPath("absent.npy"));
  EXPECT_EQ(Run({"infer", "digits"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("absent.npy"));
  EXPECT_EQ(Lines(err_.str()), 1);
  absl::SetFlag(&FLAGS_file, "");

  const std::string dead = DeadAddress();
  absl::SetFlag(&FLAGS_url, dead);
  EXPECT_EQ(Run({"models"}), kExitFailure);
  EXPECT_THAT(err_.str(), ::testing::StartsWith("octet models: cannot reach " + dead + ": "));
  EXPECT_THAT(err_.str(), ::testing::EndsWith("(UNAVAILABLE)\n"));
  EXPECT_EQ(Lines(err_.str()), 1);

  absl::SetFlag(&FLAGS_url, server_->address());
  absl::SetFlag(&FLAGS_tls, true);
  absl::SetFlag(&FLAGS_ca, testing::TempPath("absent-ca.pem"));
  EXPECT_EQ(Run({"models"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("cannot read CA file"));
}

// ---- The binary ----

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

Outcome RunBinary(const std::vector<std::string>& args) {
  // TempPath is per process: ctest -j runs this file's tests side by side, and with one fixed
  // $TMPDIR/octet-stderr.txt one test read another's stderr.
  const std::string err_path = testing::TempPath("stderr.txt");
  std::vector<std::string> quoted;
  for (const std::string& a : args) quoted.push_back(absl::StrCat("'", a, "'"));
  const std::string command =
      absl::StrCat(OCTET_CLI_BINARY, " ", absl::StrJoin(quoted, " "), " 2>", err_path);
  Outcome outcome;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return outcome;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) outcome.out.append(buffer, n);
  const int status = pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream contents;
  contents << err.rdbuf();
  outcome.err = contents.str();
  return outcome;
}

TEST(OctetBinary, UsageErrors) {
  Outcome o = RunBinary({});
  EXPECT_EQ(o.exit_code, kExitUsage);
  EXPECT_THAT(o.err, HasSubstr("usage: octet"));

  o = RunBinary({"models", "--bogus-flag=1"});
  EXPECT_EQ(o.exit_code, kExitUsage);
  EXPECT_EQ(o.err, "octet: unknown flag --bogus-flag (see octet help)\n");

  o = RunBinary({"perf", "m", "--concurrency=1,x"});
  EXPECT_EQ(o.exit_code, kExitUsage);
  EXPECT_EQ(o.err, "octet perf: --concurrency: 'x' is not a positive integer\n");

  o = RunBinary({"--help"});
  EXPECT_EQ(o.exit_code, kExitOk);
  EXPECT_THAT(o.out, HasSubstr("commands:"));
  o = RunBinary({"infer", "--help"});
  EXPECT_EQ(o.exit_code, kExitOk);
  EXPECT_THAT(o.out, HasSubstr("usage: octet infer MODEL [flags]"));
}

TEST(OctetBinary, TalksToAServer) {
  auto server = FakeInferenceServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->AddModel(FakeInferenceServer::Classifier("digits", {4}, 3));
  const std::string url = (*server)->address();

  Outcome o = RunBinary({"--url", url, "health", "digits"});
  EXPECT_EQ(o.exit_code, kExitOk) << o.err;
  EXPECT_EQ(o.out, "server " + url + ": live, ready\nmodel digits: ready\n");

  const std::string input =
      testing::WriteFile("digits.bin", std::string("\0\0\0\0\0\0\0\x40\0\0\0\0\0\0\0\0", 16));
  o = RunBinary({"infer", "digits", "--file", input, "--shape=1,4", "--top-k=1", "--url=" + url});
  EXPECT_EQ(o.exit_code, kExitOk) << o.err;
  EXPECT_THAT(o.out, HasSubstr("   1      1  "));  // 2.0 at index 1

  o = RunBinary({"--url=" + url, "metadata", "nope"});
  EXPECT_EQ(o.exit_code, kExitFailure);
  EXPECT_EQ(o.err, "octet metadata: unknown model 'nope' (NOT_FOUND)\n");

  o = RunBinary({"--url=" + DeadAddress(), "--timeout=5s", "models"});
  EXPECT_EQ(o.exit_code, kExitFailure);
  EXPECT_THAT(o.err, HasSubstr("cannot reach"));
  EXPECT_EQ(Lines(o.err), 1);
}

}  // namespace
}  // namespace octet::cli
