#include "server/metrics/prometheus_metrics.h"

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::server {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const ModelKey kFp32{"resnet8", "1", "fp32"};
const ModelKey kInt8{"resnet8", "2", "int8"};

// The text exposition, as a scrape would return it.
std::string Scrape(const PrometheusMetrics& metrics) {
  return ToTextExposition(*metrics.registry());
}

// The value of the sample written exactly as `series` (name and labels, as prometheus-cpp
// writes them: labels sorted by name, "le" last), or nullopt when there is no such line.
std::optional<double> Value(absl::string_view exposition, absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ")) {
      return std::stod(std::string(line));
    }
  }
  return std::nullopt;
}

// Every sample line of family `name` (its _bucket, _sum and _count lines for a histogram),
// without the value: the label sets it has.
std::vector<std::string> Series(absl::string_view exposition, absl::string_view name) {
  std::vector<std::string> series;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    if (!absl::StartsWith(rest, "{") && !absl::StartsWith(rest, " ") &&
        !absl::StartsWith(rest, "_")) {
      continue;
    }
    series.emplace_back(line.substr(0, line.rfind(' ')));
  }
  return series;
}

RequestEvent Request(const ModelKey& key, RequestOutcome outcome, absl::Duration total,
                     absl::Duration queue = absl::ZeroDuration(),
                     absl::Duration compute = absl::ZeroDuration(), int64_t samples = 1) {
  RequestEvent event;
  event.key = key;
  event.outcome = outcome;
  event.total = total;
  event.queue = queue;
  event.compute = compute;
  event.samples = samples;
  return event;
}

TEST(PrometheusMetricsTest, AnEmptySinkExposesNoSeries) {
  PrometheusMetrics metrics;
  EXPECT_THAT(Series(Scrape(metrics), "octet_"), IsEmpty());
}

TEST(PrometheusMetricsTest, CountsRequestsByOutcomeWithEveryOutcomePresentFromTheFirst) {
  PrometheusMetrics metrics;
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kSuccess, absl::Milliseconds(1)));
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kSuccess, absl::Milliseconds(1)));
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kRejected, absl::Microseconds(10)));

  const std::string text = Scrape(metrics);
  EXPECT_THAT(
      Series(text, "octet_inference_requests_total"),
      UnorderedElementsAre(
          R"(octet_inference_requests_total{model="resnet8",outcome="success",version="1"})",
          R"(octet_inference_requests_total{model="resnet8",outcome="invalid",version="1"})",
          R"(octet_inference_requests_total{model="resnet8",outcome="rejected",version="1"})",
          R"(octet_inference_requests_total{model="resnet8",outcome="timeout",version="1"})",
          R"(octet_inference_requests_total{model="resnet8",outcome="cancelled",version="1"})",
          R"(octet_inference_requests_total{model="resnet8",outcome="error",version="1"})"));
  EXPECT_EQ(
      Value(text,
            R"(octet_inference_requests_total{model="resnet8",outcome="success",version="1"})"),
      2);
  EXPECT_EQ(
      Value(text,
            R"(octet_inference_requests_total{model="resnet8",outcome="rejected",version="1"})"),
      1);
  EXPECT_EQ(
      Value(text,
            R"(octet_inference_requests_total{model="resnet8",outcome="timeout",version="1"})"),
      0);
}

TEST(PrometheusMetricsTest, SuccessfulRequestsFillTheDurationHistograms) {
  PrometheusMetrics metrics;
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kSuccess, absl::Microseconds(900),
                                absl::Microseconds(300), absl::Microseconds(500)));
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kSuccess, absl::Milliseconds(20),
                                absl::Milliseconds(12), absl::Milliseconds(7)));

  const std::string text = Scrape(metrics);
  const std::string request = "octet_request_duration_seconds";
  EXPECT_EQ(Value(text, request + R"(_count{model="resnet8",version="1"})"), 2);
  EXPECT_DOUBLE_EQ(*Value(text, request + R"(_sum{model="resnet8",version="1"})"), 0.0209);
  EXPECT_EQ(Value(text, request + R"(_bucket{model="resnet8",version="1",le="0.0005"})"), 0);
  EXPECT_EQ(Value(text, request + R"(_bucket{model="resnet8",version="1",le="0.001"})"), 1);
  EXPECT_EQ(Value(text, request + R"(_bucket{model="resnet8",version="1",le="0.01"})"), 1);
  EXPECT_EQ(Value(text, request + R"(_bucket{model="resnet8",version="1",le="0.025"})"), 2);
  EXPECT_EQ(Value(text, request + R"(_bucket{model="resnet8",version="1",le="+Inf"})"), 2);

  const std::string queue = "octet_queue_duration_seconds";
  EXPECT_EQ(Value(text, queue + R"(_bucket{model="resnet8",version="1",le="0.00025"})"), 0);
  EXPECT_EQ(Value(text, queue + R"(_bucket{model="resnet8",version="1",le="0.0005"})"), 1);
  EXPECT_EQ(Value(text, queue + R"(_bucket{model="resnet8",version="1",le="0.025"})"), 2);

  const std::string compute = "octet_compute_duration_seconds";
  EXPECT_EQ(Value(text, compute + R"(_bucket{model="resnet8",version="1",le="0.0005"})"), 1);
  EXPECT_EQ(Value(text, compute + R"(_bucket{model="resnet8",version="1",le="0.005"})"), 1);
  EXPECT_EQ(Value(text, compute + R"(_bucket{model="resnet8",version="1",le="0.01"})"), 2);
  EXPECT_DOUBLE_EQ(*Value(text, compute + R"(_sum{model="resnet8",version="1"})"), 0.0075);
}

TEST(PrometheusMetricsTest, CountsAnOutcomeOutsideTheEnumAsAnError) {
  PrometheusMetrics metrics;
  metrics.RecordRequest(Request(kFp32, static_cast<RequestOutcome>(42), absl::Milliseconds(1)));
  EXPECT_EQ(Value(Scrape(metrics),
                  R"(octet_inference_requests_total{model="resnet8",outcome="error",version="1"})"),
            1);
}

TEST(PrometheusMetricsTest, FailedRequestsAreCountedButNotTimed) {
  PrometheusMetrics metrics;
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kTimeout, absl::Seconds(5), absl::Seconds(5),
                                absl::ZeroDuration(), 8));
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kError, absl::Seconds(1),
                                absl::Milliseconds(1), absl::Seconds(1), 8));

  const std::string text = Scrape(metrics);
  EXPECT_EQ(Value(text, R"(octet_request_duration_seconds_count{model="resnet8",version="1"})"), 0);
  EXPECT_EQ(Value(text, R"(octet_queue_duration_seconds_count{model="resnet8",version="1"})"), 0);
  EXPECT_EQ(Value(text, R"(octet_compute_duration_seconds_count{model="resnet8",version="1"})"), 0);
  EXPECT_EQ(
      Value(text, R"(octet_inference_samples_total{model="resnet8",precision="fp32",version="1"})"),
      0);
}

TEST(PrometheusMetricsTest, DurationBucketsRunFrom50MicrosecondsTo10SecondsAndIncludeTheirBound) {
  EXPECT_EQ(PrometheusMetrics::DurationBuckets().front(), 50e-6);
  EXPECT_EQ(PrometheusMetrics::DurationBuckets().back(), 10.0);

  PrometheusMetrics metrics;
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kSuccess, absl::Microseconds(50)));
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kSuccess, absl::Seconds(11)));
  // A fake clock may go backwards between two readings; a negative time counts as zero.
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kSuccess, absl::Microseconds(-3)));

  const std::string text = Scrape(metrics);
  const std::string request = "octet_request_duration_seconds";
  EXPECT_EQ(Value(text, request + R"(_bucket{model="resnet8",version="1",le="5e-05"})"), 2);
  EXPECT_EQ(Value(text, request + R"(_bucket{model="resnet8",version="1",le="10"})"), 2);
  EXPECT_EQ(Value(text, request + R"(_bucket{model="resnet8",version="1",le="+Inf"})"), 3);
  EXPECT_DOUBLE_EQ(*Value(text, request + R"(_sum{model="resnet8",version="1"})"), 11.00005);
}

TEST(PrometheusMetricsTest, CountsSamplesAndBatchesByPrecisionAndBatchSizes) {
  PrometheusMetrics metrics;
  metrics.RecordRequest(Request(kInt8, RequestOutcome::kSuccess, absl::Milliseconds(1),
                                absl::ZeroDuration(), absl::Milliseconds(1), /*samples=*/3));
  metrics.RecordRequest(Request(kInt8, RequestOutcome::kSuccess, absl::Milliseconds(1),
                                absl::ZeroDuration(), absl::Milliseconds(1), /*samples=*/5));
  metrics.RecordBatch({kInt8, /*samples=*/8, /*requests=*/2, absl::Milliseconds(1)});
  metrics.RecordBatch({kInt8, /*samples=*/1, /*requests=*/1, absl::Milliseconds(1)});
  metrics.RecordBatch({kFp32, /*samples=*/3, /*requests=*/1, absl::Milliseconds(1)});

  const std::string text = Scrape(metrics);
  EXPECT_EQ(
      Value(text, R"(octet_inference_samples_total{model="resnet8",precision="int8",version="2"})"),
      8);
  EXPECT_EQ(
      Value(text, R"(octet_inference_batches_total{model="resnet8",precision="int8",version="2"})"),
      2);
  EXPECT_EQ(
      Value(text, R"(octet_inference_batches_total{model="resnet8",precision="fp32",version="1"})"),
      1);
  EXPECT_EQ(Value(text, R"(octet_batch_size_bucket{model="resnet8",version="2",le="1"})"), 1);
  EXPECT_EQ(Value(text, R"(octet_batch_size_bucket{model="resnet8",version="2",le="4"})"), 1);
  EXPECT_EQ(Value(text, R"(octet_batch_size_bucket{model="resnet8",version="2",le="8"})"), 2);
  EXPECT_EQ(Value(text, R"(octet_batch_size_sum{model="resnet8",version="2"})"), 9);
  EXPECT_EQ(Value(text, R"(octet_batch_size_bucket{model="resnet8",version="1",le="2"})"), 0);
  EXPECT_EQ(Value(text, R"(octet_batch_size_bucket{model="resnet8",version="1",le="4"})"), 1);
}

TEST(PrometheusMetricsTest, CountsLabelledSamplesOfSuccessfulRequestsByResult) {
  PrometheusMetrics metrics;
  RequestEvent one_correct = Request(kInt8, RequestOutcome::kSuccess, absl::Milliseconds(1));
  one_correct.samples = 1;
  one_correct.labelled_samples = 1;
  one_correct.correct_samples = 1;
  RequestEvent one_wrong = one_correct;
  one_wrong.correct_samples = 0;
  RequestEvent batch = one_correct;  // 4 samples, 3 right
  batch.samples = 4;
  batch.labelled_samples = 4;
  batch.correct_samples = 3;
  RequestEvent unlabelled = one_correct;
  unlabelled.labelled_samples = 0;
  unlabelled.correct_samples = 0;
  RequestEvent failed = batch;
  failed.outcome = RequestOutcome::kError;
  for (const RequestEvent* event :
       {&one_correct, &one_correct, &one_wrong, &batch, &unlabelled, &failed}) {
    metrics.RecordRequest(*event);
  }

  const std::string text = Scrape(metrics);
  EXPECT_THAT(
      Series(text, "octet_labelled_requests_total"),
      UnorderedElementsAre(
          R"(octet_labelled_requests_total{model="resnet8",precision="int8",result="correct",version="2"})",
          R"(octet_labelled_requests_total{model="resnet8",precision="int8",result="wrong",version="2"})"));
  EXPECT_EQ(
      Value(
          text,
          R"(octet_labelled_requests_total{model="resnet8",precision="int8",result="correct",version="2"})"),
      2 + 3);
  EXPECT_EQ(
      Value(
          text,
          R"(octet_labelled_requests_total{model="resnet8",precision="int8",result="wrong",version="2"})"),
      1 + 1);
}

TEST(PrometheusMetricsTest, SetsTheVersionGauges) {
  PrometheusMetrics metrics;
  metrics.RecordModelLoad(kInt8, absl::Milliseconds(1250));
  metrics.SetModelReady(kInt8, true);
  metrics.SetQueueCapacity(kInt8, 64);
  metrics.SetPendingRequests(kInt8, 7);
  metrics.SetPendingRequests(kInt8, 5);

  std::string text = Scrape(metrics);
  EXPECT_EQ(Value(text, R"(octet_model_load_duration_seconds{model="resnet8",version="2"})"), 1.25);
  EXPECT_EQ(Value(text, R"(octet_model_ready{model="resnet8",precision="int8",version="2"})"), 1);
  EXPECT_EQ(Value(text, R"(octet_queue_capacity{model="resnet8",version="2"})"), 64);
  EXPECT_EQ(Value(text, R"(octet_pending_requests{model="resnet8",version="2"})"), 5);

  metrics.SetModelReady(kInt8, false);
  text = Scrape(metrics);
  EXPECT_EQ(Value(text, R"(octet_model_ready{model="resnet8",precision="int8",version="2"})"), 0);
}

TEST(PrometheusMetricsTest, ExposesTheLastCalibrationAsRatios) {
  PrometheusMetrics metrics;
  CalibrationEvent first;
  first.key = kInt8;
  first.fp32_accuracy = 75.5;
  first.accuracy = 74.0;
  first.top1_agreement = 96.0;
  first.layers = {{"conv1", 40.0}, {"conv2", 30.0}};
  metrics.RecordCalibration(first);
  CalibrationEvent last = first;
  last.accuracy = 75.0;
  last.top1_agreement = 98.0;
  last.layers = {{"conv1", 42.0}, {R"(fc "head")", 25.5}};
  metrics.RecordCalibration(last);

  const std::string text = Scrape(metrics);
  EXPECT_EQ(
      Value(text, R"(octet_calibration_accuracy{model="resnet8",precision="fp32",version="2"})"),
      0.755);
  EXPECT_EQ(
      Value(text, R"(octet_calibration_accuracy{model="resnet8",precision="int8",version="2"})"),
      0.75);
  EXPECT_EQ(Value(text, R"(octet_calibration_top1_agreement{model="resnet8",version="2"})"), 0.98);
  // conv2 was not in the last calibration; a quote in a layer name is escaped.
  EXPECT_THAT(
      Series(text, "octet_layer_quantization_sqnr_db"),
      UnorderedElementsAre(
          R"(octet_layer_quantization_sqnr_db{layer="conv1",model="resnet8",version="2"})",
          R"(octet_layer_quantization_sqnr_db{layer="fc \"head\"",model="resnet8",version="2"})"));
  EXPECT_EQ(
      Value(text, R"(octet_layer_quantization_sqnr_db{layer="conv1",model="resnet8",version="2"})"),
      42);
}

TEST(PrometheusMetricsTest, CountsShadowComparisonsOnlyForVersionsThatHaveThem) {
  PrometheusMetrics metrics;
  metrics.RecordRequest(Request(kFp32, RequestOutcome::kSuccess, absl::Milliseconds(1)));
  metrics.RecordShadow({kInt8, /*agree=*/true, /*relative_error=*/0.004});
  metrics.RecordShadow({kInt8, /*agree=*/true, /*relative_error=*/0.02});
  metrics.RecordShadow({kInt8, /*agree=*/false, /*relative_error=*/0.3});
  metrics.RecordShadowDropped(kInt8);

  const std::string text = Scrape(metrics);
  EXPECT_THAT(
      Series(text, "octet_shadow_comparisons_total"),
      UnorderedElementsAre(
          R"(octet_shadow_comparisons_total{model="resnet8",result="agree",version="2"})",
          R"(octet_shadow_comparisons_total{model="resnet8",result="disagree",version="2"})"));
  EXPECT_EQ(
      Value(text, R"(octet_shadow_comparisons_total{model="resnet8",result="agree",version="2"})"),
      2);
  EXPECT_EQ(
      Value(text,
            R"(octet_shadow_comparisons_total{model="resnet8",result="disagree",version="2"})"),
      1);
  EXPECT_EQ(Value(text, R"(octet_shadow_dropped_total{model="resnet8",version="2"})"), 1);
  const std::string error = "octet_shadow_relative_error";
  EXPECT_EQ(Value(text, error + R"(_bucket{model="resnet8",version="2",le="0.005"})"), 1);
  EXPECT_EQ(Value(text, error + R"(_bucket{model="resnet8",version="2",le="0.025"})"), 2);
  EXPECT_EQ(Value(text, error + R"(_bucket{model="resnet8",version="2",le="0.25"})"), 2);
  EXPECT_EQ(Value(text, error + R"(_bucket{model="resnet8",version="2",le="0.5"})"), 3);
  EXPECT_EQ(Value(text, error + R"(_count{model="resnet8",version="1"})"), std::nullopt);
}

TEST(PrometheusMetricsTest, ForgetModelRemovesEverySeriesOfTheVersionAndNoOther) {
  PrometheusMetrics metrics;
  for (const ModelKey& key : {kFp32, kInt8}) {
    RequestEvent request = Request(key, RequestOutcome::kSuccess, absl::Milliseconds(1));
    request.labelled_samples = 1;
    metrics.RecordRequest(request);
    metrics.RecordBatch({key, 1, 1, absl::Milliseconds(1)});
    metrics.SetPendingRequests(key, 1);
    metrics.SetQueueCapacity(key, 8);
    metrics.SetModelReady(key, true);
    metrics.RecordModelLoad(key, absl::Seconds(1));
    metrics.RecordShadow({key, true, 0.01});
  }
  CalibrationEvent calibration;
  calibration.key = kInt8;
  calibration.layers = {{"conv1", 40.0}};
  metrics.RecordCalibration(calibration);

  metrics.ForgetModel(kInt8);
  metrics.ForgetModel({"never", "seen", "fp32"});

  const std::string text = Scrape(metrics);
  EXPECT_FALSE(absl::StrContains(text, R"(version="2")")) << text;
  EXPECT_THAT(Series(text, "octet_layer_quantization_sqnr_db"), IsEmpty());
  EXPECT_EQ(Value(text, R"(octet_pending_requests{model="resnet8",version="1"})"), 1);
  EXPECT_EQ(Value(text, R"(octet_shadow_dropped_total{model="resnet8",version="1"})"), 0);

  // A late event for the forgotten version starts its series again, from zero.
  metrics.RecordRequest(Request(kInt8, RequestOutcome::kSuccess, absl::Milliseconds(1)));
  EXPECT_EQ(
      Value(Scrape(metrics),
            R"(octet_inference_requests_total{model="resnet8",outcome="success",version="2"})"),
      1);
}

TEST(PrometheusMetricsTest, CountsExactlyUnderConcurrentEventsScrapesAndForgets) {
  constexpr int kThreads = 4;
  constexpr int kRequestsPerThread = 5000;
  PrometheusMetrics metrics;
  const ModelKey churned{"churn", "1", "int8"};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, &churned] {
      for (int i = 0; i < kRequestsPerThread; ++i) {
        metrics.RecordRequest(Request(kFp32, RequestOutcome::kSuccess, absl::Microseconds(i),
                                      absl::ZeroDuration(), absl::ZeroDuration(), 2));
        metrics.RecordShadow({churned, true, 0.01});
      }
    });
  }
  // Another version is forgotten and scraped while the events arrive: no event may touch a
  // removed child (AddressSanitizer would say so), and kFp32's counts must not be disturbed.
  threads.emplace_back([&metrics, &churned] {
    for (int i = 0; i < 200; ++i) {
      metrics.ForgetModel(churned);
      Scrape(metrics);
    }
  });
  for (std::thread& thread : threads) thread.join();

  const std::string text = Scrape(metrics);
  EXPECT_EQ(
      Value(text,
            R"(octet_inference_requests_total{model="resnet8",outcome="success",version="1"})"),
      kThreads * kRequestsPerThread);
  EXPECT_EQ(
      Value(text, R"(octet_inference_samples_total{model="resnet8",precision="fp32",version="1"})"),
      2 * kThreads * kRequestsPerThread);
  EXPECT_EQ(Value(text, R"(octet_request_duration_seconds_count{model="resnet8",version="1"})"),
            kThreads * kRequestsPerThread);
}

TEST(PrometheusMetricsTest, AnUnknownModelIsCountedUnderEmptyLabels) {
  PrometheusMetrics metrics;
  metrics.RecordRequest(Request(ModelKey{}, RequestOutcome::kInvalid, absl::Microseconds(20)));
  EXPECT_EQ(Value(Scrape(metrics),
                  R"(octet_inference_requests_total{model="",outcome="invalid",version=""})"),
            1);
}

}  // namespace
}  // namespace octet::server
