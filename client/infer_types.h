// The values the client library speaks in for inference: InferInput and InferRequest going out,
// InferResult and its OutputTensors coming back, and their conversion to and from the protocol's
// ModelInferRequest / ModelInferResponse (inference.proto).
//
//   InferRequest request;
//   request.model = "resnet8";
//   request.inputs.push_back(InferInput::FromFloats("input", {1, 3, 32, 32}, pixels));
//   request.parameters["label"] = int64_t{3};
//   ASSIGN_OR_RETURN(InferResult result, client->Infer(request));
//   ASSIGN_OR_RETURN(std::vector<int64_t> classes, result.ArgMax("output"));
//
// Tensor bytes are carried as `raw` strings: the elements in row-major order, little-endian, no
// padding, exactly as the protocol's raw_input_contents / raw_output_contents. Requests are sent
// with raw_input_contents; responses are read from raw_output_contents, or from the typed
// `contents` fields when a server sends those instead.
//
// Ownership and threads: all types here are plain values owning their bytes; the functions keep no
// state and may run concurrently.
#ifndef OCTET_CLIENT_INFER_TYPES_H_
#define OCTET_CLIENT_INFER_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "inference.pb.h"

namespace octet::client {

// Bytes per element of a protocol datatype ("FP32" -> 4, "UINT8" -> 1, ...). InvalidArgument for
// unknown datatypes and for "BYTES", which has no fixed size and is not supported here.
absl::StatusOr<int64_t> DatatypeSize(absl::string_view datatype);

// Product of `shape`; InvalidArgument for a negative dimension or an overflowing product.
absl::StatusOr<int64_t> ElementCount(absl::Span<const int64_t> shape);

// "[1,3,32,32]", for messages.
std::string ShapeString(absl::Span<const int64_t> shape);

struct InferInput {
  std::string name;
  // A protocol datatype: "FP32", "UINT8", "INT8", "INT32", "INT64" (any fixed-size one is sent).
  std::string datatype;
  // Including the batch dimension.
  std::vector<int64_t> shape;
  // ElementCount(shape) * DatatypeSize(datatype) bytes; checked when the request is built.
  std::string raw;

  static InferInput FromFloats(std::string name, std::vector<int64_t> shape,
                               absl::Span<const float> values);
  static InferInput FromUint8(std::string name, std::vector<int64_t> shape,
                              absl::Span<const uint8_t> values);
  static InferInput FromInt8(std::string name, std::vector<int64_t> shape,
                             absl::Span<const int8_t> values);
  static InferInput FromInt32(std::string name, std::vector<int64_t> shape,
                              absl::Span<const int32_t> values);
  static InferInput FromInt64(std::string name, std::vector<int64_t> shape,
                              absl::Span<const int64_t> values);
};

// A request parameter: int64 or string ("label" for accuracy monitoring is an int64).
using InferParameter = std::variant<int64_t, std::string>;

struct InferRequest {
  std::string model;
  // Empty: the server's version policy picks.
  std::string version;
  // Echoed back in InferResult::id.
  std::string id;
  std::vector<InferInput> inputs;
  // Outputs to return; empty: all of the model's outputs.
  std::vector<std::string> outputs;
  std::map<std::string, InferParameter> parameters;
  // Deadline of this call; unset: ClientOptions::default_timeout.
  std::optional<absl::Duration> timeout;
};

struct OutputTensor {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
  std::string raw;  // as InferInput::raw
};

// One class of a TopK() answer.
struct ScoredClass {
  int64_t index = 0;
  float score = 0;
};

struct InferResult {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<OutputTensor> outputs;

  // The output called `name`; nullptr if there is none.
  const OutputTensor* Find(absl::string_view name) const;

  // The output's elements converted to float (exact for FP32; FP64 and integer types are
  // converted). NotFound naming the outputs present when there is no such output.
  absl::StatusOr<std::vector<float>> AsFloats(absl::string_view name) const;

  // Index of the largest element of each row: the first dimension is the batch, the remaining
  // dimensions are flattened into one row (a rank-1 output is a single row). Ties go to the
  // lowest index.
  absl::StatusOr<std::vector<int64_t>> ArgMax(absl::string_view name) const;

  // The k largest elements of each row (rows as for ArgMax), largest first, ties by lower index;
  // fewer than k when a row is shorter.
  absl::StatusOr<std::vector<std::vector<ScoredClass>>> TopK(absl::string_view name, int k) const;
};

// Checks `request` (a model name, at least one input, unique input names, known datatypes, raw
// sizes matching the shapes) and encodes it with raw_input_contents. InvalidArgument naming the
// offending input otherwise.
absl::StatusOr<inference::ModelInferRequest> BuildModelInferRequest(const InferRequest& request);

// Decodes a response; Internal when the server's answer is inconsistent (contents not matching
// the declared shape and datatype, a raw_output_contents count not matching the outputs).
absl::StatusOr<InferResult> ParseModelInferResponse(inference::ModelInferResponse response);

}  // namespace octet::client

#endif  // OCTET_CLIENT_INFER_TYPES_H_
