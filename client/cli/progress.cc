#include "client/cli/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace octet::cli {

std::string PhaseName(octet::v1::CalibrationProgress::Phase phase) {
  switch (phase) {
    case octet::v1::CalibrationProgress::RECEIVING:
      return "receiving";
    case octet::v1::CalibrationProgress::OBSERVING:
      return "observing";
    case octet::v1::CalibrationProgress::QUANTIZING:
      return "quantizing";
    case octet::v1::CalibrationProgress::EVALUATING:
      return "evaluating";
    case octet::v1::CalibrationProgress::FALLBACK:
      return "fallback";
    case octet::v1::CalibrationProgress::PUBLISHING:
      return "publishing";
    default:
      return "working";
  }
}

ProgressReporter::ProgressReporter(std::ostream& out, bool terminal, int bar_width)
    : out_(out), terminal_(terminal), bar_width_(std::max(bar_width, 1)) {}

void ProgressReporter::Update(const octet::v1::CalibrationProgress& p) {
  absl::MutexLock lock(&mutex_);
  const bool known_total = p.samples_total() > 0;
  const double fraction =
      known_total ? std::clamp(static_cast<double>(p.samples_seen()) / p.samples_total(), 0.0, 1.0)
                  : 0.0;
  const std::string count = known_total ? absl::StrCat(p.samples_seen(), "/", p.samples_total())
                                        : absl::StrCat(p.samples_seen(), " samples");
  const std::string detail = p.message().empty() ? "" : absl::StrCat("  ", p.message());
  if (terminal_) {
    const int filled = static_cast<int>(fraction * bar_width_);
    std::string line = absl::StrFormat(
        "[%s%s] %4s %-10s %s%s", std::string(filled, '#'), std::string(bar_width_ - filled, '.'),
        known_total ? absl::StrCat(static_cast<int>(fraction * 100), "%") : "",
        PhaseName(p.phase()), count, detail);
    const size_t width = line.size();
    if (width < drawn_width_) line += std::string(drawn_width_ - width, ' ');  // erase the rest
    drawn_width_ = width;
    out_ << "\r" << line << std::flush;
    return;
  }
  const int tenths = known_total ? static_cast<int>(fraction * 10) : -1;
  if (p.phase() == phase_ && tenths == tenths_ && p.message() == message_) return;
  phase_ = p.phase();
  tenths_ = tenths;
  message_ = p.message();
  out_ << "calibrate: " << PhaseName(p.phase()) << " " << count
       << (known_total ? absl::StrCat(" (", static_cast<int>(fraction * 100), "%)") : "") << detail
       << "\n"
       << std::flush;
}

void ProgressReporter::Finish() {
  absl::MutexLock lock(&mutex_);
  if (terminal_ && drawn_width_ > 0) out_ << "\n" << std::flush;
  drawn_width_ = 0;
}

}  // namespace octet::cli
