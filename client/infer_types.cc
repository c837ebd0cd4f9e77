#include "client/infer_types.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace octet::client {
namespace {

template <typename T>
std::string BytesOf(absl::Span<const T> values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename T>
InferInput MakeInput(std::string name, const char* datatype, std::vector<int64_t> shape,
                     absl::Span<const T> values) {
  InferInput input;
  input.name = std::move(name);
  input.datatype = datatype;
  input.shape = std::move(shape);
  input.raw = BytesOf(values);
  return input;
}

// Elements of the typed `contents` of a response output, re-encoded as raw bytes.
template <typename Wire, typename Elem>
std::string Pack(const google::protobuf::RepeatedField<Wire>& values) {
  std::string raw(values.size() * sizeof(Elem), '\0');
  for (int i = 0; i < values.size(); ++i) {
    const Elem e = static_cast<Elem>(values[i]);
    std::memcpy(raw.data() + i * sizeof(Elem), &e, sizeof(Elem));
  }
  return raw;
}

absl::StatusOr<std::string> RawFromContents(const std::string& datatype,
                                            const inference::InferTensorContents& c) {
  if (datatype == "FP32") return Pack<float, float>(c.fp32_contents());
  if (datatype == "FP64") return Pack<double, double>(c.fp64_contents());
  if (datatype == "INT8") return Pack<int32_t, int8_t>(c.int_contents());
  if (datatype == "INT16") return Pack<int32_t, int16_t>(c.int_contents());
  if (datatype == "INT32") return Pack<int32_t, int32_t>(c.int_contents());
  if (datatype == "INT64") return Pack<int64_t, int64_t>(c.int64_contents());
  if (datatype == "UINT8") return Pack<uint32_t, uint8_t>(c.uint_contents());
  if (datatype == "UINT16") return Pack<uint32_t, uint16_t>(c.uint_contents());
  if (datatype == "UINT32") return Pack<uint32_t, uint32_t>(c.uint_contents());
  if (datatype == "UINT64") return Pack<uint64_t, uint64_t>(c.uint64_contents());
  if (datatype == "BOOL") return Pack<bool, uint8_t>(c.bool_contents());
  return absl::InternalError(
      absl::StrCat("server sent datatype ", datatype, " as typed contents, which has no field"));
}

template <typename T>
void Widen(const std::string& raw, std::vector<float>* out) {
  const size_t n = raw.size() / sizeof(T);
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    (*out)[i] = static_cast<float>(v);
  }
}

// Rows of an output for ArgMax/TopK: the first dimension is the batch.
absl::StatusOr<std::pair<int64_t, int64_t>> RowsAndColumns(const OutputTensor& t, size_t size) {
  if (t.shape.size() < 2) return std::make_pair(int64_t{1}, static_cast<int64_t>(size));
  const int64_t rows = t.shape[0];
  if (rows <= 0) return std::make_pair(int64_t{0}, int64_t{0});
  const int64_t columns = static_cast<int64_t>(size) / rows;
  if (columns == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("output '", t.name, "' ", ShapeString(t.shape), " has empty rows"));
  }
  return std::make_pair(rows, columns);
}

absl::Status CheckRawSize(const std::string& what, const std::string& name,
                          const std::string& datatype, const std::vector<int64_t>& shape,
                          size_t bytes, absl::StatusCode code) {
  absl::StatusOr<int64_t> size = DatatypeSize(datatype);
  if (!size.ok())
    return absl::Status(code, absl::StrCat(what, " '", name, "': ", size.status().message()));
  absl::StatusOr<int64_t> count = ElementCount(shape);
  if (!count.ok()) {
    return absl::Status(code, absl::StrCat(what, " '", name, "': ", count.status().message()));
  }
  if (static_cast<uint64_t>(*count) * static_cast<uint64_t>(*size) != bytes) {
    return absl::Status(
        code, absl::StrCat(what, " '", name, "': ", datatype, " ", ShapeString(shape), " needs ",
                           *count * *size, " bytes, got ", bytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> DatatypeSize(absl::string_view datatype) {
  static const std::pair<const char*, int64_t> kSizes[] = {
      {"BOOL", 1},   {"UINT8", 1}, {"INT8", 1},   {"UINT16", 2}, {"INT16", 2},
      {"FP16", 2},   {"BF16", 2},  {"UINT32", 4}, {"INT32", 4},  {"FP32", 4},
      {"UINT64", 8}, {"INT64", 8}, {"FP64", 8},
  };
  for (const auto& [name, size] : kSizes) {
    if (datatype == name) return size;
  }
  if (datatype == "BYTES") {
    return absl::InvalidArgumentError("datatype BYTES is not supported by this client");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown datatype '", datatype,
      "' (expected BOOL, UINT8, INT8, UINT16, INT16, FP16, BF16, UINT32, INT32, FP32, UINT64, "
      "INT64 or FP64)"));
}

absl::StatusOr<int64_t> ElementCount(absl::Span<const int64_t> shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeString(shape), " has a negative dimension"));
    }
    if (__builtin_mul_overflow(count, d, &count)) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeString(shape), " is too large"));
    }
  }
  return count;
}

std::string ShapeString(absl::Span<const int64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

InferInput InferInput::FromFloats(std::string name, std::vector<int64_t> shape,
                                  absl::Span<const float> values) {
  return MakeInput(std::move(name), "FP32", std::move(shape), values);
}
InferInput InferInput::FromUint8(std::string name, std::vector<int64_t> shape,
                                 absl::Span<const uint8_t> values) {
  return MakeInput(std::move(name), "UINT8", std::move(shape), values);
}
InferInput InferInput::FromInt8(std::string name, std::vector<int64_t> shape,
                                absl::Span<const int8_t> values) {
  return MakeInput(std::move(name), "INT8", std::move(shape), values);
}
InferInput InferInput::FromInt32(std::string name, std::vector<int64_t> shape,
                                 absl::Span<const int32_t> values) {
  return MakeInput(std::move(name), "INT32", std::move(shape), values);
}
InferInput InferInput::FromInt64(std::string name, std::vector<int64_t> shape,
                                 absl::Span<const int64_t> values) {
  return MakeInput(std::move(name), "INT64", std::move(shape), values);
}

const OutputTensor* InferResult::Find(absl::string_view name) const {
  for (const OutputTensor& t : outputs) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<std::vector<float>> InferResult::AsFloats(absl::string_view name) const {
  const OutputTensor* t = Find(name);
  if (t == nullptr) {
    std::vector<std::string> names;
    for (const OutputTensor& o : outputs) names.push_back(absl::StrCat("'", o.name, "'"));
    return absl::NotFoundError(absl::StrCat(
        "no output '", name,
        "' in the response (outputs: ", names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
  }
  std::vector<float> values;
  const std::string& d = t->datatype;
  if (d == "FP32") {
    values.resize(t->raw.size() / sizeof(float));
    std::memcpy(values.data(), t->raw.data(), values.size() * sizeof(float));
  } else if (d == "FP64") {
    Widen<double>(t->raw, &values);
  } else if (d == "INT8") {
    Widen<int8_t>(t->raw, &values);
  } else if (d == "UINT8" || d == "BOOL") {
    Widen<uint8_t>(t->raw, &values);
  } else if (d == "INT16") {
    Widen<int16_t>(t->raw, &values);
  } else if (d == "UINT16") {
    Widen<uint16_t>(t->raw, &values);
  } else if (d == "INT32") {
    Widen<int32_t>(t->raw, &values);
  } else if (d == "UINT32") {
    Widen<uint32_t>(t->raw, &values);
  } else if (d == "INT64") {
    Widen<int64_t>(t->raw, &values);
  } else if (d == "UINT64") {
    Widen<uint64_t>(t->raw, &values);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("output '", name, "' is ", d, ", which cannot be read as floats"));
  }
  return values;
}

absl::StatusOr<std::vector<int64_t>> InferResult::ArgMax(absl::string_view name) const {
  OCTET_ASSIGN_OR_RETURN(std::vector<std::vector<ScoredClass>> top, TopK(name, 1));
  std::vector<int64_t> classes;
  classes.reserve(top.size());
  for (const auto& row : top) classes.push_back(row.empty() ? -1 : row[0].index);
  return classes;
}

absl::StatusOr<std::vector<std::vector<ScoredClass>>> InferResult::TopK(absl::string_view name,
                                                                        int k) const {
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("top-k needs k >= 1, got ", k));
  OCTET_ASSIGN_OR_RETURN(std::vector<float> values, AsFloats(name));
  OCTET_ASSIGN_OR_RETURN(auto rows_columns, RowsAndColumns(*Find(name), values.size()));
  const auto [rows, columns] = rows_columns;
  std::vector<std::vector<ScoredClass>> top(rows);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<ScoredClass> row(columns);
    for (int64_t c = 0; c < columns; ++c) row[c] = {c, values[r * columns + c]};
    const size_t keep = std::min<size_t>(k, row.size());
    // NaN compares false both ways, so it never outranks a number.
    std::partial_sort(row.begin(), row.begin() + keep, row.end(),
                      [](const ScoredClass& a, const ScoredClass& b) {
                        if (a.score != b.score) return a.score > b.score;
                        return a.index < b.index;
                      });
    row.resize(keep);
    top[r] = std::move(row);
  }
  return top;
}

absl::StatusOr<inference::ModelInferRequest> BuildModelInferRequest(const InferRequest& request) {
  if (request.model.empty()) return absl::InvalidArgumentError("infer request has no model name");
  if (request.inputs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("infer request for '", request.model, "' has no inputs"));
  }
  inference::ModelInferRequest proto;
  proto.set_model_name(request.model);
  proto.set_model_version(request.version);
  proto.set_id(request.id);
  std::set<std::string> names;
  for (const InferInput& input : request.inputs) {
    if (input.name.empty()) return absl::InvalidArgumentError("an input has no name");
    if (!names.insert(input.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("input '", input.name, "' is given twice"));
    }
    OCTET_RETURN_IF_ERROR(CheckRawSize("input", input.name, input.datatype, input.shape,
                                       input.raw.size(), absl::StatusCode::kInvalidArgument));
    inference::ModelInferRequest::InferInputTensor* tensor = proto.add_inputs();
    tensor->set_name(input.name);
    tensor->set_datatype(input.datatype);
    tensor->mutable_shape()->Add(input.shape.begin(), input.shape.end());
    proto.add_raw_input_contents(input.raw);
  }
  for (const std::string& output : request.outputs) proto.add_outputs()->set_name(output);
  for (const auto& [key, value] : request.parameters) {
    inference::InferParameter& p = (*proto.mutable_parameters())[key];
    if (const int64_t* i = std::get_if<int64_t>(&value)) {
      p.set_int64_param(*i);
    } else {
      p.set_string_param(std::get<std::string>(value));
    }
  }
  return proto;
}

absl::StatusOr<InferResult> ParseModelInferResponse(inference::ModelInferResponse response) {
  const int n = response.outputs_size();
  const int raw_count = response.raw_output_contents_size();
  if (raw_count != 0 && raw_count != n) {
    return absl::InternalError(absl::StrCat("malformed response: ", n, " outputs but ", raw_count,
                                            " raw_output_contents"));
  }
  InferResult result;
  result.model_name = std::move(*response.mutable_model_name());
  result.model_version = std::move(*response.mutable_model_version());
  result.id = std::move(*response.mutable_id());
  result.outputs.reserve(n);
  for (int i = 0; i < n; ++i) {
    inference::ModelInferResponse::InferOutputTensor& proto = *response.mutable_outputs(i);
    OutputTensor t;
    t.name = std::move(*proto.mutable_name());
    t.datatype = std::move(*proto.mutable_datatype());
    t.shape.assign(proto.shape().begin(), proto.shape().end());
    if (raw_count != 0) {
      t.raw = std::move(*response.mutable_raw_output_contents(i));
    } else {
      absl::StatusOr<std::string> raw = RawFromContents(t.datatype, proto.contents());
      if (!raw.ok()) {
        return absl::InternalError(
            absl::StrCat("malformed response: output '", t.name, "': ", raw.status().message()));
      }
      t.raw = std::move(*raw);
    }
    OCTET_RETURN_IF_ERROR(CheckRawSize("malformed response: output", t.name, t.datatype, t.shape,
                                       t.raw.size(), absl::StatusCode::kInternal));
    result.outputs.push_back(std::move(t));
  }
  return result;
}

}  // namespace octet::client
