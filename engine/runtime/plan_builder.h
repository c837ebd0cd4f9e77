// Builds a Plan from a graph whose shapes are inferred for concrete input shapes: creates one
// oneDNN primitive (or custom kernel) per node, inserts reorders only where a consumer needs a
// layout its producer did not give, packs constant weights once into the layouts the
// primitives ask for, and finally plans the arena.
//
// Layouts: each value is bound to a slot (memory descriptor + bytes). Kernels ask for their
// inputs either as they are (`SlotOf`), in a specific layout (`EnsureLayout`: a reorder step
// at run time, or a one-off reorder at build time for constants, remembered per layout), or in
// plain row-major order (`EnsurePlain`, for reshapes and custom kernels). Activations thus stay
// in oneDNN's blocked layouts between primitives and are reordered only at the graph's edges.
//
// Used by one thread during compilation; the kernels (kernels_*.cc) are its only clients.
#ifndef OCTET_ENGINE_RUNTIME_PLAN_BUILDER_H_
#define OCTET_ENGINE_RUNTIME_PLAN_BUILDER_H_

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/graph.h"
#include "engine/runtime/plan.h"

namespace octet {
namespace runtime {

// Weights already reordered into a primitive's layout, shared by the plans of one model (the
// plans for different batch sizes usually want the same packed weights). Thread-safe.
class PackedConstantCache {
 public:
  ConstantBytes Find(ValueId value, const dnnl::memory::desc& md) const;
  void Insert(ValueId value, const dnnl::memory::desc& md, ConstantBytes bytes);
  int64_t TotalBytes() const;

 private:
  mutable absl::Mutex mu_;
  std::map<ValueId, std::vector<std::pair<dnnl::memory::desc, ConstantBytes>>> entries_
      ABSL_GUARDED_BY(mu_);
};

dnnl::memory::data_type ToDnnl(DataType dtype);
// Dense row-major descriptor; a scalar becomes [1].
dnnl::memory::desc PlainMd(const Shape& shape, DataType dtype = DataType::kFloat32);
dnnl::memory::desc PlainMd(const dnnl::memory::dims& shape, dnnl::memory::data_type dtype);
bool IsPlain(const dnnl::memory::desc& md);
// The same layout with another element type.
dnnl::memory::desc WithDataType(const dnnl::memory::desc& md, dnnl::memory::data_type type);
// u8: an activation whose meaning is given by its slot's QuantizationParams.
bool IsQuantizedActivation(const dnnl::memory::desc& md);
bool SameQuantization(const std::optional<quant::QuantizationParams>& a,
                      const std::optional<quant::QuantizationParams>& b);

class PlanBuilder {
 public:
  // `graph` must outlive the builder and have its shapes inferred. `cache` may be null.
  PlanBuilder(const Graph& graph, PackedConstantCache* cache, int threads);

  // Builds every node, the output reorders and the memory plan.
  absl::StatusOr<std::shared_ptr<const Plan>> Build();

  // --- For kernels ---
  const Graph& graph() const { return graph_; }
  const Shape& shape(ValueId v) const { return graph_.value(v).shape; }
  const dnnl::memory::desc& md(int slot) const { return plan_->slots[slot].md; }
  int buffer_of(int slot) const { return plan_->slots[slot].buffer; }

  // The slot holding `v` now, as float: a u8 activation is dequantized (once) in its layout.
  // Graph inputs and constants get a plain slot on first use.
  absl::StatusOr<int> SlotOf(ValueId v);
  // The slot holding `v` now, whatever its data type (u8 for INT8 activations).
  absl::StatusOr<int> RawSlotOf(ValueId v);
  // `v` in layout `md` (which also fixes the data type). With `plain_view`, v's plain bytes are
  // first reinterpreted with that descriptor (same bytes, other dims: grouped weights,
  // transposed matrices). For a u8 `md`, `quant` says how to quantize (default: the value's own
  // calibrated params); the reorder quantizes, dequantizes or requantizes as needed.
  absl::StatusOr<int> EnsureLayout(ValueId v, const dnnl::memory::desc& md,
                                   const dnnl::memory::desc* plain_view = nullptr,
                                   const quant::QuantizationParams* quant = nullptr);
  // Plain row-major float.
  absl::StatusOr<int> EnsurePlain(ValueId v);

  // A constant computed while building (e.g. weights scaled by Gemm's alpha) in layout `md`;
  // `source_view` describes t's bytes when they are not t's own plain layout.
  absl::StatusOr<int> AddDerivedConstant(Tensor t, const dnnl::memory::desc& md,
                                         const dnnl::memory::desc* source_view = nullptr);
  // A fresh activation slot in the arena (with its quantization when md is u8).
  int NewArenaSlot(const dnnl::memory::desc& md,
                   std::optional<quant::QuantizationParams> quant = std::nullopt);
  const std::optional<quant::QuantizationParams>& quant_of(int slot) const {
    return plan_->slots[slot].quant;
  }
  // True when an INT8 node should write `v` as u8: it has quantization params, is not a graph
  // output, and every reader is an INT8 node or one that passes u8 data through.
  bool WantsQuantizedOutput(ValueId v) const;
  // Another descriptor over the bytes of `base` (a reshape or transpose view).
  int ViewSlot(int base, const dnnl::memory::desc& md);
  // The bytes of `base` read with other quantization params (the same buffer holds a residual
  // in its own quantization before a convolution overwrites it with the output's).
  int RelabelSlot(int base, std::optional<quant::QuantizationParams> quant);
  // A constant slot over bytes that the plan keeps alive.
  int ConstantSlot(const dnnl::memory::desc& md, ConstantBytes bytes);
  // Makes `slot` the current home of `v`.
  void Bind(ValueId v, int slot);
  // True when no later node reads the buffer holding `v`, so the current node may overwrite it.
  bool CanOverwrite(ValueId v);

  // Appends a step executing `primitive` with `args` (DNNL_ARG_*, slot).
  void AddPrimitive(const std::string& name, dnnl::primitive primitive,
                    std::vector<std::pair<int, int>> args, bool uses_scratchpad,
                    size_t scratchpad_bytes);
  void AddCustom(const std::string& name, CustomKernel kernel,
                 std::vector<std::pair<int, int>> args);
  // Appends a reorder from slot `src` into slot `dst`, quantizing, dequantizing or
  // requantizing according to the slots' data types and quantization params.
  absl::Status AddReorder(const std::string& name, int src, int dst);

  int threads() const { return threads_; }

 private:
  absl::Status BuildNode(const Node& node);
  absl::Status BindOutputs();
  void RecordUses(const Step& step, int step_index);
  void PlanArena();
  absl::StatusOr<int> PackConstant(ValueId v, const dnnl::memory::desc& md,
                                   const dnnl::memory::desc& source_md);
  static ConstantBytes Reorder(const void* src, const dnnl::memory::desc& src_md,
                               const dnnl::memory::desc& dst_md);

  const Graph& graph_;
  PackedConstantCache* cache_;
  const int threads_;
  std::shared_ptr<Plan> plan_;
  int node_index_ = 0;
  std::vector<int> value_slot_;                      // per value, -1 when not bound yet
  std::vector<int> last_reader_;                     // per value: index of the last node reading it
  std::vector<std::vector<int>> readers_;            // per value: the nodes reading it
  std::vector<std::vector<ValueId>> buffer_values_;  // per buffer: values bound to it
  // Per value: the slots holding it in other layouts, to reorder each layout only once.
  std::unordered_map<ValueId, std::vector<int>> layout_copies_;
};

}  // namespace runtime
}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_PLAN_BUILDER_H_
