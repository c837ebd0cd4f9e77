#include "tests/faults/fault_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace octet::faults {

namespace fs = std::filesystem;

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                                  const std::string& stderr_path) {
  // Everything the child needs is prepared before fork(): between fork() and exec() only
  // async-signal-safe calls are allowed (the test process runs gRPC threads).
  std::vector<std::string> args = argv;
  std::vector<char*> raw;
  for (std::string& arg : args) raw.push_back(arg.data());
  raw.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return nullptr;
  }
  const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return nullptr;
  }
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    if (err >= 0) dup2(err, STDERR_FILENO);
    execv(raw[0], raw.data());
    _exit(127);
  }
  ::close(out[1]);
  if (err >= 0) ::close(err);
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->pid_ = pid;
  child->stdout_fd_ = out[0];
  return child;
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    Wait();
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

std::string ChildProcess::ReadLine(absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  for (;;) {
    const size_t newline = buffered_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    const absl::Duration left = end - absl::Now();
    if (left <= absl::ZeroDuration()) return "";
    pollfd fd = {stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return "";
    char chunk[256];
    const ssize_t n = ::read(stdout_fd_, chunk, sizeof(chunk));
    if (n <= 0) return "";  // end of output: the process closed it or died
    buffered_.append(chunk, static_cast<size_t>(n));
  }
}

void ChildProcess::Signal(int signal) {
  if (!reaped_) ::kill(pid_, signal);
}

int ChildProcess::Wait() {
  if (reaped_) return status_;
  while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return status_;
}

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::string& repository,
                                                    const std::vector<std::string>& extra_args) {
  auto server = std::unique_ptr<ServerProcess>(new ServerProcess());
  server->log_dir_ = std::make_unique<e2e::TempDir>();
  std::vector<std::string> argv = {OCTET_SERVER_BINARY, "--model-repository", repository,
                                   "--grpc-address",    "127.0.0.1:0",        "--metrics-address",
                                   "127.0.0.1:0",       "--threads",          "1"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  server->process_ = ChildProcess::Start(argv, server->log_dir_->path() + "/server.log");
  if (server->process_ == nullptr) return nullptr;
  // Sanitizer builds load models slowly: be patient.
  const std::string line = server->process_->ReadLine(absl::Seconds(180));
  if (std::sscanf(line.c_str(), "octet-server listening on port %d", &server->port_) != 1) {
    ADD_FAILURE() << "octet-server did not start (stdout: '" << line << "'); its log:\n"
                  << server->Log();
    return nullptr;
  }
  return server;
}

std::string ServerProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::string ServerProcess::Log() const { return ReadWholeFile(log_dir_->path() + "/server.log"); }

std::unique_ptr<ChildProcess> StartFaultClient(const std::string& mode, const std::string& address,
                                               const std::string& model) {
  static e2e::TempDir* const logs = new e2e::TempDir();
  static int count = 0;
  const std::string log = absl::StrCat(logs->path(), "/client-", ++count, ".log");
  std::unique_ptr<ChildProcess> client =
      ChildProcess::Start({OCTET_FAULT_CLIENT_BINARY, mode, address, model}, log);
  if (client == nullptr) return nullptr;
  const std::string line = client->ReadLine(absl::Seconds(180));
  if (line != "ready") {
    ADD_FAILURE() << "octet_fault_client " << mode << " said '" << line << "'; its log:\n"
                  << ReadWholeFile(log);
    return nullptr;
  }
  return client;
}

v1::CalibrationSample LenetSamples(int seed, int count, v1::CalibrationSample::Role role) {
  // Scaled to 0..1 would match the training data; the example model takes raw 0..255 pixels.
  const std::vector<float> pixels = e2e::Images(seed, count);
  v1::CalibrationSample sample;
  sample.set_role(role);
  sample.set_datatype("FP32");
  for (int64_t d : {int64_t{count}, int64_t{1}, int64_t{28}, int64_t{28}}) sample.add_shape(d);
  sample.set_raw_contents(pixels.data(), pixels.size() * sizeof(float));
  return sample;
}

v1::CalibrationSpec LenetSpec(const std::string& model, int samples) {
  v1::CalibrationSpec spec;
  spec.set_model_name(model);
  spec.set_precision(v1::PRECISION_INT8);
  spec.set_method(v1::MINMAX);
  spec.set_num_samples(samples);
  return spec;
}

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> IndexedVersions(const client::Client& client, const std::string& model) {
  std::vector<std::string> versions;
  absl::StatusOr<inference::RepositoryIndexResponse> index = client.RepositoryIndex();
  EXPECT_TRUE(index.ok()) << index.status();
  if (!index.ok()) return versions;
  for (const auto& entry : index->models()) {
    if (entry.name() == model && !entry.version().empty()) versions.push_back(entry.version());
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace octet::faults
