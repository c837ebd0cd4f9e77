#include "engine/testing/model_runner.h"

#include "common/status_macros.h"
#include "engine/session.h"

namespace octet {
namespace testing {

ModelOptions WithoutPasses() {
  ModelOptions options;
  options.passes.fold_constants = false;
  options.passes.fold_batch_norm = false;
  options.passes.fuse_activations = false;
  options.passes.fuse_residual_add = false;
  options.passes.fold_quantization = false;
  return options;
}

absl::StatusOr<std::vector<Tensor>> RunModel(std::shared_ptr<const Model> model,
                                             const std::vector<Tensor>& inputs, int threads) {
  SessionOptions options;
  options.threads = threads;
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                         Session::Create(std::move(model), options));
  std::vector<TensorView> views;
  for (const Tensor& t : inputs) views.push_back(t.view());
  return session->Run(views);
}

absl::StatusOr<std::vector<Tensor>> RunModelBytes(const std::string& bytes,
                                                  const std::vector<Tensor>& inputs,
                                                  const ModelOptions& options, int threads) {
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model, Model::FromBytes(bytes, options));
  return RunModel(std::move(model), inputs, threads);
}

}  // namespace testing
}  // namespace octet
