// One-call loading and running of a model for the engine's tests: bytes in, output tensors
// out, every failure an absl::Status (so a test can assert on it).
//
//   absl::StatusOr<std::vector<Tensor>> out = RunModelBytes(builder.Serialize(), {x});
//
// Each call creates its own Session, so calls may run on any threads concurrently.
#ifndef OCTET_ENGINE_TESTING_MODEL_RUNNER_H_
#define OCTET_ENGINE_TESTING_MODEL_RUNNER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model.h"
#include "engine/tensor.h"

namespace octet {
namespace testing {

// Options that turn every graph pass off: the graph runs as imported.
ModelOptions WithoutPasses();

// Runs `model` once on `inputs` in a fresh Session with `threads` OpenMP threads.
absl::StatusOr<std::vector<Tensor>> RunModel(std::shared_ptr<const Model> model,
                                             const std::vector<Tensor>& inputs, int threads = 1);

// Loads serialized ONNX bytes and runs them once.
absl::StatusOr<std::vector<Tensor>> RunModelBytes(const std::string& bytes,
                                                  const std::vector<Tensor>& inputs,
                                                  const ModelOptions& options = {},
                                                  int threads = 1);

}  // namespace testing
}  // namespace octet

#endif  // OCTET_ENGINE_TESTING_MODEL_RUNNER_H_
