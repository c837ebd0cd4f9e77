// Symmetric s8 quantization of Conv / MatMul weights, per output channel or per tensor, with the
// three schemes that the CPU's int8 instructions call for.
//
// On AVX2 without VNNI, oneDNN multiplies u8 activations by s8 weights with vpmaddubsw, which
// adds the two products of ADJACENT elements along the reduction axis into a saturating int16.
// With activations up to 255, a pair of weights whose quantized magnitudes add up to more than
// 128 (same sign) can saturate and silently corrupt the result. kPairLimited chooses each
// channel's scale so that no pair can, while keeping the step as fine as that allows;
// docs/quantization.md, "AVX2 without VNNI", derives the bound.
//
//   // Conv weights [OC, IC/G, kH, kW]: channels on axis 0, pairs along IC (axis 1).
//   OCTET_ASSIGN_OR_RETURN(QuantizedWeights qw,
//                          QuantizeWeightsPerChannel(w, {64, 32, 3, 3}, /*channel_axis=*/0,
//                                                    /*pair_axis=*/1, WeightScheme::kPairLimited));
//   // qw.values: s8, same shape; qw.scales: 64 scales; qw.stats.saturating_pairs == 0.
//
// Pure functions: no state, thread-safe. Inputs are borrowed for the call; results are owned by
// the returned value. Offline code (model load, calibration): clarity over speed.
#ifndef OCTET_ENGINE_QUANT_WEIGHT_QUANTIZATION_H_
#define OCTET_ENGINE_QUANT_WEIGHT_QUANTIZATION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace octet::quant {

// How a channel's scale is chosen from its weights; all quantize to round(w / scale) clamped to
// [-127, 127], zero point 0.
enum class WeightScheme {
  // scale = absmax / 127: full 8-bit precision. Exact where int8 products accumulate in 32 bits
  // (VNNI); may saturate on AVX2 without VNNI.
  kFull8,
  // scale = absmax / 63: |q| <= 63, so any pair sums to <= 126 and never saturates. Safe
  // everywhere, at twice kFull8's step.
  kSevenBit,
  // scale = max pair reach / 127 (see PairReach below): no pair can saturate with activations up
  // to 255, and the step is never coarser than kSevenBit's, usually close to kFull8's.
  kPairLimited,
};

// "full8", "seven_bit", "pair_limited": the names recorded in model metadata and taken by flags.
absl::string_view WeightSchemeName(WeightScheme scheme);
absl::StatusOr<WeightScheme> ParseWeightScheme(absl::string_view name);

// The activation bound of u8 tensors, and the int16 limits of vpmaddubsw's pair sums.
inline constexpr int32_t kMaxU8Activation = 255;
inline constexpr int32_t kInt16Max = 32767;
inline constexpr int32_t kInt16MinMagnitude = 32768;

struct WeightQuantizationStats {
  // Adjacent pairs along pair_axis (an unpaired last element is not a pair).
  int64_t pairs = 0;
  // Pairs of the returned values that can saturate vpmaddubsw with activations up to 255.
  int64_t saturating_pairs = 0;
  // The same count had the tensor been quantized with kFull8 at the same granularity: what the
  // scheme avoided (and what a VNNI machine would not care about).
  int64_t saturating_pairs_full8 = 0;
  // Channels (the tensor, per tensor) that are all zeros; they get scale 1 and values 0.
  int64_t zero_channels = 0;
  // Channels whose scale was raised to kMinScale (quantization_params.h).
  int64_t min_scale_channels = 0;
  // max |w - scale * q| over the tensor.
  float max_abs_error = 0.0f;
};

// s8 weights with per-channel (or one per-tensor) scales; real = scales[c] * values[i].
struct QuantizedWeights {
  std::vector<int8_t> values;  // the float tensor's shape, row-major
  std::vector<int64_t> shape;
  int channel_axis = -1;      // -1: per tensor
  std::vector<float> scales;  // shape[channel_axis] scales, or one per tensor
  WeightScheme scheme = WeightScheme::kFull8;
  WeightQuantizationStats stats;
};

// Quantizes row-major `w` of `shape` with one scale per index along `channel_axis` (the output
// channels: axis 0 of a Conv's [OC, IC/G, kH, kW], axis 1 of a MatMul's [K, N]). Pairs are
// elements 2k and 2k+1 along `pair_axis`, the reduction axis the kernel pairs (Conv: 1,
// MatMul [K, N]: 0), at the same indices on every other axis; `pair_axis` is needed by every
// scheme for the statistics. Kernels that do not pair (e.g. depthwise) should use kFull8.
// InvalidArgument if the shape has a non-positive dimension or does not match w.size(), if an
// axis is out of range or channel_axis == pair_axis, or if a weight is NaN or infinite (the
// message names the first such element).
absl::StatusOr<QuantizedWeights> QuantizeWeightsPerChannel(absl::Span<const float> w,
                                                           const std::vector<int64_t>& shape,
                                                           int channel_axis, int pair_axis,
                                                           WeightScheme scheme);

// As above with one scale for the whole tensor (for comparison: `--per-tensor-weights`).
absl::StatusOr<QuantizedWeights> QuantizeWeightsPerTensor(absl::Span<const float> w,
                                                          const std::vector<int64_t>& shape,
                                                          int pair_axis, WeightScheme scheme);

// The largest |x_a * a + x_b * b| over activations x_a, x_b in [0, 1] for one adjacent pair:
// |a| + |b| when a and b have the same sign, max(|a|, |b|) when they differ (the products then
// partly cancel). Pass b = 0 for an unpaired element.
double PairReach(double a, double b);

// Adjacent pairs (as above) of s8 `values` whose sum x_a * q_a + x_b * q_b over u8 activations
// in [0, max_activation] can leave int16: max_activation * (positive part) > 32767 or
// max_activation * (negative part) > 32768. With 255 that is same-signed pairs with
// |q_a| + |q_b| >= 129. InvalidArgument on a bad shape or axis, or max_activation outside
// [0, 255].
absl::StatusOr<int64_t> CountSaturatingPairs(absl::Span<const int8_t> values,
                                             const std::vector<int64_t>& shape, int pair_axis,
                                             int32_t max_activation = kMaxU8Activation);

}  // namespace octet::quant

#endif  // OCTET_ENGINE_QUANT_WEIGHT_QUANTIZATION_H_
