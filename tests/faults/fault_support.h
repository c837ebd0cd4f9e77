// What the fault tests share: the octet-server binary as a child process that a test can
// SIGKILL, SIGTERM or restart on the same repository, the octet_fault_client helper (a client
// process that a test kills in the middle of a call), calibration samples for the example model,
// and small file-system helpers.
//
// Built on tests/e2e/e2e_support.h (repositories, the example model, clients, reference answers).
// Test code: not thread-safe unless a function says so.
#ifndef OCTET_TESTS_FAULTS_FAULT_SUPPORT_H_
#define OCTET_TESTS_FAULTS_FAULT_SUPPORT_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "octet/v1/calibration.pb.h"
#include "tests/e2e/e2e_support.h"

namespace octet::faults {

// A child process whose standard error goes to a file and whose standard output is read line
// by line. Killed with SIGKILL (and reaped) when destroyed if it is still running.
class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`; null (and a test failure) when it cannot.
  static std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv,
                                             const std::string& stderr_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next line of standard output (without '\n'), or "" after `timeout` or at its end.
  std::string ReadLine(absl::Duration timeout);
  void Signal(int signal);
  // Waits for the process to end; its wait(2) status.
  int Wait();
  bool running() const { return !reaped_; }
  pid_t pid() const { return pid_; }

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffered_;
  bool reaped_ = false;
  int status_ = 0;
};

// octet-server on 127.0.0.1 (gRPC and metrics on free ports) serving `repository`, one core.
class ServerProcess {
 public:
  // Waits until it listens; null (and a test failure naming its log) when it does not.
  static std::unique_ptr<ServerProcess> Start(const std::string& repository,
                                              const std::vector<std::string>& extra_args = {});

  int port() const { return port_; }
  std::string address() const;
  pid_t pid() const { return process_->pid(); }
  ChildProcess& process() { return *process_; }
  // What the server wrote to standard error so far.
  std::string Log() const;

 private:
  ServerProcess() = default;
  std::unique_ptr<e2e::TempDir> log_dir_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

// octet_fault_client in `mode` (fault_client.cc) against `address`; returns once it printed
// its "ready" line, i.e. once its call is in the state the mode describes.
std::unique_ptr<ChildProcess> StartFaultClient(const std::string& mode, const std::string& address,
                                               const std::string& model);

// Calibration input for the example model: `count` deterministic images in one sample message.
v1::CalibrationSample LenetSamples(
    int seed, int count, v1::CalibrationSample::Role role = v1::CalibrationSample::CALIBRATION);
// An INT8 calibration of `model` (the example model) with streamed samples.
v1::CalibrationSpec LenetSpec(const std::string& model, int samples);

// Entry names of a directory, sorted (hidden ones included).
std::vector<std::string> DirEntries(const std::string& dir);
// The versions RepositoryIndex lists for `model` ("1", "2", ...), sorted; entries with no
// version are left out.
std::vector<std::string> IndexedVersions(const client::Client& client, const std::string& model);
// Reads a whole file ("" when it cannot).
std::string ReadWholeFile(const std::string& path);

}  // namespace octet::faults

#endif  // OCTET_TESTS_FAULTS_FAULT_SUPPORT_H_
