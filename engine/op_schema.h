// What Octet accepts of each ONNX operator: input and output counts, attribute names and
// types, and the shape function. The importer checks every node against its schema, so that
// an unsupported operator, attribute or opset is refused at load time with a message that
// names the node, never discovered in the middle of a request.
//
// The table is built once and immutable; all functions are thread-safe.
#ifndef OCTET_ENGINE_OP_SCHEMA_H_
#define OCTET_ENGINE_OP_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/graph.h"

namespace octet {

// The default-domain opsets the importer accepts (ONNX 1.12 defines up to 17). Opsets below 7
// are accepted with their legacy attributes (broadcast/axis of the arithmetic operators,
// is_test) where Octet implements what they mean; an operator whose old form Octet does not
// implement sets `since_opset`.
inline constexpr int kMinOpset = 1;
inline constexpr int kMaxOpset = 17;

// The largest tensor, in bytes, that a model may declare or compute (16 GiB: far beyond any
// activation of a CPU model, far below what overflows a size).
inline constexpr int64_t kMaxTensorBytes = int64_t{1} << 34;

enum class AttrType { kInt, kFloat, kString, kInts, kFloats, kTensor };

struct AttrSpec {
  const char* name;
  AttrType type;
};

// Inputs to the shape function of one node.
struct ShapeContext {
  const Graph& graph;
  const Node& node;
  std::vector<Shape> inputs;  // shape of each input; empty for omitted optional inputs
  // Filled by the shape function, one per node output.
  std::vector<Shape> outputs;
  std::vector<DataType> output_types;

  bool HasInput(size_t i) const { return i < node.inputs.size() && node.inputs[i] != kNoValue; }
  DataType input_type(size_t i) const { return graph.value(node.inputs[i]).dtype; }
  // The input's data when it is a constant, else nullptr.
  const Tensor* ConstantInput(size_t i) const {
    return HasInput(i) && graph.IsConstant(node.inputs[i]) ? &graph.constant(node.inputs[i])
                                                           : nullptr;
  }
};

using ShapeFunction = absl::Status (*)(ShapeContext&);

struct OpSchema {
  const char* op_type;
  int min_inputs;
  int max_inputs;
  int max_outputs;
  std::vector<AttrSpec> attributes;
  ShapeFunction infer;
  int since_opset = kMinOpset;  // earliest opset in which Octet accepts the operator
};

// The schema of `op_type` in the default domain, or nullptr when Octet has none.
const OpSchema* FindOpSchema(absl::string_view op_type);

// Every operator Octet can run, sorted; for documentation and error messages.
std::vector<std::string> SupportedOps();

// Checks arity and attribute names and types of `node` against its schema.
absl::Status ValidateNodeSignature(const Node& node);

// Computes the output shapes and types of every node in order, from the shapes of the graph
// inputs (which must be fully known). Writes them into the graph's values.
absl::Status InferShapes(Graph& graph);

// Prefixes a status message with "node 'NAME' (OP): ".
absl::Status NodeError(const Node& node, const absl::Status& status);

}  // namespace octet

#endif  // OCTET_ENGINE_OP_SCHEMA_H_
