// Graph passes that make an imported graph cheaper to run without changing what it computes
// (beyond float rounding):
//   - Identity and Dropout are removed (inference no-ops), keeping graph output names; one that
//     only renames a graph input, a constant or another output stays (the runtime copies);
//   - operators whose inputs are all constants are evaluated once (e.g. Transpose of weights);
//   - a zero Pad before a Conv becomes the Conv's padding;
//   - BatchNormalization and a per-channel constant Add after a Conv (or Gemm) are folded into
//     its weights and bias; MatMul + constant Add becomes Gemm with a bias;
//   - activations after a Conv, Gemm or MatMul become oneDNN eltwise post-ops;
//   - a residual Add of a Conv's output and a same-shaped tensor becomes a `sum` post-op;
//   - models quantized by other tools become INT8 nodes (qdq_folding.cc): QuantizeLinear ->
//     DequantizeLinear pairs become the quantization of the value they round (Value::quant);
//     QLinearConv / QLinearMatMul with constant parameters, and Conv / Gemm / MatMul whose
//     weights are DequantizeLinear of constants and whose input is quantized, become INT8 nodes
//     of QuantizeGraph's form (quantize_graph.h) with the model's own integers and scales; the
//     quantization of remaining constants is evaluated.
//
// The graph must have shapes inferred (InferShapes) before OptimizeGraph runs; shapes stay
// valid afterwards. Not thread-safe (rewrites the graph in place).
#ifndef OCTET_ENGINE_PASSES_H_
#define OCTET_ENGINE_PASSES_H_

#include "absl/status/status.h"
#include "engine/graph.h"

namespace octet {

struct PassOptions {
  bool fold_constants = true;
  bool fold_batch_norm = true;  // also folds bias Adds and zero Pads into convolutions
  bool fuse_activations = true;
  bool fuse_residual_add = true;
  bool fold_quantization = true;  // QDQ and QLinear operators into INT8 nodes
};

absl::Status OptimizeGraph(Graph& graph, const PassOptions& options = {});

// The individual passes, exposed for tests.
namespace passes {
void RemoveIdentities(Graph& graph);
absl::Status FoldConstants(Graph& graph);
absl::Status FoldPadIntoConv(Graph& graph);
absl::Status FoldBatchNorm(Graph& graph);
absl::Status FoldBiasAdd(Graph& graph);
void FuseActivations(Graph& graph);
void FuseResidualAdd(Graph& graph);
absl::Status FoldQuantizeDequantizePairs(Graph& graph);
absl::Status LowerQLinearOps(Graph& graph);
absl::Status FoldQdqIntoInt8(Graph& graph);
absl::Status FoldQuantizationOfConstants(Graph& graph);
}  // namespace passes

}  // namespace octet

#endif  // OCTET_ENGINE_PASSES_H_
