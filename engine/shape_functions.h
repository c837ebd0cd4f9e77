// Shape functions of the operators in the schema table (op_schema.cc). Each reads the input
// shapes (and constant inputs where the shape depends on data, as in Reshape) and writes the
// output shapes and types, or says what is wrong with the node. Internal to the engine.
#ifndef OCTET_ENGINE_SHAPE_FUNCTIONS_H_
#define OCTET_ENGINE_SHAPE_FUNCTIONS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "engine/op_schema.h"

namespace octet {
namespace shape_fn {

absl::Status SameAsInput(ShapeContext& ctx);
absl::Status Broadcast(ShapeContext& ctx);
absl::Status Conv(ShapeContext& ctx);
absl::Status Pool(ShapeContext& ctx);
absl::Status GlobalPool(ShapeContext& ctx);
absl::Status Gemm(ShapeContext& ctx);
absl::Status MatMul(ShapeContext& ctx);
absl::Status BatchNorm(ShapeContext& ctx);
absl::Status Clip(ShapeContext& ctx);
absl::Status Flatten(ShapeContext& ctx);
absl::Status Reshape(ShapeContext& ctx);
absl::Status Squeeze(ShapeContext& ctx);
absl::Status Unsqueeze(ShapeContext& ctx);
absl::Status Transpose(ShapeContext& ctx);
absl::Status Concat(ShapeContext& ctx);
absl::Status Softmax(ShapeContext& ctx);
absl::Status Pad(ShapeContext& ctx);
absl::Status Dropout(ShapeContext& ctx);
// Quantization operators (ONNX QDQ and QOperator formats).
absl::Status QuantizeLinear(ShapeContext& ctx);
absl::Status DequantizeLinear(ShapeContext& ctx);
absl::Status QLinearConv(ShapeContext& ctx);
absl::Status QLinearMatMul(ShapeContext& ctx);

}  // namespace shape_fn

// NumPy-style multidirectional broadcasting of two shapes.
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);
// A possibly negative axis made absolute for a tensor of `rank` dims; fails when out of range.
absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank);
// Reads an int64 (or int32) constant tensor as a vector.
std::vector<int64_t> ToInt64Vector(const Tensor& t);
// The output shape of ONNX Reshape; `allow_zero` is the opset-14 attribute.
absl::StatusOr<Shape> ReshapeTarget(const Shape& input, const std::vector<int64_t>& target,
                                    bool allow_zero);
// Squeeze/Unsqueeze axes from the attribute (opset < 13) or the constant second input.
absl::StatusOr<std::vector<int64_t>> AxesOf(const Graph& graph, const Node& node);
// Pad's per-axis begin/end amounts, from the attribute (opset < 11) or the constant input.
absl::StatusOr<std::vector<int64_t>> PadAmounts(const Graph& graph, const Node& node, int rank);

}  // namespace octet

#endif  // OCTET_ENGINE_SHAPE_FUNCTIONS_H_
