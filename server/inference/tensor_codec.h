// The KServe v2 tensor codec: request tensors -> engine tensors, engine tensors -> response.
//
// DecodeInferRequest checks a ModelInferRequest against a ModelSignature (what one model
// version accepts, derived from its completed config) and copies the input data out of the
// request, so that the result owns everything the batch thread needs. Every way a request can be
// wrong is an INVALID_ARGUMENT whose message names the input and says what was expected: unknown,
// duplicate or missing inputs, a datatype other than the model's, a wrong rank, negative, zero,
// too large or mismatched dims, batch sizes that differ between inputs or exceed max_batch_size,
// more elements than the limit, raw bytes that do not match the shape, typed contents in the
// wrong field, with the wrong count or out of the type's range, raw and typed contents mixed,
// NaN or Inf where the input does not allow it, unknown or duplicate requested outputs, and a
// "label" parameter that is not one non-negative class index per sample.
//
// The request parameter "label" carries the ground truth for online accuracy metrics: an
// int64_param (or uint64_param) for a request of one sample, or a string_param listing one class
// index per sample, separated by commas ("3,1,4" for a batch of three; "3" for one sample).
// Its count must equal the request's batch size (1 for models that do not batch).
//
//   OCTET_ASSIGN_OR_RETURN(ModelSignature sig, SignatureFromConfig(config, *model));
//   OCTET_ASSIGN_OR_RETURN(DecodedRequest decoded, DecodeInferRequest(request, sig, limits));
//   ... run decoded.inputs ...
//   AppendOutput(sig.outputs[i], batch_output, /*first_row=*/0, decoded.samples, sig, &response);
//
// Stateless functions on values; thread-safe.
#ifndef OCTET_SERVER_INFERENCE_TENSOR_CODEC_H_
#define OCTET_SERVER_INFERENCE_TENSOR_CODEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model.h"
#include "engine/tensor.h"
#include "inference.pb.h"
#include "octet/v1/model_config.pb.h"

namespace octet::server {

// One input or output as requests see it.
struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kFloat32;
  // Without the batch dimension for batching models; -1 where any positive size is accepted.
  Shape dims;
  // Inputs only: whether FP32 values may be NaN or Inf.
  bool allow_nan = false;
  // Position in the model's inputs() or outputs().
  int model_index = 0;
};

// What one model version accepts and returns.
struct ModelSignature {
  // 0: requests carry no batch dimension and run one at a time.
  int max_batch_size = 0;
  // In the order of the model's inputs().
  std::vector<TensorSpec> inputs;
  // The outputs the config serves, in the config's order.
  std::vector<TensorSpec> outputs;

  bool batching() const { return max_batch_size > 0; }
};

// From a config completed by CompleteConfigForModel against these model inputs and outputs.
absl::StatusOr<ModelSignature> SignatureFromConfig(const v1::ModelConfig& config,
                                                   const std::vector<TensorInfo>& model_inputs,
                                                   const std::vector<TensorInfo>& model_outputs);

struct CodecLimits {
  // Largest element count of one input tensor (the whole request's batch included).
  int64_t max_tensor_elements = int64_t{1} << 26;
};

// A request's data, owned, checked and ready for a batch.
struct DecodedRequest {
  // In the order of the model's inputs, with their full shapes (batch dimension included for
  // batching models).
  std::vector<Tensor> inputs;
  // The batch dimension shared by the inputs; 1 for models that do not batch.
  int64_t samples = 1;
  // Indices into ModelSignature::outputs, in the order the request asked for them (every output
  // when it asked for none).
  std::vector<int> outputs;
  // The request parameter "label": the ground-truth class of each sample, in batch order
  // (`samples` entries), or empty when the request carries none.
  std::vector<int64_t> labels;
};

absl::StatusOr<DecodedRequest> DecodeInferRequest(const inference::ModelInferRequest& request,
                                                  const ModelSignature& signature,
                                                  const CodecLimits& limits);

// Appends one output tensor to `response` (outputs[] entry plus its raw_output_contents bytes):
// rows [first_row, first_row + rows) of `value` for batching models, all of `value` otherwise.
// INTERNAL when `value` does not have those rows or the output's type.
absl::Status AppendOutput(const TensorSpec& spec, const Tensor& value, int64_t first_row,
                          int64_t rows, bool batching, inference::ModelInferResponse* response);

// Protocol datatype strings ("FP32", "UINT8", "INT8", "INT32", "INT64").
std::string ProtocolDataTypeName(DataType dtype);
// INVALID_ARGUMENT for strings that are not a protocol datatype this server handles.
absl::StatusOr<DataType> ParseProtocolDataType(const std::string& name);

}  // namespace octet::server

#endif  // OCTET_SERVER_INFERENCE_TENSOR_CODEC_H_
