#include "server/inference/tensor_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "server/config/model_config.h"

namespace octet::server {
namespace {

using inference::InferTensorContents;
using inference::ModelInferRequest;

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(std::string(message));
}

std::string FormatShape(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

std::string InputNames(const ModelSignature& signature) {
  return absl::StrJoin(signature.inputs, ", ", [](std::string* out, const TensorSpec& spec) {
    absl::StrAppend(out, "'", spec.name, "'");
  });
}

// The shape a request must send: batch dimension first for batching models.
std::string ExpectedShape(const TensorSpec& spec, const ModelSignature& signature) {
  std::vector<std::string> dims;
  if (signature.batching()) dims.push_back(absl::StrCat("1..", signature.max_batch_size));
  for (int64_t d : spec.dims) dims.push_back(d < 0 ? "-1" : absl::StrCat(d));
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

// Checks the request's shape for `spec` and returns its element count.
absl::StatusOr<int64_t> CheckShape(const ModelInferRequest::InferInputTensor& input,
                                   const TensorSpec& spec, const ModelSignature& signature,
                                   const CodecLimits& limits) {
  const auto& shape = input.shape();
  const size_t rank = spec.dims.size() + (signature.batching() ? 1 : 0);
  const std::string got = absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
  if (static_cast<size_t>(shape.size()) != rank) {
    return Invalid(absl::StrCat("input '", spec.name, "': shape ", got, " has rank ", shape.size(),
                                "; expected rank ", rank, ", shape ",
                                ExpectedShape(spec, signature)));
  }
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      return Invalid(
          absl::StrCat("input '", spec.name, "': shape ", got, " has a negative dimension"));
    }
    if (shape[i] == 0) {
      return Invalid(absl::StrCat("input '", spec.name, "': shape ", got,
                                  " has a zero dimension (no data to infer on)"));
    }
  }
  const int offset = signature.batching() ? 1 : 0;
  if (signature.batching() && shape[0] > signature.max_batch_size) {
    return Invalid(absl::StrCat("input '", spec.name, "': batch size ", shape[0],
                                " exceeds the model's max_batch_size ", signature.max_batch_size));
  }
  for (size_t i = 0; i < spec.dims.size(); ++i) {
    const int64_t want = spec.dims[i];
    const int64_t have = shape[static_cast<int>(i) + offset];
    if (want >= 0 && have != want) {
      return Invalid(absl::StrCat("input '", spec.name, "': shape ", got, " does not match ",
                                  ExpectedShape(spec, signature), " (dimension ", i + offset,
                                  " is ", have, ", expected ", want, ")"));
    }
  }
  int64_t elements = 1;
  for (int64_t d : shape) {
    if (elements > limits.max_tensor_elements / d) {
      return Invalid(absl::StrCat("input '", spec.name, "': shape ", got,
                                  " has more elements than the server's limit of ",
                                  limits.max_tensor_elements));
    }
    elements *= d;
  }
  return elements;
}

int NumTypedValues(const InferTensorContents& c) {
  return c.bool_contents_size() + c.int_contents_size() + c.int64_contents_size() +
         c.uint_contents_size() + c.uint64_contents_size() + c.fp32_contents_size() +
         c.fp64_contents_size() + c.bytes_contents_size();
}

// The contents field a datatype's values travel in, and how many values it holds.
std::pair<const char*, int> TypedField(DataType dtype, const InferTensorContents& c) {
  switch (dtype) {
    case DataType::kFloat32:
      return {"fp32_contents", c.fp32_contents_size()};
    case DataType::kUInt8:
      return {"uint_contents", c.uint_contents_size()};
    case DataType::kInt8:
    case DataType::kInt32:
      return {"int_contents", c.int_contents_size()};
    case DataType::kInt64:
      return {"int64_contents", c.int64_contents_size()};
  }
  return {"?", 0};
}

template <typename Src, typename Dst>
absl::Status CopyInRange(const google::protobuf::RepeatedField<Src>& values, Dst* out,
                         const std::string& name) {
  for (int i = 0; i < values.size(); ++i) {
    const Src v = values[i];
    if (v < static_cast<Src>(std::numeric_limits<Dst>::min()) ||
        v > static_cast<Src>(std::numeric_limits<Dst>::max())) {
      return Invalid(absl::StrCat("input '", name, "': element ", i, " is ", v,
                                  ", outside the range of its datatype"));
    }
    out[i] = static_cast<Dst>(v);
  }
  return absl::OkStatus();
}

absl::Status CopyTypedContents(const InferTensorContents& contents, const TensorSpec& spec,
                               Tensor* tensor) {
  const auto [field, count] = TypedField(spec.dtype, contents);
  if (count != NumTypedValues(contents)) {
    return Invalid(absl::StrCat("input '", spec.name, "': ", ProtocolDataTypeName(spec.dtype),
                                " values must be in contents.", field,
                                "; other contents fields are set"));
  }
  if (count != tensor->num_elements()) {
    return Invalid(absl::StrCat("input '", spec.name, "': contents.", field, " holds ", count,
                                " values but shape ", FormatShape(tensor->shape()), " needs ",
                                tensor->num_elements()));
  }
  switch (spec.dtype) {
    case DataType::kFloat32:
      std::copy(contents.fp32_contents().begin(), contents.fp32_contents().end(),
                tensor->data<float>());
      return absl::OkStatus();
    case DataType::kUInt8:
      return CopyInRange(contents.uint_contents(), tensor->data<uint8_t>(), spec.name);
    case DataType::kInt8:
      return CopyInRange(contents.int_contents(), tensor->data<int8_t>(), spec.name);
    case DataType::kInt32:
      std::copy(contents.int_contents().begin(), contents.int_contents().end(),
                tensor->data<int32_t>());
      return absl::OkStatus();
    case DataType::kInt64:
      std::copy(contents.int64_contents().begin(), contents.int64_contents().end(),
                tensor->data<int64_t>());
      return absl::OkStatus();
  }
  return absl::InternalError("unhandled data type");
}

absl::Status CheckFinite(const Tensor& tensor, const TensorSpec& spec) {
  if (spec.dtype != DataType::kFloat32 || spec.allow_nan) return absl::OkStatus();
  const float* values = tensor.data<float>();
  for (int64_t i = 0; i < tensor.num_elements(); ++i) {
    if (!std::isfinite(values[i])) {
      return Invalid(absl::StrCat("input '", spec.name, "': element ", i, " is ",
                                  std::isnan(values[i]) ? "NaN" : "infinite",
                                  "; this model does not accept NaN or Inf (allow_nan is false)"));
    }
  }
  return absl::OkStatus();
}

// The request parameter "label": one class index per sample (DecodedRequest::labels).
absl::StatusOr<std::vector<int64_t>> DecodeLabels(const ModelInferRequest& request,
                                                  int64_t samples) {
  auto it = request.parameters().find("label");
  if (it == request.parameters().end()) return std::vector<int64_t>();
  const inference::InferParameter& p = it->second;
  std::vector<int64_t> labels;
  switch (p.parameter_choice_case()) {
    case inference::InferParameter::kInt64Param:
      labels.push_back(p.int64_param());
      break;
    case inference::InferParameter::kUint64Param:
      if (p.uint64_param() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Invalid(absl::StrCat("parameter 'label' is ", p.uint64_param(), "; too large"));
      }
      labels.push_back(static_cast<int64_t>(p.uint64_param()));
      break;
    case inference::InferParameter::kStringParam:
      for (absl::string_view item : absl::StrSplit(p.string_param(), ',')) {
        int64_t label = 0;
        if (!absl::SimpleAtoi(item, &label)) {
          return Invalid(absl::StrCat("parameter 'label' \"", p.string_param(), "\": '", item,
                                      "' is not an integer; expected class indices separated by "
                                      "commas, one per sample, e.g. \"3,1,4\""));
        }
        labels.push_back(label);
      }
      break;
    default:
      return Invalid(
          "parameter 'label' must be an int64_param (the class index of a one-sample request) "
          "or a string_param with one class index per sample, e.g. \"3,1,4\"");
  }
  for (int64_t label : labels) {
    if (label < 0) return Invalid(absl::StrCat("parameter 'label' is ", label, "; must be >= 0"));
  }
  if (static_cast<int64_t>(labels.size()) != samples) {
    return Invalid(absl::StrCat("parameter 'label' gives ", labels.size(), " label",
                                labels.size() == 1 ? "" : "s", " but the request has ", samples,
                                " samples; send one class index per sample, e.g. \"3,1,4\""));
  }
  return labels;
}

absl::StatusOr<std::vector<int>> DecodeRequestedOutputs(const ModelInferRequest& request,
                                                        const ModelSignature& signature) {
  std::vector<int> outputs;
  if (request.outputs().empty()) {
    for (size_t i = 0; i < signature.outputs.size(); ++i) outputs.push_back(static_cast<int>(i));
    return outputs;
  }
  for (const auto& requested : request.outputs()) {
    auto it = std::find_if(signature.outputs.begin(), signature.outputs.end(),
                           [&](const TensorSpec& spec) { return spec.name == requested.name(); });
    if (it == signature.outputs.end()) {
      return Invalid(absl::StrCat(
          "requested output '", requested.name(), "' is not an output of the model; outputs: ",
          absl::StrJoin(signature.outputs, ", ", [](std::string* out, const TensorSpec& spec) {
            absl::StrAppend(out, "'", spec.name, "'");
          })));
    }
    const int index = static_cast<int>(it - signature.outputs.begin());
    if (std::find(outputs.begin(), outputs.end(), index) != outputs.end()) {
      return Invalid(absl::StrCat("output '", requested.name(), "' is requested twice"));
    }
    outputs.push_back(index);
  }
  return outputs;
}

}  // namespace

absl::StatusOr<ModelSignature> SignatureFromConfig(const v1::ModelConfig& config,
                                                   const std::vector<TensorInfo>& model_inputs,
                                                   const std::vector<TensorInfo>& model_outputs) {
  ModelSignature signature;
  signature.max_batch_size = config.max_batch_size();
  auto index_of = [](const std::vector<TensorInfo>& infos,
                     const std::string& name) -> absl::StatusOr<int> {
    for (size_t i = 0; i < infos.size(); ++i) {
      if (infos[i].name == name) return static_cast<int>(i);
    }
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not in the model"));
  };
  auto to_spec = [](const auto& config_tensor, int index) -> absl::StatusOr<TensorSpec> {
    TensorSpec spec;
    spec.name = config_tensor.name();
    OCTET_ASSIGN_OR_RETURN(spec.dtype, FromConfigDataType(config_tensor.data_type()));
    spec.dims.assign(config_tensor.dims().begin(), config_tensor.dims().end());
    spec.model_index = index;
    return spec;
  };
  signature.inputs.resize(model_inputs.size());
  std::set<int> seen;
  for (const v1::ModelInput& input : config.input()) {
    OCTET_ASSIGN_OR_RETURN(int index, index_of(model_inputs, input.name()));
    OCTET_ASSIGN_OR_RETURN(TensorSpec spec, to_spec(input, index));
    spec.allow_nan = input.allow_nan();
    signature.inputs[index] = std::move(spec);
    seen.insert(index);
  }
  if (seen.size() != model_inputs.size()) {
    return absl::InvalidArgumentError("the config does not list every model input");
  }
  for (const v1::ModelOutput& output : config.output()) {
    OCTET_ASSIGN_OR_RETURN(int index, index_of(model_outputs, output.name()));
    OCTET_ASSIGN_OR_RETURN(TensorSpec spec, to_spec(output, index));
    signature.outputs.push_back(std::move(spec));
  }
  return signature;
}

absl::StatusOr<DecodedRequest> DecodeInferRequest(const ModelInferRequest& request,
                                                  const ModelSignature& signature,
                                                  const CodecLimits& limits) {
  const bool raw = !request.raw_input_contents().empty();
  if (raw && request.raw_input_contents_size() != request.inputs_size()) {
    return Invalid(absl::StrCat("raw_input_contents has ", request.raw_input_contents_size(),
                                " entries but the request has ", request.inputs_size(),
                                " inputs; there must be one per input, in the same order"));
  }
  DecodedRequest decoded;
  decoded.inputs.resize(signature.inputs.size());
  std::vector<bool> present(signature.inputs.size(), false);
  int64_t batch = -1;
  for (int i = 0; i < request.inputs_size(); ++i) {
    const ModelInferRequest::InferInputTensor& input = request.inputs(i);
    auto it = std::find_if(signature.inputs.begin(), signature.inputs.end(),
                           [&](const TensorSpec& spec) { return spec.name == input.name(); });
    if (it == signature.inputs.end()) {
      return Invalid(absl::StrCat("unknown input '", input.name(), "'; the model's inputs are ",
                                  InputNames(signature)));
    }
    const TensorSpec& spec = *it;
    const size_t index = static_cast<size_t>(it - signature.inputs.begin());
    if (present[index]) return Invalid(absl::StrCat("input '", spec.name, "' is given twice"));
    present[index] = true;
    if (input.datatype() != ProtocolDataTypeName(spec.dtype)) {
      return Invalid(absl::StrCat("input '", spec.name, "': datatype '", input.datatype(),
                                  "' but the model expects ", ProtocolDataTypeName(spec.dtype)));
    }
    OCTET_ASSIGN_OR_RETURN(int64_t elements, CheckShape(input, spec, signature, limits));
    if (signature.batching()) {
      if (batch >= 0 && input.shape(0) != batch) {
        return Invalid(absl::StrCat("input '", spec.name, "': batch size ", input.shape(0),
                                    " differs from the other inputs' ", batch));
      }
      batch = input.shape(0);
    }
    Tensor tensor(spec.dtype, Shape(input.shape().begin(), input.shape().end()));
    const bool typed = input.has_contents() && NumTypedValues(input.contents()) > 0;
    if (raw) {
      if (typed) {
        return Invalid(absl::StrCat("input '", spec.name,
                                    "' has typed contents but the request uses "
                                    "raw_input_contents; use one or the other"));
      }
      const std::string& bytes = request.raw_input_contents(i);
      const size_t expected = static_cast<size_t>(elements) * DataTypeSize(spec.dtype);
      if (bytes.size() != expected) {
        return Invalid(absl::StrCat("input '", spec.name, "': raw_input_contents holds ",
                                    bytes.size(), " bytes but shape ", FormatShape(tensor.shape()),
                                    " of ", ProtocolDataTypeName(spec.dtype), " needs ", expected));
      }
      std::memcpy(tensor.raw_data(), bytes.data(), bytes.size());
    } else if (typed) {
      OCTET_RETURN_IF_ERROR(CopyTypedContents(input.contents(), spec, &tensor));
    } else {
      return Invalid(absl::StrCat("input '", spec.name,
                                  "' has no data: set its contents or raw_input_contents"));
    }
    OCTET_RETURN_IF_ERROR(CheckFinite(tensor, spec));
    decoded.inputs[index] = std::move(tensor);
  }
  for (size_t i = 0; i < present.size(); ++i) {
    if (!present[i]) {
      return Invalid(absl::StrCat("missing input '", signature.inputs[i].name,
                                  "'; the model's inputs are ", InputNames(signature)));
    }
  }
  decoded.samples = signature.batching() ? batch : 1;
  OCTET_ASSIGN_OR_RETURN(decoded.outputs, DecodeRequestedOutputs(request, signature));
  OCTET_ASSIGN_OR_RETURN(decoded.labels, DecodeLabels(request, decoded.samples));
  return decoded;
}

absl::Status AppendOutput(const TensorSpec& spec, const Tensor& value, int64_t first_row,
                          int64_t rows, bool batching, inference::ModelInferResponse* response) {
  if (value.dtype() != spec.dtype) {
    return absl::InternalError(absl::StrCat("output '", spec.name, "' is ",
                                            DataTypeName(value.dtype()), ", expected ",
                                            DataTypeName(spec.dtype)));
  }
  auto* out = response->add_outputs();
  out->set_name(spec.name);
  out->set_datatype(ProtocolDataTypeName(spec.dtype));
  const char* bytes = static_cast<const char*>(value.raw_data());
  if (!batching) {
    for (int64_t d : value.shape()) out->add_shape(d);
    response->add_raw_output_contents(bytes, value.byte_size());
    return absl::OkStatus();
  }
  if (value.shape().empty() || first_row < 0 || rows < 1 || first_row + rows > value.shape()[0]) {
    return absl::InternalError(absl::StrCat("output '", spec.name, "' has shape ",
                                            FormatShape(value.shape()), ", not rows [", first_row,
                                            ", ", first_row + rows, ")"));
  }
  const size_t row_bytes = value.byte_size() / static_cast<size_t>(value.shape()[0]);
  out->add_shape(rows);
  for (size_t i = 1; i < value.shape().size(); ++i) out->add_shape(value.shape()[i]);
  response->add_raw_output_contents(bytes + first_row * row_bytes, rows * row_bytes);
  return absl::OkStatus();
}

std::string ProtocolDataTypeName(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32:
      return "FP32";
    case DataType::kUInt8:
      return "UINT8";
    case DataType::kInt8:
      return "INT8";
    case DataType::kInt32:
      return "INT32";
    case DataType::kInt64:
      return "INT64";
  }
  return "INVALID";
}

absl::StatusOr<DataType> ParseProtocolDataType(const std::string& name) {
  for (DataType t : {DataType::kFloat32, DataType::kUInt8, DataType::kInt8, DataType::kInt32,
                     DataType::kInt64}) {
    if (ProtocolDataTypeName(t) == name) return t;
  }
  return Invalid(absl::StrCat("datatype '", name, "' is not supported"));
}

}  // namespace octet::server
