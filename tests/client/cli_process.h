// Processes for testing the `octet` binary against the real `octet-server` binary on loopback:
// a temporary copy of a model repository, the server as a subprocess on a free port, the CLI
// run to completion with its output captured (and killed if it outlives a time limit, so that a
// hang fails the test instead of stalling it), and sockets that refuse or never answer.
//
//   ServerProcess server;
//   ASSERT_OK(server.Start(repository.path()));
//   CommandResult r = RunOctet({"--url", server.address(), "models"});
//   EXPECT_EQ(r.exit_code, 0) << r.err;
//
// Test code: not thread-safe; each object belongs to the test that made it.
#ifndef OCTET_TESTS_CLIENT_CLI_PROCESS_H_
#define OCTET_TESTS_CLIENT_CLI_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tests/support/temp_dir.h"

namespace octet::cli_test {

using ::octet::test::TempDir;  // tests/support/temp_dir.h

// Copies the directory tree `from` to `to` (which must not exist).
absl::Status CopyTree(const std::string& from, const std::string& to);
absl::Status WriteFile(const std::string& path, const std::string& contents);

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal (see `timed_out`) or never started
  bool timed_out = false;
  std::string out;  // stdout (with `terminal`: stdout and stderr together, as the terminal saw)
  std::string err;
  absl::Duration elapsed;
};

struct RunOptions {
  // The process is killed (SIGKILL) after this long; the result says so.
  absl::Duration time_limit = absl::Seconds(120);
  // Run on a pseudo-terminal (stdin, stdout and stderr), as in an interactive shell.
  bool terminal = false;
};

// Runs `argv[0]` (a path) with the arguments that follow, to completion.
CommandResult RunProcess(const std::vector<std::string>& argv, const RunOptions& options = {});
// Runs the `octet` binary under test with `args`.
CommandResult RunOctet(const std::vector<std::string>& args, const RunOptions& options = {});

// The octet-server binary as a subprocess, on 127.0.0.1 with a free gRPC port and a free
// metrics port, one inference thread unless `flags` says otherwise. Stopped with SIGTERM
// (then SIGKILL after a grace period) when destroyed.
class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts it and waits for "octet-server listening on port N" on its stdout.
  absl::Status Start(const std::string& model_repository,
                     const std::vector<std::string>& flags = {});
  // SIGTERM, then the exit status (0 when it drained cleanly); -1 if it had to be killed.
  int Stop();

  int port() const { return port_; }
  std::string address() const;
  // What the server wrote on stderr so far (its log), for failure messages.
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
  std::string log_path_;
};

// A loopback port on which nothing listens (bound, then closed): connections are refused.
int UnusedPort();

// A socket that accepts TCP connections (the kernel completes them) but never reads or
// answers: a gRPC call to it waits until its deadline. Closed when destroyed.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::string address() const;

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace octet::cli_test

#endif  // OCTET_TESTS_CLIENT_CLI_PROCESS_H_
