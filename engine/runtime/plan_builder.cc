#include "engine/runtime/plan_builder.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/op_schema.h"
#include "engine/runtime/kernels.h"
#include "engine/runtime/memory_planner.h"

namespace octet {
namespace runtime {

ConstantBytes PackedConstantCache::Find(ValueId value, const dnnl::memory::desc& md) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(value);
  if (it == entries_.end()) return nullptr;
  for (const auto& [cached_md, bytes] : it->second) {
    if (cached_md == md) return bytes;
  }
  return nullptr;
}

void PackedConstantCache::Insert(ValueId value, const dnnl::memory::desc& md, ConstantBytes bytes) {
  absl::MutexLock lock(&mu_);
  entries_[value].emplace_back(md, std::move(bytes));
}

int64_t PackedConstantCache::TotalBytes() const {
  absl::MutexLock lock(&mu_);
  int64_t total = 0;
  for (const auto& [value, list] : entries_) {
    for (const auto& [md, bytes] : list) total += md.get_size();
  }
  return total;
}

dnnl::memory::data_type ToDnnl(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32:
      return dnnl::memory::data_type::f32;
    case DataType::kUInt8:
      return dnnl::memory::data_type::u8;
    case DataType::kInt8:
      return dnnl::memory::data_type::s8;
    case DataType::kInt32:
      return dnnl::memory::data_type::s32;
    case DataType::kInt64:
      break;
  }
  return dnnl::memory::data_type::undef;
}

dnnl::memory::desc PlainMd(const dnnl::memory::dims& shape, dnnl::memory::data_type dtype) {
  dnnl::memory::dims dims = shape.empty() ? dnnl::memory::dims{1} : shape;
  dnnl::memory::dims strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * std::max<int64_t>(dims[i + 1], 1);
  }
  return dnnl::memory::desc(dims, dtype, strides);
}

dnnl::memory::desc PlainMd(const Shape& shape, DataType dtype) {
  return PlainMd(shape, ToDnnl(dtype));
}

bool IsPlain(const dnnl::memory::desc& md) { return md == PlainMd(md.dims(), md.data_type()); }

dnnl::memory::desc WithDataType(const dnnl::memory::desc& md, dnnl::memory::data_type type) {
  dnnl_memory_desc_t data = md.data;  // strides count elements, so they stay valid
  data.data_type = static_cast<dnnl_data_type_t>(type);
  data.extra = dnnl_memory_extra_desc_t{};
  return dnnl::memory::desc(data);
}

bool IsQuantizedActivation(const dnnl::memory::desc& md) {
  return md.data_type() == dnnl::memory::data_type::u8;
}

bool SameQuantization(const std::optional<quant::QuantizationParams>& a,
                      const std::optional<quant::QuantizationParams>& b) {
  if (!a || !b) return a.has_value() == b.has_value();
  return a->scale == b->scale && a->zero_point == b->zero_point;
}

PlanBuilder::PlanBuilder(const Graph& graph, PackedConstantCache* cache, int threads)
    : graph_(graph), cache_(cache), threads_(threads), plan_(std::make_shared<Plan>()) {
  plan_->threads = threads;
  value_slot_.assign(graph.num_values(), -1);
  last_reader_.assign(graph.num_values(), -1);
  readers_ = graph.ConsumerIndex();
  const auto& nodes = graph.nodes();
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    for (ValueId v : nodes[i].inputs) {
      if (v != kNoValue) last_reader_[v] = i;
    }
  }
  for (ValueId v : graph.outputs()) last_reader_[v] = INT_MAX;
}

absl::StatusOr<std::shared_ptr<const Plan>> PlanBuilder::Build() {
  for (size_t i = 0; i < graph_.inputs().size(); ++i) {
    const ValueId v = graph_.inputs()[i];
    const Value& value = graph_.value(v);
    if (value.dtype == DataType::kInt64) {
      return absl::UnimplementedError(
          absl::StrCat("input '", value.name,
                       "' has type int64; runtime inputs are float32, uint8, int8 or int32"));
    }
    // A u8 input is a plain u8 slot, labelled with the quantization its INT8 readers give it.
    Slot slot;
    slot.md = PlainMd(value.shape, value.dtype);
    if (value.dtype == DataType::kUInt8) slot.quant = value.quant;
    slot.kind = SlotKind::kInput;
    slot.io_index = static_cast<int>(i);
    plan_->slots.push_back(slot);
    const int index = static_cast<int>(plan_->slots.size()) - 1;
    plan_->input_slots.push_back(index);
    plan_->input_shapes.push_back(value.shape);
    Bind(v, index);
  }
  const auto& nodes = graph_.nodes();
  for (node_index_ = 0; node_index_ < static_cast<int>(nodes.size()); ++node_index_) {
    const Node& node = nodes[node_index_];
    try {
      OCTET_RETURN_IF_ERROR(NodeError(node, BuildNode(node)));
    } catch (const dnnl::error& e) {
      return NodeError(node, absl::InternalError(absl::StrCat("oneDNN: ", e.what())));
    }
  }
  node_index_ = static_cast<int>(nodes.size());
  try {
    OCTET_RETURN_IF_ERROR(BindOutputs());
  } catch (const dnnl::error& e) {
    return absl::InternalError(absl::StrCat("oneDNN, binding outputs: ", e.what()));
  }
  PlanArena();
  return std::shared_ptr<const Plan>(std::move(plan_));
}

absl::Status PlanBuilder::BuildNode(const Node& node) {
  const std::string& op = node.op_type;
  if (node.precision == Precision::kInt8) {
    return op == "Conv" ? BuildConvInt8(*this, node) : BuildMatMulInt8(*this, node);
  }
  if (op == "QuantizeLinear") return BuildQuantizeLinear(*this, node);
  if (op == "DequantizeLinear") return BuildDequantizeLinear(*this, node);
  if (op == "QLinearConv" || op == "QLinearMatMul") return BuildQLinearExact(*this, node);
  if (RunsOnQuantizedInput(node)) {
    OCTET_ASSIGN_OR_RETURN(int input, RawSlotOf(node.inputs[0]));
    if (IsQuantizedActivation(md(input))) return BuildPassThroughInt8(*this, node);
  }
  // The remaining kernels compute in float.
  for (ValueId out : node.outputs) {
    if (out != kNoValue && graph_.value(out).dtype != DataType::kFloat32) {
      return absl::UnimplementedError(absl::StrCat("produces ",
                                                   DataTypeName(graph_.value(out).dtype),
                                                   " at run time; only float32 is supported"));
    }
  }
  if (op == "Conv") return BuildConv(*this, node);
  if (op == "Gemm" || op == "MatMul") return BuildMatMul(*this, node);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return BuildBinary(*this, node);
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" ||
      op == "GlobalMaxPool") {
    return BuildPool(*this, node);
  }
  if (op == "BatchNormalization") return BuildBatchNorm(*this, node);
  if (op == "Softmax" || op == "LogSoftmax") return BuildSoftmax(*this, node);
  if (op == "Concat") return BuildConcat(*this, node);
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
      op == "Identity" || op == "Dropout") {
    return BuildReshape(*this, node);
  }
  if (op == "Transpose") return BuildTranspose(*this, node);
  if (op == "Pad") return BuildPad(*this, node);
  return BuildEltwise(*this, node);
}

absl::Status PlanBuilder::BindOutputs() {
  for (size_t i = 0; i < graph_.outputs().size(); ++i) {
    const ValueId v = graph_.outputs()[i];
    const Value& value = graph_.value(v);
    // A float output is dequantized if it was computed in u8; an integer output is copied.
    const bool integer = value.dtype != DataType::kFloat32;
    OCTET_ASSIGN_OR_RETURN(int src, integer ? RawSlotOf(v) : SlotOf(v));
    Slot slot;
    slot.md = PlainMd(value.shape, value.dtype);
    if (integer) slot.quant = quant_of(src);
    slot.kind = SlotKind::kOutput;
    slot.io_index = static_cast<int>(i);
    plan_->slots.push_back(slot);
    const int dst = static_cast<int>(plan_->slots.size()) - 1;
    plan_->output_slots.push_back(dst);
    plan_->output_shapes.push_back(value.shape);
    plan_->output_types.push_back(value.dtype);
    // The output slot's md has the output's dims; view the source with them if it is a
    // same-sized plain tensor of other dims (cannot happen for bound values, but be safe).
    OCTET_RETURN_IF_ERROR(AddReorder(absl::StrCat("output ", value.name), src, dst));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PlanBuilder::RawSlotOf(ValueId v) {
  if (value_slot_[v] >= 0) return value_slot_[v];
  if (!graph_.IsConstant(v)) {
    return absl::InternalError(
        absl::StrCat("value '", graph_.value(v).name, "' is read before it is computed"));
  }
  const Tensor& t = graph_.constant(v);
  if (t.dtype() == DataType::kInt64) {
    return absl::UnimplementedError(
        absl::StrCat("constant '", graph_.value(v).name, "' is int64 and used as a tensor"));
  }
  // Alias the graph's tensor: the plan keeps the graph constant alive through the slot.
  std::shared_ptr<const Tensor> owner = graph_.value(v).constant;
  ConstantBytes bytes(std::const_pointer_cast<Tensor>(owner), const_cast<void*>(owner->raw_data()));
  const int slot = ConstantSlot(PlainMd(t.shape(), t.dtype()), std::move(bytes));
  Bind(v, slot);
  return slot;
}

absl::StatusOr<int> PlanBuilder::SlotOf(ValueId v) {
  OCTET_ASSIGN_OR_RETURN(int current, RawSlotOf(v));
  if (md(current).data_type() == dnnl::memory::data_type::f32 || graph_.IsConstant(v)) {
    return current;
  }
  return EnsureLayout(v, WithDataType(md(current), dnnl::memory::data_type::f32));
}

absl::StatusOr<int> PlanBuilder::PackConstant(ValueId v, const dnnl::memory::desc& md,
                                              const dnnl::memory::desc& source_md) {
  ConstantBytes bytes = cache_ != nullptr ? cache_->Find(v, md) : nullptr;
  if (bytes == nullptr) {
    bytes = Reorder(graph_.constant(v).raw_data(), source_md, md);
    if (cache_ != nullptr) cache_->Insert(v, md, bytes);
  }
  return ConstantSlot(md, std::move(bytes));
}

ConstantBytes PlanBuilder::Reorder(const void* src_bytes, const dnnl::memory::desc& src_md,
                                   const dnnl::memory::desc& dst_md) {
  ConstantBytes bytes = AllocateConstant(dst_md.get_size());
  dnnl::memory src(src_md, CpuEngine(), const_cast<void*>(src_bytes));
  dnnl::memory dst(dst_md, CpuEngine(), bytes.get());
  dnnl::stream stream(CpuEngine());
  dnnl::reorder(src, dst).execute(stream, src, dst);
  stream.wait();
  return bytes;
}

absl::StatusOr<int> PlanBuilder::AddDerivedConstant(Tensor t, const dnnl::memory::desc& md,
                                                    const dnnl::memory::desc* source_view) {
  const dnnl::memory::desc source =
      source_view != nullptr ? *source_view : PlainMd(t.shape(), t.dtype());
  return ConstantSlot(md, Reorder(t.raw_data(), source, md));
}

absl::StatusOr<int> PlanBuilder::EnsureLayout(ValueId v, const dnnl::memory::desc& md,
                                              const dnnl::memory::desc* plain_view,
                                              const quant::QuantizationParams* quant) {
  OCTET_ASSIGN_OR_RETURN(int current, RawSlotOf(v));
  std::optional<quant::QuantizationParams> target_quant;
  if (IsQuantizedActivation(md) && !graph_.IsConstant(v)) {
    if (graph_.value(v).dtype != DataType::kFloat32) {
      // An integer tensor (a u8 graph input, a QuantizeLinear or QLinear output): its integers
      // are its value, so it is reordered but never requantized.
      target_quant = quant_of(current);
    } else if (quant != nullptr) {
      target_quant = *quant;
    } else if (graph_.value(v).quant) {
      target_quant = graph_.value(v).quant;
    } else {
      return absl::FailedPreconditionError(absl::StrCat(
          "tensor '", graph_.value(v).name, "' is needed in u8 but has no calibration range"));
    }
  }
  auto matches = [&](int slot) {
    return this->md(slot) == md && SameQuantization(quant_of(slot), target_quant);
  };
  if (plain_view == nullptr && matches(current)) return current;
  for (int copy : layout_copies_[v]) {
    if (matches(copy)) return copy;
  }
  int result;
  if (graph_.IsConstant(v)) {
    const dnnl::memory::desc source =
        plain_view != nullptr ? *plain_view
                              : PlainMd(graph_.value(v).shape, graph_.constant(v).dtype());
    OCTET_ASSIGN_OR_RETURN(result, PackConstant(v, md, source));
  } else {
    int src = current;
    if (plain_view != nullptr) {
      OCTET_ASSIGN_OR_RETURN(int plain, EnsurePlain(v));
      src = ViewSlot(plain, *plain_view);
    }
    result = NewArenaSlot(md, target_quant);
    OCTET_RETURN_IF_ERROR(AddReorder(absl::StrCat("reorder ", graph_.value(v).name), src, result));
  }
  layout_copies_[v].push_back(result);
  return result;
}

absl::StatusOr<int> PlanBuilder::EnsurePlain(ValueId v) {
  return EnsureLayout(v, PlainMd(graph_.value(v).shape, graph_.value(v).dtype));
}

bool PlanBuilder::WantsQuantizedOutput(ValueId v) const {
  if (graph_.value(v).dtype == DataType::kUInt8) return true;  // u8 by type (QLinear outputs)
  if (!graph_.value(v).quant || graph_.IsGraphOutput(v) || readers_[v].empty()) return false;
  for (int i : readers_[v]) {
    const Node& reader = graph_.nodes()[i];
    if (reader.precision != Precision::kInt8 && !RunsOnQuantizedInput(reader)) return false;
  }
  return true;
}

int PlanBuilder::NewArenaSlot(const dnnl::memory::desc& md,
                              std::optional<quant::QuantizationParams> quant) {
  ArenaBuffer buffer;
  buffer.size = static_cast<int64_t>(md.get_size());
  buffer.first_use = INT_MAX;
  buffer.last_use = -1;
  plan_->buffers.push_back(buffer);
  buffer_values_.emplace_back();
  Slot slot;
  slot.md = md;
  slot.kind = SlotKind::kArena;
  slot.buffer = static_cast<int>(plan_->buffers.size()) - 1;
  slot.quant = quant;
  plan_->slots.push_back(slot);
  return static_cast<int>(plan_->slots.size()) - 1;
}

int PlanBuilder::ViewSlot(int base, const dnnl::memory::desc& md) {
  Slot slot = plan_->slots[base];  // same bytes: arena buffer, constant, or bound input
  slot.md = md;
  plan_->slots.push_back(slot);
  return static_cast<int>(plan_->slots.size()) - 1;
}

int PlanBuilder::RelabelSlot(int base, std::optional<quant::QuantizationParams> quant) {
  Slot slot = plan_->slots[base];
  slot.quant = quant;
  plan_->slots.push_back(slot);
  return static_cast<int>(plan_->slots.size()) - 1;
}

int PlanBuilder::ConstantSlot(const dnnl::memory::desc& md, ConstantBytes bytes) {
  Slot slot;
  slot.md = md;
  slot.kind = SlotKind::kConstant;
  slot.constant = std::move(bytes);
  plan_->slots.push_back(slot);
  return static_cast<int>(plan_->slots.size()) - 1;
}

void PlanBuilder::Bind(ValueId v, int slot) {
  value_slot_[v] = slot;
  layout_copies_.erase(v);
  const int buffer = plan_->slots[slot].buffer;
  if (buffer >= 0) buffer_values_[buffer].push_back(v);
}

bool PlanBuilder::CanOverwrite(ValueId v) {
  const int slot = value_slot_[v];
  if (slot < 0 || plan_->slots[slot].kind != SlotKind::kArena) return false;
  for (ValueId other : buffer_values_[plan_->slots[slot].buffer]) {
    if (last_reader_[other] > node_index_) return false;
  }
  return true;
}

void PlanBuilder::RecordUses(const Step& step, int step_index) {
  for (const auto& [arg, slot] : step.args) {
    const int buffer = plan_->slots[slot].buffer;
    if (buffer < 0) continue;
    ArenaBuffer& b = plan_->buffers[buffer];
    b.first_use = std::min(b.first_use, step_index);
    b.last_use = std::max(b.last_use, step_index);
  }
}

void PlanBuilder::AddPrimitive(const std::string& name, dnnl::primitive primitive,
                               std::vector<std::pair<int, int>> args, bool uses_scratchpad,
                               size_t scratchpad_bytes) {
  Step step;
  step.name = name;
  step.primitive = std::make_shared<const dnnl::primitive>(std::move(primitive));
  step.args = std::move(args);
  step.uses_scratchpad = uses_scratchpad && scratchpad_bytes > 0;
  plan_->scratchpad_bytes =
      std::max<int64_t>(plan_->scratchpad_bytes, static_cast<int64_t>(scratchpad_bytes));
  RecordUses(step, static_cast<int>(plan_->steps.size()));
  plan_->steps.push_back(std::move(step));
}

void PlanBuilder::AddCustom(const std::string& name, CustomKernel kernel,
                            std::vector<std::pair<int, int>> args) {
  Step step;
  step.name = name;
  step.custom = std::move(kernel);
  step.args = std::move(args);
  RecordUses(step, static_cast<int>(plan_->steps.size()));
  plan_->steps.push_back(std::move(step));
}

absl::Status PlanBuilder::AddReorder(const std::string& name, int src, int dst) {
  // real = s * (q - zp): dst_q = (s_src / s_dst) * (src_q - zp_src) + zp_dst, where a float
  // side has s = 1 and zp = 0. oneDNN rounds to nearest even and saturates.
  dnnl::primitive_attr attr;
  float scale = 1.0f;
  const auto& src_quant = quant_of(src);
  const auto& dst_quant = quant_of(dst);
  const bool same_quantization =
      md(src).data_type() == md(dst).data_type() && SameQuantization(src_quant, dst_quant);
  if (same_quantization) {
    // A change of layout only: the integers stay as they are.
  } else if (IsQuantizedActivation(md(src)) && src_quant) {
    scale *= src_quant->scale;
    if (src_quant->zero_point != 0) {
      attr.set_zero_points(DNNL_ARG_SRC, 0, {src_quant->zero_point});
    }
  }
  if (!same_quantization && IsQuantizedActivation(md(dst)) && dst_quant) {
    scale /= dst_quant->scale;
    if (dst_quant->zero_point != 0) {
      attr.set_zero_points(DNNL_ARG_DST, 0, {dst_quant->zero_point});
    }
  }
  if (scale != 1.0f) attr.set_output_scales(0, {scale});
  dnnl::reorder::primitive_desc pd(CpuEngine(), md(src), CpuEngine(), md(dst), attr);
  AddPrimitive(name, dnnl::reorder(pd), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, false, 0);
  return absl::OkStatus();
}

void PlanBuilder::PlanArena() {
  std::vector<BufferRequest> requests;
  for (const ArenaBuffer& b : plan_->buffers) {
    // A buffer no step touches (cannot happen for bound values) still gets a place.
    requests.push_back({b.size, b.last_use < 0 ? 0 : b.first_use, std::max(b.last_use, 0)});
  }
  MemoryLayout layout = PlanMemory(requests);
  for (size_t i = 0; i < plan_->buffers.size(); ++i) {
    plan_->buffers[i].offset = layout.offsets[i];
  }
  plan_->arena_bytes = layout.arena_size;
}

}  // namespace runtime
}  // namespace octet
