// TensorObserver: the statistics post-training calibration keeps about one tensor while the
// calibration batches run through the FP32 model - exact min and max, how many finite values
// were seen, how many NaN/Inf values were seen (and skipped), and a histogram from which
// range_selection.h picks the clip range (percentile, entropy, mse).
//
//   OCTET_ASSIGN_OR_RETURN(TensorObserver observer, TensorObserver::Create("conv1_out"));
//   for (const Batch& batch : calibration_set) observer.Observe(ActivationOf(batch));
//   OCTET_ASSIGN_OR_RETURN(Range range, SelectRange(observer, {CalibrationMethod::kEntropy}));
//
// The histogram is symmetric around zero, with zero as a bin edge: 2 * num_bins bins of equal
// width w cover [-limit, limit], num_bins on each side of zero. Symmetry makes the |x| histogram
// that TensorRT's entropy method works on an exact fold (positive_count(k) + negative_count(k)),
// gives a non-negative (post-ReLU) tensor the full num_bins resolution on [0, max], and still
// keeps each tail separately for percentile clipping of signed tensors.
//
// One pass, re-binned exactly (the default). When a batch holds a magnitude beyond the current
// limit, the limit grows by an integer factor m and every m adjacent bins merge into one. Both
// grids start at zero, so the merge moves counts between bins without splitting any (exact up
// to values lying on a bin edge). The price is resolution: the final limit is at most about
// twice the largest magnitude, so the data occupy at least num_bins / 2 bins per side. We take
// that over TensorRT's two-pass protocol (pass 1: range; pass 2: histogram over that fixed range)
// because each pass is a full FP32 forward run over the calibration set, and the two-pass range
// is no finer where it matters: a single outlier squeezes the bulk into a few bins either way.
//
// Two passes remain available: give Options::fixed_limit the largest magnitude seen by a first
// observer (max(|min|, |max|)); the histogram then never re-bins and values beyond the limit are
// counted in the end bins, while min and max stay exact.
//
// Cost per element: a min/max update and a NaN test, then a multiply, a clamp and one increment
// (no data-dependent branches).
//
// Thread-compatible: one observer per tensor, fed by one thread at a time; const methods may be
// called concurrently once feeding is done. Copyable and movable (it owns its counts).
#ifndef OCTET_ENGINE_CALIBRATION_OBSERVER_H_
#define OCTET_ENGINE_CALIBRATION_OBSERVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace octet::calibration {

class TensorObserver {
 public:
  struct Options {
    // Bins per side of zero. TensorRT's entropy calibrator uses 2048; fewer than a few hundred
    // leave the 255-level candidates of the entropy method nothing to choose from.
    int num_bins = 2048;
    // 0: grow the histogram limit with the data (single pass, exact re-binning). > 0: a fixed
    // magnitude limit for the second pass of the two-pass protocol; must be finite.
    float fixed_limit = 0.0f;
  };

  static constexpr int kMinBins = 16;
  static constexpr int kMaxBins = 1 << 20;

  // Fails with InvalidArgument when the options are out of range.
  static absl::StatusOr<TensorObserver> Create(std::string tensor_name, const Options& options);
  static absl::StatusOr<TensorObserver> Create(std::string tensor_name) {
    return Create(std::move(tensor_name), Options());
  }

  // Adds one batch of values. NaN and Inf are counted and otherwise ignored, so that the error
  // can be reported with counts once (SelectRange) instead of poisoning min, max and histogram.
  void Observe(absl::Span<const float> values);

  const std::string& tensor_name() const { return tensor_name_; }
  int num_bins() const { return num_bins_; }

  // Finite values seen. min() and max() are meaningful only when count() > 0.
  int64_t count() const { return count_; }
  float min() const { return min_; }
  float max() const { return max_; }
  int64_t nan_count() const { return nan_count_; }
  int64_t inf_count() const { return inf_count_; }

  // The histogram. Bins are counted outwards from zero on each side: positive_count(k) holds
  // the x with k*w <= x < (k+1)*w and negative_count(k) those with k*w <= -x < (k+1)*w, where
  // w = bin_width() = limit() / num_bins(). The outermost bins also hold |x| == limit (and, with
  // a fixed limit, everything beyond it). counts() lays both sides out in value order, 2 *
  // num_bins() bins over [-limit, limit]: the negative side reversed, then the positive side.
  // limit() is 0 until a non-zero value is seen; zeros (either sign) are in positive_count(0).
  float limit() const { return limit_; }
  double bin_width() const { return static_cast<double>(limit_) / num_bins_; }
  const std::vector<int64_t>& counts() const { return counts_; }
  int64_t positive_count(int k) const { return counts_[num_bins_ + k]; }
  int64_t negative_count(int k) const { return counts_[num_bins_ - 1 - k]; }

 private:
  TensorObserver(std::string tensor_name, const Options& options);

  // Widens the histogram so that it covers `magnitude`, merging bins.
  void GrowLimit(float magnitude);
  // Adds finite values to the histogram (the limit already covers them unless fixed).
  void AddToHistogram(absl::Span<const float> values, bool skip_non_finite);

  // Constant after construction.
  std::string tensor_name_;
  int num_bins_;
  bool fixed_limit_;

  // Accumulated statistics.
  int64_t count_ = 0;
  int64_t nan_count_ = 0;
  int64_t inf_count_ = 0;
  float min_ = 0.0f;
  float max_ = 0.0f;
  float limit_ = 0.0f;
  std::vector<int64_t> counts_;
};

}  // namespace octet::calibration

#endif  // OCTET_ENGINE_CALIBRATION_OBSERVER_H_
