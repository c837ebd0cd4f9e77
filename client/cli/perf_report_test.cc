#include "client/cli/perf_report.h"

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace octet::cli {
namespace {

using ::testing::HasSubstr;

PerfRun TwoSteps() {
  PerfRun run;
  run.model = "resnet8";
  run.batch = 4;
  PerfStep a;
  a.concurrency = 1;
  a.completed = 100;
  a.wall_seconds = 2;
  a.throughput = 50;
  a.latency = SummarizeLatencies({absl::Milliseconds(10), absl::Milliseconds(20)});
  a.server_queue_us = 12.5;
  a.server_compute_us = 900;
  PerfStep b = a;
  b.concurrency = 8;
  b.failed = 3;
  b.errors_by_code = {{"RESOURCE_EXHAUSTED", 2}, {"UNAVAILABLE", 1}};
  b.first_error = "queue is full, try later";
  b.server_queue_us.reset();
  b.server_compute_us.reset();
  run.steps = {a, b};
  return run;
}

google::protobuf::Struct ParseJson(const std::string& json) {
  google::protobuf::Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return parsed;
}

TEST(PerfTable, ShowsEveryStepAndItsErrors) {
  const std::string table = PerfTable(TwoSteps());
  EXPECT_THAT(table, HasSubstr("model resnet8, batch 4\n"));
  EXPECT_THAT(table, HasSubstr("concurrency  requests  errors  infer/s  p50 ms"));
  EXPECT_THAT(table, HasSubstr("50.0"));
  EXPECT_THAT(table, HasSubstr("10.000"));  // p50 of {10, 20} ms
  EXPECT_THAT(table, HasSubstr("20.000"));  // p99
  EXPECT_THAT(table, HasSubstr("12.5"));
  EXPECT_THAT(table, HasSubstr("errors at concurrency 8: RESOURCE_EXHAUSTED x2, UNAVAILABLE x1; "
                               "first: queue is full, try later"));
  const std::vector<std::string> lines = absl::StrSplit(table, '\n');
  EXPECT_THAT(lines[3], HasSubstr("-"));  // no server statistics at concurrency 8
}

TEST(PerfTable, RateStepsAreLabelledByRate) {
  PerfRun run = TwoSteps();
  run.steps[0].rate = 250;
  run.steps.resize(1);
  EXPECT_THAT(PerfTable(run), HasSubstr("rate  requests"));
  EXPECT_THAT(PerfTable(run), HasSubstr("250/s"));
}

TEST(PerfCsv, OneHeaderAndOneRowPerStep) {
  const std::string csv = PerfCsv(TwoSteps());
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  const size_t columns = std::vector<std::string>(absl::StrSplit(lines[0], ',')).size();
  EXPECT_EQ(columns, 17u);
  EXPECT_THAT(lines[0], HasSubstr("throughput_per_s,latency_p50_ms,latency_p90_ms"));
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(lines[1], ',')).size(), columns);
  EXPECT_THAT(lines[1], ::testing::StartsWith("1,,4,100,0,2.000000,50.000,10.000000,"));
  // The errors cell holds a comma, so it is quoted.
  EXPECT_THAT(lines[2], ::testing::EndsWith(",\"RESOURCE_EXHAUSTED x2, UNAVAILABLE x1\""));
  EXPECT_THAT(lines[2], HasSubstr(",,,"));  // empty server columns
}

TEST(PerfJson, IsValidJsonWithEveryField) {
  const google::protobuf::Struct json = ParseJson(PerfJson(TwoSteps()));
  EXPECT_EQ(json.fields().at("model").string_value(), "resnet8");
  EXPECT_EQ(json.fields().at("batch").number_value(), 4);
  const auto& steps = json.fields().at("steps").list_value();
  ASSERT_EQ(steps.values_size(), 2);
  const auto& a = steps.values(0).struct_value().fields();
  EXPECT_EQ(a.at("concurrency").number_value(), 1);
  EXPECT_TRUE(a.at("rate").has_null_value());
  EXPECT_EQ(a.at("throughput_per_s").number_value(), 50);
  EXPECT_EQ(a.at("latency_ms").struct_value().fields().at("p99").number_value(), 20);
  EXPECT_EQ(a.at("server_queue_us").number_value(), 12.5);
  const auto& b = steps.values(1).struct_value().fields();
  EXPECT_EQ(b.at("errors_by_code").struct_value().fields().at("UNAVAILABLE").number_value(), 1);
  EXPECT_EQ(b.at("first_error").string_value(), "queue is full, try later");
  EXPECT_TRUE(b.at("server_compute_us").has_null_value());
}

TEST(GnuplotScript, PlotsPercentilesAgainstThroughput) {
  const std::string script = GnuplotScript(TwoSteps(), "/tmp/it's.csv", "/tmp/out.png");
  EXPECT_THAT(script, HasSubstr("set output '/tmp/out.png'"));
  EXPECT_THAT(script, HasSubstr("'/tmp/it''s.csv' skip 1 using 7:8 with linespoints title 'p50'"));
  EXPECT_THAT(script, HasSubstr("using 7:11 with linespoints title 'p99'"));
  EXPECT_THAT(script, HasSubstr("set xlabel 'throughput (inferences/s)'"));
}

}  // namespace
}  // namespace octet::cli
