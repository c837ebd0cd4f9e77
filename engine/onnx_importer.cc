#include "engine/onnx_importer.h"

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/op_schema.h"
#include "onnx/onnx_pb.h"  // defines ONNX_API, then includes onnx-ml.pb.h (ONNX_ML=1)

namespace octet {
namespace {

absl::StatusOr<DataType> FromOnnxType(int32_t type, const std::string& what) {
  switch (type) {
    case onnx::TensorProto::FLOAT:
      return DataType::kFloat32;
    case onnx::TensorProto::UINT8:
      return DataType::kUInt8;
    case onnx::TensorProto::INT8:
      return DataType::kInt8;
    case onnx::TensorProto::INT32:
      return DataType::kInt32;
    case onnx::TensorProto::INT64:
      return DataType::kInt64;
    default:
      return absl::UnimplementedError(absl::StrCat(what, " has unsupported element type ",
                                                   onnx::TensorProto::DataType_Name(type)));
  }
}

template <typename Src, typename Dst>
absl::Status CopyTyped(const google::protobuf::RepeatedField<Src>& src, Tensor& dst,
                       const std::string& what) {
  if (src.size() != dst.num_elements()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " holds ", src.size(), " values but its shape ",
                     ShapeToString(dst.shape()), " needs ", dst.num_elements()));
  }
  Dst* out = dst.data<Dst>();
  for (int i = 0; i < src.size(); ++i) out[i] = static_cast<Dst>(src.Get(i));
  return absl::OkStatus();
}

absl::StatusOr<Tensor> FromOnnxTensor(const onnx::TensorProto& proto) {
  const std::string what = absl::StrCat("tensor '", proto.name(), "'");
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    return absl::UnimplementedError(absl::StrCat(what, " uses external data"));
  }
  if (proto.has_segment()) {
    return absl::UnimplementedError(absl::StrCat(what, " is segmented"));
  }
  OCTET_ASSIGN_OR_RETURN(DataType dtype, FromOnnxType(proto.data_type(), what));
  Shape shape(proto.dims().begin(), proto.dims().end());
  auto count = NumElements(shape);
  if (!count.ok())
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", count.status().message()));
  constexpr int64_t kMaxTensorBytes = int64_t{1} << 34;  // 16 GiB: far beyond any CPU model
  // Compared as a count, not as bytes: count * size can overflow int64 (fuzzing found dims
  // whose element count fits but whose byte count does not).
  if (*count > kMaxTensorBytes / static_cast<int64_t>(DataTypeSize(dtype))) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is too large"));
  }
  if (proto.has_raw_data()) {
    const size_t expected = *count * DataTypeSize(dtype);
    if (proto.raw_data().size() != expected) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has ", proto.raw_data().size(),
                                                     " bytes of data but its shape ",
                                                     ShapeToString(shape), " needs ", expected));
    }
    Tensor t(dtype, shape);
    if (expected > 0) std::memcpy(t.raw_data(), proto.raw_data().data(), expected);
    return t;
  }
  Tensor t(dtype, shape);
  switch (dtype) {
    case DataType::kFloat32:
      OCTET_RETURN_IF_ERROR((CopyTyped<float, float>(proto.float_data(), t, what)));
      break;
    case DataType::kInt64:
      OCTET_RETURN_IF_ERROR((CopyTyped<int64_t, int64_t>(proto.int64_data(), t, what)));
      break;
    case DataType::kInt32:
      OCTET_RETURN_IF_ERROR((CopyTyped<int32_t, int32_t>(proto.int32_data(), t, what)));
      break;
    case DataType::kUInt8:
      OCTET_RETURN_IF_ERROR((CopyTyped<int32_t, uint8_t>(proto.int32_data(), t, what)));
      break;
    case DataType::kInt8:
      OCTET_RETURN_IF_ERROR((CopyTyped<int32_t, int8_t>(proto.int32_data(), t, what)));
      break;
  }
  return t;
}

absl::StatusOr<AttributeValue> FromOnnxAttribute(const onnx::AttributeProto& attr,
                                                 const std::string& node_name) {
  switch (attr.type()) {
    case onnx::AttributeProto::INT:
      return AttributeValue(static_cast<int64_t>(attr.i()));
    case onnx::AttributeProto::FLOAT:
      return AttributeValue(attr.f());
    case onnx::AttributeProto::STRING:
      return AttributeValue(attr.s());
    case onnx::AttributeProto::INTS:
      return AttributeValue(std::vector<int64_t>(attr.ints().begin(), attr.ints().end()));
    case onnx::AttributeProto::FLOATS:
      return AttributeValue(std::vector<float>(attr.floats().begin(), attr.floats().end()));
    case onnx::AttributeProto::TENSOR: {
      OCTET_ASSIGN_OR_RETURN(Tensor t, FromOnnxTensor(attr.t()));
      return AttributeValue(std::move(t));
    }
    default:
      return absl::UnimplementedError(absl::StrCat(
          "node '", node_name, "': attribute '", attr.name(), "' has unsupported type ",
          onnx::AttributeProto::AttributeType_Name(attr.type())));
  }
}

// A Constant node's value as a tensor.
absl::StatusOr<Tensor> ConstantValue(const onnx::NodeProto& node, const Attributes& attrs) {
  if (const Tensor* t = attrs.GetTensor("value")) return *t;
  if (attrs.Has("value_float")) {
    return Tensor::FromVector<float>(DataType::kFloat32, {}, {attrs.GetFloat("value_float", 0)});
  }
  if (attrs.Has("value_floats")) {
    std::vector<float> v = attrs.GetFloats("value_floats");
    return Tensor::FromVector<float>(DataType::kFloat32, {static_cast<int64_t>(v.size())}, v);
  }
  if (attrs.Has("value_int")) {
    return Tensor::FromVector<int64_t>(DataType::kInt64, {}, {attrs.GetInt("value_int", 0)});
  }
  if (attrs.Has("value_ints")) {
    std::vector<int64_t> v = attrs.GetInts("value_ints");
    return Tensor::FromVector<int64_t>(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
  }
  return absl::UnimplementedError(
      absl::StrCat("node '", node.name(), "' (Constant): unsupported value attribute"));
}

absl::StatusOr<int> DefaultOpset(const onnx::ModelProto& model) {
  for (const auto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") {
      const int64_t v = opset.version();
      if (v < kMinOpset || v > kMaxOpset) {
        return absl::UnimplementedError(absl::StrCat("opset ", v, " is not supported (Octet ",
                                                     "supports opsets ", kMinOpset, " to ",
                                                     kMaxOpset, ")"));
      }
      return static_cast<int>(v);
    }
  }
  return absl::InvalidArgumentError("the model imports no default-domain opset");
}

class Importer {
 public:
  absl::StatusOr<Graph> Run(const onnx::ModelProto& model) {
    OCTET_ASSIGN_OR_RETURN(int opset, DefaultOpset(model));
    graph_.set_opset(opset);
    const onnx::GraphProto& g = model.graph();
    for (const auto& init : g.initializer()) {
      OCTET_ASSIGN_OR_RETURN(Tensor t, FromOnnxTensor(init));
      if (graph_.FindValue(init.name()) != kNoValue) {
        return absl::InvalidArgumentError(
            absl::StrCat("initializer '", init.name(), "' is defined twice"));
      }
      graph_.AddConstant(init.name(), std::move(t));
    }
    for (const auto& input : g.input()) {
      if (graph_.FindValue(input.name()) != kNoValue) continue;  // an initializer
      OCTET_RETURN_IF_ERROR(AddGraphInput(input));
    }
    for (const auto& node : g.node()) OCTET_RETURN_IF_ERROR(AddNode(node));
    for (const auto& output : g.output()) {
      ValueId id = graph_.FindValue(output.name());
      if (id == kNoValue) {
        return absl::InvalidArgumentError(
            absl::StrCat("graph output '", output.name(), "' is never produced"));
      }
      if (graph_.IsGraphOutput(id)) {
        return absl::InvalidArgumentError(
            absl::StrCat("graph output '", output.name(), "' is listed twice"));
      }
      graph_.mutable_outputs().push_back(id);
    }
    if (graph_.outputs().empty()) return absl::InvalidArgumentError("the graph has no outputs");
    OCTET_RETURN_IF_ERROR(graph_.TopologicalSort());
    return std::move(graph_);
  }

 private:
  absl::Status AddGraphInput(const onnx::ValueInfoProto& input) {
    if (!input.type().has_tensor_type()) {
      return absl::UnimplementedError(absl::StrCat("input '", input.name(), "' is not a tensor"));
    }
    const auto& tt = input.type().tensor_type();
    OCTET_ASSIGN_OR_RETURN(
        DataType dtype, FromOnnxType(tt.elem_type(), absl::StrCat("input '", input.name(), "'")));
    if (!tt.has_shape()) {
      return absl::UnimplementedError(absl::StrCat("input '", input.name(), "' has no shape"));
    }
    Shape shape;
    for (const auto& dim : tt.shape().dim()) {
      shape.push_back(dim.has_dim_value() && dim.dim_value() >= 0 ? dim.dim_value() : -1);
    }
    graph_.mutable_inputs().push_back(graph_.AddValue(input.name(), dtype, shape));
    return absl::OkStatus();
  }

  absl::Status AddNode(const onnx::NodeProto& proto) {
    Node node;
    node.name = proto.name().empty() ? absl::StrCat(proto.op_type(), "_", graph_.nodes().size())
                                     : proto.name();
    node.op_type = proto.op_type();
    if (!proto.domain().empty() && proto.domain() != "ai.onnx") {
      return absl::UnimplementedError(absl::StrCat("node '", node.name, "': operator ",
                                                   proto.domain(), ".", proto.op_type(),
                                                   " is not supported"));
    }
    for (const auto& attr : proto.attribute()) {
      OCTET_ASSIGN_OR_RETURN(AttributeValue value, FromOnnxAttribute(attr, node.name));
      node.attrs.Set(attr.name(), std::move(value));
    }
    if (node.op_type == "Constant") {
      if (proto.output_size() != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("node '", node.name, "' (Constant) must have one output"));
      }
      OCTET_ASSIGN_OR_RETURN(Tensor value, ConstantValue(proto, node.attrs));
      OCTET_RETURN_IF_ERROR(CheckNewName(proto.output(0), node.name));
      graph_.AddConstant(proto.output(0), std::move(value));
      return absl::OkStatus();
    }
    for (const std::string& name : proto.input()) {
      if (name.empty()) {
        node.inputs.push_back(kNoValue);
        continue;
      }
      ValueId id = graph_.FindValue(name);
      if (id == kNoValue) {
        // Produced by a later node (the file is not sorted): create it now.
        id = graph_.AddValue(name, DataType::kFloat32, {});
      }
      node.inputs.push_back(id);
    }
    for (const std::string& name : proto.output()) {
      if (name.empty()) {
        node.outputs.push_back(kNoValue);
        continue;
      }
      ValueId id = graph_.FindValue(name);
      if (id != kNoValue) {
        if (produced_.count(name) || graph_.IsConstant(id) || IsInput(id)) {
          return absl::InvalidArgumentError(
              absl::StrCat("node '", node.name, "': output '", name, "' is defined twice"));
        }
      } else {
        id = graph_.AddValue(name, DataType::kFloat32, {});
      }
      produced_.insert(name);
      node.outputs.push_back(id);
    }
    OCTET_RETURN_IF_ERROR(ValidateNodeSignature(node));
    graph_.AddNode(std::move(node));
    return absl::OkStatus();
  }

  absl::Status CheckNewName(const std::string& name, const std::string& node_name) {
    if (graph_.FindValue(name) != kNoValue) {
      return absl::InvalidArgumentError(
          absl::StrCat("node '", node_name, "': output '", name, "' is defined twice"));
    }
    return absl::OkStatus();
  }

  bool IsInput(ValueId id) const {
    for (ValueId in : graph_.inputs()) {
      if (in == id) return true;
    }
    return false;
  }

  Graph graph_;
  std::set<std::string> produced_;
};

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading '", path, "'"));
  return contents.str();
}

absl::StatusOr<Graph> ImportOnnxModel(const std::string& bytes) {
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        "not a valid ONNX model (the protobuf does not parse: truncated or corrupt file?)");
  }
  if (!model.has_graph()) return absl::InvalidArgumentError("the ONNX model has no graph");
  return Importer().Run(model);
}

absl::StatusOr<Graph> ImportOnnxFile(const std::string& path) {
  OCTET_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  auto graph = ImportOnnxModel(bytes);
  if (!graph.ok()) {
    return absl::Status(graph.status().code(), absl::StrCat(path, ": ", graph.status().message()));
  }
  return graph;
}

absl::StatusOr<Tensor> ReadOnnxTensorFile(const std::string& path) {
  OCTET_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a valid TensorProto"));
  }
  return FromOnnxTensor(proto);
}

}  // namespace octet
