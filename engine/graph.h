// The engine's graph IR: values, nodes and constant data, independent of ONNX and oneDNN.
//
// A `Graph` is what the ONNX importer produces, what the passes rewrite and what the runtime
// compiles. Values are numbered (`ValueId`); each value has at most one producing node, and a
// value with constant data (an initializer or a folded result) has none. Nodes are kept in
// topological order. Passes record fusions on the node itself (`post_ops`) and the INT8 work
// records a `precision` per node, so that neither changes the shape of the IR.
//
//   Graph g;
//   ValueId x = g.AddValue("x", DataType::kFloat32, {-1, 3, 32, 32});
//   ValueId y = g.AddValue("y", DataType::kFloat32, {});
//   Node relu;
//   relu.name = "relu";
//   relu.op_type = "Relu";
//   relu.inputs = {x};
//   relu.outputs = {y};
//   g.AddNode(std::move(relu));
//
// Not synchronised: a Graph is built and rewritten by one thread, then only read (a compiled
// model keeps its own copy).
#ifndef OCTET_ENGINE_GRAPH_H_
#define OCTET_ENGINE_GRAPH_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "engine/quant/quantization_params.h"
#include "engine/tensor.h"

namespace octet {

using ValueId = int;
inline constexpr ValueId kNoValue = -1;

// Per-node arithmetic. INT8 nodes take u8/s8 activations and s8 weights (see quantization docs).
enum class Precision { kFp32, kInt8 };

using AttributeValue =
    std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>, Tensor>;

// A node's attributes, already type-checked against the op's schema by the importer, so the
// typed getters below return the default only when the attribute is absent.
class Attributes {
 public:
  bool Has(const std::string& name) const { return map_.count(name) > 0; }
  void Set(const std::string& name, AttributeValue value) { map_[name] = std::move(value); }
  void Erase(const std::string& name) { map_.erase(name); }

  int64_t GetInt(const std::string& name, int64_t default_value) const;
  float GetFloat(const std::string& name, float default_value) const;
  std::string GetString(const std::string& name, const std::string& default_value) const;
  std::vector<int64_t> GetInts(const std::string& name,
                               const std::vector<int64_t>& default_value = {}) const;
  std::vector<float> GetFloats(const std::string& name) const;
  const Tensor* GetTensor(const std::string& name) const;

  const std::map<std::string, AttributeValue>& map() const { return map_; }

 private:
  std::map<std::string, AttributeValue> map_;
};

// Element-wise functions that oneDNN applies as standalone eltwise primitives or as
// post-ops of a convolution or matrix product.
enum class EltwiseKind {
  kRelu,  // alpha: negative slope (LeakyRelu)
  kClip,  // alpha: lower bound, beta: upper bound
  kSigmoid,
  kTanh,
  kElu,  // alpha
  kExp,
  kAbs,
  kSqrt,
  kHardSigmoid,  // alpha * x + beta, clipped to [0, 1]
  kSoftplus,
  kLinear,  // alpha * x + beta
};

// Work fused into a producing node and executed in the same primitive.
struct PostOp {
  enum class Kind { kEltwise, kSum };
  Kind kind = Kind::kEltwise;
  EltwiseKind eltwise = EltwiseKind::kRelu;
  float alpha = 0.0f;
  float beta = 0.0f;
  // kSum: index into Node::inputs of the tensor added to the result (a residual connection).
  int input_index = -1;
};

struct Node {
  std::string name;
  std::string op_type;
  std::vector<ValueId> inputs;   // kNoValue marks an omitted optional input
  std::vector<ValueId> outputs;  // kNoValue marks an omitted optional output
  Attributes attrs;
  std::vector<PostOp> post_ops;
  Precision precision = Precision::kFp32;
};

struct Value {
  std::string name;
  DataType dtype = DataType::kFloat32;
  Shape shape;                             // declared or inferred; negative dims unknown
  std::shared_ptr<const Tensor> constant;  // set for initializers and folded results
  // u8 quantization of this activation, when calibration gave it a range (INT8 graphs only).
  std::optional<quant::QuantizationParams> quant;
};

class Graph {
 public:
  ValueId AddValue(std::string name, DataType dtype, Shape shape);
  ValueId AddConstant(std::string name, Tensor data);
  // The value with this name, or kNoValue.
  ValueId FindValue(const std::string& name) const;

  const Value& value(ValueId id) const { return values_[id]; }
  Value& mutable_value(ValueId id) { return values_[id]; }
  int num_values() const { return static_cast<int>(values_.size()); }

  bool IsConstant(ValueId id) const { return id != kNoValue && values_[id].constant != nullptr; }
  const Tensor& constant(ValueId id) const { return *values_[id].constant; }
  void SetConstant(ValueId id, Tensor data);

  void AddNode(Node node) { nodes_.push_back(std::move(node)); }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& mutable_nodes() { return nodes_; }

  const std::vector<ValueId>& inputs() const { return inputs_; }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  std::vector<ValueId>& mutable_inputs() { return inputs_; }
  std::vector<ValueId>& mutable_outputs() { return outputs_; }

  int opset() const { return opset_; }
  void set_opset(int opset) { opset_ = opset; }

  // Index of the node producing each value (-1 for graph inputs, constants and unused ids).
  std::vector<int> ProducerIndex() const;
  // For each value, the indices of the nodes that read it (post-op inputs included).
  std::vector<std::vector<int>> ConsumerIndex() const;
  bool IsGraphOutput(ValueId id) const;

  // Makes every reader of `from` (nodes and graph outputs) read `to` instead.
  void ReplaceAllUses(ValueId from, ValueId to);
  // Orders nodes so that every value is produced before it is read; fails on a cycle or on a
  // value read but never produced.
  absl::Status TopologicalSort();
  // Drops nodes whose outputs are neither read nor graph outputs, repeatedly.
  void RemoveDeadNodes();

 private:
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
  std::map<std::string, ValueId> by_name_;
  int opset_ = 0;
};

}  // namespace octet

#endif  // OCTET_ENGINE_GRAPH_H_
