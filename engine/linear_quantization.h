// The quantization parameters of ONNX's quantization operators (QuantizeLinear,
// DequantizeLinear, QLinearConv, QLinearMatMul), read from a node's constant inputs.
//
// ONNX writes them as a scale tensor and an optional zero-point tensor of the quantized type:
// one value each (per tensor), or, from opset 13, one per index along an axis (per channel).
// `real = scale[c] * (q - zero_point[c])`, with c the index along the axis.
//
//   std::optional<LinearQuantization> q = ConstantLinearQuantization(graph, node, 1, 2, axis);
//   if (q && q->per_tensor()) { quant::QuantizationParams p = q->at(0); ... }
//
// Used by the graph passes (qdq_folding.cc) and the runtime kernels (kernels_qlinear.cc).
// Pure functions; thread-safe.
#ifndef OCTET_ENGINE_LINEAR_QUANTIZATION_H_
#define OCTET_ENGINE_LINEAR_QUANTIZATION_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/graph.h"
#include "engine/quant/quantization_params.h"

namespace octet {

struct LinearQuantization {
  DataType type = DataType::kUInt8;  // the quantized type (the zero point's; uint8 without one)
  int axis = -1;                     // -1: one scale for the whole tensor
  std::vector<float> scales;         // one, or one per index along `axis`
  std::vector<int32_t> zero_points;  // as many as `scales`

  bool per_tensor() const { return scales.size() == 1; }
  // The parameters of index `c` along the axis (of the tensor when per tensor).
  quant::QuantizationParams at(int64_t c) const {
    const size_t i = per_tensor() ? 0 : static_cast<size_t>(c);
    return {scales[i], zero_points[i]};
  }
  // True when every index has the same zero point (oneDNN takes only one).
  bool common_zero_point() const;
};

// The integer range of a quantized type: [0, 255], [-128, 127] or int32's.
quant::QuantizedRange RangeOf(DataType type);

// The parameters held by inputs `scale_input` and `zero_point_input` of `node`. The zero point's
// type is the quantized type; without a zero point (input omitted or beyond the node's inputs)
// the type is `default_type` and the zero point 0. `axis` is the axis of a per-channel scale,
// already non-negative. nullopt when either input is not a constant.
std::optional<LinearQuantization> ConstantLinearQuantization(const Graph& graph, const Node& node,
                                                             size_t scale_input,
                                                             size_t zero_point_input, int axis,
                                                             DataType default_type);

// The axis of a QuantizeLinear / DequantizeLinear node: the `axis` attribute (opset 13, default
// 1) made non-negative for a tensor of `rank` dims.
int QuantizationAxis(const Node& node, int rank);

// The u8 parameters that represent the same reals as a per-tensor u8 or s8 quantization: an s8
// value q with zero point z is the u8 value q + 128 with zero point z + 128, so an int8 QDQ
// activation runs on Octet's u8 path unchanged. nullopt for per-channel or int32 parameters and
// for parameters Octet cannot use (a scale that is not positive and finite).
std::optional<quant::QuantizationParams> AsU8Activation(const LinearQuantization& q);

}  // namespace octet

#endif  // OCTET_ENGINE_LINEAR_QUANTIZATION_H_
