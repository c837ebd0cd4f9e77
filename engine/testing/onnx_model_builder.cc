#include "engine/testing/onnx_model_builder.h"

#include <cstring>
#include <random>

#include "onnx/onnx_pb.h"  // defines ONNX_API, then includes onnx-ml.pb.h (ONNX_ML=1)

namespace octet {
namespace testing {
namespace {

int32_t OnnxType(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32:
      return onnx::TensorProto::FLOAT;
    case DataType::kUInt8:
      return onnx::TensorProto::UINT8;
    case DataType::kInt8:
      return onnx::TensorProto::INT8;
    case DataType::kInt32:
      return onnx::TensorProto::INT32;
    case DataType::kInt64:
      return onnx::TensorProto::INT64;
  }
  return onnx::TensorProto::UNDEFINED;
}

void FillTensorProto(const std::string& name, const Tensor& value, onnx::TensorProto* proto) {
  proto->set_name(name);
  proto->set_data_type(OnnxType(value.dtype()));
  for (int64_t d : value.shape()) proto->add_dims(d);
  proto->set_raw_data(std::string(static_cast<const char*>(value.raw_data()), value.byte_size()));
}

onnx::AttributeProto* AddAttribute(onnx::NodeProto* node, const std::string& name,
                                   onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto* attr = node->add_attribute();
  attr->set_name(name);
  attr->set_type(type);
  return attr;
}

}  // namespace

NodeAttributes& NodeAttributes::Int(const std::string& name, int64_t value) {
  AddAttribute(node_, name, onnx::AttributeProto::INT)->set_i(value);
  return *this;
}

NodeAttributes& NodeAttributes::Float(const std::string& name, float value) {
  AddAttribute(node_, name, onnx::AttributeProto::FLOAT)->set_f(value);
  return *this;
}

NodeAttributes& NodeAttributes::String(const std::string& name, const std::string& value) {
  AddAttribute(node_, name, onnx::AttributeProto::STRING)->set_s(value);
  return *this;
}

NodeAttributes& NodeAttributes::Ints(const std::string& name, const std::vector<int64_t>& values) {
  onnx::AttributeProto* attr = AddAttribute(node_, name, onnx::AttributeProto::INTS);
  for (int64_t v : values) attr->add_ints(v);
  return *this;
}

NodeAttributes& NodeAttributes::Floats(const std::string& name, const std::vector<float>& values) {
  onnx::AttributeProto* attr = AddAttribute(node_, name, onnx::AttributeProto::FLOATS);
  for (float v : values) attr->add_floats(v);
  return *this;
}

NodeAttributes& NodeAttributes::TensorValue(const std::string& name, const Tensor& value) {
  FillTensorProto("", value, AddAttribute(node_, name, onnx::AttributeProto::TENSOR)->mutable_t());
  return *this;
}

NodeAttributes& NodeAttributes::Domain(const std::string& domain) {
  node_->set_domain(domain);
  return *this;
}

OnnxModelBuilder::OnnxModelBuilder(int64_t opset) : model_(std::make_unique<onnx::ModelProto>()) {
  model_->set_ir_version(8);
  model_->set_producer_name("octet-test");
  onnx::OperatorSetIdProto* id = model_->add_opset_import();
  id->set_domain("");
  id->set_version(opset);
  model_->mutable_graph()->set_name("test");
}

OnnxModelBuilder::~OnnxModelBuilder() = default;
OnnxModelBuilder::OnnxModelBuilder(OnnxModelBuilder&&) noexcept = default;
OnnxModelBuilder& OnnxModelBuilder::operator=(OnnxModelBuilder&&) noexcept = default;

void OnnxModelBuilder::Input(const std::string& name, const Shape& shape, DataType dtype) {
  onnx::ValueInfoProto* input = model_->mutable_graph()->add_input();
  input->set_name(name);
  onnx::TypeProto::Tensor* tensor = input->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(OnnxType(dtype));
  onnx::TensorShapeProto* proto_shape = tensor->mutable_shape();
  for (int64_t d : shape) {
    onnx::TensorShapeProto::Dimension* dim = proto_shape->add_dim();
    if (d < 0) {
      dim->set_dim_param("N");
    } else {
      dim->set_dim_value(d);
    }
  }
}

void OnnxModelBuilder::Output(const std::string& name) {
  onnx::ValueInfoProto* output = model_->mutable_graph()->add_output();
  output->set_name(name);
  output->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
}

void OnnxModelBuilder::Initializer(const std::string& name, const Tensor& value) {
  FillTensorProto(name, value, model_->mutable_graph()->add_initializer());
}

void OnnxModelBuilder::Int64Initializer(const std::string& name,
                                        const std::vector<int64_t>& values) {
  Initializer(name, Tensor::FromVector<int64_t>(DataType::kInt64,
                                                {static_cast<int64_t>(values.size())}, values));
}

void OnnxModelBuilder::ScalarInitializer(const std::string& name, float value) {
  Initializer(name, Tensor::FromVector<float>(DataType::kFloat32, {}, {value}));
}

NodeAttributes OnnxModelBuilder::Node(const std::string& op_type,
                                      const std::vector<std::string>& inputs,
                                      const std::vector<std::string>& outputs,
                                      const std::string& name) {
  onnx::NodeProto* node = model_->mutable_graph()->add_node();
  node->set_op_type(op_type);
  node->set_name(name);
  for (const std::string& input : inputs) node->add_input(input);
  for (const std::string& output : outputs) node->add_output(output);
  return NodeAttributes(node);
}

std::string OnnxModelBuilder::Serialize() const { return model_->SerializeAsString(); }

Tensor RandomTensor(const Shape& shape, uint32_t seed, float lo, float hi) {
  Tensor t(DataType::kFloat32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  float* data = t.data<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i) data[i] = dist(rng);
  return t;
}

}  // namespace testing
}  // namespace octet
