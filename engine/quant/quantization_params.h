// Uniform affine quantization of one tensor: `real = scale * (q - zero_point)`.
//
// This is the one place where Octet chooses quantization parameters from a range and maps
// values between float and the integer grid; docs/quantization.md derives every formula used
// here. Activations are u8, asymmetric, per tensor; weights are s8, symmetric (zero point 0),
// per output channel (weight_quantization.h).
//
//   OCTET_ASSIGN_OR_RETURN(QuantizationParams p, ChooseActivationParams(-1.0f, 1.0f));
//   // p.scale == 2/255, p.zero_point == 128
//   int32_t q = Quantize(0.5f, p, kU8Activation.min, kU8Activation.max);  // 192
//   float x = Dequantize(q, p);                                            // 0.50196
//
// Everything here is a pure function of its arguments: no state, thread-safe. The span versions
// only read `src` and only write `dst`, both borrowed for the duration of the call.
#ifndef OCTET_ENGINE_QUANT_QUANTIZATION_PARAMS_H_
#define OCTET_ENGINE_QUANT_QUANTIZATION_PARAMS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace octet::quant {

// real = scale * (q - zero_point). `scale` is positive and finite (at least kMinScale when
// chosen here); `zero_point` lies in the quantized range, so real 0 is exactly representable.
struct QuantizationParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// The integers a quantized type may hold, both ends included.
struct QuantizedRange {
  int32_t min = 0;
  int32_t max = 0;
};

// Activations: u8, the full range.
inline constexpr QuantizedRange kU8Activation{0, 255};
// Activations limited to 7 bits: the other way to avoid vpmaddubsw saturation on AVX2 without
// VNNI (docs/quantization.md, "AVX2 without VNNI").
inline constexpr QuantizedRange kU7Activation{0, 127};
// Weights: s8, symmetric. -128 is left out so that negating a weight never overflows and the
// grid is symmetric around 0.
inline constexpr QuantizedRange kS8Weight{-127, 127};

// The smallest scale this library chooses (for activations and weights alike). A tiny range
// (e.g. a tensor that is all zeros but for 1e-30) would otherwise give a denormal scale, whose
// reciprocal overflows to Inf. With every scale >= 1e-8, 1/scale <= 1e8 and a product of three
// scales (s_x * s_w / s_y and the bias scale s_x * s_w) stays a normal float; values smaller
// than kMinScale / 2 in magnitude quantize to 0, an absolute error below 5e-9.
inline constexpr float kMinScale = 1e-8f;

// Asymmetric parameters for a tensor whose values were observed in [min, max], for the integer
// range [qmin, qmax].
//  - The range is first widened to contain 0 ([2, 5] -> [0, 5]) so that 0 is exact.
//  - scale = (max - min) / (qmax - qmin), raised to kMinScale if smaller.
//  - zero_point = round_half_to_even(qmin - min / scale), clamped to [qmin, qmax]. Because the
//    zero point is rounded, the grid may cover [min, max] shifted by up to scale / 2.
//  - min == max == 0 (an all-zero tensor): scale 1, zero_point qmin (which represents 0 here).
// InvalidArgument if min or max is NaN or infinite, if min > max, or if qmin >= qmax.
absl::StatusOr<QuantizationParams> ChooseActivationParams(float min, float max, int32_t qmin = 0,
                                                          int32_t qmax = 255);

// OK iff `params` can be used with [qmin, qmax]: scale positive and finite, zero point within
// the range. For parameters that come from outside (a calibration table, an ONNX QDQ model).
absl::Status ValidateQuantizationParams(QuantizationParams params, int32_t qmin, int32_t qmax);

// clamp(round_half_to_even(x / scale) + zero_point, qmin, qmax), the definition of ONNX
// QuantizeLinear. Rounding is std::nearbyint under the default rounding mode, i.e. to nearest,
// ties to even, as oneDNN rounds. +-Inf saturate to qmax / qmin; NaN maps to the zero point
// (the representation of 0). oneDNN's reorder computes round(x * (1 / scale) + zero_point)
// instead, which can differ by one step only when x / scale is within an ulp of a tie; see
// docs/quantization.md, "Rounding".
int32_t Quantize(float x, QuantizationParams params, int32_t qmin, int32_t qmax);

// scale * (q - zero_point).
float Dequantize(int32_t q, QuantizationParams params);

// Whole tensors: dst[i] = Quantize(src[i], params, range.min, range.max). InvalidArgument if
// the spans differ in length, if `range` does not fit in dst's element type or if `params` are
// not valid for `range`.
absl::Status QuantizeTensor(absl::Span<const float> src, QuantizationParams params,
                            QuantizedRange range, absl::Span<uint8_t> dst);
absl::Status QuantizeTensor(absl::Span<const float> src, QuantizationParams params,
                            QuantizedRange range, absl::Span<int8_t> dst);

// Whole tensors: dst[i] = Dequantize(src[i], params). InvalidArgument if the spans differ in
// length.
absl::Status DequantizeTensor(absl::Span<const uint8_t> src, QuantizationParams params,
                              absl::Span<float> dst);
absl::Status DequantizeTensor(absl::Span<const int8_t> src, QuantizationParams params,
                              absl::Span<float> dst);

}  // namespace octet::quant

#endif  // OCTET_ENGINE_QUANT_QUANTIZATION_PARAMS_H_
