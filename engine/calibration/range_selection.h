// Range selection: turns what a TensorObserver saw into the real range [lo, hi] that a tensor's
// 8-bit quantization should cover. Values outside the range are clipped at run time, so methods
// other than minmax trade a little clipping error on rare outliers for finer steps on the bulk.
//
//   MethodOptions options{CalibrationMethod::kPercentile, /*percentile=*/99.99};
//   OCTET_ASSIGN_OR_RETURN(Range range, SelectRange(observer, options));
//
// The result is a range, not quantization parameters: the quant module (scale, zero point)
// nudges it so that zero is exactly representable. For a signed tensor the range need not
// contain zero (e.g. percentile on a tensor with very few negatives).
//
// Methods, for a non-negative tensor (min >= 0, e.g. after ReLU) and a signed one (min < 0):
//   minmax      [min, max] as observed.
//   percentile  non-negative: [min, P_p]; signed: [P_(100-p), P_p], i.e. the same probability is
//               cut from each tail. P_q is the q-th percentile, interpolated linearly within its
//               histogram bin.
//   entropy     TensorRT's KL-divergence calibration ("8-bit Inference with TensorRT", 2017).
//               Works on the histogram of |x|: for each candidate threshold T (a bin edge from
//               `levels` bins up), P = the histogram clipped at T with the clipped mass added to
//               its last bin, Q = the unclipped bins below T quantized to `levels` levels and
//               expanded back; T minimizes KL(P || Q). levels = 255 for a non-negative tensor
//               (u8 covering [0, T]); 128 for a signed one (u8 covering [-T, T] has 128 levels a
//               side). Result: non-negative [min, T]; signed [-T, T] intersected with [min, max].
//               T is never below `levels` bins: when outliers set a wide histogram limit the
//               threshold cannot get closer to the bulk than levels / num_bins of the limit. On
//               a ReLU output the spike at zero dominates P and entropy clips harder than the
//               other methods (this follows the reference algorithm; it is checked against a
//               transcription of MXNet's _get_optimal_threshold).
//   mse         Minimizes the expected squared error of u8 quantization over the grid
//               [lo, hi] (lo <= 0 <= hi, as the zero point requires), estimated from the
//               histogram: rounding error (hi - lo)^2 / (255^2 * 12) per value inside,
//               (x - bound)^2 per value outside (each bin's mass spread uniformly). For a signed
//               tensor lo and hi are searched jointly (not symmetrically), because u8 with a zero
//               point can spend its levels unevenly on a skewed tensor; the two clipping terms
//               are separable, so prefix sums make each (lo, hi) pair O(1). mse is not an
//               outlier filter: with k outliers at +-M and N values inside [-T, T], minimizing
//               k (M - T)^2 + N (2T)^2 / (12 * 255^2) gives T = M / (1 + N / (195075 k)), so a
//               few huge values are clipped only partly unless N is large.
//   (Non-positive tensors, max <= 0, mirror the non-negative case.)
//
// Every method returns lo <= hi, both finite, both within [min, max]. A constant tensor gives
// lo == hi. Errors: FailedPrecondition when the observer saw no finite value; InvalidArgument
// when it saw NaN or Inf (with counts and the tensor name) or the options are out of range.
//
// Free functions over const data; thread-safe.
#ifndef OCTET_ENGINE_CALIBRATION_RANGE_SELECTION_H_
#define OCTET_ENGINE_CALIBRATION_RANGE_SELECTION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/calibration/observer.h"

namespace octet::calibration {

enum class CalibrationMethod { kMinMax, kPercentile, kEntropy, kMse };

// "minmax", "percentile", "entropy", "mse".
absl::string_view CalibrationMethodName(CalibrationMethod method);
// Inverse of CalibrationMethodName (exact, lower case); InvalidArgument lists the valid names.
absl::StatusOr<CalibrationMethod> ParseCalibrationMethod(absl::string_view name);

struct MethodOptions {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  // Used by kPercentile only. In [50, 100]: below 50 the two signed tails would cross.
  double percentile = 99.99;
};

struct Range {
  float lo = 0.0f;
  float hi = 0.0f;
};

absl::StatusOr<Range> SelectRange(const TensorObserver& observer, const MethodOptions& options);

}  // namespace octet::calibration

#endif  // OCTET_ENGINE_CALIBRATION_RANGE_SELECTION_H_
