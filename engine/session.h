// Runs a Model: the per-thread execution context of the engine.
//
// A Session owns the per-run state (arenas, oneDNN memory objects, a stream) of each plan it
// has used and runs inference on the calling thread with an OpenMP team of `threads`. Inputs
// and outputs are plain row-major tensors; the first dimension is the batch.
//
//   SessionOptions options;
//   options.threads = 2;
//   OCTET_ASSIGN_OR_RETURN(auto session, Session::Create(model, options));
//   OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> out, session->Run({input.view()}));
//
// Not thread-safe: use one Session per thread (they share the Model and its compiled plans).
#ifndef OCTET_ENGINE_SESSION_H_
#define OCTET_ENGINE_SESSION_H_

#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model.h"
#include "engine/runtime/plan.h"
#include "engine/tensor.h"

namespace octet {

struct SessionOptions {
  // OpenMP threads used by each run; 0 means one per available core.
  int threads = 0;
};

class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Create(std::shared_ptr<const Model> model,
                                                         const SessionOptions& options = {});

  // Runs the model on `inputs` (borrowed for the call), in the order of model->inputs().
  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<TensorView>& inputs);

  // Compiles (or fetches) the plan for these input shapes without running it.
  absl::Status Prepare(const std::vector<Shape>& input_shapes);

  int threads() const { return threads_; }
  const Model& model() const { return *model_; }

 private:
  Session(std::shared_ptr<const Model> model, int threads);
  absl::StatusOr<runtime::PlanInstance*> InstanceFor(const std::vector<Shape>& shapes);

  std::shared_ptr<const Model> model_;
  const int threads_;
  dnnl::stream stream_;
  std::map<const runtime::Plan*, std::unique_ptr<runtime::PlanInstance>> instances_;
};

}  // namespace octet

#endif  // OCTET_ENGINE_SESSION_H_
