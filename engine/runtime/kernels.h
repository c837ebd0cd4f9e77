// Kernel builders: one function per operator family, each turning one node into primitives
// and steps on a PlanBuilder. Internal to the runtime.
#ifndef OCTET_ENGINE_RUNTIME_KERNELS_H_
#define OCTET_ENGINE_RUNTIME_KERNELS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/graph.h"
#include "engine/runtime/plan_builder.h"
#include "engine/window_geometry.h"

namespace octet {
namespace runtime {

absl::Status BuildConv(PlanBuilder& b, const Node& node);
absl::Status BuildMatMul(PlanBuilder& b, const Node& node);  // Gemm and MatMul
absl::Status BuildEltwise(PlanBuilder& b, const Node& node);
absl::Status BuildBinary(PlanBuilder& b, const Node& node);
absl::Status BuildPool(PlanBuilder& b, const Node& node);
absl::Status BuildBatchNorm(PlanBuilder& b, const Node& node);
absl::Status BuildSoftmax(PlanBuilder& b, const Node& node);
absl::Status BuildConcat(PlanBuilder& b, const Node& node);
// Also Flatten, (Un)Squeeze, and the Identity / Dropout nodes that the passes keep.
absl::Status BuildReshape(PlanBuilder& b, const Node& node);
absl::Status BuildTranspose(PlanBuilder& b, const Node& node);
absl::Status BuildPad(PlanBuilder& b, const Node& node);

// Pads a plain float tensor of shape `in` into `out`, `begin` elements before each axis; ONNX
// Pad semantics for modes "constant", "edge" and "reflect" (negative constant pads crop).
void PadKernel(const Shape& in, const Shape& out, const std::vector<int64_t>& begin,
               const std::string& mode, float value, const float* src, float* dst);

// INT8 kernels (kernels_int8.cc).
absl::Status BuildConvInt8(PlanBuilder& b, const Node& node);
absl::Status BuildMatMulInt8(PlanBuilder& b, const Node& node);  // Gemm and MatMul
// Pooling and reshapes on u8 data, keeping the input's quantization.
absl::Status BuildPassThroughInt8(PlanBuilder& b, const Node& node);
// True for the operators BuildPassThroughInt8 implements exactly on u8 data.
bool RunsOnQuantizedInput(const Node& node);

// ONNX quantization operators that the graph passes left as they are (kernels_qlinear.cc):
// QuantizeLinear / DequantizeLinear as oneDNN reorders (or an exact loop when a parameter is a
// runtime input or the zero points differ per channel), and QLinearConv / QLinearMatMul on an
// exact integer kernel (runtime parameters or weights, int8 activations, weights that do not fit
// s8 once their zero point is subtracted).
absl::Status BuildQuantizeLinear(PlanBuilder& b, const Node& node);
absl::Status BuildDequantizeLinear(PlanBuilder& b, const Node& node);
absl::Status BuildQLinearExact(PlanBuilder& b, const Node& node);

// oneDNN's algorithm and alpha/beta for one eltwise step.
void AppendEltwise(dnnl::post_ops& ops, const PostOp& op);
dnnl::algorithm EltwiseAlgorithm(EltwiseKind kind);

// Pooling window of MaxPool/AveragePool (from its attributes) or of a global pool (the whole
// spatial extent), and oneDNN's dilations (ONNX's minus one).
absl::StatusOr<WindowGeometry> PoolWindow(const Node& node, const Shape& input_shape);
dnnl::memory::dims OneDnnDilations(const std::vector<int64_t>& onnx_dilations);
// A Conv's weights as oneDNN wants their dims: [OC, IC, k...], or [G, OC/G, IC/G, k...] for
// group > 1 (the same bytes as ONNX's [OC, IC/G, k...]).
dnnl::memory::dims ConvWeightDims(const Shape& onnx_weights, int64_t group);

// A primitive attribute with user-managed scratchpad (so that primitives stay stateless and
// can run concurrently) and the node's eltwise/sum post-ops.
dnnl::primitive_attr BaseAttr();

}  // namespace runtime
}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_KERNELS_H_
