#include "server/inference/batch_executor.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace octet::server {
namespace {

// The non-batch part of every input's shape: tasks with equal keys can share a run.
std::vector<Shape> ShapeKey(const InferTask& task, bool batching) {
  std::vector<Shape> key;
  for (const Tensor& input : task.request().inputs) {
    const Shape& shape = input.shape();
    key.emplace_back(shape.begin() + (batching && !shape.empty() ? 1 : 0), shape.end());
  }
  return key;
}

// Index of the largest value in row `row` of a [rows, ...] FP32 tensor, or -1.
int64_t Top1(const Tensor& output, int64_t row) {
  if (output.dtype() != DataType::kFloat32 || output.shape().empty() || output.shape()[0] <= row) {
    return -1;
  }
  const int64_t per_row = output.num_elements() / output.shape()[0];
  if (per_row == 0) return -1;
  const float* begin = output.data<float>() + row * per_row;
  return std::max_element(begin, begin + per_row) - begin;
}

// How many of a task's samples, rows [first_row, first_row + labels.size()) of `output` (row 0
// for models that do not batch), have the top-1 its label says.
int64_t CountCorrect(const std::vector<int64_t>& labels, const Tensor& output, int64_t first_row,
                     bool batching) {
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const int64_t row = batching ? first_row + static_cast<int64_t>(i) : 0;
    if (Top1(output, row) == labels[i]) ++correct;
  }
  return correct;
}

// Rows [first_row, first_row + rows) of `value` as a tensor of their own.
Tensor CopyRows(const Tensor& value, int64_t first_row, int64_t rows) {
  Shape shape = value.shape();
  const int64_t row_bytes = static_cast<int64_t>(value.byte_size()) / shape[0];
  shape[0] = rows;
  Tensor copy(value.dtype(), shape);
  std::memcpy(copy.raw_data(), static_cast<const char*>(value.raw_data()) + first_row * row_bytes,
              static_cast<size_t>(rows * row_bytes));
  return copy;
}

}  // namespace

RequestOutcome OutcomeOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return RequestOutcome::kSuccess;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
      return RequestOutcome::kInvalid;
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnavailable:
      return RequestOutcome::kRejected;
    case absl::StatusCode::kDeadlineExceeded:
      return RequestOutcome::kTimeout;
    case absl::StatusCode::kCancelled:
      return RequestOutcome::kCancelled;
    default:
      return RequestOutcome::kError;
  }
}

BatchExecutor::BatchExecutor(Options options)
    : options_(std::move(options)),
      shadow_sampler_(options_.shadow != nullptr ? options_.shadow_fraction : 0.0) {}

absl::StatusOr<std::unique_ptr<BatchExecutor>> BatchExecutor::Create(Options options) {
  if (options.model == nullptr) return absl::InvalidArgumentError("BatchExecutor: no model");
  if (options.stats == nullptr) return absl::InvalidArgumentError("BatchExecutor: no stats");
  if (options.clock == nullptr) return absl::InvalidArgumentError("BatchExecutor: no clock");
  if (options.instances < 1 || options.threads < 1) {
    return absl::InvalidArgumentError("BatchExecutor: instances and threads must be >= 1");
  }
  if (options.signature.batching() &&
      (options.batch_buckets.empty() ||
       options.batch_buckets.back() < options.signature.max_batch_size ||
       !std::is_sorted(options.batch_buckets.begin(), options.batch_buckets.end()))) {
    return absl::InvalidArgumentError(
        "BatchExecutor: batch buckets must be ascending and reach max_batch_size");
  }
  std::unique_ptr<BatchExecutor> executor(new BatchExecutor(std::move(options)));
  absl::MutexLock lock(&executor->mu_);
  for (int i = 0; i < executor->options_.instances; ++i) {
    SessionOptions session_options;
    session_options.threads = executor->options_.threads;
    OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                           Session::Create(executor->options_.model, session_options));
    executor->free_sessions_.push_back(std::move(session));
  }
  return executor;
}

absl::Status BatchExecutor::CompilePlans() {
  const ModelSignature& sig = options_.signature;
  for (const TensorSpec& spec : sig.inputs) {
    for (int64_t d : spec.dims) {
      if (d < 0) return absl::OkStatus();  // Shapes are only known per request.
    }
  }
  std::vector<int64_t> sizes;
  if (sig.batching()) {
    sizes.assign(options_.batch_buckets.begin(), options_.batch_buckets.end());
  } else {
    sizes.push_back(-1);
  }
  absl::MutexLock lock(&mu_);
  for (int64_t size : sizes) {
    std::vector<Shape> shapes;
    for (const TensorSpec& spec : sig.inputs) {
      Shape shape = spec.dims;
      if (size > 0) shape.insert(shape.begin(), size);
      shapes.push_back(std::move(shape));
    }
    for (auto& session : free_sessions_) OCTET_RETURN_IF_ERROR(session->Prepare(shapes));
  }
  return absl::OkStatus();
}

absl::Status BatchExecutor::RunWarmup(const WarmupRequest& request) {
  const int64_t bucket = options_.signature.batching() ? BucketFor(request.batch_size) : 0;
  std::vector<Tensor> padded;
  padded.reserve(request.inputs.size());
  std::vector<TensorView> views;
  for (const Tensor& input : request.inputs) {
    if (bucket > request.batch_size) {
      Shape shape = input.shape();
      shape[0] = bucket;
      Tensor rows(input.dtype(), shape);  // the padding rows are zeros, as in ProcessBatch
      std::memcpy(rows.raw_data(), input.raw_data(), input.byte_size());
      padded.push_back(std::move(rows));
      views.push_back(padded.back().view());
    } else {
      views.push_back(input.view());
    }
  }
  absl::MutexLock lock(&mu_);
  for (auto& session : free_sessions_) {
    for (int i = 0; i < request.count; ++i) {
      absl::StatusOr<std::vector<Tensor>> outputs = session->Run(views);
      if (!outputs.ok()) return outputs.status();
    }
  }
  return absl::OkStatus();
}

std::unique_ptr<Session> BatchExecutor::AcquireSession() {
  absl::MutexLock lock(&mu_);
  // There are as many sessions as batch threads, so one is always free; the wait only covers
  // a caller driving the executor from more threads than that (tests).
  mu_.Await(absl::Condition(
      +[](std::vector<std::unique_ptr<Session>>* free) { return !free->empty(); },
      &free_sessions_));
  std::unique_ptr<Session> session = std::move(free_sessions_.back());
  free_sessions_.pop_back();
  return session;
}

void BatchExecutor::ReleaseSession(std::unique_ptr<Session> session) {
  absl::MutexLock lock(&mu_);
  free_sessions_.push_back(std::move(session));
}

int64_t BatchExecutor::BucketFor(int64_t samples) const {
  for (int bucket : options_.batch_buckets) {
    if (bucket >= samples) return bucket;
  }
  return samples;
}

void BatchExecutor::ProcessBatch(std::unique_ptr<batching::Batch<InferTask>> batch) {
  const bool batching = options_.signature.batching();
  std::vector<absl::Duration> queue_times;
  for (size_t i = 0; i < batch->num_tasks(); ++i) queue_times.push_back(batch->queue_time(i));
  std::vector<std::unique_ptr<InferTask>> tasks = batch->RemoveAllTasks();

  if (!batching || !options_.dynamic_batching) {
    for (size_t i = 0; i < tasks.size(); ++i) {
      std::vector<Queued> group;
      group.push_back(Queued{std::move(tasks[i]), queue_times[i]});
      RunGroup(std::move(group));
    }
    return;
  }
  // Group by shape, keeping arrival order within each group.
  std::vector<std::pair<std::vector<Shape>, std::vector<Queued>>> groups;
  for (size_t i = 0; i < tasks.size(); ++i) {
    std::vector<Shape> key = ShapeKey(*tasks[i], batching);
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& group) { return group.first == key; });
    if (it == groups.end()) {
      groups.emplace_back(std::move(key), std::vector<Queued>());
      it = groups.end() - 1;
    }
    it->second.push_back(Queued{std::move(tasks[i]), queue_times[i]});
  }
  for (auto& group : groups) RunGroup(std::move(group.second));
}

void BatchExecutor::RunGroup(std::vector<Queued> group) {
  const ModelSignature& sig = options_.signature;
  batching::Clock* clock = options_.clock;
  const absl::Time start = clock->Now();

  int64_t samples = 0;
  for (const Queued& q : group) samples += q.task->request().samples;

  // Gather: one tensor per input holding every task's rows, padded to the bucket.
  std::vector<Tensor> gathered;
  std::vector<TensorView> views;
  const InferTask& first = *group.front().task;
  if (!sig.batching() || (group.size() == 1 && BucketFor(samples) == samples)) {
    for (const Tensor& input : first.request().inputs) views.push_back(input.view());
  } else {
    const int64_t bucket = BucketFor(samples);
    for (size_t i = 0; i < first.request().inputs.size(); ++i) {
      Shape shape = first.request().inputs[i].shape();
      shape[0] = bucket;
      Tensor batch_input(first.request().inputs[i].dtype(), shape);
      char* dst = static_cast<char*>(batch_input.raw_data());
      for (const Queued& q : group) {
        const Tensor& src = q.task->request().inputs[i];
        std::memcpy(dst, src.raw_data(), src.byte_size());
        dst += src.byte_size();
      }
      gathered.push_back(std::move(batch_input));
    }
    for (const Tensor& t : gathered) views.push_back(t.view());
  }
  const absl::Time gathered_at = clock->Now();

  std::unique_ptr<Session> session = AcquireSession();
  absl::StatusOr<std::vector<Tensor>> outputs = session->Run(views);
  ReleaseSession(std::move(session));
  const absl::Time ran_at = clock->Now();

  ComputeTimes times;
  times.input = gathered_at - start;
  times.infer = ran_at - gathered_at;
  if (!outputs.ok()) {
    const absl::Status error =
        absl::InternalError(absl::StrCat("inference failed: ", outputs.status().message()));
    options_.stats->BatchExecuted(samples, static_cast<int64_t>(group.size()), times);
    for (Queued& q : group) Answer(*q.task, error, q.queue_time, times, true, 0);
    return;
  }

  // Scatter: each task's rows of each output it asked for.
  std::vector<absl::Status> results;
  std::vector<int64_t> correct;
  std::vector<int64_t> first_rows;
  int64_t row = 0;
  for (Queued& q : group) {
    const DecodedRequest& request = q.task->request();
    absl::Status status;
    inference::ModelInferResponse* response = q.task->responder().response();
    for (int index : request.outputs) {
      const TensorSpec& spec = sig.outputs[index];
      status = AppendOutput(spec, (*outputs)[spec.model_index], row, request.samples,
                            sig.batching(), response);
      if (!status.ok()) break;
    }
    correct.push_back(sig.outputs.empty()
                          ? 0
                          : CountCorrect(request.labels, (*outputs)[sig.outputs[0].model_index],
                                         row, sig.batching()));
    first_rows.push_back(row);
    results.push_back(std::move(status));
    row += request.samples;
  }
  times.output = clock->Now() - ran_at;
  options_.stats->BatchExecuted(samples, static_cast<int64_t>(group.size()), times);
  for (size_t i = 0; i < group.size(); ++i) {
    Answer(*group[i].task, results[i], group[i].queue_time, times, true, correct[i]);
  }
  if (shadow_sampler_.fraction() > 0) OfferShadows(group, results, first_rows, *outputs);
}

void BatchExecutor::OfferShadows(std::vector<Queued>& group,
                                 const std::vector<absl::Status>& results,
                                 const std::vector<int64_t>& first_rows,
                                 const std::vector<Tensor>& outputs) {
  const ModelSignature& sig = options_.signature;
  if (sig.outputs.empty() || sig.outputs[0].dtype != DataType::kFloat32) return;
  const int output_index = sig.outputs[0].model_index;
  const Tensor& output = outputs[static_cast<size_t>(output_index)];
  for (size_t i = 0; i < group.size(); ++i) {
    if (!results[i].ok() || !shadow_sampler_.Sample()) continue;
    DecodedRequest request = group[i].task->TakeRequest();
    ShadowJob job;
    job.key = options_.stats->key();
    job.inputs = std::move(request.inputs);
    job.output_index = output_index;
    job.batching = sig.batching();
    job.output = sig.batching() ? CopyRows(output, first_rows[i], request.samples) : output;
    options_.shadow->Submit(std::move(job));
  }
}

void BatchExecutor::Answer(InferTask& task, const absl::Status& status, absl::Duration queue_time,
                           const ComputeTimes& times, bool was_queued, int64_t correct_samples) {
  RequestEvent event;
  event.key = options_.stats->key();
  event.outcome = OutcomeOf(status);
  event.total = options_.clock->Now() - task.received();
  event.queue = queue_time;
  event.compute = times.infer;
  event.samples = task.request().samples;
  event.labelled_samples = static_cast<int64_t>(task.request().labels.size());
  event.correct_samples = correct_samples;
  // Statistics first, so that a client reading them after its answer sees its request counted.
  options_.stats->RequestEnded(event, times, was_queued);
  task.responder().Finish(status);
}

void BatchExecutor::DropTask(std::unique_ptr<InferTask> task, const absl::Status& status) {
  const absl::Duration waited = options_.clock->Now() - task->received();
  Answer(*task, status, waited, ComputeTimes{}, /*was_queued=*/true, 0);
}

void BatchExecutor::Reject(std::unique_ptr<InferTask> task, const absl::Status& status) {
  Answer(*task, status, absl::ZeroDuration(), ComputeTimes{}, /*was_queued=*/false, 0);
}

void BatchExecutor::RecordInvalid(absl::Time received, const absl::Status& status) {
  RequestEvent event;
  event.key = options_.stats->key();
  event.outcome = OutcomeOf(status);
  event.total = options_.clock->Now() - received;
  options_.stats->RequestEnded(event, ComputeTimes{}, /*was_queued=*/false);
}

}  // namespace octet::server
