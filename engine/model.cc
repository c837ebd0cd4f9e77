#include "engine/model.h"

#include <omp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "engine/onnx_importer.h"
#include "engine/op_schema.h"

namespace octet {
namespace {

std::string DimsToString(const Shape& shape) {
  std::vector<std::string> dims;
  for (int64_t d : shape) dims.push_back(d < 0 ? "N" : absl::StrCat(d));
  return absl::StrCat("[", absl::StrJoin(dims, ","), "]");
}

// Checks one input's shape against its declaration: rank, fixed dims, no empty dims.
absl::Status CheckShape(const TensorInfo& info, const Shape& shape) {
  bool match = shape.size() == info.shape.size();
  for (size_t d = 0; match && d < shape.size(); ++d) {
    match = shape[d] > 0 && (info.shape[d] < 0 || info.shape[d] == shape[d]);
  }
  if (!match) {
    return absl::InvalidArgumentError(absl::StrCat("input '", info.name, "': expected shape ",
                                                   DimsToString(info.shape), ", got ",
                                                   ShapeToString(shape)));
  }
  return absl::OkStatus();
}

absl::Status CheckInputCount(size_t expected, size_t got) {
  if (got != expected) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", expected, " inputs, got ", got));
  }
  return absl::OkStatus();
}

}  // namespace

Model::Model(Graph graph, std::vector<TensorInfo> inputs, std::vector<TensorInfo> outputs)
    : graph_(std::move(graph)), inputs_(std::move(inputs)), outputs_(std::move(outputs)) {}

absl::StatusOr<std::shared_ptr<const Model>> Model::Load(const std::string& path,
                                                         const ModelOptions& options) {
  OCTET_ASSIGN_OR_RETURN(Graph graph, ImportOnnxFile(path));
  auto model = FromGraph(std::move(graph), options);
  if (!model.ok()) {
    return absl::Status(model.status().code(), absl::StrCat(path, ": ", model.status().message()));
  }
  return model;
}

absl::StatusOr<std::shared_ptr<const Model>> Model::FromBytes(const std::string& bytes,
                                                              const ModelOptions& options) {
  OCTET_ASSIGN_OR_RETURN(Graph graph, ImportOnnxModel(bytes));
  return FromGraph(std::move(graph), options);
}

absl::StatusOr<std::shared_ptr<const Model>> Model::FromGraph(Graph graph,
                                                              const ModelOptions& options) {
  bool declares_batch = false;  // some input's file fixes dim 0 to more than 1
  for (ValueId v : graph.inputs()) {
    const Shape& shape = graph.value(v).shape;
    declares_batch |= !shape.empty() && shape[0] > 1;
  }
  if (!options.dynamic_batch || !declares_batch) return Compile(std::move(graph), options);
  // A graph built for the batch its file declares (a Gemm adding a full [M, N] matrix C, a
  // Reshape to a fixed size) may not run at batch 1: then it keeps the declared batch.
  auto dynamic = Compile(graph, options);
  if (dynamic.ok()) return dynamic;
  ModelOptions fixed = options;
  fixed.dynamic_batch = false;
  auto declared = Compile(std::move(graph), fixed);
  return declared.ok() ? declared : dynamic;
}

absl::StatusOr<std::shared_ptr<const Model>> Model::Compile(Graph graph,
                                                            const ModelOptions& options) {
  std::vector<TensorInfo> inputs;
  for (ValueId v : graph.inputs()) {
    Value& value = graph.mutable_value(v);
    TensorInfo info{value.name, value.dtype, value.shape};
    if (options.dynamic_batch && !info.shape.empty()) info.shape[0] = -1;
    // Shapes for batch size 1 let the passes reason about the graph; plans re-infer them.
    for (int64_t& d : value.shape) d = d < 0 ? 1 : d;
    if (options.dynamic_batch && !value.shape.empty()) value.shape[0] = 1;
    inputs.push_back(std::move(info));
  }
  OCTET_RETURN_IF_ERROR(InferShapes(graph));
  OCTET_RETURN_IF_ERROR(OptimizeGraph(graph, options.passes));
  OCTET_RETURN_IF_ERROR(InferShapes(graph));
  std::vector<TensorInfo> outputs;
  for (ValueId v : graph.outputs()) {
    const Value& value = graph.value(v);
    TensorInfo info{value.name, value.dtype, value.shape};
    if (options.dynamic_batch && !info.shape.empty()) info.shape[0] = -1;
    outputs.push_back(std::move(info));
  }
  return std::shared_ptr<const Model>(
      new Model(std::move(graph), std::move(inputs), std::move(outputs)));
}

absl::StatusOr<std::shared_ptr<const Model>> Model::FromOptimizedGraph(
    Graph graph, std::vector<TensorInfo> inputs) {
  if (inputs.size() != graph.inputs().size()) {
    return absl::InvalidArgumentError("input info does not match the graph's inputs");
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    Shape shape = inputs[i].shape;
    for (int64_t& d : shape) d = d < 0 ? 1 : d;
    graph.mutable_value(graph.inputs()[i]).shape = shape;
  }
  OCTET_RETURN_IF_ERROR(InferShapes(graph));
  std::vector<TensorInfo> outputs;
  for (ValueId v : graph.outputs()) {
    const Value& value = graph.value(v);
    TensorInfo info{value.name, value.dtype, value.shape};
    const bool batched = !inputs.empty() && !inputs[0].shape.empty() && inputs[0].shape[0] < 0;
    if (batched && !info.shape.empty()) info.shape[0] = -1;
    outputs.push_back(std::move(info));
  }
  return std::shared_ptr<const Model>(
      new Model(std::move(graph), std::move(inputs), std::move(outputs)));
}

absl::StatusOr<std::shared_ptr<const Model>> Model::Quantize(
    const ActivationRanges& ranges, const PrecisionPlan& plan,
    const QuantizationOptions& options) const {
  OCTET_ASSIGN_OR_RETURN(QuantizedGraph quantized, QuantizeGraph(graph_, ranges, plan, options));
  return FromOptimizedGraph(std::move(quantized.graph), inputs_);
}

absl::Status Model::ValidateInputs(const std::vector<TensorView>& inputs) const {
  OCTET_RETURN_IF_ERROR(CheckInputCount(inputs_.size(), inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorInfo& info = inputs_[i];
    const TensorView& t = inputs[i];
    if (t.dtype != info.dtype) {
      return absl::InvalidArgumentError(absl::StrCat("input '", info.name, "': expected ",
                                                     DataTypeName(info.dtype), ", got ",
                                                     DataTypeName(t.dtype)));
    }
    OCTET_RETURN_IF_ERROR(CheckShape(info, t.shape));
    if (t.data == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("input '", info.name, "' has no data"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const runtime::Plan>> Model::GetPlan(
    const std::vector<Shape>& shapes, int threads) const {
  // Run() has validated its inputs already; Session::Prepare() and direct callers have not.
  OCTET_RETURN_IF_ERROR(CheckInputCount(inputs_.size(), shapes.size()));
  for (size_t i = 0; i < shapes.size(); ++i) {
    OCTET_RETURN_IF_ERROR(CheckShape(inputs_[i], shapes[i]));
  }
  if (threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat("threads must be >= 1, got ", threads));
  }
  auto key = std::make_pair(shapes, threads);
  {
    absl::MutexLock lock(&mu_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
  }
  // Compile without the lock: other shapes keep being served meanwhile.
  Graph graph = graph_;
  for (size_t i = 0; i < shapes.size(); ++i) {
    graph.mutable_value(graph.inputs()[i]).shape = shapes[i];
  }
  OCTET_RETURN_IF_ERROR(InferShapes(graph));
  omp_set_num_threads(threads);
  runtime::PlanBuilder builder(graph, &packed_, threads);
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const runtime::Plan> plan, builder.Build());
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = plans_.emplace(key, std::move(plan));
  return it->second;
}

int64_t Model::weight_bytes() const {
  int64_t total = 0;
  std::vector<bool> counted(graph_.num_values(), false);
  for (const Node& node : graph_.nodes()) {
    for (ValueId v : node.inputs) {
      if (v == kNoValue || !graph_.IsConstant(v) || counted[v]) continue;
      counted[v] = true;
      total += graph_.constant(v).byte_size();
    }
  }
  return total;
}

std::string Model::DescribeGraph() const {
  std::string out;
  for (const Node& node : graph_.nodes()) {
    absl::StrAppend(&out, node.op_type, " ", node.name);
    for (const PostOp& op : node.post_ops) {
      absl::StrAppend(&out, op.kind == PostOp::Kind::kSum ? " +sum" : " +eltwise");
    }
    absl::StrAppend(&out, " -> ", ShapeToString(graph_.value(node.outputs[0]).shape), "\n");
  }
  return out;
}

}  // namespace octet
