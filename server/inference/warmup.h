// Model warm-up: the requests a config's `model_warmup` (Triton's ModelWarmup) asks a model
// version to run when it loads, built against the version's signature. BatchExecutor::RunWarmup
// runs one on every instance before the version is ready.
//
//   OCTET_ASSIGN_OR_RETURN(std::vector<WarmupRequest> requests,
//                          WarmupRequests(config, signature, path));
//   for (const WarmupRequest& r : requests) OCTET_RETURN_IF_ERROR(executor->RunWarmup(r));
//
// Why: oneDNN generates some kernels' code the first time they run, and a run's memory is
// first touched then; without warm-up the first client request of a version pays for both.
//
// Stateless functions on values; thread-safe.
#ifndef OCTET_SERVER_INFERENCE_WARMUP_H_
#define OCTET_SERVER_INFERENCE_WARMUP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"
#include "octet/v1/model_config.pb.h"
#include "server/inference/tensor_codec.h"

namespace octet::server {

struct WarmupRequest {
  std::string label;  // WarmupLabel: "model_warmup 'NAME'" or "model_warmup[INDEX]", for errors
  int64_t batch_size = 1;
  int count = 1;  // runs on each instance, >= 1
  // One per signature input, in its order; with the batch dimension (batch_size rows) for
  // batching models.
  std::vector<Tensor> inputs;
};

// The config's warm-ups (already through ValidateModelConfig), filled with zeros or
// deterministic pseudo-random values. INVALID_ARGUMENT, naming `path` and the warm-up, when an
// input is missing, unknown, has another data type or dims than the signature accepts, or has
// more than `max_tensor_elements` elements (batch included), as a request would be refused.
absl::StatusOr<std::vector<WarmupRequest>> WarmupRequests(const v1::ModelConfig& config,
                                                          const ModelSignature& signature,
                                                          int64_t max_tensor_elements,
                                                          const std::string& path);

}  // namespace octet::server

#endif  // OCTET_SERVER_INFERENCE_WARMUP_H_
