#include "engine/quantize_graph.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/cpu_info.h"
#include "engine/op_schema.h"
#include "engine/quant/requantization.h"

namespace octet {
namespace {

bool IsFloatConstant(const Graph& graph, ValueId v) {
  return v != kNoValue && graph.IsConstant(v) && graph.constant(v).dtype() == DataType::kFloat32;
}

// Post-ops that commute with a positive rescaling (so they can run on the requantized value).
std::string PostOpIneligibility(const Node& node) {
  for (const PostOp& op : node.post_ops) {
    if (op.kind == PostOp::Kind::kSum) continue;
    if (op.eltwise == EltwiseKind::kRelu && op.alpha >= 0.0f) continue;
    if (op.eltwise == EltwiseKind::kClip) continue;
    return "a fused activation other than Relu, LeakyRelu or Clip";
  }
  return "";
}

// Ops that move or pool u8 data without arithmetic on values: their output keeps the input's
// quantization.
bool PassesQuantizationThrough(const std::string& op) {
  return op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" ||
         op == "GlobalMaxPool" || op == "Flatten" || op == "Reshape" || op == "Squeeze" ||
         op == "Unsqueeze";
}

struct WeightLayout {
  int channel_axis;
  int pair_axis;  // the reduction axis along which the AVX2 kernels pair adjacent weights
};

WeightLayout LayoutOf(const Node& node) {
  if (node.op_type == "Conv") return {0, 1};  // [OC, IC/G, k...]
  if (node.op_type == "Gemm" && node.attrs.GetInt("transB", 0) != 0) return {0, 1};  // [N, K]
  return {1, 0};                                                                     // [K, N]
}

// The float bias of an INT8 candidate, one value per output channel (zeros when absent).
std::vector<float> FloatBias(const Graph& graph, const Node& node, int64_t channels) {
  std::vector<float> bias(channels, 0.0f);
  if (node.inputs.size() < 3 || node.inputs[2] == kNoValue) return bias;
  const Tensor& b = graph.constant(node.inputs[2]);
  const float beta = node.op_type == "Gemm" ? node.attrs.GetFloat("beta", 1.0f) : 1.0f;
  for (int64_t c = 0; c < channels; ++c) {
    bias[c] = beta * b.data<float>()[b.num_elements() == 1 ? 0 : c];
  }
  return bias;
}

absl::StatusOr<quant::WeightQuantizationStats> QuantizeNode(Graph& graph, Node& node,
                                                            const QuantizationOptions& options) {
  const quant::QuantizationParams input = *graph.value(node.inputs[0]).quant;
  Tensor weights = graph.constant(node.inputs[1]);
  const float alpha = node.op_type == "Gemm" ? node.attrs.GetFloat("alpha", 1.0f) : 1.0f;
  if (alpha != 1.0f) {
    for (int64_t i = 0; i < weights.num_elements(); ++i) weights.data<float>()[i] *= alpha;
  }
  const WeightLayout layout = LayoutOf(node);
  const Shape& shape = weights.shape();
  const int64_t channels = shape[layout.channel_axis];
  const absl::Span<const float> w = weights.values<float>();
  absl::StatusOr<quant::QuantizedWeights> q =
      options.per_tensor_weights
          ? quant::QuantizeWeightsPerTensor(w, shape, layout.pair_axis, options.weight_scheme)
          : quant::QuantizeWeightsPerChannel(w, shape, layout.channel_axis, layout.pair_axis,
                                             options.weight_scheme);
  if (!q.ok()) return q.status();
  std::vector<float> scales = q->scales;
  if (scales.size() == 1) scales.assign(channels, scales[0]);

  const std::vector<float> bias = FloatBias(graph, node, channels);
  OCTET_ASSIGN_OR_RETURN(quant::QuantizedBias qbias,
                         quant::QuantizeBias(bias, input.scale, scales));
  if (qbias.saturated > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the bias of output channel ", qbias.first_saturated_channel,
        " does not fit int32 in the accumulator's scale (weights tiny next to the bias)"));
  }
  Tensor qweights(DataType::kInt8, shape);
  std::copy(q->values.begin(), q->values.end(), qweights.data<int8_t>());
  Tensor qbias_tensor(DataType::kInt32, {channels});
  std::copy(qbias.values.begin(), qbias.values.end(), qbias_tensor.data<int32_t>());

  node.inputs.resize(std::max<size_t>(node.inputs.size(), 3), kNoValue);
  node.inputs[1] = graph.AddConstant(absl::StrCat(node.name, "/weights_s8"), std::move(qweights));
  node.inputs[2] = graph.AddConstant(absl::StrCat(node.name, "/bias_s32"), std::move(qbias_tensor));
  node.attrs.Set(kWeightScalesAttr, scales);
  node.attrs.Erase("alpha");
  node.attrs.Erase("beta");
  node.precision = Precision::kInt8;
  return q->stats;
}

}  // namespace

std::string Int8Ineligibility(const Graph& graph, const Node& node) {
  const std::string& op = node.op_type;
  if (op != "Conv" && op != "Gemm" && op != "MatMul") return "no INT8 kernel for " + op;
  if (!IsFloatConstant(graph, node.inputs[1])) return "its weights are not a float constant";
  if (graph.value(node.inputs[0]).dtype != DataType::kFloat32) return "its input is not float";
  // [..., M, K] x [K, N] runs as one 2-D product; batched weights do not.
  if (op == "MatMul" && (graph.value(node.inputs[0]).shape.size() < 2 ||
                         graph.value(node.inputs[1]).shape.size() != 2)) {
    return "batched MatMul";
  }
  if (op == "Gemm" && node.inputs.size() > 2 && node.inputs[2] != kNoValue) {
    const ValueId c = node.inputs[2];
    const int64_t n = graph.value(node.outputs[0]).shape.back();
    if (!IsFloatConstant(graph, c)) return "C is not a constant";
    const int64_t count = graph.constant(c).num_elements();
    if (count != 1 && (count != n || graph.constant(c).shape().back() != n)) {
      return "C is not a bias (it varies along M)";
    }
  }
  if (op == "Conv" && node.inputs.size() > 2 && node.inputs[2] != kNoValue &&
      !IsFloatConstant(graph, node.inputs[2])) {
    return "its bias is not a float constant";
  }
  return PostOpIneligibility(node);
}

PrecisionPlan PrecisionPlan::AllInt8(const Graph& graph) {
  PrecisionPlan plan;
  for (const Node& node : graph.nodes()) {
    if (Int8Ineligibility(graph, node).empty()) plan.nodes[node.name] = Precision::kInt8;
  }
  return plan;
}

int PrecisionPlan::CountInt8() const {
  int n = 0;
  for (const auto& [name, precision] : nodes) n += precision == Precision::kInt8;
  return n;
}

QuantizationOptions DefaultQuantizationOptions() {
  QuantizationOptions options;
  options.weight_scheme =
      CpuHasVnni() ? quant::WeightScheme::kFull8 : quant::WeightScheme::kPairLimited;
  return options;
}

absl::StatusOr<QuantizedGraph> QuantizeGraph(const Graph& fp32, const ActivationRanges& ranges,
                                             const PrecisionPlan& plan,
                                             const QuantizationOptions& options) {
  QuantizedGraph result{fp32, {}};
  Graph& graph = result.graph;
  for (ValueId v = 0; v < graph.num_values(); ++v) {
    Value& value = graph.mutable_value(v);
    auto range = ranges.find(value.name);
    if (range == ranges.end() || value.constant != nullptr) continue;
    auto params = quant::ChooseActivationParams(range->second.min, range->second.max);
    if (!params.ok()) {
      return absl::Status(params.status().code(),
                          absl::StrCat("tensor '", value.name, "': ", params.status().message()));
    }
    value.quant = *params;
  }
  // Pass-through ops keep their input's params, so an INT8 chain needs no requantization.
  for (const Node& node : graph.nodes()) {
    if (!PassesQuantizationThrough(node.op_type)) continue;
    const auto& in = graph.value(node.inputs[0]).quant;
    if (in) graph.mutable_value(node.outputs[0]).quant = in;
  }
  for (Node& node : graph.mutable_nodes()) {
    auto wanted = plan.nodes.find(node.name);
    if (wanted == plan.nodes.end() || wanted->second != Precision::kInt8) continue;
    const std::string why = Int8Ineligibility(graph, node);
    if (!why.empty()) {
      return NodeError(node, absl::FailedPreconditionError("cannot run in INT8: " + why));
    }
    if (!graph.value(node.inputs[0]).quant) {
      return NodeError(
          node, absl::FailedPreconditionError(absl::StrCat("no calibration range for its input '",
                                                           graph.value(node.inputs[0]).name, "'")));
    }
    auto stats = QuantizeNode(graph, node, options);
    if (!stats.ok()) return NodeError(node, stats.status());
    result.nodes.push_back({node.name, *stats});
  }
  graph.RemoveDeadNodes();
  return result;
}

}  // namespace octet
