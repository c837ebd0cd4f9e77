// Fuzzes what every ModelInfer request goes through before it reaches a batch: the bytes gRPC
// received parsed as an inference.ModelInferRequest, then DecodeInferRequest against a fixed
// model signature (tensor_codec.h): names, datatypes, shapes, batch sizes, element limits, raw
// and typed contents, NaN checks, requested outputs and the "label" parameter. The first byte
// picks the signature: the example model's (batching FP32 [N,1,28,28]) or one input of every
// datatype without a batch dimension. Any request may be refused; none may crash, and a
// decoded request must be what the signature promises.
//
// Seeds: fuzz/corpus/infer_request (serialized requests written by make_seed_corpus).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_support.h"
#include "inference.pb.h"
#include "server/inference/tensor_codec.h"

namespace {

using octet::DataType;
using octet::server::ModelSignature;
using octet::server::TensorSpec;

ModelSignature LenetSignature() {
  ModelSignature sig;
  sig.max_batch_size = 8;
  sig.inputs = {TensorSpec{"input", DataType::kFloat32, {1, 28, 28}, false, 0}};
  sig.outputs = {TensorSpec{"logits", DataType::kFloat32, {10}, false, 0}};
  return sig;
}

ModelSignature TypedSignature() {
  ModelSignature sig;
  sig.inputs = {TensorSpec{"f", DataType::kFloat32, {2, -1}, true, 0},
                TensorSpec{"u8", DataType::kUInt8, {3}, false, 1},
                TensorSpec{"i8", DataType::kInt8, {3}, false, 2},
                TensorSpec{"i32", DataType::kInt32, {-1}, false, 3},
                TensorSpec{"i64", DataType::kInt64, {2}, false, 4}};
  sig.outputs = {TensorSpec{"y", DataType::kFloat32, {2}, false, 0},
                 TensorSpec{"z", DataType::kInt64, {1}, false, 1}};
  return sig;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  octet::fuzz::SilenceProtobufLog();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const ModelSignature* const kSignatures[] = {new ModelSignature(LenetSignature()),
                                                      new ModelSignature(TypedSignature())};
  const ModelSignature& signature = *kSignatures[data[0] % 2];
  inference::ModelInferRequest request;
  if (!request.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
  octet::server::CodecLimits limits;
  limits.max_tensor_elements = 1 << 16;  // keeps accepted requests small, as a server would
  absl::StatusOr<octet::server::DecodedRequest> decoded =
      octet::server::DecodeInferRequest(request, signature, limits);
  if (!decoded.ok()) {
    octet::fuzz::Require(
        decoded.status().code() != absl::StatusCode::kOk && !decoded.status().message().empty(),
        "a refused request says why");
    return 0;
  }
  octet::fuzz::Require(decoded->inputs.size() == signature.inputs.size(),
                       "a decoded request has every input");
  octet::fuzz::Require(decoded->samples >= 1, "a decoded request has at least one sample");
  if (signature.batching()) {
    octet::fuzz::Require(decoded->samples <= signature.max_batch_size,
                         "a decoded request fits max_batch_size");
  }
  for (size_t i = 0; i < decoded->inputs.size(); ++i) {
    const octet::Tensor& tensor = decoded->inputs[i];
    octet::fuzz::Require(tensor.dtype() == signature.inputs[i].dtype, "inputs keep their dtype");
    octet::fuzz::Require(tensor.num_elements() <= limits.max_tensor_elements,
                         "inputs respect the element limit");
  }
  for (int output : decoded->outputs) {
    octet::fuzz::Require(output >= 0 && output < static_cast<int>(signature.outputs.size()),
                         "requested outputs index the signature");
  }
  return 0;
}
