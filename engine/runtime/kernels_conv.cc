// Convolution on oneDNN: layouts chosen by the primitive ("any"), weights packed once at
// build time, eltwise and sum post-ops from the fusion passes.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/runtime/kernels.h"
#include "engine/window_geometry.h"

namespace octet {
namespace runtime {

using dnnl::memory;

absl::Status BuildConv(PlanBuilder& b, const Node& node) {
  const ValueId x = node.inputs[0];
  const ValueId w = node.inputs[1];
  const ValueId bias = node.inputs.size() > 2 ? node.inputs[2] : kNoValue;
  const ValueId y = node.outputs[0];
  const Shape& xs = b.shape(x);
  const Shape& ws = b.shape(w);
  const int64_t group = node.attrs.GetInt("group", 1);

  OCTET_ASSIGN_OR_RETURN(
      WindowGeometry geometry,
      ResolveWindow(node, Shape(xs.begin() + 2, xs.end()), Shape(ws.begin() + 2, ws.end())));
  const memory::dims dilates = OneDnnDilations(geometry.dilations);
  const memory::dims weight_dims = ConvWeightDims(ws, group);
  const auto f32 = memory::data_type::f32;
  memory::desc src_any(xs, f32, memory::format_tag::any);
  memory::desc weights_any(weight_dims, f32, memory::format_tag::any);
  memory::desc dst_any(b.shape(y), f32, memory::format_tag::any);
  memory::desc bias_md = bias != kNoValue ? PlainMd(b.shape(bias)) : memory::desc();

  dnnl::post_ops ops;
  int sum_input = -1;
  for (const PostOp& op : node.post_ops) {
    if (op.kind == PostOp::Kind::kSum) {
      ops.append_sum(1.0f);
      sum_input = op.input_index;
    } else {
      AppendEltwise(ops, op);
    }
  }
  dnnl::primitive_attr attr = BaseAttr();
  attr.set_post_ops(ops);

  dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any, weights_any,
      bias_md, dst_any, geometry.strides, dilates, geometry.pads_begin, geometry.pads_end);
  dnnl::convolution_forward::primitive_desc pd(desc, attr, CpuEngine());

  OCTET_ASSIGN_OR_RETURN(int src, b.EnsureLayout(x, pd.src_desc()));
  const memory::desc weights_plain = PlainMd(weight_dims, f32);
  OCTET_ASSIGN_OR_RETURN(
      int weights, b.EnsureLayout(w, pd.weights_desc(), group > 1 ? &weights_plain : nullptr));
  int bias_slot = -1;
  if (bias != kNoValue) {
    OCTET_ASSIGN_OR_RETURN(bias_slot, b.EnsureLayout(bias, pd.bias_desc()));
  }

  int dst = -1;
  if (sum_input >= 0) {
    // The sum post-op adds what is in dst already: start from the residual operand, in place
    // when nothing else needs it afterwards.
    const ValueId residual = node.inputs[sum_input];
    OCTET_ASSIGN_OR_RETURN(int residual_slot, b.SlotOf(residual));
    const bool in_place = b.CanOverwrite(residual) && b.md(residual_slot) == pd.dst_desc() &&
                          b.buffer_of(residual_slot) != b.buffer_of(src);
    if (in_place) {
      dst = residual_slot;
    } else {
      dst = b.NewArenaSlot(pd.dst_desc());
      OCTET_RETURN_IF_ERROR(b.AddReorder(absl::StrCat(node.name, " residual"), residual_slot, dst));
    }
  } else {
    dst = b.NewArenaSlot(pd.dst_desc());
  }

  std::vector<std::pair<int, int>> args = {
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
  if (bias_slot >= 0) args.push_back({DNNL_ARG_BIAS, bias_slot});
  b.AddPrimitive(node.name, dnnl::convolution_forward(pd), std::move(args), true,
                 pd.scratchpad_desc().get_size());
  b.Bind(y, dst);
  return absl::OkStatus();
}

}  // namespace runtime
}  // namespace octet
