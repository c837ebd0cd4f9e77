// Folding of BatchNormalization and bias additions into the preceding Conv or Gemm.
//
// For a Conv with weights W[oc, ...] and bias b[oc] followed by BatchNormalization with
// gamma, beta, mean, var and epsilon, let s[oc] = gamma[oc] / sqrt(var[oc] + epsilon); then
//   BN(conv(x)) = conv'(x) with W'[oc, ...] = s[oc] * W[oc, ...]
//                              b'[oc]      = s[oc] * (b[oc] - mean[oc]) + beta[oc].
// A Gemm's output column n plays the role of oc. New constants are always created: a weight
// tensor may be shared by several nodes.
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/passes.h"
#include "engine/passes_internal.h"

namespace octet {
namespace passes {
namespace {

const Tensor* FloatConstant(const Graph& graph, const Node& node, size_t i) {
  if (i >= node.inputs.size() || !graph.IsConstant(node.inputs[i])) return nullptr;
  const Tensor& t = graph.constant(node.inputs[i]);
  return t.dtype() == DataType::kFloat32 ? &t : nullptr;
}

// The bias of a Conv (input 2) or Gemm (input 2, times beta) as a vector of `channels`;
// zeros when absent; nullopt when present but not a constant of a usable shape.
std::optional<std::vector<float>> CurrentBias(const Graph& graph, const Node& node,
                                              int64_t channels) {
  std::vector<float> bias(channels, 0.0f);
  if (node.inputs.size() < 3 || node.inputs[2] == kNoValue) return bias;
  const Tensor* b = FloatConstant(graph, node, 2);
  if (b == nullptr) return std::nullopt;
  const float scale = node.op_type == "Gemm" ? node.attrs.GetFloat("beta", 1.0f) : 1.0f;
  if (b->num_elements() == channels) {
    for (int64_t c = 0; c < channels; ++c) bias[c] = scale * b->data<float>()[c];
  } else if (b->num_elements() == 1) {
    for (int64_t c = 0; c < channels; ++c) bias[c] = scale * b->data<float>()[0];
  } else {
    return std::nullopt;  // a full [M, N] matrix C cannot become a bias
  }
  // A Gemm's C of shape [1, N] or [N] is a bias; [M, 1] with M == N would not be.
  if (node.op_type == "Gemm" && b->shape().size() == 2 && b->shape()[1] != channels) {
    return std::nullopt;
  }
  return bias;
}

// Sets the node's bias input to `bias` (creating a new constant) and its beta to 1.
void SetBias(Graph& graph, Node& node, std::vector<float> bias) {
  const int64_t n = static_cast<int64_t>(bias.size());
  ValueId id = graph.AddConstant(absl::StrCat(node.name, "/folded_bias"),
                                 Tensor::FromVector<float>(DataType::kFloat32, {n}, bias));
  node.inputs.resize(3, kNoValue);
  node.inputs[2] = id;
  node.attrs.Erase("beta");
}

// Number of output channels of a Conv (weights dim 0) or Gemm (B's output dim).
int64_t OutputChannels(const Graph& graph, const Node& node) {
  const Shape& w = graph.value(node.inputs[1]).shape;
  if (node.op_type == "Conv") return w[0];
  return node.attrs.GetInt("transB", 0) ? w[0] : w[1];
}

// Multiplies output channel c of the weights by scale[c].
Tensor ScaleWeights(const Graph& graph, const Node& node, const std::vector<float>& scale) {
  Tensor w = graph.constant(node.inputs[1]);
  float* data = w.data<float>();
  const int64_t channels = static_cast<int64_t>(scale.size());
  const bool column_major_channels = node.op_type == "Gemm" && !node.attrs.GetInt("transB", 0);
  if (column_major_channels) {  // B is [K, N]: channel n is a column
    for (int64_t i = 0; i < w.num_elements(); ++i) data[i] *= scale[i % channels];
  } else {  // [oc, ...]: channel c is a contiguous block
    const int64_t block = w.num_elements() / channels;
    for (int64_t i = 0; i < w.num_elements(); ++i) data[i] *= scale[i / block];
  }
  return w;
}

bool IsFoldableProducer(const Graph& graph, const Node& node) {
  if (!node.post_ops.empty() || FloatConstant(graph, node, 1) == nullptr) return false;
  if (node.op_type == "Conv") return true;
  return node.op_type == "Gemm" && node.attrs.GetFloat("alpha", 1.0f) == 1.0f;
}

}  // namespace

absl::Status FoldBatchNorm(Graph& graph) {
  const std::vector<int> producer = graph.ProducerIndex();
  const auto consumers = graph.ConsumerIndex();
  auto& nodes = graph.mutable_nodes();
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    Node& bn = nodes[i];
    if (bn.op_type != "BatchNormalization") continue;
    const int p = producer[bn.inputs[0]];
    if (p < 0 || SoleConsumer(graph, consumers, bn.inputs[0]) != i) continue;
    Node& prod = nodes[p];
    if (!IsFoldableProducer(graph, prod)) continue;
    const Tensor* gamma = FloatConstant(graph, bn, 1);
    const Tensor* beta = FloatConstant(graph, bn, 2);
    const Tensor* mean = FloatConstant(graph, bn, 3);
    const Tensor* var = FloatConstant(graph, bn, 4);
    if (!gamma || !beta || !mean || !var) continue;
    const int64_t channels = OutputChannels(graph, prod);
    std::optional<std::vector<float>> bias = CurrentBias(graph, prod, channels);
    if (!bias || gamma->num_elements() != channels) continue;
    const float epsilon = bn.attrs.GetFloat("epsilon", 1e-5f);
    std::vector<float> scale(channels);
    for (int64_t c = 0; c < channels; ++c) {
      scale[c] = gamma->data<float>()[c] / std::sqrt(var->data<float>()[c] + epsilon);
      (*bias)[c] = scale[c] * ((*bias)[c] - mean->data<float>()[c]) + beta->data<float>()[c];
    }
    prod.inputs[1] = graph.AddConstant(absl::StrCat(prod.name, "/folded_weights"),
                                       ScaleWeights(graph, prod, scale));
    SetBias(graph, prod, std::move(*bias));
    prod.outputs[0] = bn.outputs[0];
    bn.op_type.clear();
  }
  EraseMarkedNodes(graph);
  return absl::OkStatus();
}

absl::Status FoldBiasAdd(Graph& graph) {
  const std::vector<int> producer = graph.ProducerIndex();
  const auto consumers = graph.ConsumerIndex();
  auto& nodes = graph.mutable_nodes();
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    Node& add = nodes[i];
    if (add.op_type != "Add") continue;
    for (int side = 0; side < 2; ++side) {
      const ValueId x = add.inputs[side];
      const ValueId k = add.inputs[1 - side];
      if (graph.IsConstant(x) || !graph.IsConstant(k) || producer[x] < 0) continue;
      if (SoleConsumer(graph, consumers, x) != i) continue;
      Node& prod = nodes[producer[x]];
      const Tensor& addend = graph.constant(k);
      if (addend.dtype() != DataType::kFloat32 || !prod.post_ops.empty()) continue;
      const bool matmul_as_gemm = prod.op_type == "MatMul" &&
                                  graph.value(prod.inputs[0]).shape.size() == 2 &&
                                  graph.value(prod.inputs[1]).shape.size() == 2;
      if (prod.op_type != "Conv" && prod.op_type != "Gemm" && !matmul_as_gemm) continue;
      // The addend must vary along the channel axis (1) of the output only.
      const Shape& out = graph.value(x).shape;
      const Shape& ks = addend.shape();
      if (ks.size() > out.size()) continue;
      const int64_t channels = out[1];
      bool per_channel = true;
      for (size_t j = 0; j < ks.size(); ++j) {
        const size_t axis = j + out.size() - ks.size();
        per_channel &= ks[j] == 1 || (axis == 1 && ks[j] == channels);
      }
      if (!per_channel) continue;
      std::optional<std::vector<float>> bias;
      if (matmul_as_gemm) {
        bias = std::vector<float>(channels, 0.0f);
      } else {
        bias = CurrentBias(graph, prod, channels);
      }
      if (!bias) continue;
      for (int64_t c = 0; c < channels; ++c) {
        (*bias)[c] += addend.data<float>()[addend.num_elements() == 1 ? 0 : c];
      }
      if (matmul_as_gemm) prod.op_type = "Gemm";
      SetBias(graph, prod, std::move(*bias));
      prod.outputs[0] = add.outputs[0];
      add.op_type.clear();
      break;
    }
  }
  EraseMarkedNodes(graph);
  return absl::OkStatus();
}

}  // namespace passes
}  // namespace octet
