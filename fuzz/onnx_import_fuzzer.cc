// Fuzzes what an operator's model file goes through when a version loads: ONNX ModelProto
// parsing (Debian's libonnx protobuf classes), the strict import into Octet's graph (schema,
// attribute, opset and tensor-size checks), shape inference and the graph passes
// (Model::FromBytes). Any input may be refused with a status; none may crash, hang or leak.
//
// Seeds: fuzz/corpus/onnx_import (tiny models written by make_seed_corpus).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/model.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  octet::fuzz::SilenceProtobufLog();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::shared_ptr<const octet::Model>> model = octet::Model::FromBytes(bytes);
  if (!model.ok()) {
    octet::fuzz::Require(!model.status().message().empty(), "a refused model says why");
    return 0;
  }
  // A model that loads describes its interface consistently.
  for (const octet::TensorInfo& input : (*model)->inputs()) {
    octet::fuzz::Require(!input.name.empty(), "model inputs have names");
  }
  octet::fuzz::Require(!(*model)->outputs().empty(), "a loaded model has outputs");
  return 0;
}
