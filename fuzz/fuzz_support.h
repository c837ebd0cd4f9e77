// What every fuzz target in this folder shares: a check that aborts (so that libFuzzer records
// the input as a crash) when a property the code under test promises does not hold, and the
// silencing of protobuf's own log, which would otherwise print one line per malformed input.
//
// Header-only; each target is a single-threaded process.
#ifndef OCTET_FUZZ_FUZZ_SUPPORT_H_
#define OCTET_FUZZ_FUZZ_SUPPORT_H_

#include <cstdio>
#include <cstdlib>

#include "google/protobuf/stubs/logging.h"

namespace octet::fuzz {

// Aborts with `what` when `condition` is false: a broken promise is a finding, like a crash.
inline void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

// Drops protobuf's log lines (parse errors on every other input); errors still come back as
// statuses, which is what the targets look at.
inline void SilenceProtobufLog() {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
}

}  // namespace octet::fuzz

#endif  // OCTET_FUZZ_FUZZ_SUPPORT_H_
