#include "server/inference/model_version_stats.h"

#include <algorithm>
#include <utility>

namespace octet::server {
namespace {

void ToProto(uint64_t count, uint64_t ns, inference::StatisticDuration* out) {
  out->set_count(count);
  out->set_ns(ns);
}

}  // namespace

void ModelVersionStats::Duration::Add(absl::Duration d) {
  ++count;
  ns += static_cast<uint64_t>(std::max<int64_t>(0, absl::ToInt64Nanoseconds(d)));
}

ModelVersionStats::ModelVersionStats(ModelKey key, MetricsSink* metrics)
    : key_(std::move(key)), metrics_(metrics) {}

void ModelVersionStats::RequestQueued() {
  const int64_t pending = pending_.fetch_add(1, std::memory_order_relaxed) + 1;
  metrics_->SetPendingRequests(key_, pending);
}

void ModelVersionStats::RequestUnqueued() {
  const int64_t pending = pending_.fetch_sub(1, std::memory_order_relaxed) - 1;
  metrics_->SetPendingRequests(key_, pending);
}

void ModelVersionStats::RequestEnded(const RequestEvent& event, const ComputeTimes& times,
                                     bool was_queued) {
  {
    absl::MutexLock lock(&mu_);
    if (event.outcome == RequestOutcome::kSuccess) {
      success_.Add(event.total);
      queue_.Add(event.queue);
      compute_input_.Add(times.input);
      compute_infer_.Add(times.infer);
      compute_output_.Add(times.output);
      inference_count_ += static_cast<uint64_t>(std::max<int64_t>(event.samples, 0));
    } else {
      fail_.Add(event.total);
    }
    last_inference_ms_ = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  }
  if (was_queued) {
    const int64_t pending = pending_.fetch_sub(1, std::memory_order_relaxed) - 1;
    metrics_->SetPendingRequests(key_, pending);
  }
  metrics_->RecordRequest(event);
}

void ModelVersionStats::BatchExecuted(int64_t samples, int64_t requests,
                                      const ComputeTimes& times) {
  {
    absl::MutexLock lock(&mu_);
    ++execution_count_;
    BatchDurations& batch = batches_[samples];
    batch.input.Add(times.input);
    batch.infer.Add(times.infer);
    batch.output.Add(times.output);
  }
  BatchEvent event;
  event.key = key_;
  event.samples = samples;
  event.requests = requests;
  event.compute = times.infer;
  metrics_->RecordBatch(event);
}

inference::ModelStatistics ModelVersionStats::Snapshot() const {
  inference::ModelStatistics stats;
  stats.set_name(key_.model);
  stats.set_version(key_.version);
  absl::MutexLock lock(&mu_);
  stats.set_last_inference(last_inference_ms_);
  stats.set_inference_count(inference_count_);
  stats.set_execution_count(execution_count_);
  inference::InferStatistics* infer = stats.mutable_inference_stats();
  ToProto(success_.count, success_.ns, infer->mutable_success());
  ToProto(fail_.count, fail_.ns, infer->mutable_fail());
  ToProto(queue_.count, queue_.ns, infer->mutable_queue());
  ToProto(compute_input_.count, compute_input_.ns, infer->mutable_compute_input());
  ToProto(compute_infer_.count, compute_infer_.ns, infer->mutable_compute_infer());
  ToProto(compute_output_.count, compute_output_.ns, infer->mutable_compute_output());
  for (const auto& [size, durations] : batches_) {
    inference::InferBatchStatistics* batch = stats.add_batch_stats();
    batch->set_batch_size(static_cast<uint64_t>(size));
    ToProto(durations.input.count, durations.input.ns, batch->mutable_compute_input());
    ToProto(durations.infer.count, durations.infer.ns, batch->mutable_compute_infer());
    ToProto(durations.output.count, durations.output.ns, batch->mutable_compute_output());
  }
  return stats;
}

}  // namespace octet::server
