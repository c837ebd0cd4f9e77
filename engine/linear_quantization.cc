#include "engine/linear_quantization.h"

#include <limits>

#include "engine/shape_functions.h"

namespace octet {

bool LinearQuantization::common_zero_point() const {
  for (int32_t zp : zero_points) {
    if (zp != zero_points[0]) return false;
  }
  return true;
}

quant::QuantizedRange RangeOf(DataType type) {
  switch (type) {
    case DataType::kUInt8:
      return {0, 255};
    case DataType::kInt8:
      return {-128, 127};
    default:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
  }
}

std::optional<LinearQuantization> ConstantLinearQuantization(const Graph& graph, const Node& node,
                                                             size_t scale_input,
                                                             size_t zero_point_input, int axis,
                                                             DataType default_type) {
  if (scale_input >= node.inputs.size() || !graph.IsConstant(node.inputs[scale_input])) {
    return std::nullopt;
  }
  const Tensor& scale = graph.constant(node.inputs[scale_input]);
  if (scale.dtype() != DataType::kFloat32 || scale.num_elements() < 1) return std::nullopt;
  LinearQuantization q;
  q.type = default_type;
  q.scales.assign(scale.data<float>(), scale.data<float>() + scale.num_elements());
  q.axis = q.per_tensor() ? -1 : axis;
  q.zero_points.assign(q.scales.size(), 0);
  const bool has_zero_point =
      zero_point_input < node.inputs.size() && node.inputs[zero_point_input] != kNoValue;
  if (has_zero_point) {
    if (!graph.IsConstant(node.inputs[zero_point_input])) return std::nullopt;
    const Tensor& zp = graph.constant(node.inputs[zero_point_input]);
    // One zero point may serve every channel's scale.
    if (zp.num_elements() != scale.num_elements() && zp.num_elements() != 1) return std::nullopt;
    q.type = zp.dtype();
    const std::vector<int64_t> values = ToInt64Vector(zp);
    if (values.size() == 1) {
      q.zero_points.assign(q.scales.size(), static_cast<int32_t>(values[0]));
    } else {
      q.zero_points.assign(values.begin(), values.end());
    }
  }
  return q;
}

int QuantizationAxis(const Node& node, int rank) {
  const int64_t axis = node.attrs.GetInt("axis", 1);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

std::optional<quant::QuantizationParams> AsU8Activation(const LinearQuantization& q) {
  if (!q.per_tensor() || (q.type != DataType::kUInt8 && q.type != DataType::kInt8)) {
    return std::nullopt;
  }
  const int32_t shift = q.type == DataType::kInt8 ? 128 : 0;
  const quant::QuantizationParams params{q.scales[0], q.zero_points[0] + shift};
  if (!quant::ValidateQuantizationParams(params, 0, 255).ok()) return std::nullopt;
  return params;
}

}  // namespace octet
