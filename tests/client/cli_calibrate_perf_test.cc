// `octet calibrate` and `octet perf` against the real octet-server binary: the calibration
// report, its progress (plain lines off a terminal, a redrawn bar on one), the new INT8 version
// answering; perf's numbers on short runs, checked against each other, against the CSV
// written in the same run, and against the server's own statistics.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_support.h"

namespace octet::cli_test {
namespace {

using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int kExitOk = 0;

std::vector<std::string> CalibrateArgs(int samples, int validation_samples) {
  return {"calibrate",
          kModel,
          "--dataset",
          TrainImages(),
          "--samples",
          absl::StrCat(samples),
          "--validation-dataset",
          TestImages(),
          "--validation-samples",
          absl::StrCat(validation_samples)};
}

// "accuracy   fp32 93.10%   all-int8 93.00%   published 93.00%   drop 0.10 points"
struct Accuracies {
  double fp32 = -1, all_int8 = -1, published = -1, drop = -1;
};

Accuracies ParseAccuracyLine(const std::string& report) {
  Accuracies a;
  for (absl::string_view line : absl::StrSplit(report, '\n')) {
    if (!absl::ConsumePrefix(&line, "accuracy   fp32 ")) continue;
    const std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    // 93.10% all-int8 93.00% published 93.00% drop 0.10 points
    if (words.size() < 7) break;
    auto percent = [](std::string w) {
      double v = -1;
      absl::SimpleAtod(absl::StripSuffix(w, "%"), &v);
      return v;
    };
    a.fp32 = percent(words[0]);
    a.all_int8 = percent(words[2]);
    a.published = percent(words[4]);
    a.drop = percent(words[6]);
  }
  return a;
}

TEST(CliCalibrateTest, CalibratesToInt8ReportsProgressAndServesTheNewVersion) {
  REQUIRE_FASHION_MNIST();
  ServedRepository served;
  ASSERT_TRUE(served.started());
  const CommandResult r = Octet(served.url(), CalibrateArgs(200, 1000));
  ASSERT_EQ(r.exit_code, kExitOk) << r.err << served.server().Log();

  // The report.
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  ASSERT_GE(lines.size(), 8u) << r.out;
  EXPECT_THAT(lines[0], MatchesRegex("calibrated fashion-lenet version 1 -> version 2 "
                                     "\\((int8|mixed), percentile 99\\.99\\)"));
  EXPECT_EQ(lines[1], "samples    200 calibration, 1000 validation; accuracy against labels");
  const Accuracies accuracy = ParseAccuracyLine(r.out);
  // The example model scores 91.18% on all 10,000 test images; 1,000 evenly spaced ones give
  // a figure near it. The default tolerance (the model's config) is 0.5 points.
  EXPECT_GT(accuracy.fp32, 88) << r.out;
  EXPECT_LT(accuracy.fp32, 96) << r.out;
  EXPECT_GE(accuracy.published, accuracy.fp32 - 0.5) << r.out;
  EXPECT_NEAR(accuracy.drop, accuracy.fp32 - accuracy.published, 0.011) << r.out;
  EXPECT_THAT(r.out, HasSubstr("tolerance  0.5 points (absolute): met\n"));
  EXPECT_THAT(r.out, ContainsRegex("agreement  [0-9.]+% of top-1 predictions equal FP32's"));
  EXPECT_THAT(r.out, ContainsRegex("plan       [0-9] of 5 layers INT8"));
  for (const char* layer : {"/conv1/Conv", "/conv2/Conv", "/fc1/Gemm", "/fc2/Gemm", "/fc3/Gemm"}) {
    EXPECT_THAT(r.out, HasSubstr(layer));
  }

  // Progress off a terminal: plain lines, no carriage returns, each phase, the count of the
  // streamed samples.
  EXPECT_THAT(r.err, Not(HasSubstr("\r")));
  const std::vector<std::string> progress = absl::StrSplit(r.err, '\n', absl::SkipEmpty());
  ASSERT_GE(progress.size(), 4u) << r.err;
  EXPECT_EQ(progress[0],
            absl::StrCat("calibrate: fashion-lenet with 200 calibration images from ",
                         TrainImages(), ", 1000 validation images from ", TestImages()));
  for (const std::string& line : progress) EXPECT_THAT(line, StartsWith("calibrate: "));
  EXPECT_THAT(r.err, HasSubstr("calibrate: receiving 200/200 (100%)"));
  for (const char* phase : {"observing", "quantizing", "evaluating", "publishing"}) {
    EXPECT_THAT(r.err, HasSubstr(absl::StrCat("calibrate: ", phase, " "))) << phase;
  }

  // Version 2 is published and answers, with the known class for test image 0.
  CommandResult models = Octet(served.url(), {"models"});
  EXPECT_EQ(models.out,
            "MODEL          VERSION  STATE  REASON\n"
            "fashion-lenet  1        READY\n"
            "fashion-lenet  2        READY\n");
  for (const std::string& version : {std::string("2"), std::string("")}) {
    std::vector<std::string> args = {"infer",    kModel,       "--dataset", TestImages(),
                                     "--labels", LabelsFile(), "--top-k",   "1"};
    if (!version.empty()) args.insert(args.end(), {"--model-version", version});
    const CommandResult infer = Octet(served.url(), args);
    ASSERT_EQ(infer.exit_code, kExitOk) << infer.err;
    EXPECT_THAT(infer.out, StartsWith("model fashion-lenet version 2, output 'logits'"));
    EXPECT_THAT(infer.out, HasSubstr("   1      9  Ankle boot"));
  }
  const CommandResult metadata = Octet(served.url(), {"metadata", kModel});
  EXPECT_THAT(metadata.out, HasSubstr("versions  1, 2\n"));
  EXPECT_THAT(metadata.out, HasSubstr("platform  octet_onnx_int8\n"));

  // The report is stored with the version: `octet report` prints the same text.
  const CommandResult report = Octet(served.url(), {"report", kModel, "--model-version", "2"});
  ASSERT_EQ(report.exit_code, kExitOk) << report.err;
  EXPECT_EQ(report.out, r.out);
  const CommandResult json = Octet(served.url(), {"report", kModel, "--json"});
  ASSERT_EQ(json.exit_code, kExitOk) << json.err;
  const google::protobuf::Value parsed = ParseJson(json.out);
  EXPECT_EQ(Field(parsed, "published_version").string_value(), "2");
  EXPECT_EQ(Integer(Field(parsed, "num_calibration_samples")), 200);
  EXPECT_NEAR(Number(Field(parsed, "fp32_accuracy")), accuracy.fp32, 0.006);
}

TEST(CliCalibrateTest, ProgressIsABarOnATerminal) {
  REQUIRE_FASHION_MNIST();
  ServedRepository served;
  ASSERT_TRUE(served.started());
  RunOptions terminal;
  terminal.terminal = true;
  const CommandResult r = Octet(served.url(), CalibrateArgs(64, 200), terminal);
  ASSERT_EQ(r.exit_code, kExitOk) << r.out;
  // Redrawn in place: carriage return, then "[####....]  NN% phase".
  EXPECT_THAT(r.out, HasSubstr("\r["));
  EXPECT_THAT(r.out, ContainsRegex("\r\\[#+\\] 100% receiving +64/64"));
  EXPECT_THAT(r.out, Not(HasSubstr("calibrate: receiving")));
  EXPECT_THAT(r.out, HasSubstr("calibrated fashion-lenet version 1 -> version 2"));
}

// A failed calibration: exit 1, and after the line that says what is being sent (when it got
// that far), one error line naming the problem.
void ExpectFailureLine(const CommandResult& r, const std::string& what) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.err, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  EXPECT_LE(lines.size(), 2u) << r.err;
  if (lines.size() == 2) {
    EXPECT_THAT(lines[0], StartsWith("calibrate: fashion-lenet with "));
  }
  EXPECT_THAT(lines.back(), StartsWith("octet calibrate: "));
  EXPECT_THAT(lines.back(), HasSubstr(what));
  EXPECT_EQ(r.out, "");
}

TEST(CliCalibrateTest, FailuresExitNonZeroAndPublishNothing) {
  REQUIRE_FASHION_MNIST();
  ServedRepository served;
  ASSERT_TRUE(served.started());
  // Refused by the server: it was started without --dataset-root, so it reads no data set.
  CommandResult r = Octet(served.url(), {"calibrate", kModel, "--server-dataset",
                                         "idx:fashion-mnist/train-images-idx3-ubyte.gz"});
  ExpectFailureLine(r, "server-side data sets are disabled");
  // Refused by the client: three channels' preprocessing for one-channel images.
  std::vector<std::string> args = CalibrateArgs(64, 0);
  args.resize(6);  // no validation data
  args.insert(args.end(), {"--mean", "0.5,0.5,0.5", "--std", "1,1,1"});
  r = Octet(served.url(), args);
  ExpectFailureLine(r, "");
  // Still version 1 alone, serving.
  r = Octet(served.url(), {"models"});
  EXPECT_EQ(r.out,
            "MODEL          VERSION  STATE  REASON\n"
            "fashion-lenet  1        READY\n");
}

// ---- perf ----

// The CSV `octet perf --csv` wrote, as rows of fields (header first).
std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(file, line)) rows.push_back(absl::StrSplit(line, ','));
  return rows;
}

double Double(const std::string& text) {
  double v = 0;
  EXPECT_TRUE(absl::SimpleAtod(text, &v)) << text;
  return v;
}

int64_t SuccessCount(const std::string& url) {
  const CommandResult r = Octet(url, {"stats", kModel, "--json"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  int64_t total = 0;
  const google::protobuf::Value stats = ParseJson(r.out);
  for (const auto& m : Field(stats, "model_stats").list_value().values()) {
    total += Integer(Field(Field(Field(m, "inference_stats"), "success"), "count"));
  }
  return total;
}

TEST(CliPerfTest, ShortRunReportsConsistentNumbers) {
  ServedRepository served;
  ASSERT_TRUE(served.started());
  TempDir dir;
  const std::string csv = dir.path() + "/perf.csv";
  const int64_t served_before = SuccessCount(served.url());
  constexpr double kDurationSeconds = 2;
  // No warm-up, so that the server counts exactly the measured requests plus perf's first
  // (checking) request.
  const CommandResult r = Octet(served.url(), {"perf", kModel, "--concurrency", "1,4", "--duration",
                                               "2s", "--warmup", "0s", "--json", "--csv", csv});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const google::protobuf::Value json = ParseJson(r.out);
  EXPECT_EQ(Field(json, "model").string_value(), kModel);
  EXPECT_EQ(Field(json, "batch").number_value(), 1);
  const auto& steps = Field(json, "steps").list_value();
  ASSERT_EQ(steps.values_size(), 2) << r.out;
  const std::vector<std::vector<std::string>> rows = ReadCsv(csv);
  ASSERT_EQ(rows.size(), 3u);
  ASSERT_EQ(rows[0][6], "throughput_per_s");
  int64_t measured = 0;
  double wall_total = 0;
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(absl::StrCat("step ", i));
    const auto& step = steps.values(i);
    EXPECT_EQ(Field(step, "concurrency").number_value(), i == 0 ? 1 : 4);
    const double requests = Number(Field(step, "requests"));
    const double wall = Number(Field(step, "wall_s"));
    const double throughput = Number(Field(step, "throughput_per_s"));
    EXPECT_EQ(Number(Field(step, "errors")), 0);
    EXPECT_GT(requests, 20);
    measured += static_cast<int64_t>(requests);
    wall_total += wall;
    // Throughput is completed requests over the step's wall time, which is the requested
    // duration plus the last requests' tail.
    EXPECT_NEAR(throughput, requests / wall, 1e-6 * throughput);
    EXPECT_GE(wall, kDurationSeconds);
    EXPECT_NEAR(throughput, requests / kDurationSeconds, 0.2 * requests / kDurationSeconds);
    const auto& latency = Field(step, "latency_ms");
    const double p50 = Number(Field(latency, "p50")), p90 = Number(Field(latency, "p90")),
                 p95 = Number(Field(latency, "p95")), p99 = Number(Field(latency, "p99"));
    const double min = Number(Field(latency, "min")), max = Number(Field(latency, "max")),
                 mean = Number(Field(latency, "mean"));
    EXPECT_GT(min, 0);
    EXPECT_LE(min, p50);
    EXPECT_LE(p50, p90);
    EXPECT_LE(p90, p95);
    EXPECT_LE(p95, p99);
    EXPECT_LE(p99, max);
    EXPECT_GE(mean, min);
    EXPECT_LE(mean, max);
    // Closed loop: concurrency / mean latency is the throughput (Little's law), roughly; the
    // loop's own gaps between a completion and the next start make it a little lower.
    const double concurrency = i == 0 ? 1 : 4;
    EXPECT_LE(throughput, 1.05 * concurrency / (mean / 1000)) << "mean " << mean;
    EXPECT_GE(throughput, 0.5 * concurrency / (mean / 1000)) << "mean " << mean;
    // The server's share: queue and compute, both measured, each below the client's mean.
    const double queue_us = Number(Field(step, "server_queue_us"));
    const double compute_us = Number(Field(step, "server_compute_us"));
    EXPECT_GE(queue_us, 0);
    EXPECT_GT(compute_us, 0);
    EXPECT_LT(compute_us, mean * 1000);
    // The CSV of the same run holds the same numbers.
    const std::vector<std::string>& row = rows[i + 1];
    ASSERT_GE(row.size(), 16u);
    EXPECT_EQ(row[0], i == 0 ? "1" : "4");
    EXPECT_EQ(Double(row[3]), requests);
    EXPECT_NEAR(Double(row[6]), throughput, 1e-3);
    EXPECT_NEAR(Double(row[7]), p50, 1e-5);
    EXPECT_NEAR(Double(row[10]), p99, 1e-5);
  }
  // The server served every measured request, and the first one.
  EXPECT_EQ(SuccessCount(served.url()) - served_before, measured + 1);
  EXPECT_GE(absl::ToDoubleSeconds(r.elapsed), wall_total);
  // Progress on stderr: one line per step.
  const std::vector<std::string> progress = absl::StrSplit(r.err, '\n', absl::SkipEmpty());
  ASSERT_EQ(progress.size(), 2u) << r.err;
  EXPECT_THAT(progress[0], MatchesRegex("perf: concurrency 1: [0-9]+ requests, 0 errors, "
                                        "[0-9.]+ infer/s, p99 [0-9.]+ ms"));
  EXPECT_THAT(progress[1], StartsWith("perf: concurrency 4: "));
}

TEST(CliPerfTest, RequestCountAndTextTable) {
  ServedRepository served;
  ASSERT_TRUE(served.started());
  const CommandResult r = Octet(served.url(), {"perf", kModel, "--concurrency", "8", "--requests",
                                               "300", "--warmup", "0.2s", "--model-version", "1"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0], "model fashion-lenet version 1, batch 1");
  EXPECT_THAT(lines[1], MatchesRegex("concurrency +requests +errors +infer/s +p50 ms +p90 ms +"
                                     "p95 ms +p99 ms +max ms +srv queue us +srv compute us"));
  const std::vector<std::string> cells = absl::StrSplit(lines[2], ' ', absl::SkipEmpty());
  ASSERT_EQ(cells.size(), 11u) << lines[2];
  EXPECT_EQ(cells[0], "8");
  EXPECT_EQ(cells[1], "300");  // exactly --requests
  EXPECT_EQ(cells[2], "0");
  EXPECT_GT(Double(cells[3]), 0);
  for (int c = 4; c < 8; ++c) EXPECT_LE(Double(cells[c]), Double(cells[c + 1])) << lines[2];
}

TEST(CliPerfTest, FixedRateRunsNearItsRate) {
  ServedRepository served;
  ASSERT_TRUE(served.started());
  const CommandResult r = Octet(served.url(), {"perf", kModel, "--rate", "100", "--duration", "2s",
                                               "--warmup", "0s", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const google::protobuf::Value json = ParseJson(r.out);
  ASSERT_EQ(Field(json, "steps").list_value().values_size(), 1) << r.out;
  const auto& step = At(Field(json, "steps"), 0);
  EXPECT_EQ(Number(Field(step, "rate")), 100);
  // 200 requests started on schedule; all complete (the model takes well under 10 ms).
  EXPECT_NEAR(Number(Field(step, "requests")), 200, 2);
  EXPECT_NEAR(Number(Field(step, "throughput_per_s")), 100, 20);
}

}  // namespace
}  // namespace octet::cli_test
