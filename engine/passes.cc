// Simplification and folding passes (see passes.h). Fusion passes live in fusion.cc.
#include "engine/passes.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/passes_internal.h"
#include "engine/reference_ops.h"
#include "engine/shape_functions.h"

namespace octet {
namespace passes {

int SoleConsumer(const Graph& graph, const std::vector<std::vector<int>>& consumers,
                 ValueId value) {
  if (value == kNoValue || graph.IsGraphOutput(value) || consumers[value].size() != 1) return -1;
  const Node& consumer = graph.nodes()[consumers[value][0]];
  int uses = 0;
  for (ValueId v : consumer.inputs) uses += v == value;
  return uses == 1 ? consumers[value][0] : -1;
}

void EraseMarkedNodes(Graph& graph) {
  auto& nodes = graph.mutable_nodes();
  nodes.erase(
      std::remove_if(nodes.begin(), nodes.end(), [](const Node& n) { return n.op_type.empty(); }),
      nodes.end());
}

void RemoveIdentities(Graph& graph) {
  const std::vector<int> producer = graph.ProducerIndex();
  for (Node& node : graph.mutable_nodes()) {
    if (node.op_type != "Identity" && node.op_type != "Dropout") continue;
    const ValueId in = node.inputs[0];
    const ValueId out = node.outputs[0];
    if (!graph.IsGraphOutput(out)) {
      graph.ReplaceAllUses(out, in);
    } else if (producer[in] >= 0 && !graph.IsGraphOutput(in)) {
      // The graph output keeps its name: the producer writes it directly.
      graph.ReplaceAllUses(in, out);
      std::vector<ValueId>& outputs = graph.mutable_nodes()[producer[in]].outputs;
      std::replace(outputs.begin(), outputs.end(), in, out);
    } else {
      continue;  // a graph input, constant or other output under a second name: a copy
    }
    node.op_type.clear();
  }
  EraseMarkedNodes(graph);
}

absl::Status FoldConstants(Graph& graph) {
  for (Node& node : graph.mutable_nodes()) {
    bool all_constant = true;
    for (ValueId v : node.inputs) all_constant &= v == kNoValue || graph.IsConstant(v);
    if (!all_constant || node.outputs.size() != 1) continue;
    const ValueId out = node.outputs[0];
    const Tensor& x = graph.constant(node.inputs[0]);
    const std::string& op = node.op_type;
    if (op == "Transpose") {
      std::vector<int64_t> perm = node.attrs.GetInts("perm");
      if (perm.empty()) {
        for (int i = static_cast<int>(x.shape().size()) - 1; i >= 0; --i) perm.push_back(i);
      }
      graph.SetConstant(out, reference::Transpose(x, perm));
    } else if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") {
      Tensor copy = x;
      copy.Reshape(graph.value(out).shape);
      graph.SetConstant(out, std::move(copy));
    } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
      const reference::BinaryOp kind = op == "Add"   ? reference::BinaryOp::kAdd
                                       : op == "Sub" ? reference::BinaryOp::kSub
                                       : op == "Mul" ? reference::BinaryOp::kMul
                                                     : reference::BinaryOp::kDiv;
      auto result = reference::Binary(kind, x, graph.constant(node.inputs[1]));
      if (!result.ok()) return NodeError(node, result.status());
      graph.SetConstant(out, *std::move(result));
    } else {
      continue;
    }
    node.op_type.clear();
  }
  EraseMarkedNodes(graph);
  return absl::OkStatus();
}

absl::Status FoldPadIntoConv(Graph& graph) {
  auto consumers = graph.ConsumerIndex();
  for (Node& pad : graph.mutable_nodes()) {
    if (pad.op_type != "Pad" || pad.attrs.GetString("mode", "constant") != "constant") continue;
    const int conv_index = SoleConsumer(graph, consumers, pad.outputs[0]);
    if (conv_index < 0) continue;
    Node& conv = graph.mutable_nodes()[conv_index];
    if (conv.op_type != "Conv" || conv.inputs[0] != pad.outputs[0] ||
        conv.attrs.GetString("auto_pad", "NOTSET") != "NOTSET") {
      continue;
    }
    float value = pad.attrs.GetFloat("value", 0.0f);
    if (pad.inputs.size() > 2 && pad.inputs[2] != kNoValue) {
      const Tensor& v = graph.constant(pad.inputs[2]);
      value = v.dtype() == DataType::kFloat32 ? v.data<float>()[0] : 1.0f;
    }
    const int rank = static_cast<int>(graph.value(pad.inputs[0]).shape.size());
    OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> amounts, PadAmounts(graph, pad, rank));
    bool foldable = value == 0.0f;
    for (int i = 0; i < rank && foldable; ++i) {
      const bool spatial = i >= 2;
      foldable = spatial ? amounts[i] >= 0 && amounts[i + rank] >= 0
                         : amounts[i] == 0 && amounts[i + rank] == 0;
    }
    if (!foldable) continue;
    const int spatial = rank - 2;
    std::vector<int64_t> pads = conv.attrs.GetInts("pads", std::vector<int64_t>(2 * spatial, 0));
    for (int i = 0; i < spatial; ++i) {
      pads[i] += amounts[i + 2];
      pads[i + spatial] += amounts[i + 2 + rank];
    }
    conv.attrs.Set("pads", pads);
    conv.inputs[0] = pad.inputs[0];
    pad.op_type.clear();
  }
  EraseMarkedNodes(graph);
  return absl::OkStatus();
}

}  // namespace passes

absl::Status OptimizeGraph(Graph& graph, const PassOptions& options) {
  passes::RemoveIdentities(graph);
  if (options.fold_quantization) {
    OCTET_RETURN_IF_ERROR(passes::FoldQuantizeDequantizePairs(graph));
    OCTET_RETURN_IF_ERROR(passes::LowerQLinearOps(graph));
  }
  if (options.fold_constants) OCTET_RETURN_IF_ERROR(passes::FoldConstants(graph));
  if (options.fold_batch_norm) {
    OCTET_RETURN_IF_ERROR(passes::FoldPadIntoConv(graph));
    OCTET_RETURN_IF_ERROR(passes::FoldBatchNorm(graph));
    OCTET_RETURN_IF_ERROR(passes::FoldBiasAdd(graph));
  }
  if (options.fuse_activations) passes::FuseActivations(graph);
  if (options.fuse_residual_add) {
    passes::FuseResidualAdd(graph);
    if (options.fuse_activations) passes::FuseActivations(graph);
  }
  // After fusion, so that INT8 eligibility judges the final post-ops, as for calibrated graphs.
  if (options.fold_quantization) OCTET_RETURN_IF_ERROR(passes::FoldQdqIntoInt8(graph));
  if (options.fold_constants) {
    OCTET_RETURN_IF_ERROR(passes::FoldQuantizationOfConstants(graph));
    // What read the dequantized constants (a Transpose of weights) folds now.
    OCTET_RETURN_IF_ERROR(passes::FoldConstants(graph));
  }
  graph.RemoveDeadNodes();
  return absl::OkStatus();
}

}  // namespace octet
