// ONNX quantization operators that the graph passes did not fold into INT8 nodes
// (qdq_folding.cc):
//   - QuantizeLinear and DequantizeLinear with constant parameters are oneDNN reorders with
//     output scales (per tensor or per axis) and zero points. A DequantizeLinear of u8 data with
//     one scale costs nothing: its output is the same bytes labelled with the scale and zero
//     point, dequantized only if a float kernel reads them, never if an INT8 one does.
//   - ONNX rounds before adding the zero point (y = saturate(round(x / s) + zp)); oneDNN's
//     reorder adds it before rounding, which differs at ties when zp is odd. A QuantizeLinear
//     with a zero point therefore rounds into s32 first, then adds the zero point exactly.
//   - Parameters that are runtime inputs, or zero points that differ per channel (oneDNN 2.6
//     takes one), run on an exact loop with ONNX's definition (quant::Quantize / Dequantize).
//   - QLinearConv and QLinearMatMul reach the runtime only when they could not become INT8
//     nodes: runtime parameters or weights, int8 activations, or weights that do not fit s8
//     once their zero point is subtracted (uint8 weights with a zero point far from 128). They
//     run on an exact integer kernel: int32 accumulation of (x - zp_x) * (w - zp_w) plus the
//     bias, then y = saturate(round_half_even(float(acc) * M) + zp_y) with
//     M = s_x * s_w[oc] / s_y in float, as ONNX Runtime computes it. Plain loops: correct, and
//     slow next to oneDNN.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/linear_quantization.h"
#include "engine/runtime/kernels.h"
#include "engine/shape_functions.h"
#include "engine/window_geometry.h"

namespace octet {
namespace runtime {
namespace {

using dnnl::memory;

// Element i of plain memory of an integer or float type, as the arithmetic below wants it.
int32_t IntAt(const void* data, DataType type, int64_t i) {
  switch (type) {
    case DataType::kUInt8:
      return static_cast<const uint8_t*>(data)[i];
    case DataType::kInt8:
      return static_cast<const int8_t*>(data)[i];
    case DataType::kInt32:
      return static_cast<const int32_t*>(data)[i];
    default:
      return 0;
  }
}

float FloatAt(const void* data, DataType type, int64_t i) {
  return type == DataType::kFloat32 ? static_cast<const float*>(data)[i]
                                    : static_cast<float>(IntAt(data, type, i));
}

void StoreInt(void* data, DataType type, int64_t i, int32_t value) {
  if (type == DataType::kUInt8) {
    static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(value);
  } else {
    static_cast<int8_t*>(data)[i] = static_cast<int8_t>(value);
  }
}

// A scale or zero point argument of a loop kernel: where it is among the kernel's arguments
// (-1: absent, i.e. zero point 0) and its type and size.
struct ParamArg {
  int index = -1;
  DataType type = DataType::kFloat32;
  int64_t count = 1;

  float Scale(const std::vector<void*>& args, int64_t c) const {
    return static_cast<const float*>(args[index])[count == 1 ? 0 : c];
  }
  int32_t ZeroPoint(const std::vector<void*>& args, int64_t c) const {
    return index < 0 ? 0 : IntAt(args[index], type, count == 1 ? 0 : c);
  }
};

// Collects a kernel's plain input slots, in argument order.
class LoopArgs {
 public:
  explicit LoopArgs(PlanBuilder& b) : b_(b) {}

  // Adds input `i` of `node` (plain) and describes it; index -1 when the input is absent.
  absl::StatusOr<ParamArg> Add(const Node& node, size_t i) {
    ParamArg arg;
    if (i >= node.inputs.size() || node.inputs[i] == kNoValue) return arg;
    const ValueId v = node.inputs[i];
    OCTET_ASSIGN_OR_RETURN(int slot, b_.EnsurePlain(v));
    arg.index = static_cast<int>(args_.size());
    arg.type = b_.graph().value(v).dtype;
    OCTET_ASSIGN_OR_RETURN(arg.count, NumElements(b_.shape(v)));
    args_.push_back({DNNL_ARG_MULTIPLE_SRC + arg.index, slot});
    return arg;
  }
  // Adds the destination, last.
  int AddDestination(int slot) {
    args_.push_back({DNNL_ARG_DST, slot});
    return static_cast<int>(args_.size()) - 1;
  }
  std::vector<std::pair<int, int>> args() const { return args_; }

 private:
  PlanBuilder& b_;
  std::vector<std::pair<int, int>> args_;
};

// Elements of `shape` are (outer, channels, inner) around `axis`; -1 gives one channel.
struct AxisSplit {
  int64_t channels = 1;
  int64_t inner = 1;
};
AxisSplit SplitAt(const Shape& shape, int axis) {
  AxisSplit split;
  if (axis < 0) return split;
  split.channels = shape[axis];
  for (size_t d = axis + 1; d < shape.size(); ++d) split.inner *= shape[d];
  return split;
}

// QuantizeLinear / DequantizeLinear as the ONNX definition states them, one element at a time.
absl::Status BuildLinearQuantizationLoop(PlanBuilder& b, const Node& node, bool quantize) {
  const ValueId x = node.inputs[0];
  const ValueId y = node.outputs[0];
  const Shape& shape = b.shape(x);
  LoopArgs loop(b);
  OCTET_ASSIGN_OR_RETURN(ParamArg src, loop.Add(node, 0));
  OCTET_ASSIGN_OR_RETURN(ParamArg scale, loop.Add(node, 1));
  OCTET_ASSIGN_OR_RETURN(ParamArg zero_point, loop.Add(node, 2));
  const AxisSplit split = SplitAt(
      shape, scale.count == 1 ? -1 : QuantizationAxis(node, static_cast<int>(shape.size())));
  const DataType y_type = b.graph().value(y).dtype;
  const int dst = b.NewArenaSlot(PlainMd(b.shape(y), y_type));
  const int dst_index = loop.AddDestination(dst);
  const int64_t count = src.count;
  b.AddCustom(
      node.name,
      [=](const std::vector<void*>& args) {
        const quant::QuantizedRange range = RangeOf(y_type);
        for (int64_t i = 0; i < count; ++i) {
          const int64_t c = (i / split.inner) % split.channels;
          const quant::QuantizationParams p{scale.Scale(args, c), zero_point.ZeroPoint(args, c)};
          if (quantize) {
            const float value = FloatAt(args[src.index], src.type, i);
            StoreInt(args[dst_index], y_type, i, quant::Quantize(value, p, range.min, range.max));
          } else {
            static_cast<float*>(args[dst_index])[i] =
                quant::Dequantize(IntAt(args[src.index], src.type, i), p);
          }
        }
      },
      loop.args());
  b.Bind(y, dst);
  return absl::OkStatus();
}

// One reorder from `src` to `dst` with output scales (`mask` 0: one scale) and zero points.
void AddScaledReorder(PlanBuilder& b, const std::string& name, int src, int dst, int mask,
                      const std::vector<float>& scales, int32_t src_zero_point,
                      int32_t dst_zero_point) {
  dnnl::primitive_attr attr;
  if (mask != 0 || scales[0] != 1.0f) attr.set_output_scales(mask, scales);
  if (src_zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {src_zero_point});
  if (dst_zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {dst_zero_point});
  dnnl::reorder::primitive_desc pd(CpuEngine(), b.md(src), CpuEngine(), b.md(dst), attr);
  b.AddPrimitive(name, dnnl::reorder(pd), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, false, 0);
}

std::optional<LinearQuantization> ConstantParams(const PlanBuilder& b, const Node& node) {
  const int rank = static_cast<int>(b.shape(node.inputs[0]).size());
  return ConstantLinearQuantization(b.graph(), node, 1, 2, QuantizationAxis(node, rank),
                                    DataType::kUInt8);
}

// The integer kernel of QLinearConv over plain NC<spatial> tensors with up to three spatial
// dims; `args` as LoopArgs collected them.
struct QLinearConvKernel {
  Shape x_shape, w_shape, y_shape;  // spatial dims padded to three with 1s
  WindowGeometry g;                 // likewise
  int64_t group = 1;
  ParamArg x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias;
  DataType y_type = DataType::kUInt8;
  int dst = -1;

  void operator()(const std::vector<void*>& args) const {
    const int64_t n_batch = x_shape[0], channels = x_shape[1], out_channels = w_shape[0];
    const int64_t group_in = channels / group, group_out = out_channels / group;
    const quant::QuantizedRange range = RangeOf(y_type);
    const float s_x = x_scale.Scale(args, 0), s_y = y_scale.Scale(args, 0);
    const int32_t zp_x = x_zp.ZeroPoint(args, 0), zp_y = y_zp.ZeroPoint(args, 0);
    int64_t out_index = 0;
    for (int64_t n = 0; n < n_batch; ++n) {
      for (int64_t oc = 0; oc < out_channels; ++oc) {
        const int64_t first_ic = (oc / group_out) * group_in;
        const int32_t zp_w = w_zp.ZeroPoint(args, oc);
        const float multiplier = s_x * w_scale.Scale(args, oc) / s_y;
        const int32_t b = bias.index < 0 ? 0 : IntAt(args[bias.index], DataType::kInt32, oc);
        for (int64_t od = 0; od < y_shape[2]; ++od) {
          for (int64_t oh = 0; oh < y_shape[3]; ++oh) {
            for (int64_t ow = 0; ow < y_shape[4]; ++ow) {
              int32_t acc = b;
              for (int64_t ic = 0; ic < group_in; ++ic) {
                for (int64_t kd = 0; kd < w_shape[2]; ++kd) {
                  const int64_t id = od * g.strides[0] + kd * g.dilations[0] - g.pads_begin[0];
                  if (id < 0 || id >= x_shape[2]) continue;
                  for (int64_t kh = 0; kh < w_shape[3]; ++kh) {
                    const int64_t ih = oh * g.strides[1] + kh * g.dilations[1] - g.pads_begin[1];
                    if (ih < 0 || ih >= x_shape[3]) continue;
                    for (int64_t kw = 0; kw < w_shape[4]; ++kw) {
                      const int64_t iw = ow * g.strides[2] + kw * g.dilations[2] - g.pads_begin[2];
                      if (iw < 0 || iw >= x_shape[4]) continue;  // padding is real 0
                      const int64_t xi =
                          (((n * channels + first_ic + ic) * x_shape[2] + id) * x_shape[3] + ih) *
                              x_shape[4] +
                          iw;
                      const int64_t wi =
                          (((oc * group_in + ic) * w_shape[2] + kd) * w_shape[3] + kh) *
                              w_shape[4] +
                          kw;
                      acc += (IntAt(args[x.index], x.type, xi) - zp_x) *
                             (IntAt(args[w.index], w.type, wi) - zp_w);
                    }
                  }
                }
              }
              const float q = std::nearbyint(static_cast<float>(acc) * multiplier) + zp_y;
              StoreInt(args[dst], y_type, out_index++,
                       static_cast<int32_t>(std::clamp<float>(q, range.min, range.max)));
            }
          }
        }
      }
    }
  }
};

absl::Status BuildQLinearConvExact(PlanBuilder& b, const Node& node) {
  QLinearConvKernel k;
  const Shape& xs = b.shape(node.inputs[0]);
  const Shape& ws = b.shape(node.inputs[3]);
  const Shape& ys = b.shape(node.outputs[0]);
  if (xs.size() > 5) return absl::UnimplementedError("more than three spatial dimensions");
  OCTET_ASSIGN_OR_RETURN(
      k.g, ResolveWindow(node, Shape(xs.begin() + 2, xs.end()), Shape(ws.begin() + 2, ws.end())));
  k.x_shape = xs;
  k.w_shape = ws;
  k.y_shape = ys;
  while (k.x_shape.size() < 5) {
    k.x_shape.push_back(1);
    k.w_shape.push_back(1);
    k.y_shape.push_back(1);
    k.g.strides.push_back(1);
    k.g.dilations.push_back(1);
    k.g.pads_begin.push_back(0);
  }
  k.group = node.attrs.GetInt("group", 1);
  LoopArgs loop(b);
  OCTET_ASSIGN_OR_RETURN(k.x, loop.Add(node, 0));
  OCTET_ASSIGN_OR_RETURN(k.x_scale, loop.Add(node, 1));
  OCTET_ASSIGN_OR_RETURN(k.x_zp, loop.Add(node, 2));
  OCTET_ASSIGN_OR_RETURN(k.w, loop.Add(node, 3));
  OCTET_ASSIGN_OR_RETURN(k.w_scale, loop.Add(node, 4));
  OCTET_ASSIGN_OR_RETURN(k.w_zp, loop.Add(node, 5));
  OCTET_ASSIGN_OR_RETURN(k.y_scale, loop.Add(node, 6));
  OCTET_ASSIGN_OR_RETURN(k.y_zp, loop.Add(node, 7));
  OCTET_ASSIGN_OR_RETURN(k.bias, loop.Add(node, 8));
  k.y_type = b.graph().value(node.outputs[0]).dtype;
  const int dst = b.NewArenaSlot(PlainMd(ys, k.y_type));
  k.dst = loop.AddDestination(dst);
  b.AddCustom(node.name, k, loop.args());
  b.Bind(node.outputs[0], dst);
  return absl::OkStatus();
}

// The integer kernel of QLinearMatMul: numpy.matmul with broadcast batch dimensions (1-D
// operands promoted), per-tensor a, per-tensor or per-column b (when b is 2-D).
struct QLinearMatMulKernel {
  int64_t m = 0, k = 0, n = 0;
  std::vector<int64_t> a_offsets, b_offsets;  // per output matrix: first element of a and b
  ParamArg a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp;
  DataType y_type = DataType::kUInt8;
  int dst = -1;

  void operator()(const std::vector<void*>& args) const {
    const quant::QuantizedRange range = RangeOf(y_type);
    const float s_a = a_scale.Scale(args, 0), s_y = y_scale.Scale(args, 0);
    const int32_t zp_a = a_zp.ZeroPoint(args, 0), zp_y = y_zp.ZeroPoint(args, 0);
    int64_t out_index = 0;
    for (size_t batch = 0; batch < a_offsets.size(); ++batch) {
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          const int32_t zp_b = b_zp.ZeroPoint(args, j);
          int32_t acc = 0;
          for (int64_t l = 0; l < k; ++l) {
            acc += (IntAt(args[a.index], a.type, a_offsets[batch] + i * k + l) - zp_a) *
                   (IntAt(args[b.index], b.type, b_offsets[batch] + l * n + j) - zp_b);
          }
          const float multiplier = s_a * b_scale.Scale(args, j) / s_y;
          const float q = std::nearbyint(static_cast<float>(acc) * multiplier) + zp_y;
          StoreInt(args[dst], y_type, out_index++,
                   static_cast<int32_t>(std::clamp<float>(q, range.min, range.max)));
        }
      }
    }
  }
};

absl::Status BuildQLinearMatMulExact(PlanBuilder& b, const Node& node) {
  Shape as = b.shape(node.inputs[0]);
  Shape bs = b.shape(node.inputs[3]);
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  QLinearMatMulKernel kernel;
  kernel.m = as[as.size() - 2];
  kernel.k = as.back();
  kernel.n = bs.back();
  const Shape a_batch(as.begin(), as.end() - 2);
  const Shape b_batch(bs.begin(), bs.end() - 2);
  OCTET_ASSIGN_OR_RETURN(Shape batch, BroadcastShapes(a_batch, b_batch));
  OCTET_ASSIGN_OR_RETURN(int64_t batches, NumElements(batch));
  // Walks the broadcast batch index and the matching (possibly broadcast) matrix of a and b.
  auto offset_of = [&](const Shape& operand_batch, int64_t linear, int64_t matrix_size) {
    int64_t offset = 0;
    int64_t stride = matrix_size;
    for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
      const int64_t index = linear % batch[d];
      linear /= batch[d];
      const int od = d - static_cast<int>(batch.size() - operand_batch.size());
      if (od < 0) continue;
      if (operand_batch[od] != 1) offset += index * stride;
      stride *= operand_batch[od];
    }
    return offset;
  };
  for (int64_t i = 0; i < batches; ++i) {
    kernel.a_offsets.push_back(offset_of(a_batch, i, kernel.m * kernel.k));
    kernel.b_offsets.push_back(offset_of(b_batch, i, kernel.k * kernel.n));
  }
  LoopArgs loop(b);
  OCTET_ASSIGN_OR_RETURN(kernel.a, loop.Add(node, 0));
  OCTET_ASSIGN_OR_RETURN(kernel.a_scale, loop.Add(node, 1));
  OCTET_ASSIGN_OR_RETURN(kernel.a_zp, loop.Add(node, 2));
  OCTET_ASSIGN_OR_RETURN(kernel.b, loop.Add(node, 3));
  OCTET_ASSIGN_OR_RETURN(kernel.b_scale, loop.Add(node, 4));
  OCTET_ASSIGN_OR_RETURN(kernel.b_zp, loop.Add(node, 5));
  OCTET_ASSIGN_OR_RETURN(kernel.y_scale, loop.Add(node, 6));
  OCTET_ASSIGN_OR_RETURN(kernel.y_zp, loop.Add(node, 7));
  if (kernel.a_scale.count != 1 || kernel.a_zp.count != 1) {
    return absl::UnimplementedError("per-row quantization of input a is not supported");
  }
  kernel.y_type = b.graph().value(node.outputs[0]).dtype;
  const int dst = b.NewArenaSlot(PlainMd(b.shape(node.outputs[0]), kernel.y_type));
  kernel.dst = loop.AddDestination(dst);
  b.AddCustom(node.name, kernel, loop.args());
  b.Bind(node.outputs[0], dst);
  return absl::OkStatus();
}

}  // namespace

absl::Status BuildQuantizeLinear(PlanBuilder& b, const Node& node) {
  const std::optional<LinearQuantization> params = ConstantParams(b, node);
  if (!params || !params->common_zero_point()) {
    return BuildLinearQuantizationLoop(b, node, /*quantize=*/true);
  }
  const ValueId x = node.inputs[0];
  const ValueId y = node.outputs[0];
  // A float input computed in u8 (a quantized activation) is dequantized first.
  OCTET_ASSIGN_OR_RETURN(
      int src, b.graph().value(x).dtype == DataType::kFloat32 ? b.SlotOf(x) : b.RawSlotOf(x));
  std::vector<float> reciprocals;
  for (float s : params->scales) reciprocals.push_back(1.0f / s);
  const int mask = params->per_tensor() ? 0 : 1 << params->axis;
  const int32_t zero_point = params->zero_points[0];
  std::optional<quant::QuantizationParams> label = AsU8Activation(*params);
  if (params->type != DataType::kUInt8) label.reset();
  const int dst = b.NewArenaSlot(WithDataType(b.md(src), ToDnnl(params->type)), label);
  if (zero_point == 0) {
    AddScaledReorder(b, node.name, src, dst, mask, reciprocals, 0, 0);
  } else {
    // Round in s32, then add the zero point: ONNX's order (see the top of this file).
    const int rounded = b.NewArenaSlot(WithDataType(b.md(src), memory::data_type::s32));
    AddScaledReorder(b, node.name, src, rounded, mask, reciprocals, 0, 0);
    AddScaledReorder(b, absl::StrCat(node.name, " zero point"), rounded, dst, 0, {1.0f}, 0,
                     zero_point);
  }
  b.Bind(y, dst);
  return absl::OkStatus();
}

absl::Status BuildDequantizeLinear(PlanBuilder& b, const Node& node) {
  const std::optional<LinearQuantization> params = ConstantParams(b, node);
  if (!params || !params->common_zero_point()) {
    return BuildLinearQuantizationLoop(b, node, /*quantize=*/false);
  }
  const ValueId x = node.inputs[0];
  const ValueId y = node.outputs[0];
  OCTET_ASSIGN_OR_RETURN(int src, b.RawSlotOf(x));
  if (params->per_tensor() && IsQuantizedActivation(b.md(src))) {
    // The same bytes, read as reals on (s, zp): float readers dequantize them (once, in
    // SlotOf), INT8 readers take them as they are.
    b.Bind(y, b.RelabelSlot(src, params->at(0)));
    return absl::OkStatus();
  }
  const int mask = params->per_tensor() ? 0 : 1 << params->axis;
  const int dst = b.NewArenaSlot(WithDataType(b.md(src), memory::data_type::f32));
  AddScaledReorder(b, node.name, src, dst, mask, params->scales, params->zero_points[0], 0);
  b.Bind(y, dst);
  return absl::OkStatus();
}

absl::Status BuildQLinearExact(PlanBuilder& b, const Node& node) {
  return node.op_type == "QLinearConv" ? BuildQLinearConvExact(b, node)
                                       : BuildQLinearMatMulExact(b, node);
}

}  // namespace runtime
}  // namespace octet
