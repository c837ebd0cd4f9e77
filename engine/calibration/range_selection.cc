#include "engine/calibration/range_selection.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace octet::calibration {
namespace {

// u8 has 256 values, i.e. 255 steps between its ends.
constexpr int kU8Steps = 255;
// Entropy levels: 255 for u8 over [0, T] (one-signed tensors); 128 a side for u8 over [-T, T].
constexpr int kEntropyLevelsOneSided = 255;
constexpr int kEntropyLevelsPerSide = 128;
// Mass given to empty bins before KL(P || Q), in counts (as MXNet and ONNX Runtime do).
constexpr double kSmoothingEpsilon = 1e-4;

enum class Sign { kNonNegative, kNonPositive, kMixed };

Sign SignOf(const TensorObserver& observer) {
  if (observer.min() >= 0.0f) return Sign::kNonNegative;
  if (observer.max() <= 0.0f) return Sign::kNonPositive;
  return Sign::kMixed;
}

// Clamps a selected range into the observed one. Rounding of bin edges can leave hi one ulp
// below lo for a near-constant tensor; that collapses to a point rather than failing.
Range Within(const TensorObserver& observer, double lo, double hi) {
  Range range;
  range.lo = static_cast<float>(std::clamp<double>(lo, observer.min(), observer.max()));
  range.hi = static_cast<float>(std::clamp<double>(hi, observer.min(), observer.max()));
  range.hi = std::max(range.hi, range.lo);
  return range;
}

// Bins up to and including the last non-empty one.
template <typename T>
int UsedBins(const std::vector<T>& counts) {
  int used = static_cast<int>(counts.size());
  while (used > 0 && counts[used - 1] == 0) --used;
  return used;
}

// The value below which a fraction q of the finite values lie, from the histogram in value
// order, interpolating linearly within a bin.
double Quantile(const TensorObserver& observer, double q) {
  const std::vector<int64_t>& counts = observer.counts();
  const int bins = observer.num_bins();
  const double width = observer.bin_width();
  const double target = q * static_cast<double>(observer.count());
  double below = 0.0;
  for (int j = 0; j < 2 * bins; ++j) {
    const double count = static_cast<double>(counts[j]);
    if (count > 0.0 && below + count >= target) {
      const double lower_edge = (j - bins) * width;
      return lower_edge + width * std::max(0.0, target - below) / count;
    }
    below += count;
  }
  return observer.max();
}

Range SelectPercentile(const TensorObserver& observer, double percentile) {
  if (percentile >= 100.0) return Within(observer, observer.min(), observer.max());
  const double q = percentile / 100.0;
  switch (SignOf(observer)) {
    case Sign::kNonNegative:
      return Within(observer, observer.min(), Quantile(observer, q));
    case Sign::kNonPositive:
      return Within(observer, Quantile(observer, 1.0 - q), observer.max());
    case Sign::kMixed:
      break;
  }
  return Within(observer, Quantile(observer, 1.0 - q), Quantile(observer, q));
}

// Adds kSmoothingEpsilon to each empty bin and takes the same total mass from the non-empty
// ones, so that KL(P || Q) is finite. Unlike MXNet (which asserts), a bin that would go
// non-positive keeps half its mass instead. Returns false when every bin is empty.
bool Smooth(std::vector<double>& dist) {
  int64_t zeros = 0;
  for (double v : dist) zeros += v == 0.0 ? 1 : 0;
  const int64_t non_zeros = static_cast<int64_t>(dist.size()) - zeros;
  if (non_zeros == 0) return false;
  const double take = kSmoothingEpsilon * static_cast<double>(zeros) / non_zeros;
  for (double& v : dist) v = v == 0.0 ? kSmoothingEpsilon : std::max(v - take, 0.5 * v);
  return true;
}

// KL(P || Q) of two positive, unnormalized distributions of equal size.
double KlDivergence(const std::vector<double>& p, const std::vector<double>& q) {
  double p_sum = 0.0, q_sum = 0.0;
  for (size_t k = 0; k < p.size(); ++k) {
    p_sum += p[k];
    q_sum += q[k];
  }
  double kl = 0.0;
  for (size_t k = 0; k < p.size(); ++k) {
    const double pk = p[k] / p_sum;
    kl += pk * std::log(pk / (q[k] / q_sum));
  }
  return kl;
}

// TensorRT's divergence for threshold bin `i` (the first i bins kept) of the |x| histogram.
double ThresholdDivergence(const std::vector<double>& hist, const std::vector<double>& tail_mass,
                           int i, int levels, std::vector<double>& p, std::vector<double>& q) {
  p.assign(hist.begin(), hist.begin() + i);
  p[i - 1] += tail_mass[i];  // Clipped values saturate at the threshold.
  // Q: the unclipped bins merged into `levels` groups (the last takes the remainder), each
  // group's mass spread evenly over the bins where P is non-zero.
  const int merged = i / levels;
  q.assign(i, 0.0);
  for (int level = 0; level < levels; ++level) {
    const int start = level * merged;
    const int stop = level == levels - 1 ? i : start + merged;
    double mass = 0.0;
    int non_zero = 0;
    for (int k = start; k < stop; ++k) {
      mass += hist[k];
      non_zero += p[k] != 0.0 ? 1 : 0;
    }
    if (non_zero == 0) continue;
    for (int k = start; k < stop; ++k) q[k] = p[k] != 0.0 ? mass / non_zero : 0.0;
  }
  if (!Smooth(p) || !Smooth(q)) return std::numeric_limits<double>::infinity();
  return KlDivergence(p, q);
}

Range SelectEntropy(const TensorObserver& observer) {
  const Sign sign = SignOf(observer);
  const int levels = sign == Sign::kMixed ? kEntropyLevelsPerSide : kEntropyLevelsOneSided;
  std::vector<double> hist(observer.num_bins());
  for (int k = 0; k < observer.num_bins(); ++k) {
    hist[k] = static_cast<double>(observer.positive_count(k) + observer.negative_count(k));
  }
  const int used = UsedBins(hist);
  const double width = observer.bin_width();

  double threshold = used * width;  // No clipping: the histogram is no finer than the levels.
  if (used > levels) {
    std::vector<double> tail_mass(used + 1, 0.0);  // tail_mass[i] = sum of hist[i:used].
    for (int k = used - 1; k >= 0; --k) tail_mass[k] = tail_mass[k + 1] + hist[k];
    std::vector<double> p, q;
    double best = std::numeric_limits<double>::infinity();
    int best_bins = used;
    for (int i = levels; i <= used; ++i) {
      const double divergence = ThresholdDivergence(hist, tail_mass, i, levels, p, q);
      if (divergence < best) {
        best = divergence;
        best_bins = i;
      }
    }
    threshold = best_bins * width;
  }
  switch (sign) {
    case Sign::kNonNegative:
      return Within(observer, observer.min(), threshold);
    case Sign::kNonPositive:
      return Within(observer, -threshold, observer.max());
    case Sign::kMixed:
      break;
  }
  return Within(observer, -threshold, threshold);
}

// Clipping error, in units of bin width squared, of clipping one side's magnitudes at each bin
// edge: clip[j] = sum over k >= j of counts[k] * E[(x - j)^2] with x uniform in [k, k+1).
// Also returns beyond[j], the number of values clipped. Built by recurrences over j that only
// add non-negative terms, so there is no cancellation.
void ClippingErrors(const std::vector<int64_t>& counts, int used, std::vector<double>& clip,
                    std::vector<double>& beyond) {
  clip.assign(used + 1, 0.0);
  beyond.assign(used + 1, 0.0);
  double first_moment = 0.0;  // sum over k >= j of counts[k] * (k + 0.5 - j).
  for (int j = used - 1; j >= 0; --j) {
    const double n = static_cast<double>(counts[j]);
    // Shifting the edge down by one bin adds 1 to every distance d: (d+1)^2 = d^2 + 2d + 1.
    clip[j] = clip[j + 1] + 2.0 * first_moment + beyond[j + 1] + n * (0.25 + 1.0 / 12.0);
    first_moment = first_moment + beyond[j + 1] + 0.5 * n;
    beyond[j] = beyond[j + 1] + n;
  }
}

Range SelectMse(const TensorObserver& observer) {
  std::vector<int64_t> neg(observer.num_bins()), pos(observer.num_bins());
  for (int k = 0; k < observer.num_bins(); ++k) {
    neg[k] = observer.negative_count(k);
    pos[k] = observer.positive_count(k);
  }
  const int neg_used = UsedBins(neg);
  const int pos_used = UsedBins(pos);
  std::vector<double> neg_clip, neg_beyond, pos_clip, pos_beyond;
  ClippingErrors(neg, neg_used, neg_clip, neg_beyond);
  ClippingErrors(pos, pos_used, pos_clip, pos_beyond);

  // Range [-i, j] bin widths: the u8 step is (i + j) / 255 and rounding costs step^2 / 12 for
  // every value inside (the usual uniform-noise model).
  const double total = static_cast<double>(observer.count());
  const double rounding_per_value = 1.0 / (12.0 * kU8Steps * kU8Steps);
  double best = std::numeric_limits<double>::infinity();
  int best_i = neg_used, best_j = pos_used;
  for (int i = 0; i <= neg_used; ++i) {
    for (int j = 0; j <= pos_used; ++j) {
      if (i + j == 0) continue;
      const double inside = total - neg_beyond[i] - pos_beyond[j];
      const double span = i + j;
      const double error = neg_clip[i] + pos_clip[j] + inside * span * span * rounding_per_value;
      if (error < best) {
        best = error;
        best_i = i;
        best_j = j;
      }
    }
  }
  const double width = observer.bin_width();
  return Within(observer, -best_i * width, best_j * width);
}

}  // namespace

absl::string_view CalibrationMethodName(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kMinMax:
      return "minmax";
    case CalibrationMethod::kPercentile:
      return "percentile";
    case CalibrationMethod::kEntropy:
      return "entropy";
    case CalibrationMethod::kMse:
      return "mse";
  }
  return "unknown";
}

absl::StatusOr<CalibrationMethod> ParseCalibrationMethod(absl::string_view name) {
  for (CalibrationMethod method : {CalibrationMethod::kMinMax, CalibrationMethod::kPercentile,
                                   CalibrationMethod::kEntropy, CalibrationMethod::kMse}) {
    if (name == CalibrationMethodName(method)) return method;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown calibration method '", name, "' (expected minmax, percentile, entropy or mse)"));
}

absl::StatusOr<Range> SelectRange(const TensorObserver& observer, const MethodOptions& options) {
  const std::string& name = observer.tensor_name();
  if (observer.nan_count() > 0 || observer.inf_count() > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration data for tensor '", name, "' contains ", observer.nan_count(),
                     " NaN and ", observer.inf_count(), " Inf values (besides ", observer.count(),
                     " finite ones); fix the model or the calibration inputs"));
  }
  if (observer.count() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("no calibration values were observed for tensor '", name, "'"));
  }
  if (options.method == CalibrationMethod::kPercentile &&
      !(options.percentile >= 50.0 && options.percentile <= 100.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("percentile must be in [50, 100], got ", options.percentile));
  }
  // A constant tensor (all zeros included) has nothing to clip; the histogram methods would
  // only blur its one value by a bin width.
  if (observer.min() == observer.max() || options.method == CalibrationMethod::kMinMax) {
    return Within(observer, observer.min(), observer.max());
  }

  Range range;
  switch (options.method) {
    case CalibrationMethod::kMinMax:
      break;
    case CalibrationMethod::kPercentile:
      range = SelectPercentile(observer, options.percentile);
      break;
    case CalibrationMethod::kEntropy:
      range = SelectEntropy(observer);
      break;
    case CalibrationMethod::kMse:
      range = SelectMse(observer);
      break;
  }
  if (!std::isfinite(range.lo) || !std::isfinite(range.hi) || !(range.lo <= range.hi)) {
    return absl::InternalError(absl::StrCat("range selection for tensor '", name, "' produced [",
                                            range.lo, ", ", range.hi, "]"));
  }
  return range;
}

}  // namespace octet::calibration
