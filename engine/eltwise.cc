#include "engine/eltwise.h"

#include <limits>

namespace octet {
namespace {

PostOp Eltwise(EltwiseKind kind, float alpha = 0.0f, float beta = 0.0f) {
  PostOp op;
  op.kind = PostOp::Kind::kEltwise;
  op.eltwise = kind;
  op.alpha = alpha;
  op.beta = beta;
  return op;
}

// The Clip bound at input `index` (opset >= 11) or attribute `name` (older opsets).
std::optional<float> ClipBound(const Graph& graph, const Node& node, size_t index, const char* name,
                               float default_value) {
  if (node.attrs.Has(name)) return node.attrs.GetFloat(name, default_value);
  if (index >= node.inputs.size() || node.inputs[index] == kNoValue) return default_value;
  if (!graph.IsConstant(node.inputs[index])) return std::nullopt;
  const Tensor& t = graph.constant(node.inputs[index]);
  if (t.dtype() != DataType::kFloat32 || t.num_elements() != 1) return std::nullopt;
  return t.data<float>()[0];
}

}  // namespace

std::optional<std::vector<PostOp>> AsEltwise(const Graph& graph, const Node& node) {
  const std::string& op = node.op_type;
  if (op == "Relu") return std::vector<PostOp>{Eltwise(EltwiseKind::kRelu)};
  if (op == "LeakyRelu") {
    return std::vector<PostOp>{Eltwise(EltwiseKind::kRelu, node.attrs.GetFloat("alpha", 0.01f))};
  }
  if (op == "Sigmoid") return std::vector<PostOp>{Eltwise(EltwiseKind::kSigmoid)};
  if (op == "Tanh") return std::vector<PostOp>{Eltwise(EltwiseKind::kTanh)};
  if (op == "Elu") {
    return std::vector<PostOp>{Eltwise(EltwiseKind::kElu, node.attrs.GetFloat("alpha", 1.0f))};
  }
  if (op == "Exp") return std::vector<PostOp>{Eltwise(EltwiseKind::kExp)};
  if (op == "Abs") return std::vector<PostOp>{Eltwise(EltwiseKind::kAbs)};
  if (op == "Sqrt") return std::vector<PostOp>{Eltwise(EltwiseKind::kSqrt)};
  if (op == "Softplus") return std::vector<PostOp>{Eltwise(EltwiseKind::kSoftplus)};
  if (op == "HardSigmoid") {
    return std::vector<PostOp>{Eltwise(EltwiseKind::kLinear, node.attrs.GetFloat("alpha", 0.2f),
                                       node.attrs.GetFloat("beta", 0.5f)),
                               Eltwise(EltwiseKind::kClip, 0.0f, 1.0f)};
  }
  if (op == "Clip") {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    std::optional<float> lo = ClipBound(graph, node, 1, "min", -kInf);
    std::optional<float> hi = ClipBound(graph, node, 2, "max", kInf);
    if (!lo || !hi) return std::nullopt;
    return std::vector<PostOp>{Eltwise(EltwiseKind::kClip, *lo, *hi)};
  }
  return std::nullopt;
}

}  // namespace octet
