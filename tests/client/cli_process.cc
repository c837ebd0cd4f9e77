#include "tests/client/cli_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace octet::cli_test {
namespace {

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// Waits for `pid` until `deadline`; kills it (SIGKILL) past that. Returns the waitpid status,
// and whether it had to be killed.
int WaitOrKill(pid_t pid, absl::Time deadline, bool* killed) {
  *killed = false;
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return -1;
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      *killed = true;
      return status;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

// Reads every fd in `fds` into the matching string until each reaches end of file (or, for a
// pseudo-terminal master, EIO once the child side closed), or until `deadline`.
void Drain(std::vector<int> fds, std::vector<std::string*> sinks, absl::Time deadline) {
  std::vector<bool> open(fds.size(), true);
  size_t remaining = fds.size();
  char buffer[65536];
  while (remaining > 0) {
    std::vector<pollfd> polled;
    std::vector<size_t> which;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!open[i]) continue;
      polled.push_back({fds[i], POLLIN, 0});
      which.push_back(i);
    }
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms <= 0) return;
    const int ready =
        poll(polled.data(), polled.size(), static_cast<int>(std::min<int64_t>(wait_ms, 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return;
    for (size_t k = 0; k < polled.size(); ++k) {
      if (polled[k].revents == 0) continue;
      const size_t i = which[k];
      const ssize_t n = read(fds[i], buffer, sizeof(buffer));
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        open[i] = false;
        --remaining;
      }
    }
  }
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

}  // namespace

absl::Status CopyTree(const std::string& from, const std::string& to) {
  std::error_code error;
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot copy ", from, " to ", to, ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << contents;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

CommandResult RunProcess(const std::vector<std::string>& argv, const RunOptions& options) {
  CommandResult result;
  std::vector<std::string> args = argv;
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options.time_limit;
  pid_t pid = -1;
  std::vector<int> fds;
  std::vector<std::string*> sinks;
  if (options.terminal) {
    int master = -1;
    pid = forkpty(&master, nullptr, nullptr, nullptr);
    if (pid == 0) {
      execv(args[0].c_str(), Argv(args).data());
      _exit(127);
    }
    if (pid < 0) return result;
    fds = {master};
    sinks = {&result.out};
  } else {
    int out[2], err[2];
    if (pipe(out) != 0) return result;
    if (pipe(err) != 0) {
      close(out[0]);
      close(out[1]);
      return result;
    }
    pid = fork();
    if (pid == 0) {
      dup2(out[1], STDOUT_FILENO);
      dup2(err[1], STDERR_FILENO);
      const int null_in = open("/dev/null", O_RDONLY);
      if (null_in >= 0) dup2(null_in, STDIN_FILENO);
      close(out[0]);
      close(out[1]);
      close(err[0]);
      close(err[1]);
      execv(args[0].c_str(), Argv(args).data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    if (pid < 0) {
      close(out[0]);
      close(err[0]);
      return result;
    }
    fds = {out[0], err[0]};
    sinks = {&result.out, &result.err};
  }
  Drain(fds, sinks, deadline);
  bool killed = false;
  const int status = WaitOrKill(pid, deadline, &killed);
  for (int fd : fds) close(fd);
  result.elapsed = absl::Now() - start;
  result.timed_out = killed;
  result.exit_code = !killed && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandResult RunOctet(const std::vector<std::string>& args, const RunOptions& options) {
  std::vector<std::string> argv = {OCTET_CLI_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, options);
}

ServerProcess::~ServerProcess() { Stop(); }

absl::Status ServerProcess::Start(const std::string& model_repository,
                                  const std::vector<std::string>& flags) {
  if (pid_ > 0) return absl::FailedPreconditionError("already started");
  const char* base = std::getenv("TMPDIR");
  log_path_ = absl::StrCat(base && *base ? base : "/tmp", "/octet-server-log-XXXXXX");
  const int log_fd = mkstemp(log_path_.data());
  if (log_fd < 0) return absl::InternalError("cannot create the server's log file");
  int out[2];
  if (pipe(out) != 0) {
    close(log_fd);
    return absl::InternalError("pipe failed");
  }
  std::vector<std::string> args = {OCTET_SERVER_BINARY, "--model-repository", model_repository,
                                   "--grpc-address",    "127.0.0.1:0",        "--metrics-address",
                                   "127.0.0.1:0",       "--threads",          "1"};
  args.insert(args.end(), flags.begin(), flags.end());
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(out[0]);
    close(out[1]);
    close(log_fd);
    execv(args[0].c_str(), Argv(args).data());
    _exit(127);
  }
  close(out[1]);
  close(log_fd);
  if (pid_ < 0) {
    close(out[0]);
    return absl::InternalError("fork failed");
  }
  // The first line of stdout, within two minutes (the machine may be busy).
  std::string line;
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  char c = 0;
  while (line.find('\n') == std::string::npos && absl::Now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    const int ready = poll(&p, 1, 200);
    if (ready <= 0) continue;
    const ssize_t n = read(out[0], &c, 1);
    if (n <= 0) break;
    line.push_back(c);
  }
  // Kept open until Stop(): the server would die of SIGPIPE if it printed more on stdout.
  stdout_fd_ = out[0];
  const absl::string_view prefix = "octet-server listening on port ";
  absl::string_view text = absl::StripAsciiWhitespace(line);
  if (!absl::ConsumePrefix(&text, prefix) || !absl::SimpleAtoi(text, &port_) || port_ <= 0) {
    const std::string log = Log();
    Stop();
    return absl::InternalError(
        absl::StrCat("octet-server did not start (stdout: '", line, "'); its log:\n", log));
  }
  return absl::OkStatus();
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  bool killed = false;
  const int status = WaitOrKill(pid_, absl::Now() + absl::Seconds(60), &killed);
  pid_ = -1;
  if (stdout_fd_ >= 0) close(stdout_fd_);
  stdout_fd_ = -1;
  if (!log_path_.empty()) {
    // Kept until now so that Log() works after a failed start.
    std::remove(log_path_.c_str());
    log_path_.clear();
  }
  return !killed && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ServerProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::string ServerProcess::Log() const { return log_path_.empty() ? "" : ReadWholeFile(log_path_); }

namespace {

// A socket bound to 127.0.0.1 on a free port; its port through `port`.
int BoundLoopbackSocket(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(address.sin_port);
  return fd;
}

}  // namespace

int UnusedPort() {
  int port = 0;
  const int fd = BoundLoopbackSocket(&port);
  if (fd >= 0) close(fd);
  return port;
}

SilentListener::SilentListener() {
  fd_ = BoundLoopbackSocket(&port_);
  if (fd_ >= 0 && listen(fd_, 16) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) close(fd_);
}

std::string SilentListener::address() const { return absl::StrCat("127.0.0.1:", port_); }

}  // namespace octet::cli_test
