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

dnnl::primitive_attr BaseAttr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

}  // namespace runtime
}  // namespace octet
