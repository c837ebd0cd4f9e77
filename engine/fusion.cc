// Fusion of activations and residual additions into oneDNN post-ops (see passes.h).
//
// Post-ops run in order on the producer's result before it is stored, so
//   Conv -> Relu -> Add(residual) -> Relu
// becomes one convolution with post-ops [eltwise relu, sum(residual), eltwise relu]: the sum
// post-op adds the tensor already in the destination buffer, which the runtime fills with the
// residual operand (or reuses its buffer in place) before the convolution runs.
#include "engine/eltwise.h"
#include "engine/passes.h"
#include "engine/passes_internal.h"

namespace octet {
namespace passes {
namespace {

bool AcceptsPostOps(const Node& node) {
  return node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul";
}

bool HasSum(const Node& node) {
  for (const PostOp& op : node.post_ops) {
    if (op.kind == PostOp::Kind::kSum) return true;
  }
  return false;
}

}  // namespace

void FuseActivations(Graph& graph) {
  const std::vector<int> producer = graph.ProducerIndex();
  const auto consumers = graph.ConsumerIndex();
  auto& nodes = graph.mutable_nodes();
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    Node& act = nodes[i];
    if (act.op_type.empty()) continue;
    const ValueId x = act.inputs[0];
    if (producer[x] < 0 || SoleConsumer(graph, consumers, x) != i) continue;
    Node& prod = nodes[producer[x]];
    if (!AcceptsPostOps(prod) || graph.value(x).dtype != DataType::kFloat32) continue;
    std::optional<std::vector<PostOp>> eltwise = AsEltwise(graph, act);
    if (!eltwise) continue;
    prod.post_ops.insert(prod.post_ops.end(), eltwise->begin(), eltwise->end());
    prod.outputs[0] = act.outputs[0];
    act.op_type.clear();
  }
  EraseMarkedNodes(graph);
}

void FuseResidualAdd(Graph& graph) {
  const std::vector<int> producer = graph.ProducerIndex();
  const auto consumers = graph.ConsumerIndex();
  auto& nodes = graph.mutable_nodes();
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    Node& add = nodes[i];
    if (add.op_type != "Add") continue;
    const Shape& out_shape = graph.value(add.outputs[0]).shape;
    // Prefer the later convolution, so that the other operand is ready when it runs.
    int best = -1;
    int best_side = -1;
    for (int side = 0; side < 2; ++side) {
      const ValueId conv_out = add.inputs[side];
      const ValueId other = add.inputs[1 - side];
      const int p = producer[conv_out];
      if (p < 0 || p <= best || SoleConsumer(graph, consumers, conv_out) != i) continue;
      const Node& conv = nodes[p];
      if (conv.op_type != "Conv" || HasSum(conv) || graph.IsConstant(other)) continue;
      if (graph.value(conv_out).shape != out_shape || graph.value(other).shape != out_shape ||
          graph.value(other).dtype != DataType::kFloat32) {
        continue;
      }
      if (producer[other] >= p) continue;  // computed after the conv: cannot seed its output
      best = p;
      best_side = side;
    }
    if (best < 0) continue;
    Node& conv = nodes[best];
    PostOp sum;
    sum.kind = PostOp::Kind::kSum;
    conv.inputs.resize(3, kNoValue);
    sum.input_index = static_cast<int>(conv.inputs.size());
    conv.inputs.push_back(add.inputs[1 - best_side]);
    conv.post_ops.push_back(sum);
    conv.outputs[0] = add.outputs[0];
    add.op_type.clear();
  }
  EraseMarkedNodes(graph);
}

}  // namespace passes
}  // namespace octet
