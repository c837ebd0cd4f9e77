#include "server/shadow/shadow_runner.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace octet::server {
namespace {

// nice(2) values run from -20 to 19; 19 gets the CPU only when nothing else wants it.
constexpr int kLowestPriority = 19;

// Lowers the calling thread's priority (on Linux, setpriority on a thread id is per thread).
// Best effort: a failure leaves the worker at normal priority, which only costs fairness.
void LowerThisThreadsPriority() {
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  (void)::setpriority(PRIO_PROCESS, tid, kLowestPriority);
}

}  // namespace

ShadowSampler::ShadowSampler(double fraction)
    : fraction_(std::isnan(fraction) ? 0.0 : std::clamp(fraction, 0.0, 1.0)) {}

bool ShadowSampler::Sample() {
  if (fraction_ <= 0) return false;
  const uint64_t n = count_.fetch_add(1, std::memory_order_relaxed);
  // Request n is sampled when floor((n + 1) * f) passes an integer: exactly floor(n * f) of the
  // first n, spread evenly.
  return std::floor(static_cast<double>(n + 1) * fraction_) >
         std::floor(static_cast<double>(n) * fraction_);
}

ShadowComparison CompareOutputs(const float* int8, const float* fp32, int64_t n) {
  ShadowComparison result;
  if (n <= 0) return result;
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(int8[i]) - fp32[i];
    diff += d * d;
    norm += static_cast<double>(fp32[i]) * fp32[i];
  }
  if (norm > 0) {
    result.relative_error = std::sqrt(diff / norm);
  } else {
    result.relative_error = diff > 0 ? 1.0 : 0.0;  // FP32 said all zeros: any difference is total
  }
  result.agree = std::max_element(int8, int8 + n) - int8 == std::max_element(fp32, fp32 + n) - fp32;
  return result;
}

ShadowRunner::ShadowRunner(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ShadowRunner>> ShadowRunner::Create(Options options) {
  if (!options.reference) return absl::InvalidArgumentError("ShadowRunner: no reference finder");
  if (options.metrics == nullptr) return absl::InvalidArgumentError("ShadowRunner: no metrics");
  if (options.queue_capacity < 1 || options.threads < 1) {
    return absl::InvalidArgumentError("ShadowRunner: queue_capacity and threads must be >= 1");
  }
  std::unique_ptr<ShadowRunner> runner(new ShadowRunner(std::move(options)));
  runner->worker_ = std::thread([r = runner.get()] { r->Work(); });
  return runner;
}

ShadowRunner::~ShadowRunner() { Shutdown(); }

bool ShadowRunner::Submit(ShadowJob job) {
  {
    absl::MutexLock lock(&mu_);
    if (!shut_down_ && static_cast<int>(queue_.size()) < options_.queue_capacity) {
      queue_.push_back(std::move(job));
      return true;
    }
  }
  options_.metrics->RecordShadowDropped(job.key);
  return false;
}

void ShadowRunner::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    queue_.clear();
  }
  if (worker_.joinable()) worker_.join();
}

void ShadowRunner::WaitUntilIdle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &ShadowRunner::IdleOrShutDown));
}

bool ShadowRunner::IdleOrShutDown() const { return shut_down_ || (queue_.empty() && !busy_); }

bool ShadowRunner::HasWorkOrShutDown() const { return shut_down_ || !queue_.empty(); }

void ShadowRunner::Work() {
  if (options_.low_priority) LowerThisThreadsPriority();
  while (true) {
    ShadowJob job;
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
      mu_.Await(absl::Condition(this, &ShadowRunner::HasWorkOrShutDown));
      if (shut_down_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    if (Compare(job).ok()) {
      compared_.fetch_add(1, std::memory_order_relaxed);
    } else {
      skipped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

absl::Status ShadowRunner::Compare(const ShadowJob& job) {
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model, options_.reference(job.key.model));
  ReferenceSession& reference = sessions_[job.key.model];
  if (reference.model != model) {  // first use, or the FP32 version changed
    reference.session.reset();
    reference.model = model;
    SessionOptions session_options;
    session_options.threads = options_.threads;
    OCTET_ASSIGN_OR_RETURN(reference.session, Session::Create(model, session_options));
  }
  std::vector<TensorView> views;
  for (const Tensor& input : job.inputs) views.push_back(input.view());
  OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, reference.session->Run(views));
  if (job.output_index < 0 || job.output_index >= static_cast<int>(outputs.size())) {
    return absl::InvalidArgumentError("shadow job names an output the reference does not have");
  }
  const Tensor& fp32 = outputs[static_cast<size_t>(job.output_index)];
  const Tensor& int8 = job.output;
  if (fp32.dtype() != DataType::kFloat32 || int8.dtype() != DataType::kFloat32 ||
      fp32.shape() != int8.shape() || int8.num_elements() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("shadow outputs differ in type or shape (",
                                                   ShapeToString(int8.shape()), " vs FP32 ",
                                                   ShapeToString(fp32.shape()), ")"));
  }
  const int64_t rows = job.batching && !int8.shape().empty() ? int8.shape()[0] : 1;
  const int64_t per_row = int8.num_elements() / std::max<int64_t>(rows, 1);
  for (int64_t row = 0; row < rows; ++row) {
    const ShadowComparison c = CompareOutputs(int8.data<float>() + row * per_row,
                                              fp32.data<float>() + row * per_row, per_row);
    options_.metrics->RecordShadow(ShadowEvent{job.key, c.agree, c.relative_error});
  }
  return absl::OkStatus();
}

}  // namespace octet::server
