#include "engine/quant/quantization_params.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace octet::quant {
namespace {

template <typename T>
absl::Status CheckRangeFits(QuantizedRange range, const char* type_name) {
  if (range.min < std::numeric_limits<T>::min() || range.max > std::numeric_limits<T>::max() ||
      range.min >= range.max) {
    return absl::InvalidArgumentError(absl::StrCat("quantized range [", range.min, ", ", range.max,
                                                   "] does not fit ", type_name));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status QuantizeTensorImpl(absl::Span<const float> src, QuantizationParams params,
                                QuantizedRange range, absl::Span<T> dst, const char* type_name) {
  if (src.size() != dst.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantize: source has ", src.size(), " elements, destination ", dst.size()));
  }
  OCTET_RETURN_IF_ERROR(CheckRangeFits<T>(range, type_name));
  OCTET_RETURN_IF_ERROR(ValidateQuantizationParams(params, range.min, range.max));
  for (size_t i = 0; i < src.size(); ++i) {
    dst[i] = static_cast<T>(Quantize(src[i], params, range.min, range.max));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status DequantizeTensorImpl(absl::Span<const T> src, QuantizationParams params,
                                  absl::Span<float> dst) {
  if (src.size() != dst.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dequantize: source has ", src.size(), " elements, destination ", dst.size()));
  }
  for (size_t i = 0; i < src.size(); ++i) dst[i] = Dequantize(src[i], params);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<QuantizationParams> ChooseActivationParams(float min, float max, int32_t qmin,
                                                          int32_t qmax) {
  if (!std::isfinite(min) || !std::isfinite(max)) {
    return absl::InvalidArgumentError(
        absl::StrCat("activation range [", min, ", ", max,
                     "] is not finite (a NaN or Inf was observed); no scale can represent it"));
  }
  if (min > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("activation range [", min, ", ", max, "] has min > max"));
  }
  if (qmin >= qmax) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantized range [", qmin, ", ", qmax, "] is empty"));
  }
  // Widen to contain 0 so that 0 is exact. Doubles: max - min may exceed FLT_MAX.
  const double lo = std::min(static_cast<double>(min), 0.0);
  const double hi = std::max(static_cast<double>(max), 0.0);
  const double steps = static_cast<double>(qmax) - static_cast<double>(qmin);
  if (hi == lo) return QuantizationParams{1.0f, qmin};  // all zeros: any scale is exact

  const double scale = (hi - lo) / steps;
  if (scale > std::numeric_limits<float>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("activation range [", min, ", ", max, "] is too wide for a float scale"));
  }
  QuantizationParams params;
  params.scale = static_cast<float>(scale);
  // qmin - lo / scale, written as a ratio of the range so that the float rounding of the scale
  // cannot move an exact tie ([-1, 1] -> 127.5 -> 128).
  double zero_point = static_cast<double>(qmin) - lo * steps / (hi - lo);
  if (params.scale < kMinScale) {
    params.scale = kMinScale;
    zero_point = static_cast<double>(qmin) - lo / kMinScale;
  }
  zero_point =
      std::clamp(std::nearbyint(zero_point), static_cast<double>(qmin), static_cast<double>(qmax));
  params.zero_point = static_cast<int32_t>(zero_point);
  return params;
}

absl::Status ValidateQuantizationParams(QuantizationParams params, int32_t qmin, int32_t qmax) {
  if (!std::isfinite(params.scale) || !(params.scale > 0.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantization scale ", params.scale, " is not positive and finite"));
  }
  if (qmin >= qmax) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantized range [", qmin, ", ", qmax, "] is empty"));
  }
  if (params.zero_point < qmin || params.zero_point > qmax) {
    return absl::InvalidArgumentError(
        absl::StrCat("zero point ", params.zero_point, " is outside [", qmin, ", ", qmax, "]"));
  }
  return absl::OkStatus();
}

int32_t Quantize(float x, QuantizationParams params, int32_t qmin, int32_t qmax) {
  const double zero_point = std::clamp(params.zero_point, qmin, qmax);
  // Round first, then add the zero point (ONNX QuantizeLinear). In float: the quotient that
  // oneDNN's f32 kernels would round. May be +-Inf; the comparisons below saturate it.
  const double q = static_cast<double>(std::nearbyint(x / params.scale)) + zero_point;
  if (std::isnan(q)) return static_cast<int32_t>(zero_point);
  if (q <= qmin) return qmin;
  if (q >= qmax) return qmax;
  return static_cast<int32_t>(q);
}

float Dequantize(int32_t q, QuantizationParams params) {
  return params.scale *
         static_cast<float>(static_cast<int64_t>(q) - static_cast<int64_t>(params.zero_point));
}

absl::Status QuantizeTensor(absl::Span<const float> src, QuantizationParams params,
                            QuantizedRange range, absl::Span<uint8_t> dst) {
  return QuantizeTensorImpl(src, params, range, dst, "u8");
}

absl::Status QuantizeTensor(absl::Span<const float> src, QuantizationParams params,
                            QuantizedRange range, absl::Span<int8_t> dst) {
  return QuantizeTensorImpl(src, params, range, dst, "s8");
}

absl::Status DequantizeTensor(absl::Span<const uint8_t> src, QuantizationParams params,
                              absl::Span<float> dst) {
  return DequantizeTensorImpl(src, params, dst);
}

absl::Status DequantizeTensor(absl::Span<const int8_t> src, QuantizationParams params,
                              absl::Span<float> dst) {
  return DequantizeTensorImpl(src, params, dst);
}

}  // namespace octet::quant
