#include "engine/calibration/observer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace octet::calibration {

absl::StatusOr<TensorObserver> TensorObserver::Create(std::string tensor_name,
                                                      const Options& options) {
  if (options.num_bins < kMinBins || options.num_bins > kMaxBins) {
    return absl::InvalidArgumentError(absl::StrCat("observer for tensor '", tensor_name,
                                                   "': num_bins must be in [", kMinBins, ", ",
                                                   kMaxBins, "], got ", options.num_bins));
  }
  if (!std::isfinite(options.fixed_limit) || options.fixed_limit < 0.0f) {
    return absl::InvalidArgumentError(absl::StrCat(
        "observer for tensor '", tensor_name,
        "': fixed_limit must be finite and >= 0 (0: adaptive), got ", options.fixed_limit));
  }
  return TensorObserver(std::move(tensor_name), options);
}

TensorObserver::TensorObserver(std::string tensor_name, const Options& options)
    : tensor_name_(std::move(tensor_name)),
      num_bins_(options.num_bins),
      fixed_limit_(options.fixed_limit > 0.0f),
      limit_(options.fixed_limit),
      counts_(2 * static_cast<size_t>(options.num_bins), 0) {}

void TensorObserver::Observe(absl::Span<const float> values) {
  if (values.empty()) return;
  // The batch's range first, so that the histogram loop knows its limit and needs no check for
  // growth. Comparisons ignore NaN and infinities show in the extremes, so the common all-finite
  // batch needs no per-element branch; four accumulators break the min/max dependency chains.
  constexpr int kLanes = 4;
  float lo[kLanes], hi[kLanes];
  std::fill(lo, lo + kLanes, std::numeric_limits<float>::infinity());
  std::fill(hi, hi + kLanes, -std::numeric_limits<float>::infinity());
  bool saw_nan = false;
  const size_t size = values.size();
  const size_t whole = size - size % kLanes;
  for (size_t i = 0; i < whole; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float x = values[i + l];
      lo[l] = x < lo[l] ? x : lo[l];
      hi[l] = x > hi[l] ? x : hi[l];
      saw_nan |= x != x;
    }
  }
  for (size_t i = whole; i < size; ++i) {
    const float x = values[i];
    lo[0] = x < lo[0] ? x : lo[0];
    hi[0] = x > hi[0] ? x : hi[0];
    saw_nan |= x != x;
  }
  float batch_min = *std::min_element(lo, lo + kLanes);
  float batch_max = *std::max_element(hi, hi + kLanes);
  const bool has_non_finite = saw_nan || std::isinf(batch_min) || std::isinf(batch_max);

  int64_t finite = static_cast<int64_t>(size);
  if (has_non_finite) {
    batch_min = std::numeric_limits<float>::infinity();
    batch_max = -std::numeric_limits<float>::infinity();
    for (float x : values) {
      if (std::isfinite(x)) {
        batch_min = std::min(batch_min, x);
        batch_max = std::max(batch_max, x);
        continue;
      }
      --finite;
      if (std::isnan(x)) {
        ++nan_count_;
      } else {
        ++inf_count_;
      }
    }
    if (finite == 0) return;
  }

  if (count_ == 0) {
    min_ = batch_min;
    max_ = batch_max;
  } else {
    min_ = std::min(min_, batch_min);
    max_ = std::max(max_, batch_max);
  }
  count_ += finite;

  const float magnitude = std::max(-batch_min, batch_max);
  if (!fixed_limit_ && magnitude > limit_) GrowLimit(magnitude);
  if (limit_ == 0.0f) {
    // Only zeros so far (an adaptive observer's limit follows the largest magnitude).
    counts_[num_bins_] += finite;
    return;
  }
  AddToHistogram(values, has_non_finite);
}

void TensorObserver::AddToHistogram(absl::Span<const float> values, bool skip_non_finite) {
  // Double, so that a tiny (even subnormal) limit cannot overflow the scale to infinity. The
  // magnitude's bin k maps to counts_[B + k] or, negative, counts_[B - 1 - k] = B + ~k: the sign
  // flips k's bits instead of branching (random signs would defeat the branch predictor).
  const double scale = num_bins_ / static_cast<double>(limit_);
  const double last_bin = num_bins_ - 1;
  int64_t* const center = counts_.data() + num_bins_;
  auto add = [&](float x) {
    const int64_t k =
        static_cast<int64_t>(std::min(std::fabs(static_cast<double>(x)) * scale, last_bin));
    const int64_t negative = x < 0.0f ? 1 : 0;
    center[k ^ -negative] += 1;
  };
  if (!skip_non_finite) {
    for (float x : values) add(x);
  } else {
    for (float x : values) {
      if (std::isfinite(x)) add(x);
    }
  }
}

void TensorObserver::GrowLimit(float magnitude) {
  if (limit_ == 0.0f) {
    // Everything so far was zero and stays in bin 0 whatever the width.
    limit_ = magnitude;
    return;
  }
  int64_t* const center = counts_.data() + num_bins_;
  // Side s (+1 or -1) of magnitude bin k lives at center[k] or center[~k].
  auto bin = [center](int sign, int k) -> int64_t& { return center[sign > 0 ? k : ~k]; };
  const double factor = std::ceil(static_cast<double>(magnitude) / limit_);
  if (factor >= num_bins_) {
    // The old range fits inside the new first bin: collapse each side into it.
    for (int sign : {1, -1}) {
      int64_t total = 0;
      for (int k = 0; k < num_bins_; ++k) total += std::exchange(bin(sign, k), 0);
      bin(sign, 0) = total;
    }
    limit_ = magnitude;
    return;
  }
  // New bin j is exactly old bins [j*m, (j+1)*m): both grids start at zero. In place, since
  // bin j is written only after old bins >= j have been read.
  const int m = static_cast<int>(factor);
  for (int sign : {1, -1}) {
    for (int j = 0; j < num_bins_; ++j) {
      int64_t sum = 0;
      const int stop = std::min(num_bins_, (j + 1) * m);
      for (int k = j * m; k < stop; ++k) sum += std::exchange(bin(sign, k), 0);
      bin(sign, j) = sum;
      if (stop == num_bins_) break;
    }
  }
  // m * limit is computed exactly in double and rounds to a float >= magnitude (rounding is
  // monotonic and magnitude is a float); the bin clamp in AddToHistogram covers any residue.
  limit_ = static_cast<float>(static_cast<double>(limit_) * m);
}

}  // namespace octet::calibration
