// Pooling, standalone batch normalization, (log-)softmax and concatenation on oneDNN.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/runtime/kernels.h"
#include "engine/shape_functions.h"
#include "engine/window_geometry.h"

namespace octet {
namespace runtime {

using dnnl::memory;

absl::Status BuildPool(PlanBuilder& b, const Node& node) {
  const ValueId x = node.inputs[0];
  const Shape& xs = b.shape(x);
  const Shape spatial(xs.begin() + 2, xs.end());
  OCTET_ASSIGN_OR_RETURN(WindowGeometry g, PoolWindow(node, xs));
  const memory::dims dilates = OneDnnDilations(g.dilations);
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  if (node.op_type == "AveragePool" || node.op_type == "GlobalAveragePool") {
    alg = node.attrs.GetInt("count_include_pad", 0) != 0
              ? dnnl::algorithm::pooling_avg_include_padding
              : dnnl::algorithm::pooling_avg_exclude_padding;
  }
  OCTET_ASSIGN_OR_RETURN(int src, b.SlotOf(x));
  if (alg == dnnl::algorithm::pooling_avg_include_padding && node.attrs.GetInt("ceil_mode", 0)) {
    // ResolveWindow grows the end padding to emulate ceil_mode, and oneDNN would count that
    // extra padding in the divisor; ONNX counts only the declared pads. So pad explicitly with
    // the declared zeros and average excluding what padding remains (the ceil extension).
    Node declared = node;
    declared.attrs.Erase("ceil_mode");
    OCTET_ASSIGN_OR_RETURN(WindowGeometry floor_g, ResolveWindow(declared, spatial, g.kernel));
    Shape padded = xs;
    std::vector<int64_t> begin(xs.size(), 0);
    for (size_t i = 0; i < spatial.size(); ++i) {
      padded[i + 2] += floor_g.pads_begin[i] + floor_g.pads_end[i];
      begin[i + 2] = floor_g.pads_begin[i];
      g.pads_end[i] -= floor_g.pads_end[i];
      g.pads_begin[i] = 0;
    }
    OCTET_ASSIGN_OR_RETURN(int plain, b.EnsurePlain(x));
    src = b.NewArenaSlot(PlainMd(padded));
    b.AddCustom(node.name + " pad",
                [in = xs, padded, begin](const std::vector<void*>& args) {
                  PadKernel(in, padded, begin, "constant", 0.0f, static_cast<const float*>(args[0]),
                            static_cast<float*>(args[1]));
                },
                {{DNNL_ARG_SRC, plain}, {DNNL_ARG_DST, src}});
    alg = dnnl::algorithm::pooling_avg_exclude_padding;
  }
  const memory::desc dst_any(b.shape(node.outputs[0]), memory::data_type::f32,
                             memory::format_tag::any);
  dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, b.md(src), dst_any,
                                      g.strides, g.kernel, dilates, g.pads_begin, g.pads_end);
  dnnl::pooling_v2_forward::primitive_desc pd(desc, BaseAttr(), CpuEngine());
  const int dst = b.NewArenaSlot(pd.dst_desc());
  b.AddPrimitive(node.name, dnnl::pooling_v2_forward(pd),
                 {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, true, pd.scratchpad_desc().get_size());
  b.Bind(node.outputs[0], dst);
  return absl::OkStatus();
}

absl::Status BuildBatchNorm(PlanBuilder& b, const Node& node) {
  const ValueId x = node.inputs[0];
  OCTET_ASSIGN_OR_RETURN(int src, b.SlotOf(x));
  const memory::desc md = b.md(src);
  const float epsilon = node.attrs.GetFloat("epsilon", 1e-5f);
  const auto flags = dnnl::normalization_flags::use_global_stats |
                     dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, md, epsilon,
                                               flags);
  dnnl::batch_normalization_forward::primitive_desc pd(desc, BaseAttr(), CpuEngine());
  std::vector<std::pair<int, int>> args;
  const int arg_ids[] = {DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
  for (int i = 0; i < 4; ++i) {
    OCTET_ASSIGN_OR_RETURN(int slot, b.EnsurePlain(node.inputs[i + 1]));
    args.push_back({arg_ids[i], slot});
  }
  const int dst = b.CanOverwrite(x) ? src : b.NewArenaSlot(md);
  args.push_back({DNNL_ARG_SRC, src});
  args.push_back({DNNL_ARG_DST, dst});
  b.AddPrimitive(node.name, dnnl::batch_normalization_forward(pd), std::move(args), true,
                 pd.scratchpad_desc().get_size());
  b.Bind(node.outputs[0], dst);
  return absl::OkStatus();
}

absl::Status BuildSoftmax(PlanBuilder& b, const Node& node) {
  const ValueId x = node.inputs[0];
  const Shape& xs = b.shape(x);
  const int rank = static_cast<int>(xs.size());
  const bool coerce_2d = b.graph().opset() < 13;  // older opsets flatten around the axis
  OCTET_ASSIGN_OR_RETURN(int axis,
                         NormalizeAxis(node.attrs.GetInt("axis", coerce_2d ? 1 : -1), rank));
  OCTET_ASSIGN_OR_RETURN(int plain, b.EnsurePlain(x));
  memory::desc md = b.md(plain);
  int src = plain;
  if (coerce_2d) {
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < rank; ++i) (i < axis ? outer : inner) *= xs[i];
    md = PlainMd(Shape{outer, inner});
    src = b.ViewSlot(plain, md);
    axis = 1;
  }
  const int dst = b.NewArenaSlot(md);
  if (node.op_type == "LogSoftmax") {
    dnnl::logsoftmax_forward::primitive_desc pd(
        dnnl::logsoftmax_forward::desc(dnnl::prop_kind::forward_inference, md, axis), BaseAttr(),
        CpuEngine());
    b.AddPrimitive(node.name, dnnl::logsoftmax_forward(pd),
                   {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, true,
                   pd.scratchpad_desc().get_size());
  } else {
    dnnl::softmax_forward::primitive_desc pd(
        dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, md, axis), BaseAttr(),
        CpuEngine());
    b.AddPrimitive(node.name, dnnl::softmax_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                   true, pd.scratchpad_desc().get_size());
  }
  b.Bind(node.outputs[0], coerce_2d ? b.ViewSlot(dst, PlainMd(xs)) : dst);
  return absl::OkStatus();
}

absl::Status BuildConcat(PlanBuilder& b, const Node& node) {
  const int rank = static_cast<int>(b.shape(node.inputs[0]).size());
  OCTET_ASSIGN_OR_RETURN(int axis, NormalizeAxis(node.attrs.GetInt("axis", 0), rank));
  std::vector<memory::desc> mds;
  std::vector<std::pair<int, int>> args;
  // Inputs stay in the layouts their producers chose; oneDNN concatenates blocked layouts
  // directly and falls back to a generic copy for mixed ones.
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    OCTET_ASSIGN_OR_RETURN(int slot, b.SlotOf(node.inputs[i]));
    mds.push_back(b.md(slot));
    args.push_back({DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), slot});
  }
  dnnl::concat::primitive_desc pd(axis, mds, CpuEngine(), BaseAttr());
  const int dst = b.NewArenaSlot(pd.dst_desc());
  args.push_back({DNNL_ARG_DST, dst});
  b.AddPrimitive(node.name, dnnl::concat(pd), std::move(args), true,
                 pd.scratchpad_desc().get_size());
  b.Bind(node.outputs[0], dst);
  return absl::OkStatus();
}

}  // namespace runtime
}  // namespace octet
