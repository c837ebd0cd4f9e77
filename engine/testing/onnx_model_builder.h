// Builds small ONNX models in C++ for the engine's tests, through Debian's onnx protobuf
// classes, so that a test states its graph next to its assertions instead of shipping .onnx
// files.
//
//   OnnxModelBuilder m(/*opset=*/13);
//   m.Input("x", {1, 3, 8, 8});
//   m.Initializer("w", RandomTensor({4, 3, 3, 3}, /*seed=*/1));
//   m.Node("Conv", {"x", "w"}, {"y"}, "conv").Ints("pads", {1, 1, 1, 1});
//   m.Output("y");
//   auto model = Model::FromBytes(m.Serialize());
//
// The builder does not validate anything: tests also use it to write broken models. Not
// thread-safe; one builder per test.
#ifndef OCTET_ENGINE_TESTING_ONNX_MODEL_BUILDER_H_
#define OCTET_ENGINE_TESTING_ONNX_MODEL_BUILDER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace onnx {
class ModelProto;
class NodeProto;
}  // namespace onnx

namespace octet {
namespace testing {

// Adds attributes to one node of an OnnxModelBuilder. Valid until the builder adds another
// node or is destroyed.
class NodeAttributes {
 public:
  explicit NodeAttributes(onnx::NodeProto* node) : node_(node) {}

  NodeAttributes& Int(const std::string& name, int64_t value);
  NodeAttributes& Float(const std::string& name, float value);
  NodeAttributes& String(const std::string& name, const std::string& value);
  NodeAttributes& Ints(const std::string& name, const std::vector<int64_t>& values);
  NodeAttributes& Floats(const std::string& name, const std::vector<float>& values);
  NodeAttributes& TensorValue(const std::string& name, const Tensor& value);
  // Sets the node's domain (for tests of non-default domains).
  NodeAttributes& Domain(const std::string& domain);

  onnx::NodeProto& proto() { return *node_; }

 private:
  onnx::NodeProto* node_;
};

class OnnxModelBuilder {
 public:
  // `opset` is the default-domain opset the model imports.
  explicit OnnxModelBuilder(int64_t opset = 13);
  ~OnnxModelBuilder();
  OnnxModelBuilder(OnnxModelBuilder&&) noexcept;
  OnnxModelBuilder& operator=(OnnxModelBuilder&&) noexcept;

  // A graph input; a negative dim is written as a symbolic dimension ("N").
  void Input(const std::string& name, const Shape& shape, DataType dtype = DataType::kFloat32);
  // A graph output (type and shape left to the importer).
  void Output(const std::string& name);
  // A constant weight, stored as raw_data in the tensor's dtype.
  void Initializer(const std::string& name, const Tensor& value);
  // An int64 vector initializer, for shapes and pads.
  void Int64Initializer(const std::string& name, const std::vector<int64_t>& values);
  // A float32 scalar initializer (e.g. Clip bounds).
  void ScalarInitializer(const std::string& name, float value);
  // Appends a node; `name` may be empty.
  NodeAttributes Node(const std::string& op_type, const std::vector<std::string>& inputs,
                      const std::vector<std::string>& outputs, const std::string& name = "");

  onnx::ModelProto& proto() { return *model_; }
  std::string Serialize() const;

 private:
  std::unique_ptr<onnx::ModelProto> model_;
};

// A tensor of `shape` with values drawn uniformly from [lo, hi), reproducible from `seed`.
Tensor RandomTensor(const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

}  // namespace testing
}  // namespace octet

#endif  // OCTET_ENGINE_TESTING_ONNX_MODEL_BUILDER_H_
