// Models quantized by other tools, folded into Octet's INT8 representation (see passes.h and
// docs/quantization.md, section 9). Both ONNX formats arrive here:
//
//   QDQ:       x -> QuantizeLinear -> DequantizeLinear -> Conv(., DequantizeLinear(w_q), b) -> ...
//   QOperator: x_q -> QLinearConv(x_q, s_x, zp_x, w_q, s_w, zp_w, s_y, zp_y, b_q) -> y_q
//
// and leave as the graph that QuantizeGraph would have produced from a calibration with those
// exact parameters: the Conv (Gemm, MatMul) is an INT8 node with s8 weights, per-channel scales
// in kWeightScalesAttr and an s32 bias in the accumulator's scale, and the activations carry
// their scale and zero point in Value::quant. The runtime then runs them as oneDNN int8
// primitives (kernels_int8.cc), with no float round trip between INT8 nodes.
#include <algorithm>
#include <cmath>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/cpu_info.h"
#include "engine/linear_quantization.h"
#include "engine/op_schema.h"
#include "engine/passes.h"
#include "engine/passes_internal.h"
#include "engine/quant/requantization.h"
#include "engine/quant/weight_quantization.h"
#include "engine/quantize_graph.h"
#include "engine/shape_functions.h"

namespace octet {
namespace passes {
namespace {

bool SameParams(const quant::QuantizationParams& a, const quant::QuantizationParams& b) {
  return a.scale == b.scale && a.zero_point == b.zero_point;
}

bool SameQuantization(const LinearQuantization& a, const LinearQuantization& b) {
  return a.type == b.type && a.axis == b.axis && a.scales == b.scales &&
         a.zero_points == b.zero_points;
}

// The constant parameters of a QuantizeLinear or DequantizeLinear node.
std::optional<LinearQuantization> NodeQuantization(const Graph& graph, const Node& node) {
  const int rank = static_cast<int>(graph.value(node.inputs[0]).shape.size());
  return ConstantLinearQuantization(graph, node, 1, 2, QuantizationAxis(node, rank),
                                    DataType::kUInt8);
}

struct WeightLayout {
  int channel_axis;
  int pair_axis;  // the reduction axis along which the AVX2 kernels pair adjacent weights
};

// As QuantizeGraph lays out weights: Conv [OC, IC/G, k...], Gemm B [K, N] or [N, K] (transB),
// MatMul B [K, N].
WeightLayout LayoutOf(const Node& node) {
  if (node.op_type == "Conv") return {0, 1};
  if (node.op_type == "Gemm" && node.attrs.GetInt("transB", 0) != 0) return {0, 1};
  return {1, 0};
}

// Index along `axis` of element `i` of a row-major tensor of `shape`.
int64_t IndexAlong(const Shape& shape, int axis, int64_t i) {
  int64_t inner = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  return (i / inner) % shape[axis];
}

// The weights of an INT8 node: s8 values with one scale per output channel.
struct Int8Weights {
  Tensor values;  // kInt8, the weights' shape
  std::vector<float> scales;
};

// Quantized weights (u8 or s8, with their zero points) as s8 weights with zero point 0: exact
// when every q - zp fits s8 (always for s8 with zero point 0; for u8 with zero point 128).
// nullopt otherwise: such weights would need a wider type than oneDNN's int8 kernels take.
std::optional<Int8Weights> ToInt8Weights(const Tensor& q, const LinearQuantization& params,
                                         const WeightLayout& layout) {
  const Shape& shape = q.shape();
  const int64_t channels = shape[layout.channel_axis];
  if (!params.per_tensor() && params.axis != layout.channel_axis) return std::nullopt;
  Int8Weights w{Tensor(DataType::kInt8, shape), {}};
  const std::vector<int64_t> values = ToInt64Vector(q);
  for (int64_t i = 0; i < q.num_elements(); ++i) {
    const int64_t c = params.per_tensor() ? 0 : IndexAlong(shape, layout.channel_axis, i);
    const int64_t v = values[i] - params.zero_points[c];
    if (v < -128 || v > 127) return std::nullopt;
    w.values.data<int8_t>()[i] = static_cast<int8_t>(v);
  }
  for (int64_t c = 0; c < channels; ++c) w.scales.push_back(params.at(c).scale);
  return w;
}

// For each output channel of s8 weights, whether it has an adjacent pair that can saturate
// vpmaddubsw.
absl::StatusOr<std::vector<bool>> SaturatingChannels(const Tensor& values,
                                                     const WeightLayout& layout) {
  const Shape& shape = values.shape();
  std::vector<std::vector<int8_t>> channels(shape[layout.channel_axis]);
  for (int64_t i = 0; i < values.num_elements(); ++i) {
    channels[IndexAlong(shape, layout.channel_axis, i)].push_back(values.data<int8_t>()[i]);
  }
  Shape channel_shape = shape;
  channel_shape[layout.channel_axis] = 1;
  std::vector<bool> saturates;
  for (const std::vector<int8_t>& channel : channels) {
    OCTET_ASSIGN_OR_RETURN(int64_t pairs,
                           quant::CountSaturatingPairs(channel, channel_shape, layout.pair_axis));
    saturates.push_back(pairs > 0);
  }
  return saturates;
}

// On a CPU without VNNI, oneDNN's u8 x s8 kernels add adjacent products in a saturating int16
// (docs/quantization.md, section 7). Weights chosen by another tool are usually full-range s8,
// so the output channels where a pair can saturate are requantized, from their real values,
// with the scheme Octet uses for its own INT8 models on this CPU; the other channels keep the
// model's integers. Returns whether any channel changed.
absl::StatusOr<bool> LimitSaturatingPairs(Int8Weights& w, const WeightLayout& layout) {
  const quant::WeightScheme scheme = DefaultQuantizationOptions().weight_scheme;
  if (CpuHasVnni() || scheme == quant::WeightScheme::kFull8) return false;
  const Shape& shape = w.values.shape();
  OCTET_ASSIGN_OR_RETURN(int64_t saturating, quant::CountSaturatingPairs(w.values.values<int8_t>(),
                                                                         shape, layout.pair_axis));
  if (saturating == 0) return false;
  std::vector<float> real(w.values.num_elements());
  for (int64_t i = 0; i < w.values.num_elements(); ++i) {
    real[i] = w.scales[IndexAlong(shape, layout.channel_axis, i)] * w.values.data<int8_t>()[i];
  }
  OCTET_ASSIGN_OR_RETURN(
      quant::QuantizedWeights q,
      quant::QuantizeWeightsPerChannel(real, shape, layout.channel_axis, layout.pair_axis, scheme));
  OCTET_ASSIGN_OR_RETURN(const std::vector<bool> requantize, SaturatingChannels(w.values, layout));
  for (size_t c = 0; c < w.scales.size(); ++c) {
    if (requantize[c]) w.scales[c] = q.scales[c];
  }
  for (int64_t i = 0; i < w.values.num_elements(); ++i) {
    if (requantize[IndexAlong(shape, layout.channel_axis, i)]) {
      w.values.data<int8_t>()[i] = q.values[i];
    }
  }
  return true;
}

// Turns `node` into an INT8 node of QuantizeGraph's form (quantize_graph.h).
void MakeInt8Node(Graph& graph, Node& node, Int8Weights weights, const std::vector<int32_t>& bias) {
  Tensor bias_tensor(DataType::kInt32, {static_cast<int64_t>(bias.size())});
  std::copy(bias.begin(), bias.end(), bias_tensor.data<int32_t>());
  node.inputs.resize(std::max<size_t>(node.inputs.size(), 3), kNoValue);
  node.inputs[1] =
      graph.AddConstant(absl::StrCat(node.name, "/weights_s8"), std::move(weights.values));
  node.inputs[2] = graph.AddConstant(absl::StrCat(node.name, "/bias_s32"), std::move(bias_tensor));
  node.attrs.Set(kWeightScalesAttr, std::move(weights.scales));
  node.attrs.Erase("alpha");
  node.attrs.Erase("beta");
  node.precision = Precision::kInt8;
}

// The s32 bias of an INT8 node from a real bias; nullopt when a channel does not fit int32 (the
// node then stays FP32).
absl::StatusOr<std::optional<std::vector<int32_t>>> QuantizeRealBias(
    const std::vector<float>& bias, float input_scale, const std::vector<float>& weight_scales) {
  OCTET_ASSIGN_OR_RETURN(quant::QuantizedBias q,
                         quant::QuantizeBias(bias, input_scale, weight_scales));
  if (q.saturated > 0) return std::optional<std::vector<int32_t>>();
  return std::optional<std::vector<int32_t>>(std::move(q.values));
}

// Real values of a quantized constant.
Tensor Dequantized(const Tensor& q, const LinearQuantization& params) {
  Tensor out(DataType::kFloat32, q.shape());
  const std::vector<int64_t> values = ToInt64Vector(q);
  for (int64_t i = 0; i < q.num_elements(); ++i) {
    const int64_t c = params.per_tensor() ? 0 : IndexAlong(q.shape(), params.axis, i);
    const quant::QuantizationParams p = params.at(c);
    out.data<float>()[i] = p.scale * static_cast<float>(values[i] - p.zero_point);
  }
  return out;
}

// Quantized values of a float constant (ONNX QuantizeLinear).
Tensor Quantized(const Tensor& x, const LinearQuantization& params) {
  Tensor out(params.type, x.shape());
  const quant::QuantizedRange range = RangeOf(params.type);
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    const int64_t c = params.per_tensor() ? 0 : IndexAlong(x.shape(), params.axis, i);
    const int32_t q = quant::Quantize(x.data<float>()[i], params.at(c), range.min, range.max);
    if (params.type == DataType::kUInt8) {
      out.data<uint8_t>()[i] = static_cast<uint8_t>(q);
    } else {
      out.data<int8_t>()[i] = static_cast<int8_t>(q);
    }
  }
  return out;
}

// The DequantizeLinear node producing `v` from constant data and constant parameters, or null.
const Node* ConstantDequantization(const Graph& graph, const std::vector<int>& producer,
                                   ValueId v) {
  if (v == kNoValue || producer[v] < 0) return nullptr;
  const Node& dq = graph.nodes()[producer[v]];
  if (dq.op_type != "DequantizeLinear" || !graph.IsConstant(dq.inputs[0])) return nullptr;
  return NodeQuantization(graph, dq) ? &dq : nullptr;
}

// Makes a Conv / Gemm / MatMul whose weights (and bias) are DequantizeLinear of constants, and
// whose input is quantized, an INT8 node. Leaves it FP32, with the dequantized constants as
// weights, when it cannot run in INT8.
absl::Status FoldIntoInt8Node(Graph& graph, const std::vector<int>& producer, Node& node) {
  const Node* weights_dq = ConstantDequantization(graph, producer, node.inputs[1]);
  if (weights_dq == nullptr) return absl::OkStatus();
  const Tensor& weights_q = graph.constant(weights_dq->inputs[0]);
  const LinearQuantization weight_params = *NodeQuantization(graph, *weights_dq);
  // The FP32 form: what FoldQuantizationOfConstants would give, and what Int8Ineligibility
  // judges exactly as it judges a calibrated graph's nodes.
  std::vector<ValueId> dequantized;  // the constants made here, read only by this node
  node.inputs[1] = graph.AddConstant(absl::StrCat(node.name, "/dequantized_weights"),
                                     Dequantized(weights_q, weight_params));
  dequantized.push_back(node.inputs[1]);
  if (node.inputs.size() > 2) {
    if (const Node* bias_dq = ConstantDequantization(graph, producer, node.inputs[2])) {
      const Tensor& bias_q = graph.constant(bias_dq->inputs[0]);
      node.inputs[2] = graph.AddConstant(absl::StrCat(node.name, "/dequantized_bias"),
                                         Dequantized(bias_q, *NodeQuantization(graph, *bias_dq)));
      dequantized.push_back(node.inputs[2]);
    }
  }
  const ValueId x = node.inputs[0];
  if (!graph.value(x).quant || !Int8Ineligibility(graph, node).empty()) return absl::OkStatus();
  for (const PostOp& op : node.post_ops) {
    // A quantized output needs the residual's quantization too (kernels_int8.cc).
    if (op.kind == PostOp::Kind::kSum && graph.value(node.outputs[0]).quant &&
        !graph.value(node.inputs[op.input_index]).quant) {
      return absl::OkStatus();
    }
  }
  const float alpha = node.op_type == "Gemm" ? node.attrs.GetFloat("alpha", 1.0f) : 1.0f;
  if (!(alpha > 0.0f)) return absl::OkStatus();
  const WeightLayout layout = LayoutOf(node);
  std::optional<Int8Weights> weights = ToInt8Weights(weights_q, weight_params, layout);
  if (!weights) return absl::OkStatus();
  for (float& s : weights->scales) s *= alpha;
  OCTET_RETURN_IF_ERROR(LimitSaturatingPairs(*weights, layout).status());

  const int64_t channels = static_cast<int64_t>(weights->scales.size());
  std::vector<float> bias(channels, 0.0f);
  if (node.inputs.size() > 2 && node.inputs[2] != kNoValue) {
    // A float constant now; Int8Ineligibility accepted its shape (a bias, or Gemm's C as one).
    const Tensor& b = graph.constant(node.inputs[2]);
    const float beta = node.op_type == "Gemm" ? node.attrs.GetFloat("beta", 1.0f) : 1.0f;
    for (int64_t c = 0; c < channels; ++c) {
      bias[c] = beta * b.data<float>()[b.num_elements() == 1 ? 0 : c];
    }
  }
  OCTET_ASSIGN_OR_RETURN(std::optional<std::vector<int32_t>> bias_q,
                         QuantizeRealBias(bias, graph.value(x).quant->scale, weights->scales));
  if (!bias_q) return absl::OkStatus();
  MakeInt8Node(graph, node, *std::move(weights), *bias_q);
  // The float copies made above are read by no node now: free them.
  for (ValueId v : dequantized) graph.mutable_value(v).constant.reset();
  return absl::OkStatus();
}

// QLinearConv (inputs x, s_x, zp_x, w, s_w, zp_w, s_y, zp_y, B) and QLinearMatMul (a, s_a, zp_a,
// b, s_b, zp_b, s_y, zp_y) with constant parameters and weights, as INT8 Conv and MatMul nodes
// over the same u8 tensors. Leaves the node alone (it then runs on the exact integer kernel of
// kernels_qlinear.cc) when it cannot: int8 activations, weights that do not fit s8 once their
// zero point is subtracted, a per-row scale of a, or an input already read with other
// parameters.
absl::Status LowerQLinearNode(Graph& graph, Node& node) {
  const bool conv = node.op_type == "QLinearConv";
  const ValueId x = node.inputs[0];
  const ValueId w = node.inputs[3];
  const ValueId y = node.outputs[0];
  if (graph.IsConstant(x) || !graph.IsConstant(w) || graph.value(x).dtype != DataType::kUInt8 ||
      graph.value(y).dtype != DataType::kUInt8) {
    return absl::OkStatus();
  }
  const Tensor& weights_q = graph.constant(w);
  if (!conv && weights_q.shape().size() != 2) return absl::OkStatus();  // batched weights
  if (!conv && graph.value(x).shape.size() < 2) return absl::OkStatus();
  const WeightLayout layout = conv ? WeightLayout{0, 1} : WeightLayout{1, 0};
  const auto x_params = ConstantLinearQuantization(graph, node, 1, 2, -1, DataType::kUInt8);
  const auto w_params =
      ConstantLinearQuantization(graph, node, 4, 5, layout.channel_axis, DataType::kUInt8);
  const auto y_params = ConstantLinearQuantization(graph, node, 6, 7, -1, DataType::kUInt8);
  if (!x_params || !w_params || !y_params || !x_params->per_tensor() || !y_params->per_tensor()) {
    return absl::OkStatus();
  }
  const bool has_bias = conv && node.inputs.size() > 8 && node.inputs[8] != kNoValue;
  if (has_bias && !graph.IsConstant(node.inputs[8])) return absl::OkStatus();
  const auto x_u8 = AsU8Activation(*x_params);
  const auto y_u8 = AsU8Activation(*y_params);
  if (!x_u8 || !y_u8) return absl::OkStatus();
  if (graph.value(x).quant && !SameParams(*graph.value(x).quant, *x_u8)) return absl::OkStatus();

  std::optional<Int8Weights> weights = ToInt8Weights(weights_q, *w_params, layout);
  if (!weights) return absl::OkStatus();
  const std::vector<float> given_scales = weights->scales;
  const int64_t channels = static_cast<int64_t>(given_scales.size());
  std::vector<int32_t> bias(channels, 0);
  if (has_bias) {
    const Tensor& b = graph.constant(node.inputs[8]);
    std::copy(b.data<int32_t>(), b.data<int32_t>() + channels, bias.begin());
  }
  OCTET_ASSIGN_OR_RETURN(bool requantized, LimitSaturatingPairs(*weights, layout));
  if (requantized) {
    // The bias is in the accumulator's scale s_x * s_w, which has changed.
    std::vector<float> real(channels);
    for (int64_t c = 0; c < channels; ++c) {
      real[c] = static_cast<float>(static_cast<double>(bias[c]) * x_u8->scale * given_scales[c]);
    }
    OCTET_ASSIGN_OR_RETURN(std::optional<std::vector<int32_t>> requantized_bias,
                           QuantizeRealBias(real, x_u8->scale, weights->scales));
    if (!requantized_bias) return absl::OkStatus();
    bias = *std::move(requantized_bias);
  }
  graph.mutable_value(x).quant = *x_u8;
  graph.mutable_value(y).quant = *y_u8;
  node.op_type = conv ? "Conv" : "MatMul";
  node.inputs = {x, kNoValue};
  MakeInt8Node(graph, node, *std::move(weights), bias);
  return absl::OkStatus();
}

}  // namespace

absl::Status FoldQuantizeDequantizePairs(Graph& graph) {
  const auto consumers = graph.ConsumerIndex();
  const std::vector<int> producer = graph.ProducerIndex();
  auto& nodes = graph.mutable_nodes();
  for (Node& q : nodes) {
    if (q.op_type != "QuantizeLinear") continue;
    const ValueId x = q.inputs[0];
    const ValueId x_q = q.outputs[0];
    if (graph.IsConstant(x) || graph.value(x).dtype != DataType::kFloat32) continue;
    const std::optional<LinearQuantization> params = NodeQuantization(graph, q);
    if (!params) continue;
    const std::optional<quant::QuantizationParams> u8 = AsU8Activation(*params);
    if (!u8) continue;
    if (graph.value(x).quant && !SameParams(*graph.value(x).quant, *u8)) continue;
    int output_dq = -1;  // a DequantizeLinear whose output is a graph output
    for (int c : consumers[x_q]) {
      Node& dq = nodes[c];
      if (dq.op_type != "DequantizeLinear" || dq.inputs[0] != x_q) continue;
      const std::optional<LinearQuantization> dq_params = NodeQuantization(graph, dq);
      if (!dq_params || !SameQuantization(*dq_params, *params)) continue;
      if (graph.IsGraphOutput(dq.outputs[0])) {
        output_dq = c;
        continue;
      }
      // DequantizeLinear(QuantizeLinear(x)) is x on the grid of (s, zp): x itself, with that
      // quantization recorded for the INT8 nodes that read it.
      graph.ReplaceAllUses(dq.outputs[0], x);
      graph.mutable_value(x).quant = *u8;
      dq.op_type.clear();
    }
    const bool produced = producer[x] >= 0 && !nodes[producer[x]].op_type.empty() &&
                          absl::c_linear_search(nodes[producer[x]].outputs, x);
    if (output_dq >= 0 && produced && !graph.IsGraphOutput(x)) {
      // The graph output keeps its name: x's producer writes it (and x's readers read it).
      Node& dq = nodes[output_dq];
      const ValueId y = dq.outputs[0];
      std::vector<ValueId>& outputs = nodes[producer[x]].outputs;
      std::replace(outputs.begin(), outputs.end(), x, y);
      dq.op_type.clear();
      graph.ReplaceAllUses(x, y);
      graph.mutable_value(y).quant = *u8;
    }
  }
  EraseMarkedNodes(graph);
  // A DequantizeLinear that stays (its input is a u8 graph input or a QLinear output) produces
  // values exactly on its grid: INT8 readers can take its input's bytes as they are.
  for (const Node& dq : graph.nodes()) {
    if (dq.op_type != "DequantizeLinear" || graph.IsConstant(dq.inputs[0])) continue;
    const std::optional<LinearQuantization> params = NodeQuantization(graph, dq);
    const std::optional<quant::QuantizationParams> u8 =
        params ? AsU8Activation(*params) : std::nullopt;
    if (u8) graph.mutable_value(dq.outputs[0]).quant = *u8;
  }
  graph.RemoveDeadNodes();
  return absl::OkStatus();
}

absl::Status LowerQLinearOps(Graph& graph) {
  for (Node& node : graph.mutable_nodes()) {
    if (node.op_type != "QLinearConv" && node.op_type != "QLinearMatMul") continue;
    OCTET_RETURN_IF_ERROR(NodeError(node, LowerQLinearNode(graph, node)));
  }
  return absl::OkStatus();
}

absl::Status FoldQdqIntoInt8(Graph& graph) {
  const std::vector<int> producer = graph.ProducerIndex();
  for (Node& node : graph.mutable_nodes()) {
    const std::string& op = node.op_type;
    if ((op != "Conv" && op != "Gemm" && op != "MatMul") || node.precision == Precision::kInt8) {
      continue;
    }
    OCTET_RETURN_IF_ERROR(NodeError(node, FoldIntoInt8Node(graph, producer, node)));
  }
  graph.RemoveDeadNodes();
  return absl::OkStatus();
}

absl::Status FoldQuantizationOfConstants(Graph& graph) {
  for (Node& node : graph.mutable_nodes()) {
    const bool quantize = node.op_type == "QuantizeLinear";
    if ((!quantize && node.op_type != "DequantizeLinear") || !graph.IsConstant(node.inputs[0])) {
      continue;
    }
    const Tensor& x = graph.constant(node.inputs[0]);
    if (quantize && x.dtype() != DataType::kFloat32) continue;
    const std::optional<LinearQuantization> params = NodeQuantization(graph, node);
    if (!params) continue;
    graph.SetConstant(node.outputs[0], quantize ? Quantized(x, *params) : Dequantized(x, *params));
    node.op_type.clear();
  }
  EraseMarkedNodes(graph);
  return absl::OkStatus();
}

}  // namespace passes
}  // namespace octet
