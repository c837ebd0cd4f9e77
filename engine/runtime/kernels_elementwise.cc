// Standalone activations (oneDNN eltwise) and broadcasting arithmetic (oneDNN binary). Both
// work in whatever layout their input already has, and overwrite the input in place when no
// later node reads it.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/eltwise.h"
#include "engine/runtime/kernels.h"

namespace octet {
namespace runtime {

using dnnl::memory;

absl::Status BuildEltwise(PlanBuilder& b, const Node& node) {
  std::optional<std::vector<PostOp>> steps = AsEltwise(b.graph(), node);
  if (!steps) {
    return absl::UnimplementedError(node.op_type == "Clip"
                                        ? "Clip bounds must be float32 scalar constants"
                                        : "no oneDNN implementation for this operator");
  }
  const ValueId x = node.inputs[0];
  OCTET_ASSIGN_OR_RETURN(int src, b.SlotOf(x));
  const memory::desc md = b.md(src);
  const int dst = b.CanOverwrite(x) ? src : b.NewArenaSlot(md);
  for (size_t i = 0; i < steps->size(); ++i) {
    const PostOp& op = (*steps)[i];
    dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference,
                                     EltwiseAlgorithm(op.eltwise), md, op.alpha, op.beta);
    dnnl::eltwise_forward::primitive_desc pd(desc, BaseAttr(), CpuEngine());
    b.AddPrimitive(node.name, dnnl::eltwise_forward(pd),
                   {{DNNL_ARG_SRC, i == 0 ? src : dst}, {DNNL_ARG_DST, dst}}, true,
                   pd.scratchpad_desc().get_size());
  }
  b.Bind(node.outputs[0], dst);
  return absl::OkStatus();
}

absl::Status BuildBinary(PlanBuilder& b, const Node& node) {
  const std::string& op = node.op_type;
  const dnnl::algorithm alg = op == "Add"   ? dnnl::algorithm::binary_add
                              : op == "Sub" ? dnnl::algorithm::binary_sub
                              : op == "Mul" ? dnnl::algorithm::binary_mul
                                            : dnnl::algorithm::binary_div;
  ValueId lhs = node.inputs[0];
  ValueId rhs = node.inputs[1];
  const Shape& out = b.shape(node.outputs[0]);
  if (b.shape(lhs) != out) {
    const bool commutative = op == "Add" || op == "Mul";
    if (!commutative || b.shape(rhs) != out) {
      return absl::UnimplementedError(
          absl::StrCat("broadcasting the first operand ", ShapeToString(b.shape(lhs)), " to ",
                       ShapeToString(out),
                       " is only supported for Add and Mul with an unbroadcast second "
                       "operand"));
    }
    std::swap(lhs, rhs);
  }
  OCTET_ASSIGN_OR_RETURN(int src0, b.SlotOf(lhs));
  const memory::desc md0 = b.md(src0);
  int src1 = -1;
  if (b.shape(rhs) == out) {
    OCTET_ASSIGN_OR_RETURN(src1, b.EnsureLayout(rhs, md0));
  } else {
    memory::dims dims = b.shape(rhs);
    dims.insert(dims.begin(), out.size() - dims.size(), 1);
    OCTET_ASSIGN_OR_RETURN(int plain, b.EnsurePlain(rhs));
    src1 = b.ViewSlot(plain, PlainMd(dims, memory::data_type::f32));
  }
  const bool in_place = b.CanOverwrite(lhs) && b.buffer_of(src0) != b.buffer_of(src1);
  const int dst = in_place ? src0 : b.NewArenaSlot(md0);
  dnnl::binary::primitive_desc pd(dnnl::binary::desc(alg, md0, b.md(src1), md0), BaseAttr(),
                                  CpuEngine());
  b.AddPrimitive(node.name, dnnl::binary(pd),
                 {{DNNL_ARG_SRC_0, src0}, {DNNL_ARG_SRC_1, src1}, {DNNL_ARG_DST, dst}}, true,
                 pd.scratchpad_desc().get_size());
  b.Bind(node.outputs[0], dst);
  return absl::OkStatus();
}

}  // namespace runtime
}  // namespace octet
