#include "engine/runtime/kernels.h"

namespace octet {
namespace runtime {

dnnl::algorithm EltwiseAlgorithm(EltwiseKind kind) {
  switch (kind) {
    case EltwiseKind::kRelu:
      return dnnl::algorithm::eltwise_relu;
    case EltwiseKind::kClip:
      return dnnl::algorithm::eltwise_clip_v2;
    case EltwiseKind::kSigmoid:
      return dnnl::algorithm::eltwise_logistic;
    case EltwiseKind::kTanh:
      return dnnl::algorithm::eltwise_tanh;
    case EltwiseKind::kElu:
      return dnnl::algorithm::eltwise_elu;
    case EltwiseKind::kExp:
      return dnnl::algorithm::eltwise_exp;
    case EltwiseKind::kAbs:
      return dnnl::algorithm::eltwise_abs;
    case EltwiseKind::kSqrt:
      return dnnl::algorithm::eltwise_sqrt;
    case EltwiseKind::kSoftplus:
      return dnnl::algorithm::eltwise_soft_relu;
    case EltwiseKind::kLinear:
    case EltwiseKind::kHardSigmoid:
      return dnnl::algorithm::eltwise_linear;
  }
  return dnnl::algorithm::eltwise_linear;
}

void AppendEltwise(dnnl::post_ops& ops, const PostOp& op) {
  ops.append_eltwise(1.0f, EltwiseAlgorithm(op.eltwise), op.alpha, op.beta);
}

absl::StatusOr<WindowGeometry> PoolWindow(const Node& node, const Shape& input_shape) {
  const Shape spatial(input_shape.begin() + 2, input_shape.end());
  if (node.op_type != "GlobalAveragePool" && node.op_type != "GlobalMaxPool") {
    return ResolveWindow(node, spatial, node.attrs.GetInts("kernel_shape"));
  }
  WindowGeometry g;
  g.kernel = spatial;
  g.strides.assign(spatial.size(), 1);
  g.dilations.assign(spatial.size(), 1);
  g.pads_begin.assign(spatial.size(), 0);
  g.pads_end.assign(spatial.size(), 0);
  g.output.assign(spatial.size(), 1);
  return g;
}

dnnl::memory::dims OneDnnDilations(const std::vector<int64_t>& onnx_dilations) {
  dnnl::memory::dims dilates;
  for (int64_t d : onnx_dilations) dilates.push_back(d - 1);  // oneDNN counts the gaps
  return dilates;
}

dnnl::memory::dims ConvWeightDims(const Shape& onnx_weights, int64_t group) {
  if (group <= 1) return onnx_weights;
  dnnl::memory::dims dims = {group, onnx_weights[0] / group};
  dims.insert(dims.end(), onnx_weights.begin() + 1, onnx_weights.end());
  return dims;
}

dnnl::primitive_attr BaseAttr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

}  // namespace runtime
}  // namespace octet
