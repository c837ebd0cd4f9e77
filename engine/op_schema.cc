#include "engine/op_schema.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/shape_functions.h"

namespace octet {
namespace {

using A = AttrType;

const std::vector<AttrSpec> kWindowAttrs = {{"auto_pad", A::kString}, {"kernel_shape", A::kInts},
                                            {"pads", A::kInts},       {"strides", A::kInts},
                                            {"dilations", A::kInts},  {"ceil_mode", A::kInt}};

// Before opset 7, Add, Sub, Mul and Div broadcast only when asked to (see shape_fn::Broadcast).
const std::vector<AttrSpec> kLegacyBroadcastAttrs = {{"broadcast", A::kInt}, {"axis", A::kInt}};

std::vector<AttrSpec> With(std::vector<AttrSpec> base, std::vector<AttrSpec> extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}

const std::vector<OpSchema>& Table() {
  static const auto* table = new std::vector<OpSchema>{
      // Convolution and matrix products.
      {"Conv", 2, 3, 1, With(kWindowAttrs, {{"group", A::kInt}}), shape_fn::Conv},
      {"Gemm",
       2,
       3,
       1,
       // broadcast (before opset 7): C always broadcasts since, and a model with broadcast=0
       // already has a C of shape [M, N], so it changes nothing.
       {{"alpha", A::kFloat},
        {"beta", A::kFloat},
        {"transA", A::kInt},
        {"transB", A::kInt},
        {"broadcast", A::kInt}},
       shape_fn::Gemm},
      {"MatMul", 2, 2, 1, {}, shape_fn::MatMul},
      // Element-wise binary operators with NumPy broadcasting (legacy attributes before opset 7).
      {"Add", 2, 2, 1, kLegacyBroadcastAttrs, shape_fn::Broadcast},
      {"Sub", 2, 2, 1, kLegacyBroadcastAttrs, shape_fn::Broadcast},
      {"Mul", 2, 2, 1, kLegacyBroadcastAttrs, shape_fn::Broadcast},
      {"Div", 2, 2, 1, kLegacyBroadcastAttrs, shape_fn::Broadcast},
      // Element-wise unary operators.
      {"Relu", 1, 1, 1, {}, shape_fn::SameAsInput},
      {"LeakyRelu", 1, 1, 1, {{"alpha", A::kFloat}}, shape_fn::SameAsInput},
      {"Sigmoid", 1, 1, 1, {}, shape_fn::SameAsInput},
      {"Tanh", 1, 1, 1, {}, shape_fn::SameAsInput},
      {"Elu", 1, 1, 1, {{"alpha", A::kFloat}}, shape_fn::SameAsInput},
      {"Exp", 1, 1, 1, {}, shape_fn::SameAsInput},
      {"Abs", 1, 1, 1, {}, shape_fn::SameAsInput},
      {"Sqrt", 1, 1, 1, {}, shape_fn::SameAsInput},
      {"HardSigmoid", 1, 1, 1, {{"alpha", A::kFloat}, {"beta", A::kFloat}}, shape_fn::SameAsInput},
      {"Softplus", 1, 1, 1, {}, shape_fn::SameAsInput},
      {"Clip", 1, 3, 1, {{"min", A::kFloat}, {"max", A::kFloat}}, shape_fn::Clip},
      // Pooling and normalisation.
      {"MaxPool", 1, 1, 1, With(kWindowAttrs, {{"storage_order", A::kInt}}), shape_fn::Pool},
      {"AveragePool", 1, 1, 1, With(kWindowAttrs, {{"count_include_pad", A::kInt}}),
       shape_fn::Pool},
      {"GlobalAveragePool", 1, 1, 1, {}, shape_fn::GlobalPool},
      {"GlobalMaxPool", 1, 1, 1, {}, shape_fn::GlobalPool},
      {"BatchNormalization",
       5,
       5,
       5,
       {{"epsilon", A::kFloat},
        {"momentum", A::kFloat},
        {"spatial", A::kInt},
        {"training_mode", A::kInt},
        {"is_test", A::kInt}},  // before opset 7
       shape_fn::BatchNorm},
      {"Softmax", 1, 1, 1, {{"axis", A::kInt}}, shape_fn::Softmax},
      {"LogSoftmax", 1, 1, 1, {{"axis", A::kInt}}, shape_fn::Softmax},
      // Data movement.
      {"Flatten", 1, 1, 1, {{"axis", A::kInt}}, shape_fn::Flatten},
      // Opset 1 took the shape as an attribute.
      {"Reshape", 2, 2, 1, {{"allowzero", A::kInt}}, shape_fn::Reshape, 5},
      {"Squeeze", 1, 2, 1, {{"axes", A::kInts}}, shape_fn::Squeeze},
      {"Unsqueeze", 1, 2, 1, {{"axes", A::kInts}}, shape_fn::Unsqueeze},
      {"Transpose", 1, 1, 1, {{"perm", A::kInts}}, shape_fn::Transpose},
      // Before opset 4 the axis defaulted to 1.
      {"Concat", 1, 64, 1, {{"axis", A::kInt}}, shape_fn::Concat, 4},
      {"Pad",
       1,
       3,
       1,
       {{"mode", A::kString}, {"pads", A::kInts}, {"value", A::kFloat}},
       shape_fn::Pad,
       2},  // opset 1 named the attribute "paddings"
      {"Identity", 1, 1, 1, {}, shape_fn::SameAsInput},
      {"Dropout",
       1,
       3,
       2,
       {{"ratio", A::kFloat}, {"seed", A::kInt}, {"is_test", A::kInt}},  // is_test: before opset 7
       shape_fn::Dropout},
      // Quantization: models quantized by other tools (QDQ and QOperator formats). Opset 13
      // adds per-axis scales (axis).
      {"QuantizeLinear", 2, 3, 1, {{"axis", A::kInt}}, shape_fn::QuantizeLinear, 10},
      {"DequantizeLinear", 2, 3, 1, {{"axis", A::kInt}}, shape_fn::DequantizeLinear, 10},
      {"QLinearConv", 8, 9, 1, With(kWindowAttrs, {{"group", A::kInt}}), shape_fn::QLinearConv, 10},
      {"QLinearMatMul", 8, 8, 1, {}, shape_fn::QLinearMatMul, 10},
  };
  return *table;
}

bool AttrHasType(const AttributeValue& value, AttrType type) {
  switch (type) {
    case A::kInt:
      return std::holds_alternative<int64_t>(value);
    case A::kFloat:
      return std::holds_alternative<float>(value);
    case A::kString:
      return std::holds_alternative<std::string>(value);
    case A::kInts:
      return std::holds_alternative<std::vector<int64_t>>(value);
    case A::kFloats:
      return std::holds_alternative<std::vector<float>>(value);
    case A::kTensor:
      return std::holds_alternative<Tensor>(value);
  }
  return false;
}

}  // namespace

const OpSchema* FindOpSchema(absl::string_view op_type) {
  for (const OpSchema& schema : Table()) {
    if (op_type == schema.op_type) return &schema;
  }
  return nullptr;
}

std::vector<std::string> SupportedOps() {
  std::vector<std::string> ops;
  for (const OpSchema& schema : Table()) ops.push_back(schema.op_type);
  std::sort(ops.begin(), ops.end());
  return ops;
}

absl::Status NodeError(const Node& node, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("node '", node.name, "' (", node.op_type,
                                                  "): ", status.message()));
}

absl::Status ValidateNodeSignature(const Node& node) {
  const OpSchema* schema = FindOpSchema(node.op_type);
  if (schema == nullptr) {
    return NodeError(node, absl::UnimplementedError("unsupported operator"));
  }
  int present = 0;
  for (ValueId v : node.inputs) present += v != kNoValue;
  if (node.inputs.empty() || node.inputs[0] == kNoValue ||
      static_cast<int>(node.inputs.size()) > schema->max_inputs || present < schema->min_inputs) {
    return NodeError(node, absl::InvalidArgumentError(
                               absl::StrCat("has ", node.inputs.size(), " inputs, expected ",
                                            schema->min_inputs, " to ", schema->max_inputs)));
  }
  for (int i = 0; i < schema->min_inputs; ++i) {
    if (node.inputs[i] == kNoValue) {
      return NodeError(
          node, absl::InvalidArgumentError(absl::StrCat("required input ", i, " is missing")));
    }
  }
  if (node.outputs.empty() || static_cast<int>(node.outputs.size()) > schema->max_outputs) {
    return NodeError(
        node, absl::InvalidArgumentError(absl::StrCat(
                  "has ", node.outputs.size(), " outputs, expected 1 to ", schema->max_outputs)));
  }
  for (const auto& [name, value] : node.attrs.map()) {
    // C++17 lambdas cannot capture a structured binding (clang refuses; gcc allows it).
    const auto& attr_name = name;
    auto spec = std::find_if(schema->attributes.begin(), schema->attributes.end(),
                             [&](const AttrSpec& s) { return attr_name == s.name; });
    if (spec == schema->attributes.end()) {
      return NodeError(
          node, absl::UnimplementedError(absl::StrCat("unsupported attribute '", name, "'")));
    }
    if (!AttrHasType(value, spec->type)) {
      return NodeError(node, absl::InvalidArgumentError(
                                 absl::StrCat("attribute '", name, "' has the wrong type")));
    }
  }
  return absl::OkStatus();
}

absl::Status InferShapes(Graph& graph) {
  for (ValueId input : graph.inputs()) {
    const Value& v = graph.value(input);
    for (int64_t d : v.shape) {
      if (d < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("input '", v.name, "' has unknown shape ", ShapeToString(v.shape)));
      }
    }
  }
  for (const Node& node : graph.nodes()) {
    const OpSchema* schema = FindOpSchema(node.op_type);
    if (schema == nullptr) {
      return NodeError(node, absl::UnimplementedError("unsupported operator"));
    }
    if (graph.opset() < schema->since_opset) {
      return NodeError(node, absl::UnimplementedError(absl::StrCat(
                                 "opset ", graph.opset(), " is not supported for this operator ",
                                 "(Octet supports it from opset ", schema->since_opset, ")")));
    }
    ShapeContext ctx{graph, node, {}, {}, {}};
    for (ValueId v : node.inputs) {
      ctx.inputs.push_back(v == kNoValue ? Shape{} : graph.value(v).shape);
    }
    OCTET_RETURN_IF_ERROR(NodeError(node, schema->infer(ctx)));
    for (size_t i = 0; i < node.outputs.size() && i < ctx.outputs.size(); ++i) {
      if (node.outputs[i] == kNoValue) continue;
      // A shape that no allocation can hold (a huge pad, a runaway batch) is refused here,
      // naming the node, rather than failing the allocation at run time.
      auto count = NumElements(ctx.outputs[i]);
      if (!count.ok()) return NodeError(node, count.status());
      if (*count > kMaxTensorBytes / static_cast<int64_t>(DataTypeSize(ctx.output_types[i]))) {
        return NodeError(
            node, absl::InvalidArgumentError(absl::StrCat(
                      "output '", graph.value(node.outputs[i]).name, "' of shape ",
                      ShapeToString(ctx.outputs[i]), " exceeds ", kMaxTensorBytes, " bytes")));
      }
      Value& out = graph.mutable_value(node.outputs[i]);
      out.shape = ctx.outputs[i];
      out.dtype = ctx.output_types[i];
    }
  }
  return absl::OkStatus();
}

}  // namespace octet
