#include "server/batching/batch_scheduler_options.h"

#include "absl/strings/str_cat.h"

namespace octet::batching {
namespace {

// More threads than this is a configuration mistake, not a tuning choice.
constexpr int kMaxBatchThreads = 1024;

}  // namespace

absl::Status ValidateBatchSchedulerOptions(const BatchSchedulerOptions& options) {
  if (options.max_batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch_size must be >= 1, got ", options.max_batch_size));
  }
  if (options.max_queue_delay < absl::ZeroDuration() ||
      options.max_queue_delay == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("max_queue_delay must be finite and >= 0, got ",
                                                   absl::FormatDuration(options.max_queue_delay)));
  }
  for (int size : options.preferred_batch_sizes) {
    if (size < 1 || size > options.max_batch_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("preferred batch size ", size,
                       " is outside [1, max_batch_size = ", options.max_batch_size, "]"));
    }
  }
  if (options.max_queue_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_queue_size must be >= 1, got ", options.max_queue_size));
  }
  if (options.num_batch_threads < 0 || options.num_batch_threads > kMaxBatchThreads) {
    return absl::InvalidArgumentError(absl::StrCat("num_batch_threads must be in [0, ",
                                                   kMaxBatchThreads, "], got ",
                                                   options.num_batch_threads));
  }
  if (options.clock == nullptr) return absl::InvalidArgumentError("clock must not be null");
  return absl::OkStatus();
}

}  // namespace octet::batching
