#include "client/cli/progress.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::cli {
namespace {

using ::testing::HasSubstr;
using Phase = octet::v1::CalibrationProgress;

octet::v1::CalibrationProgress P(Phase::Phase phase, int64_t seen, int64_t total,
                                 std::string message = "") {
  octet::v1::CalibrationProgress p;
  p.set_phase(phase);
  p.set_samples_seen(seen);
  p.set_samples_total(total);
  p.set_message(std::move(message));
  return p;
}

TEST(ProgressReporter, PlainLinesOnPhaseChangesAndEveryTenth) {
  std::ostringstream out;
  ProgressReporter progress(out, /*terminal=*/false);
  progress.Update(P(Phase::RECEIVING, 32, 0));
  progress.Update(P(Phase::RECEIVING, 64, 0));  // same phase, unknown total: no new line
  for (int seen = 0; seen <= 500; seen += 25) progress.Update(P(Phase::OBSERVING, seen, 500));
  progress.Update(P(Phase::FALLBACK, 1, 3, "conv3 -> fp32"));
  progress.Update(P(Phase::FALLBACK, 1, 3, "conv3 -> fp32"));  // repeated: nothing
  progress.Update(P(Phase::FALLBACK, 1, 3, "fc -> fp32"));     // new message: a line
  progress.Finish();
  const std::string text = out.str();
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_THAT(text, HasSubstr("calibrate: receiving 32 samples\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("64 samples")));
  EXPECT_THAT(text, HasSubstr("calibrate: observing 0/500 (0%)\n"));
  EXPECT_THAT(text, HasSubstr("calibrate: observing 50/500 (10%)\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("75/500")));  // inside the same tenth
  EXPECT_THAT(text, HasSubstr("calibrate: observing 500/500 (100%)\n"));
  EXPECT_THAT(text, HasSubstr("calibrate: fallback 1/3 (33%)  conv3 -> fp32\n"));
  EXPECT_THAT(text, HasSubstr("fc -> fp32\n"));
  // 1 receiving + 11 observing tenths + 2 fallback lines.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 14);
}

TEST(ProgressReporter, TerminalRedrawsOneLine) {
  std::ostringstream out;
  ProgressReporter progress(out, /*terminal=*/true, /*bar_width=*/10);
  progress.Update(P(Phase::OBSERVING, 50, 100, "a long message to be erased"));
  progress.Update(P(Phase::OBSERVING, 100, 100));
  progress.Finish();
  progress.Finish();  // idempotent
  const std::string text = out.str();
  EXPECT_EQ(text.front(), '\r');
  EXPECT_THAT(text, HasSubstr("[#####.....]  50% observing  50/100"));
  EXPECT_THAT(text, HasSubstr("\r[##########] 100% observing  100/100"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_EQ(text.back(), '\n');
  // The second line is padded to cover the first's longer text.
  const size_t second = text.rfind('\r');
  EXPECT_GE(text.size() - second - 2, text.find('\r', 1) - 1);
}

TEST(PhaseName, Names) {
  EXPECT_EQ(PhaseName(Phase::PUBLISHING), "publishing");
  EXPECT_EQ(PhaseName(Phase::PHASE_UNSPECIFIED), "working");
}

}  // namespace
}  // namespace octet::cli
