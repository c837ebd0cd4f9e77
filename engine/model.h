// A loaded, optimized model: the engine's unit of deployment.
//
// Model::Load imports an ONNX file, checks every node, infers shapes, runs the graph passes
// and keeps the result. Running it takes a Session (session.h). A Model compiles one
// execution plan per distinct set of input shapes and thread count, on first use, and caches
// it; constant weights are packed once per layout and shared by all plans.
//
//   OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model, Model::Load("resnet8.onnx"));
//   OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(model, {}));
//   OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, session->Run({image.view()}));
//
// Thread-safe: one Model is shared by any number of Sessions on any threads.
#ifndef OCTET_ENGINE_MODEL_H_
#define OCTET_ENGINE_MODEL_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/graph.h"
#include "engine/passes.h"
#include "engine/quantize_graph.h"
#include "engine/runtime/plan.h"
#include "engine/runtime/plan_builder.h"
#include "engine/tensor.h"

namespace octet {

struct ModelOptions {
  // Treat dimension 0 of every input as a variable batch dimension, whatever the file
  // declares (exported models often fix it to 1). A graph that only works at the batch size
  // its file declares (larger than 1) keeps that batch size; inputs() then shows it fixed.
  bool dynamic_batch = true;
  PassOptions passes;
};

// A graph input or output as clients see it. Negative dims are variable.
struct TensorInfo {
  std::string name;
  DataType dtype = DataType::kFloat32;
  Shape shape;
};

class Model {
 public:
  static absl::StatusOr<std::shared_ptr<const Model>> Load(const std::string& path,
                                                           const ModelOptions& options = {});
  static absl::StatusOr<std::shared_ptr<const Model>> FromBytes(const std::string& bytes,
                                                                const ModelOptions& options = {});
  // From an already imported graph (declared input shapes as in the graph's inputs).
  static absl::StatusOr<std::shared_ptr<const Model>> FromGraph(Graph graph,
                                                                const ModelOptions& options = {});

  // A model whose graph is already optimized (and possibly quantized, see quantize_graph.h):
  // runs no passes. `inputs` are the declared inputs (batch dimension negative); the outputs'
  // info is derived from the graph.
  static absl::StatusOr<std::shared_ptr<const Model>> FromOptimizedGraph(
      Graph graph, std::vector<TensorInfo> inputs);

  // This model with the given nodes in INT8 and activations quantized from `ranges`.
  absl::StatusOr<std::shared_ptr<const Model>> Quantize(const ActivationRanges& ranges,
                                                        const PrecisionPlan& plan,
                                                        const QuantizationOptions& options) const;

  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  // The optimized graph (shapes as inferred for batch size 1).
  const Graph& graph() const { return graph_; }

  // Checks a run's inputs against the declared ones: count, type, rank and fixed dims. The
  // message names the input and says what was expected.
  absl::Status ValidateInputs(const std::vector<TensorView>& inputs) const;

  // The plan for these input shapes and OpenMP team size, compiled on first request.
  absl::StatusOr<std::shared_ptr<const runtime::Plan>> GetPlan(const std::vector<Shape>& shapes,
                                                               int threads) const;

  // Bytes of constant data in the optimized graph (weights and biases as imported).
  int64_t weight_bytes() const;
  // Bytes of weights packed for the primitives so far.
  int64_t packed_weight_bytes() const { return packed_.TotalBytes(); }
  // Every node of the optimized graph with its fused post-ops, one per line (for tools).
  std::string DescribeGraph() const;

 private:
  Model(Graph graph, std::vector<TensorInfo> inputs, std::vector<TensorInfo> outputs);
  // FromGraph with dynamic_batch taken literally.
  static absl::StatusOr<std::shared_ptr<const Model>> Compile(Graph graph,
                                                              const ModelOptions& options);

  // Constant after construction.
  const Graph graph_;
  const std::vector<TensorInfo> inputs_;
  const std::vector<TensorInfo> outputs_;

  mutable runtime::PackedConstantCache packed_;  // thread-safe on its own
  mutable absl::Mutex mu_;
  mutable std::map<std::pair<std::vector<Shape>, int>, std::shared_ptr<const runtime::Plan>> plans_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace octet

#endif  // OCTET_ENGINE_MODEL_H_
