#include "server/inference/batch_executor.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "engine/testing/onnx_model_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/batching/batch_scheduler.h"
#include "server/config/model_config.h"
#include "server/metrics/recording_metrics_sink.h"

namespace octet::server {
namespace {

using ::testing::ElementsAre;

const std::string kLenet =
    std::string(OCTET_SOURCE_DIR) + "/examples/models/fashion-lenet/1/model.onnx";

// What a task's answer was; owned by the test, so it outlives the task.
struct Answer {
  std::atomic<bool> cancelled{false};
  inference::ModelInferResponse response_;
  int finished = 0;
  absl::Status status;
  absl::Notification done;
};

class FakeResponder : public InferResponder {
 public:
  explicit FakeResponder(Answer* answer) : answer_(answer) {}
  bool IsCancelled() const override { return answer_->cancelled.load(); }
  inference::ModelInferResponse* response() override { return &answer_->response_; }
  void Finish(const absl::Status& s) override {
    ++answer_->finished;
    answer_->status = s;
    answer_->done.Notify();
  }

 private:
  Answer* answer_;
};

class CountingSink : public MetricsSink {
 public:
  void SetPendingRequests(const ModelKey&, int64_t) override {}
  void SetModelReady(const ModelKey&, bool) override {}
  void RecordModelLoad(const ModelKey&, absl::Duration) override {}
  void RecordCalibration(const CalibrationEvent&) override {}
  void RecordShadow(const ShadowEvent&) override {}
  void RecordShadowDropped(const ModelKey&) override {}
  void ForgetModel(const ModelKey&) override {}
  void RecordRequest(const RequestEvent& event) override {
    absl::MutexLock lock(&mu);
    requests.push_back(event);
  }
  void RecordBatch(const BatchEvent& event) override {
    absl::MutexLock lock(&mu);
    batches.push_back(event);
  }
  absl::Mutex mu;
  std::vector<RequestEvent> requests;
  std::vector<BatchEvent> batches;
};

Tensor RandomTensor(DataType dtype, Shape shape, uint32_t seed) {
  Tensor t(dtype, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 255.0f);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

std::vector<float> Floats(const std::string& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

// The engine's own answer for one input, to compare the served ones with.
std::vector<float> Direct(const std::shared_ptr<const Model>& model, const Tensor& input) {
  auto session = Session::Create(model, {});
  EXPECT_TRUE(session.ok());
  auto out = (*session)->Run({input.view()});
  EXPECT_TRUE(out.ok()) << out.status();
  return std::vector<float>((*out)[0].data<float>(),
                            (*out)[0].data<float>() + (*out)[0].num_elements());
}

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-4f * (1.0f + std::fabs(want[i]))) << "element " << i;
  }
}

struct Fixture {
  std::shared_ptr<const Model> model;
  ModelSignature signature;
  CountingSink sink;
  std::unique_ptr<ModelVersionStats> stats;
  std::unique_ptr<BatchExecutor> executor;
};

// Loads `model` behind `config_text` (a config.pbtxt) with `instances` sessions.
void Build(Fixture* f, std::shared_ptr<const Model> model, const std::string& config_text,
           int instances = 1, batching::Clock* clock = batching::Clock::Real(),
           ShadowRunner* shadow = nullptr, double shadow_fraction = 0) {
  f->model = std::move(model);
  auto config = ParseModelConfig(config_text, "test");
  ASSERT_TRUE(config.ok()) << config.status();
  auto full = CompleteConfigForModel(*config, f->model->inputs(), f->model->outputs(),
                                     ConfigDefaults{}, "test");
  ASSERT_TRUE(full.ok()) << full.status();
  auto signature = SignatureFromConfig(*full, f->model->inputs(), f->model->outputs());
  ASSERT_TRUE(signature.ok()) << signature.status();
  f->signature = *signature;
  f->stats = std::make_unique<ModelVersionStats>(ModelKey{"m", "1", "fp32"}, &f->sink);
  BatchExecutor::Options options;
  options.model = f->model;
  options.signature = f->signature;
  options.batch_buckets.assign(full->optimization().batch_size_buckets().begin(),
                               full->optimization().batch_size_buckets().end());
  options.dynamic_batching = full->has_dynamic_batching();
  options.instances = instances;
  options.threads = 1;
  options.stats = f->stats.get();
  options.clock = clock;
  options.shadow = shadow;
  options.shadow_fraction = shadow_fraction;
  auto executor = BatchExecutor::Create(options);
  ASSERT_TRUE(executor.ok()) << executor.status();
  f->executor = std::move(*executor);
  ASSERT_TRUE(f->executor->CompilePlans().ok());
}

std::unique_ptr<InferTask> MakeTask(std::vector<Tensor> inputs, int64_t samples, Answer* answer,
                                    std::vector<int64_t> labels = {}) {
  DecodedRequest request;
  request.inputs = std::move(inputs);
  request.samples = samples;
  request.outputs = {0};
  request.labels = std::move(labels);
  return std::make_unique<InferTask>(std::move(request), std::make_unique<FakeResponder>(answer),
                                     absl::Now(), absl::InfiniteFuture());
}

std::shared_ptr<const Model> LoadLenet(bool dynamic_batch = true) {
  ModelOptions options;
  options.dynamic_batch = dynamic_batch;
  auto model = Model::Load(kLenet, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

TEST(BatchExecutorTest, GathersAndScattersTasksOfSeveralSamples) {
  Fixture f;
  Build(&f, LoadLenet(), "max_batch_size: 16 dynamic_batching { }");
  const std::vector<int64_t> sizes = {1, 3, 2, 5};  // 11 samples: padded to bucket 16
  std::vector<Tensor> inputs;
  std::vector<Answer> responders(sizes.size());
  auto batch = std::make_unique<batching::Batch<InferTask>>(absl::Now());
  for (size_t i = 0; i < sizes.size(); ++i) {
    inputs.push_back(RandomTensor(DataType::kFloat32, {sizes[i], 1, 28, 28}, 10 + i));
    // One label per sample: every sample's own top-1, except the first sample of odd tasks
    // (so each sample is checked against its own row, not the task's first).
    const std::vector<float> logits = Direct(f.model, inputs.back());
    std::vector<int64_t> labels;
    for (int64_t row = 0; row < sizes[i]; ++row) {
      const auto first = logits.begin() + row * 10;
      const int64_t top1 = std::max_element(first, first + 10) - first;
      labels.push_back(i % 2 == 1 && row == 0 ? (top1 + 1) % 10 : top1);
    }
    batch->AddTask(MakeTask({inputs.back()}, sizes[i], &responders[i], std::move(labels)),
                   absl::Now());
  }
  f.executor->ProcessBatch(std::move(batch));
  for (size_t i = 0; i < sizes.size(); ++i) {
    Answer& r = responders[i];
    ASSERT_EQ(r.finished, 1);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.response_.outputs_size(), 1);
    EXPECT_EQ(r.response_.outputs(0).name(), "logits");
    EXPECT_THAT(r.response_.outputs(0).shape(), ElementsAre(sizes[i], 10));
    ExpectNear(Floats(r.response_.raw_output_contents(0)), Direct(f.model, inputs[i]));
  }
  inference::ModelStatistics stats = f.stats->Snapshot();
  EXPECT_EQ(stats.inference_count(), 11u);
  EXPECT_EQ(stats.execution_count(), 1u);
  EXPECT_EQ(stats.inference_stats().success().count(), 4u);
  ASSERT_EQ(stats.batch_stats_size(), 1);
  EXPECT_EQ(stats.batch_stats(0).batch_size(), 11u);
  absl::MutexLock lock(&f.sink.mu);
  ASSERT_EQ(f.sink.requests.size(), 4u);
  EXPECT_EQ(f.sink.requests[1].samples, 3);
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(f.sink.requests[i].labelled_samples, sizes[i]) << i;
    EXPECT_EQ(f.sink.requests[i].correct_samples, sizes[i] - (i % 2 == 1 ? 1 : 0)) << i;
    EXPECT_EQ(f.sink.requests[i].outcome, RequestOutcome::kSuccess);
  }
  ASSERT_EQ(f.sink.batches.size(), 1u);
  EXPECT_EQ(f.sink.batches[0].samples, 11);
  EXPECT_EQ(f.sink.batches[0].requests, 4);
}

TEST(BatchExecutorTest, SampledAnswersGoToTheShadowRunnerAfterTheyAreAnswered) {
  RecordingMetricsSink shadow_sink;
  std::shared_ptr<const Model> model = LoadLenet();
  ShadowRunner::Options shadow_options;
  shadow_options.metrics = &shadow_sink;
  // The reference waits until every task has been answered: shadow work never holds a client.
  std::vector<Answer> responders(4);
  shadow_options.reference =
      [&](const std::string&) -> absl::StatusOr<std::shared_ptr<const Model>> {
    for (Answer& r : responders) EXPECT_TRUE(r.done.HasBeenNotified());
    return model;
  };
  auto shadow = ShadowRunner::Create(shadow_options);
  ASSERT_TRUE(shadow.ok());
  Fixture f;
  // Half of the successful requests: the 2nd and the 4th.
  Build(&f, model, "max_batch_size: 16 dynamic_batching { }", 1, batching::Clock::Real(),
        shadow->get(), 0.5);
  const std::vector<int64_t> sizes = {1, 3, 2, 5};
  auto batch = std::make_unique<batching::Batch<InferTask>>(absl::Now());
  for (size_t i = 0; i < sizes.size(); ++i) {
    batch->AddTask(MakeTask({RandomTensor(DataType::kFloat32, {sizes[i], 1, 28, 28}, 40 + i)},
                            sizes[i], &responders[i]),
                   absl::Now());
  }
  f.executor->ProcessBatch(std::move(batch));
  (*shadow)->WaitUntilIdle();
  EXPECT_EQ((*shadow)->compared(), 2);
  // One comparison per sample of tasks 1 and 3; the same FP32 model answered both ways (the
  // batch padded to 16 rows, the shadow run at the task's own size).
  const std::vector<ShadowEvent> events = shadow_sink.Shadows();
  ASSERT_EQ(events.size(), 3u + 5u);
  for (const ShadowEvent& e : events) {
    EXPECT_TRUE(e.agree);
    EXPECT_LT(e.relative_error, 1e-4);
    EXPECT_EQ(e.key.model, "m");
  }
}

TEST(BatchExecutorTest, WarmupRunsOnEveryInstanceAndIsNotCounted) {
  Fixture f;
  Build(&f, LoadLenet(), "max_batch_size: 16 dynamic_batching { }", /*instances=*/2);
  WarmupRequest warmup;
  warmup.label = "model_warmup 'w'";
  warmup.batch_size = 5;  // runs on bucket 6
  warmup.count = 2;
  warmup.inputs.push_back(RandomTensor(DataType::kFloat32, {5, 1, 28, 28}, 7));
  ASSERT_TRUE(f.executor->RunWarmup(warmup).ok());
  inference::ModelStatistics stats = f.stats->Snapshot();
  EXPECT_EQ(stats.inference_count(), 0u);
  EXPECT_EQ(stats.execution_count(), 0u);
  {
    absl::MutexLock lock(&f.sink.mu);
    EXPECT_TRUE(f.sink.requests.empty());
    EXPECT_TRUE(f.sink.batches.empty());
  }

  // A warm-up whose shape the engine refuses fails with the engine's error.
  WarmupRequest wrong = warmup;
  wrong.inputs[0] = Tensor(DataType::kFloat32, {5, 1, 28, 27});
  EXPECT_FALSE(f.executor->RunWarmup(wrong).ok());

  // Both sessions are back and answer as before.
  Answer answer;
  Tensor input = RandomTensor(DataType::kFloat32, {5, 1, 28, 28}, 8);
  auto batch = std::make_unique<batching::Batch<InferTask>>(absl::Now());
  batch->AddTask(MakeTask({input}, 5, &answer), absl::Now());
  f.executor->ProcessBatch(std::move(batch));
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  ExpectNear(Floats(answer.response_.raw_output_contents(0)), Direct(f.model, input));
}

TEST(BatchExecutorTest, ModelWithoutBatchDimensionRunsEachRequestWithItsFullShape) {
  Fixture f;
  Build(&f, LoadLenet(/*dynamic_batch=*/false),
        "max_batch_size: 0 input [ { name: \"input\" data_type: TYPE_FP32 dims: [2,1,28,28] } ]");
  std::vector<Tensor> inputs;
  std::vector<Answer> responders(2);
  auto batch = std::make_unique<batching::Batch<InferTask>>(absl::Now());
  for (int i = 0; i < 2; ++i) {
    inputs.push_back(RandomTensor(DataType::kFloat32, {2, 1, 28, 28}, 20 + i));
    batch->AddTask(MakeTask({inputs.back()}, 1, &responders[i]), absl::Now());
  }
  f.executor->ProcessBatch(std::move(batch));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(responders[i].status.ok()) << responders[i].status;
    EXPECT_THAT(responders[i].response_.outputs(0).shape(), ElementsAre(2, 10));
    ExpectNear(Floats(responders[i].response_.raw_output_contents(0)), Direct(f.model, inputs[i]));
  }
  EXPECT_EQ(f.stats->Snapshot().execution_count(), 2u);
}

TEST(BatchExecutorTest, TasksWithDifferentVariableDimsRunInSeparateGroups) {
  testing::OnnxModelBuilder builder;
  builder.Input("x", {-1, -1});
  builder.Node("Relu", {"x"}, {"y"});
  builder.Output("y");
  auto model = Model::FromBytes(builder.Serialize());
  ASSERT_TRUE(model.ok()) << model.status();
  Fixture f;
  Build(&f, *model,
        "max_batch_size: 8 dynamic_batching { } "
        "input [ { name: \"x\" data_type: TYPE_FP32 dims: [-1] } ] "
        "output [ { name: \"y\" data_type: TYPE_FP32 dims: [-1] } ]");
  const std::vector<Shape> shapes = {{1, 3}, {2, 5}, {2, 3}};
  std::vector<Tensor> inputs;
  std::vector<Answer> responders(shapes.size());
  auto batch = std::make_unique<batching::Batch<InferTask>>(absl::Now());
  for (size_t i = 0; i < shapes.size(); ++i) {
    Tensor t(DataType::kFloat32, shapes[i]);
    for (int64_t k = 0; k < t.num_elements(); ++k) {
      t.data<float>()[k] = static_cast<float>(k % 2 ? k : -k) + static_cast<float>(i);
    }
    inputs.push_back(t);
    batch->AddTask(MakeTask({t}, shapes[i][0], &responders[i]), absl::Now());
  }
  f.executor->ProcessBatch(std::move(batch));
  for (size_t i = 0; i < shapes.size(); ++i) {
    ASSERT_TRUE(responders[i].status.ok()) << responders[i].status;
    EXPECT_THAT(responders[i].response_.outputs(0).shape(),
                ElementsAre(shapes[i][0], shapes[i][1]));
    std::vector<float> want;
    for (float v : inputs[i].values<float>()) want.push_back(std::max(v, 0.0f));
    EXPECT_EQ(Floats(responders[i].response_.raw_output_contents(0)), want);
  }
  EXPECT_EQ(f.stats->Snapshot().execution_count(), 2u);  // [*, 3] together, [*, 5] alone
}

TEST(BatchExecutorTest, DroppedAndRejectedTasksAreAnsweredAndCounted) {
  Fixture f;
  Build(&f, LoadLenet(), "max_batch_size: 4");
  Answer dropped_answer, rejected_answer;
  Answer* dropped = &dropped_answer;
  Answer* rejected = &rejected_answer;
  auto task = MakeTask({RandomTensor(DataType::kFloat32, {1, 1, 28, 28}, 1)}, 1, dropped);
  f.stats->RequestQueued();
  EXPECT_EQ(f.stats->pending(), 1);
  f.executor->DropTask(std::move(task), absl::DeadlineExceededError("too late"));
  EXPECT_EQ(f.stats->pending(), 0);
  EXPECT_EQ(dropped->status.code(), absl::StatusCode::kDeadlineExceeded);
  f.executor->Reject(MakeTask({RandomTensor(DataType::kFloat32, {1, 1, 28, 28}, 1)}, 1, rejected),
                     absl::ResourceExhaustedError("queue full"));
  EXPECT_EQ(rejected->status.code(), absl::StatusCode::kResourceExhausted);
  f.executor->RecordInvalid(absl::Now(), absl::InvalidArgumentError("bad"));
  EXPECT_EQ(f.stats->Snapshot().inference_stats().fail().count(), 3u);
  absl::MutexLock lock(&f.sink.mu);
  ASSERT_EQ(f.sink.requests.size(), 3u);
  EXPECT_EQ(f.sink.requests[0].outcome, RequestOutcome::kTimeout);
  EXPECT_EQ(f.sink.requests[1].outcome, RequestOutcome::kRejected);
  EXPECT_EQ(f.sink.requests[2].outcome, RequestOutcome::kInvalid);
}

// Many threads scheduling at once through a real scheduler with two batch threads: every answer
// is the engine's answer for that task's own input.
TEST(BatchExecutorTest, ConcurrentTasksThroughTheSchedulerGetTheirOwnAnswers) {
  Fixture f;
  Build(&f, LoadLenet(),
        "max_batch_size: 8 dynamic_batching { max_queue_delay_microseconds: 2000 }", 2);
  batching::BatchSchedulerOptions options;
  options.max_batch_size = 8;
  options.max_queue_delay = absl::Milliseconds(2);
  options.num_batch_threads = 2;
  BatchExecutor* executor = f.executor.get();
  auto scheduler = batching::BatchScheduler<InferTask>::Create(
      options, [executor](auto batch) { executor->ProcessBatch(std::move(batch)); },
      [executor](auto task, absl::Status s) { executor->DropTask(std::move(task), s); });
  ASSERT_TRUE(scheduler.ok());
  constexpr int kThreads = 16;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const int64_t n = 1 + t % 3;
      Tensor input = RandomTensor(DataType::kFloat32, {n, 1, 28, 28}, 100 + t);
      Answer answer;
      Answer* responder = &answer;
      auto task = MakeTask({input}, n, responder);
      f.stats->RequestQueued();
      if (!(*scheduler)->Schedule(&task).ok()) {
        ++failures;
        return;
      }
      responder->done.WaitForNotification();
      if (!responder->status.ok()) ++failures;
      const std::vector<float> got = Floats(responder->response_.raw_output_contents(0));
      const std::vector<float> want = Direct(f.model, input);
      ExpectNear(got, want);
    });
  }
  for (auto& thread : threads) thread.join();
  (*scheduler)->Shutdown();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(f.stats->Snapshot().inference_stats().success().count(), uint64_t{kThreads});
  EXPECT_EQ(f.stats->pending(), 0);
}

}  // namespace
}  // namespace octet::server
