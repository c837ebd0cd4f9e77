// ProgressReporter: shows the progress messages of a calibration (octet.v1.CalibrationProgress)
// on a stream, as a bar redrawn in place ("\r") when the stream is a terminal, or as plain lines
// otherwise (logs, pipes, CI), where a line is written only when the phase or the message changes
// or the phase's completion crosses another tenth.
//
//   ProgressReporter progress(std::cerr, isatty(STDERR_FILENO));
//   client->Calibrate(spec, samples, [&](const auto& p) { progress.Update(p); });
//   progress.Finish();
//
// Threads: Update and Finish may be called from any thread; they serialize on an internal mutex.
// The stream is borrowed and must outlive the reporter.
#ifndef OCTET_CLIENT_CLI_PROGRESS_H_
#define OCTET_CLIENT_CLI_PROGRESS_H_

#include <ostream>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "octet/v1/calibration.pb.h"

namespace octet::cli {

// "receiving", "observing", ... ("working" for an unknown phase).
std::string PhaseName(octet::v1::CalibrationProgress::Phase phase);

class ProgressReporter {
 public:
  ProgressReporter(std::ostream& out, bool terminal, int bar_width = 30);

  void Update(const octet::v1::CalibrationProgress& progress);
  // Ends the bar's line (terminal mode); idempotent.
  void Finish();

 private:
  std::ostream& out_;
  const bool terminal_;
  const int bar_width_;

  absl::Mutex mutex_;
  int phase_ ABSL_GUARDED_BY(mutex_) = -1;
  int tenths_ ABSL_GUARDED_BY(mutex_) = -1;
  std::string message_ ABSL_GUARDED_BY(mutex_);
  size_t drawn_width_ ABSL_GUARDED_BY(mutex_) = 0;  // characters of the bar line now shown
};

}  // namespace octet::cli

#endif  // OCTET_CLIENT_CLI_PROGRESS_H_
