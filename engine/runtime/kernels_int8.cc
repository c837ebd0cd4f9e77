// INT8 kernels on oneDNN's int8 primitives (docs/quantization.md has the arithmetic):
//   - Conv and Gemm/MatMul take u8 activations with a zero point, s8 weights (quantized per
//     output channel when the graph was quantized) and an s32 bias in the accumulator's scale;
//     per-channel output scales M[oc] = s_x * s_w[oc] / s_y requantize to the u8 output, or
//     s_x * s_w[oc] dequantize straight to f32 where the consumers are FP32 (the edge of an INT8
//     region costs no separate reorder);
//   - fused Relu/Clip run on the value in the output's quantized units (Clip bounds / s_y); a
//     residual sum adds the destination's previous u8 contents, which hold the residual in its
//     own quantization (scale s_r / s_y, zero point zp_r);
//   - pooling and reshapes run directly on u8 data (Concat runs in FP32: its inputs would
//     need requantizing to one scale first).
// oneDNN adds the bias before applying output scales (dst = M * (acc + bias)); a runtime test
// checks that.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/quant/requantization.h"
#include "engine/quantize_graph.h"
#include "engine/runtime/kernels.h"
#include "engine/shape_functions.h"
#include "engine/window_geometry.h"

namespace octet {
namespace runtime {
namespace {

using dnnl::memory;

// Output scales, zero points and post-ops shared by the INT8 Conv and matmul.
struct Requantization {
  bool quantized_output = false;
  quant::QuantizationParams output;  // when quantized_output
  std::vector<float> scales;         // per output channel
  int sum_input = -1;
  // How the residual of a sum post-op is encoded in the destination before the primitive runs:
  // in its own quantization (an output with a ReLU after the sum cannot represent a negative
  // residual), or as float for a float output.
  std::optional<quant::QuantizationParams> residual;
};

absl::StatusOr<Requantization> MakeRequantization(PlanBuilder& b, const Node& node,
                                                  dnnl::primitive_attr& attr, int scale_mask) {
  const Graph& graph = b.graph();
  const quant::QuantizationParams input = *graph.value(node.inputs[0]).quant;
  Requantization r;
  r.quantized_output = b.WantsQuantizedOutput(node.outputs[0]);
  if (r.quantized_output) r.output = *graph.value(node.outputs[0]).quant;
  const float out_scale = r.quantized_output ? r.output.scale : 1.0f;
  for (float s_w : node.attrs.GetFloats(kWeightScalesAttr)) {
    r.scales.push_back(input.scale * s_w / out_scale);
  }
  attr.set_output_scales(scale_mask, r.scales);
  if (input.zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {input.zero_point});
  if (r.quantized_output && r.output.zero_point != 0) {
    attr.set_zero_points(DNNL_ARG_DST, 0, {r.output.zero_point});
  }
  dnnl::post_ops ops;
  for (const PostOp& op : node.post_ops) {
    if (op.kind == PostOp::Kind::kSum) {
      r.sum_input = op.input_index;
      quant::SumPostOp sum;  // float output: add the float residual as it is
      if (r.quantized_output) {
        const ValueId residual = node.inputs[op.input_index];
        OCTET_ASSIGN_OR_RETURN(int current, b.RawSlotOf(residual));
        r.residual = IsQuantizedActivation(b.md(current)) && b.quant_of(current)
                         ? b.quant_of(current)
                         : graph.value(residual).quant;
        if (!r.residual) {
          return absl::FailedPreconditionError(absl::StrCat(
              "the residual '", graph.value(residual).name, "' has no calibration range"));
        }
        // dst = current + (s_r / s_y) * (residual_q - zp_r), in the output's units.
        sum = quant::ResidualSumPostOp(*r.residual, r.output);
      }
      ops.append_sum(sum.scale, sum.zero_point);
    } else if (op.eltwise == EltwiseKind::kClip) {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip_v2, op.alpha / out_scale,
                         op.beta / out_scale);
    } else {
      AppendEltwise(ops, op);  // Relu and LeakyRelu commute with positive scaling
    }
  }
  attr.set_post_ops(ops);
  return r;
}

// The destination slot; for a residual sum its bytes first hold the residual, encoded as
// Requantization::residual says (in place when the residual is not needed afterwards).
absl::StatusOr<int> Destination(PlanBuilder& b, const Node& node, const Requantization& r,
                                const memory::desc& dst_md, int src_slot) {
  std::optional<quant::QuantizationParams> quant;
  if (r.quantized_output) quant = r.output;
  if (r.sum_input < 0) return b.NewArenaSlot(dst_md, quant);
  const ValueId residual = node.inputs[r.sum_input];
  OCTET_ASSIGN_OR_RETURN(int current, b.RawSlotOf(residual));
  if (b.CanOverwrite(residual) && b.md(current) == dst_md &&
      SameQuantization(b.quant_of(current), r.residual) &&
      b.buffer_of(current) != b.buffer_of(src_slot)) {
    return b.RelabelSlot(current, quant);
  }
  const int dst = b.NewArenaSlot(dst_md, quant);
  OCTET_RETURN_IF_ERROR(
      b.AddReorder(absl::StrCat(node.name, " residual"), current, b.RelabelSlot(dst, r.residual)));
  return dst;
}

}  // namespace

absl::Status BuildConvInt8(PlanBuilder& b, const Node& node) {
  const Graph& graph = b.graph();
  const ValueId x = node.inputs[0];
  const ValueId w = node.inputs[1];
  const ValueId bias = node.inputs[2];
  const ValueId y = node.outputs[0];
  const Shape& xs = b.shape(x);
  const Shape& ws = b.shape(w);
  const int64_t group = node.attrs.GetInt("group", 1);
  OCTET_ASSIGN_OR_RETURN(
      WindowGeometry geometry,
      ResolveWindow(node, Shape(xs.begin() + 2, xs.end()), Shape(ws.begin() + 2, ws.end())));
  const memory::dims dilates = OneDnnDilations(geometry.dilations);
  const memory::dims weight_dims = ConvWeightDims(ws, group);
  dnnl::primitive_attr attr = BaseAttr();
  OCTET_ASSIGN_OR_RETURN(Requantization r, MakeRequantization(b, node, attr, 1 << 1));
  const auto dst_type = r.quantized_output ? memory::data_type::u8 : memory::data_type::f32;
  dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
      memory::desc(xs, memory::data_type::u8, memory::format_tag::any),
      memory::desc(weight_dims, memory::data_type::s8, memory::format_tag::any),
      memory::desc({ws[0]}, memory::data_type::s32, memory::format_tag::x),
      memory::desc(b.shape(y), dst_type, memory::format_tag::any), geometry.strides, dilates,
      geometry.pads_begin, geometry.pads_end);
  dnnl::convolution_forward::primitive_desc pd(desc, attr, CpuEngine());

  const quant::QuantizationParams input = *graph.value(x).quant;
  OCTET_ASSIGN_OR_RETURN(int src, b.EnsureLayout(x, pd.src_desc(), nullptr, &input));
  const memory::desc weights_plain = PlainMd(weight_dims, memory::data_type::s8);
  OCTET_ASSIGN_OR_RETURN(
      int weights, b.EnsureLayout(w, pd.weights_desc(), group > 1 ? &weights_plain : nullptr));
  OCTET_ASSIGN_OR_RETURN(int bias_slot, b.EnsureLayout(bias, pd.bias_desc()));
  OCTET_ASSIGN_OR_RETURN(int dst, Destination(b, node, r, pd.dst_desc(), src));
  b.AddPrimitive(node.name, dnnl::convolution_forward(pd),
                 {{DNNL_ARG_SRC, src},
                  {DNNL_ARG_WEIGHTS, weights},
                  {DNNL_ARG_BIAS, bias_slot},
                  {DNNL_ARG_DST, dst}},
                 true, pd.scratchpad_desc().get_size());
  b.Bind(y, dst);
  return absl::OkStatus();
}

absl::Status BuildMatMulInt8(PlanBuilder& b, const Node& node) {
  const Graph& graph = b.graph();
  const ValueId a = node.inputs[0];
  const ValueId w = node.inputs[1];
  const ValueId bias = node.inputs[2];
  const ValueId y = node.outputs[0];
  const Shape& as = b.shape(a);
  const Shape& ws = b.shape(w);
  const bool trans_a = node.op_type == "Gemm" && node.attrs.GetInt("transA", 0) != 0;
  const bool trans_b = node.op_type == "Gemm" && node.attrs.GetInt("transB", 0) != 0;
  // A MatMul of [..., M, K] by 2-D weights is one [prod(...) * M, K] x [K, N] product.
  const bool batched = as.size() > 2;
  int64_t m = trans_a ? as[1] : as[0];
  if (batched) {
    for (size_t d = 1; d + 1 < as.size(); ++d) m *= as[d];
  }
  const int64_t k = trans_a ? as[0] : as.back();
  const int64_t n = trans_b ? ws[0] : ws[1];
  const memory::desc src_view({m, k}, memory::data_type::u8,
                              trans_a ? memory::dims{1, m} : memory::dims{k, 1});
  const memory::desc weights_view({k, n}, memory::data_type::s8,
                                  trans_b ? memory::dims{1, k} : memory::dims{n, 1});
  const memory::desc bias_view = PlainMd(memory::dims{1, n}, memory::data_type::s32);

  dnnl::primitive_attr attr = BaseAttr();
  OCTET_ASSIGN_OR_RETURN(Requantization r, MakeRequantization(b, node, attr, 1 << 1));
  const auto dst_type = r.quantized_output ? memory::data_type::u8 : memory::data_type::f32;
  // A batched product's dst is viewed with the output's dims, so it must be plain.
  const memory::desc dst_md({m, n}, dst_type,
                            batched ? memory::format_tag::ab : memory::format_tag::any);
  dnnl::matmul::primitive_desc pd(
      dnnl::matmul::desc(src_view,
                         memory::desc({k, n}, memory::data_type::s8, memory::format_tag::any),
                         bias_view, dst_md),
      attr, CpuEngine());

  const quant::QuantizationParams input = *graph.value(a).quant;
  OCTET_ASSIGN_OR_RETURN(int plain,
                         b.EnsureLayout(a, PlainMd(as, DataType::kUInt8), nullptr, &input));
  const int src = b.md(plain) == src_view ? plain : b.ViewSlot(plain, src_view);
  OCTET_ASSIGN_OR_RETURN(int weights, b.EnsureLayout(w, pd.weights_desc(), &weights_view));
  OCTET_ASSIGN_OR_RETURN(int bias_slot, b.EnsureLayout(bias, pd.bias_desc(), &bias_view));
  OCTET_ASSIGN_OR_RETURN(int dst, Destination(b, node, r, pd.dst_desc(), src));
  b.AddPrimitive(node.name, dnnl::matmul(pd),
                 {{DNNL_ARG_SRC, src},
                  {DNNL_ARG_WEIGHTS, weights},
                  {DNNL_ARG_BIAS, bias_slot},
                  {DNNL_ARG_DST, dst}},
                 true, pd.scratchpad_desc().get_size());
  b.Bind(y, batched ? b.ViewSlot(dst, PlainMd(b.shape(y), dst_type)) : dst);
  return absl::OkStatus();
}

absl::Status BuildPassThroughInt8(PlanBuilder& b, const Node& node) {
  const ValueId x = node.inputs[0];
  const ValueId y = node.outputs[0];
  OCTET_ASSIGN_OR_RETURN(int src, b.RawSlotOf(x));
  const std::optional<quant::QuantizationParams> quant = b.quant_of(src);
  const std::string& op = node.op_type;
  if (op == "Flatten" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze") {
    // (An integer u8 tensor may have no quantization: it is then reordered as it is.)
    OCTET_ASSIGN_OR_RETURN(int plain, b.EnsureLayout(x, PlainMd(b.shape(x), DataType::kUInt8),
                                                     nullptr, quant ? &*quant : nullptr));
    b.Bind(y, b.ViewSlot(plain, PlainMd(b.shape(y), DataType::kUInt8)));
    return absl::OkStatus();
  }
  // Pooling: max and average of u8 values are u8 values in the same quantization.
  OCTET_ASSIGN_OR_RETURN(WindowGeometry g, PoolWindow(node, b.shape(x)));
  const memory::dims dilates = OneDnnDilations(g.dilations);
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  if (op == "AveragePool" || op == "GlobalAveragePool") {
    // Padding must count as real zero, which is the zero point, not u8 0: only exclude-padding
    // averaging (or no padding at all) is exact on u8 data.
    alg = dnnl::algorithm::pooling_avg_exclude_padding;
  }
  dnnl::pooling_v2_forward::desc desc(
      dnnl::prop_kind::forward_inference, alg, b.md(src),
      memory::desc(b.shape(y), memory::data_type::u8, memory::format_tag::any), g.strides, g.kernel,
      dilates, g.pads_begin, g.pads_end);
  dnnl::pooling_v2_forward::primitive_desc pd(desc, BaseAttr(), CpuEngine());
  const int dst = b.NewArenaSlot(pd.dst_desc(), quant);
  b.AddPrimitive(node.name, dnnl::pooling_v2_forward(pd),
                 {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, true, pd.scratchpad_desc().get_size());
  b.Bind(y, dst);
  return absl::OkStatus();
}

bool RunsOnQuantizedInput(const Node& node) {
  const std::string& op = node.op_type;
  if (op == "MaxPool" || op == "GlobalMaxPool" || op == "GlobalAveragePool" || op == "Flatten" ||
      op == "Reshape" || op == "Squeeze" || op == "Unsqueeze") {
    return true;
  }
  if (op != "AveragePool") return false;
  // Averaging over padding counts padded cells as real zeros (the zero point), which u8
  // pooling cannot do; without padding the two agree.
  if (node.attrs.GetInt("count_include_pad", 0) == 0) return true;
  const std::string auto_pad = node.attrs.GetString("auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") return false;
  if (node.attrs.GetInt("ceil_mode", 0) != 0) return false;
  for (int64_t p : node.attrs.GetInts("pads", {})) {
    if (p != 0) return false;
  }
  return true;
}

}  // namespace runtime
}  // namespace octet
