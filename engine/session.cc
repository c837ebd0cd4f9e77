#include "engine/session.h"

#include <omp.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace octet {

absl::StatusOr<std::unique_ptr<Session>> Session::Create(std::shared_ptr<const Model> model,
                                                         const SessionOptions& options) {
  if (model == nullptr) return absl::InvalidArgumentError("no model");
  if (options.threads < 0) {
    return absl::InvalidArgumentError(absl::StrCat("threads must be >= 0, got ", options.threads));
  }
  const int threads = options.threads > 0 ? options.threads : omp_get_num_procs();
  return std::unique_ptr<Session>(new Session(std::move(model), threads));
}

Session::Session(std::shared_ptr<const Model> model, int threads)
    : model_(std::move(model)), threads_(threads), stream_(runtime::CpuEngine()) {}

absl::StatusOr<runtime::PlanInstance*> Session::InstanceFor(const std::vector<Shape>& shapes) {
  omp_set_num_threads(threads_);  // per calling thread: oneDNN's parallel regions use it
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const runtime::Plan> plan,
                         model_->GetPlan(shapes, threads_));
  auto& instance = instances_[plan.get()];
  if (instance == nullptr) instance = std::make_unique<runtime::PlanInstance>(plan);
  return instance.get();
}

absl::Status Session::Prepare(const std::vector<Shape>& input_shapes) {
  return InstanceFor(input_shapes).status();
}

absl::StatusOr<std::vector<Tensor>> Session::Run(const std::vector<TensorView>& inputs) {
  OCTET_RETURN_IF_ERROR(model_->ValidateInputs(inputs));
  std::vector<Shape> shapes;
  std::vector<const void*> input_data;
  shapes.reserve(inputs.size());
  for (const TensorView& t : inputs) {
    shapes.push_back(t.shape);
    input_data.push_back(t.data);
  }
  OCTET_ASSIGN_OR_RETURN(runtime::PlanInstance * instance, InstanceFor(shapes));
  const runtime::Plan& plan = instance->plan();
  std::vector<Tensor> outputs;
  std::vector<void*> output_data;
  for (size_t i = 0; i < plan.output_shapes.size(); ++i) {
    outputs.emplace_back(plan.output_types[i], plan.output_shapes[i]);
    output_data.push_back(outputs.back().raw_data());
  }
  OCTET_RETURN_IF_ERROR(instance->Execute(stream_, input_data, output_data));
  return outputs;
}

}  // namespace octet
