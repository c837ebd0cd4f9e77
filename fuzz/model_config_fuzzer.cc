// Fuzzes what a model's config.pbtxt goes through when the model loads (model_config.h):
// protobuf text-format parsing, ValidateModelConfig (names, ranges, batching sizes), then
// CompleteConfigForModel against the example model's input and output, and SignatureFromConfig,
// which turns the completed config into what requests are checked against, and WarmupRequests,
// which builds the model_warmup tensors a load runs (bounded by the request element limit).
// Any text may be refused with INVALID_ARGUMENT; none may crash, and a completed config must
// yield a signature.
//
// Seeds: fuzz/corpus/model_config (the example config and variants).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "server/config/model_config.h"
#include "server/inference/tensor_codec.h"
#include "server/inference/warmup.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  octet::fuzz::SilenceProtobufLog();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = "fuzz/config.pbtxt";
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<octet::v1::ModelConfig> config = octet::server::ParseModelConfig(text, path);
  if (!config.ok()) return 0;
  if (!octet::server::ValidateModelConfig(*config, "fashion-lenet", path).ok()) return 0;
  // The example model: input [N,1,28,28] FP32, output [N,10] FP32.
  static const std::vector<octet::TensorInfo> kInputs = {
      {"input", octet::DataType::kFloat32, {-1, 1, 28, 28}}};
  static const std::vector<octet::TensorInfo> kOutputs = {
      {"logits", octet::DataType::kFloat32, {-1, 10}}};
  octet::server::ConfigDefaults defaults;
  defaults.cpu_cores = 2;
  absl::StatusOr<octet::v1::ModelConfig> complete =
      octet::server::CompleteConfigForModel(*config, kInputs, kOutputs, defaults, path);
  if (!complete.ok()) return 0;
  absl::StatusOr<octet::server::ModelSignature> signature =
      octet::server::SignatureFromConfig(*complete, kInputs, kOutputs);
  octet::fuzz::Require(signature.ok(), "a completed config yields a signature");
  octet::fuzz::Require(signature->inputs.size() == kInputs.size(), "every input is in it");
  absl::StatusOr<std::vector<octet::server::WarmupRequest>> warmups =
      octet::server::WarmupRequests(*complete, *signature, defaults.max_tensor_elements, path);
  if (!warmups.ok()) return 0;
  for (const octet::server::WarmupRequest& warmup : *warmups) {
    octet::fuzz::Require(warmup.inputs.size() == kInputs.size(), "a warm-up has every input");
    octet::fuzz::Require(warmup.inputs[0].num_elements() <= defaults.max_tensor_elements,
                         "a warm-up input is within the element limit");
  }
  return 0;
}
