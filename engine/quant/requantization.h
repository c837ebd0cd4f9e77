// The scales that carry an int8 Conv / MatMul from its int32 accumulator to its u8 output: the
// requantization multiplier, the int32 bias in the accumulator's scale, and the rescaling of a
// residual added through oneDNN's sum post-op.
//
// With src x (s_x, zp_x), weights w (s_w[oc], zero point 0) and dst y (s_y, zp_y):
//   acc[oc] = sum_k (x_q - zp_x) * w_q + bias_q[oc]           (int32, scale s_x * s_w[oc])
//   y_q     = round(M[oc] * acc[oc]) + zp_y,  M[oc] = s_x * s_w[oc] / s_y
// docs/quantization.md derives this and says how oneDNN applies it.
//
//   std::vector<float> m = RequantizationMultiplier(s_x, qw.scales, s_y);  // output scales
//   OCTET_ASSIGN_OR_RETURN(QuantizedBias b, QuantizeBias(bias, s_x, qw.scales));
//   if (b.saturated > 0) { ... keep this layer in FP32 or report it ... }
//
// Pure functions: no state, thread-safe; inputs are borrowed for the call.
#ifndef OCTET_ENGINE_QUANT_REQUANTIZATION_H_
#define OCTET_ENGINE_QUANT_REQUANTIZATION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/quant/quantization_params.h"

namespace octet::quant {

// M = s_x * s_w / s_y, computed in double and rounded once to float (oneDNN's output scale).
// Scales must be positive and finite, as this library chooses them; with all three >= kMinScale
// and finite, M is a normal float unless the scales themselves are extreme.
float RequantizationMultiplier(float s_x, float s_w, float s_y);
// Per output channel: M[oc] = s_x * s_w[oc] / s_y.
std::vector<float> RequantizationMultiplier(float s_x, absl::Span<const float> s_w, float s_y);

// oneDNN's sum post-op adds scale * (r_q - zero_point) to the dst accumulator (already in dst
// units, before dst's zero point). A residual r with params (s_r, zp_r) added to y (s_y, zp_y)
// needs scale = s_r / s_y and zero_point = zp_r.
struct SumPostOp {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
SumPostOp ResidualSumPostOp(QuantizationParams residual, QuantizationParams dst);

// int32 bias in the accumulator's scale, with how many values did not fit.
struct QuantizedBias {
  // round_half_to_even(b[oc] / (s_x * s_w[oc])), saturated to int32.
  std::vector<int32_t> values;
  // How many values were saturated, and the first such channel (-1 if none). Saturation means
  // |b| > 2^31 * s_x * s_w[oc]: a channel whose weights are tiny next to its bias (e.g. after
  // folding a BatchNorm with gamma ~ 0). The accumulator adds up to K * 255 * 127 on top of the
  // bias, so a layer with saturated (or nearly saturated) bias should stay in FP32.
  int64_t saturated = 0;
  int64_t first_saturated_channel = -1;
};

// Quantizes `bias` (one value per output channel) for input scale `s_x` and weight scales `s_w`
// (one per channel, or a single per-tensor scale). InvalidArgument if s_w has neither 1 nor
// bias.size() elements, if a scale is not positive and finite, or if a bias value is NaN or
// infinite (the message names the first such channel). Saturation is not an error: it is
// reported in the result for the caller to act on.
absl::StatusOr<QuantizedBias> QuantizeBias(absl::Span<const float> bias, float s_x,
                                           absl::Span<const float> s_w);

}  // namespace octet::quant

#endif  // OCTET_ENGINE_QUANT_REQUANTIZATION_H_
