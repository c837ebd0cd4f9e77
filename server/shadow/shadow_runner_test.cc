#include "server/shadow/shadow_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics/recording_metrics_sink.h"

namespace octet::server {
namespace {

const std::string kLenet =
    std::string(OCTET_SOURCE_DIR) + "/examples/models/fashion-lenet/1/model.onnx";
const ModelKey kInt8Key{"lenet", "2", "int8"};

std::shared_ptr<const Model> LoadLenet() {
  ModelOptions options;
  options.dynamic_batch = true;
  auto model = Model::Load(kLenet, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

Tensor Images(int64_t n, uint32_t seed) {
  Tensor t(DataType::kFloat32, {n, 1, 28, 28});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pixel(0.0f, 255.0f);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = pixel(rng);
  return t;
}

Tensor Logits(const std::shared_ptr<const Model>& model, const Tensor& images) {
  auto session = Session::Create(model, {});
  EXPECT_TRUE(session.ok());
  auto out = (*session)->Run({images.view()});
  EXPECT_TRUE(out.ok()) << out.status();
  return (*out)[0];
}

ShadowJob Job(const Tensor& images, Tensor answer) {
  ShadowJob job;
  job.key = kInt8Key;
  job.inputs.push_back(images);
  job.output_index = 0;
  job.output = std::move(answer);
  return job;
}

ShadowRunner::Options RunnerOptions(MetricsSink* sink, std::shared_ptr<const Model> model) {
  ShadowRunner::Options options;
  options.metrics = sink;
  options.reference =
      [model](const std::string& name) -> absl::StatusOr<std::shared_ptr<const Model>> {
    if (name != kInt8Key.model) return absl::NotFoundError("no FP32 version of " + name);
    return model;
  };
  return options;
}

TEST(ShadowSamplerTest, SamplesExactlyTheFractionEvenlySpread) {
  ShadowSampler quarter(0.25);
  std::vector<int> sampled;
  for (int i = 0; i < 100; ++i) {
    if (quarter.Sample()) sampled.push_back(i);
  }
  ASSERT_EQ(sampled.size(), 25u);
  for (size_t k = 0; k < sampled.size(); ++k) EXPECT_EQ(sampled[k], static_cast<int>(4 * k + 3));

  ShadowSampler all(1.0), none(0.0), above(7.0), below(-1.0), nan(std::nan(""));
  int counts[5] = {};
  for (int i = 0; i < 50; ++i) {
    counts[0] += all.Sample();
    counts[1] += none.Sample();
    counts[2] += above.Sample();
    counts[3] += below.Sample();
    counts[4] += nan.Sample();
  }
  EXPECT_THAT(counts, ::testing::ElementsAre(50, 0, 50, 0, 0));

  ShadowSampler third(1.0 / 3);
  int n = 0;
  for (int i = 0; i < 3000; ++i) n += third.Sample();
  EXPECT_EQ(n, 1000);
}

TEST(ShadowComparisonTest, RelativeErrorAndTopOne) {
  const float fp32[] = {3, 4, 0};
  const float same[] = {3, 4, 0};
  const float off[] = {3, 4, 5};  // ||d|| = 5, ||fp32|| = 5; top-1 moves to index 2
  ShadowComparison c = CompareOutputs(same, fp32, 3);
  EXPECT_TRUE(c.agree);
  EXPECT_EQ(c.relative_error, 0);
  c = CompareOutputs(off, fp32, 3);
  EXPECT_FALSE(c.agree);
  EXPECT_DOUBLE_EQ(c.relative_error, 1.0);
  const float zeros[] = {0, 0, 0};
  EXPECT_EQ(CompareOutputs(zeros, zeros, 3).relative_error, 0);
  EXPECT_EQ(CompareOutputs(same, zeros, 3).relative_error, 1.0);
}

TEST(ShadowRunnerTest, ComparesEverySampleWithTheFp32Model) {
  RecordingMetricsSink sink;
  std::shared_ptr<const Model> model = LoadLenet();
  ASSERT_NE(model, nullptr);
  auto runner = ShadowRunner::Create(RunnerOptions(&sink, model));
  ASSERT_TRUE(runner.ok()) << runner.status();

  const Tensor images = Images(3, 1);
  Tensor exact = Logits(model, images);
  // A second answer whose row 1 has its top-1 logit swapped with another class's.
  Tensor moved = exact;
  float* row = moved.data<float>() + 10;
  const int64_t top = std::max_element(row, row + 10) - row;
  const int64_t other = (top + 1) % 10;
  std::swap(row[top], row[other]);
  ASSERT_TRUE((*runner)->Submit(Job(images, exact)));
  ASSERT_TRUE((*runner)->Submit(Job(images, moved)));
  (*runner)->WaitUntilIdle();

  EXPECT_EQ((*runner)->compared(), 2);
  EXPECT_EQ((*runner)->skipped(), 0);
  const std::vector<ShadowEvent> events = sink.Shadows();
  ASSERT_EQ(events.size(), 6u);  // one per sample
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].key.version, "2");
    const bool is_moved_row = i == 4;
    EXPECT_EQ(events[i].agree, !is_moved_row) << i;
    if (is_moved_row) {
      EXPECT_GT(events[i].relative_error, 0.01) << i;
    } else {
      EXPECT_LT(events[i].relative_error, 1e-5) << i;
    }
  }
  EXPECT_TRUE(sink.ShadowDrops().empty());
}

TEST(ShadowRunnerTest, AFullQueueDropsAndCountsWithoutBlocking) {
  RecordingMetricsSink sink;
  std::shared_ptr<const Model> model = LoadLenet();
  ASSERT_NE(model, nullptr);
  absl::Notification entered, release;
  ShadowRunner::Options options = RunnerOptions(&sink, model);
  options.queue_capacity = 2;
  ShadowRunner::ReferenceFinder find = options.reference;
  // The worker holds the first job until released, so the queue fills behind it.
  options.reference = [&, find](const std::string& name) {
    if (!entered.HasBeenNotified()) entered.Notify();
    release.WaitForNotification();
    return find(name);
  };
  auto runner = ShadowRunner::Create(options);
  ASSERT_TRUE(runner.ok());
  const Tensor images = Images(1, 2);
  const Tensor answer = Logits(model, images);
  ASSERT_TRUE((*runner)->Submit(Job(images, answer)));
  entered.WaitForNotification();
  EXPECT_TRUE((*runner)->Submit(Job(images, answer)));
  EXPECT_TRUE((*runner)->Submit(Job(images, answer)));
  EXPECT_FALSE((*runner)->Submit(Job(images, answer)));
  EXPECT_FALSE((*runner)->Submit(Job(images, answer)));
  ASSERT_EQ(sink.ShadowDrops().size(), 2u);
  EXPECT_EQ(sink.ShadowDrops()[0].model, kInt8Key.model);
  EXPECT_EQ(sink.ShadowDrops()[0].version, kInt8Key.version);

  release.Notify();
  (*runner)->WaitUntilIdle();
  EXPECT_EQ((*runner)->compared(), 3);
  EXPECT_EQ(sink.Shadows().size(), 3u);
}

TEST(ShadowRunnerTest, JobsWithoutAReferenceAreSkippedAndAfterShutdownDropped) {
  RecordingMetricsSink sink;
  std::shared_ptr<const Model> model = LoadLenet();
  ASSERT_NE(model, nullptr);
  auto runner = ShadowRunner::Create(RunnerOptions(&sink, model));
  ASSERT_TRUE(runner.ok());
  const Tensor images = Images(2, 3);
  ShadowJob orphan = Job(images, Logits(model, images));
  orphan.key.model = "no-fp32-version";
  ASSERT_TRUE((*runner)->Submit(std::move(orphan)));
  ShadowJob wrong_shape = Job(images, Tensor(DataType::kFloat32, {2, 3}));
  ASSERT_TRUE((*runner)->Submit(std::move(wrong_shape)));
  (*runner)->WaitUntilIdle();
  EXPECT_EQ((*runner)->skipped(), 2);
  EXPECT_TRUE(sink.Shadows().empty());

  (*runner)->Shutdown();
  EXPECT_FALSE((*runner)->Submit(Job(images, Logits(model, images))));
  EXPECT_EQ(sink.ShadowDrops().size(), 1u);
}

TEST(ShadowRunnerTest, CreateRejectsBadOptions) {
  RecordingMetricsSink sink;
  ShadowRunner::Options options = RunnerOptions(&sink, nullptr);
  options.queue_capacity = 0;
  EXPECT_EQ(ShadowRunner::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = RunnerOptions(nullptr, nullptr);
  EXPECT_EQ(ShadowRunner::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = RunnerOptions(&sink, nullptr);
  options.reference = nullptr;
  EXPECT_EQ(ShadowRunner::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace octet::server
