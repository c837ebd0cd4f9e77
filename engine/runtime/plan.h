// A compiled execution plan: the oneDNN primitives of one graph for one set of input shapes,
// in order, with every tensor's memory descriptor and place in a shared arena.
//
// A Plan is immutable once built and shared by every Session that runs those shapes
// (oneDNN primitives may execute concurrently on different memory). Per-execution state -
// the arena, the dnnl::memory objects, the argument maps - lives in a PlanInstance, which
// belongs to one Session and is not thread-safe.
#ifndef OCTET_ENGINE_RUNTIME_PLAN_H_
#define OCTET_ENGINE_RUNTIME_PLAN_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/quant/quantization_params.h"
#include "engine/tensor.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace octet {
namespace runtime {

// The process-wide oneDNN CPU engine.
const dnnl::engine& CpuEngine();

// Bytes that outlive the plan builder: packed weights and other constants.
using ConstantBytes = std::shared_ptr<void>;
ConstantBytes AllocateConstant(size_t bytes);

enum class SlotKind {
  kArena,     // an activation in the plan's arena
  kConstant,  // weights or other constants, shared by all instances
  kInput,     // a graph input, bound to the caller's bytes per run
  kOutput,    // a graph output, bound to the result tensor per run
};

// A tensor as the plan sees it: a memory descriptor over some bytes.
struct Slot {
  dnnl::memory::desc md;
  SlotKind kind = SlotKind::kArena;
  int buffer = -1;         // kArena: index into Plan::buffers (views share a buffer)
  int io_index = -1;       // kInput / kOutput: position among the graph inputs / outputs
                           // (a view of an input is also kInput, over the same bytes)
  ConstantBytes constant;  // kConstant
  // For u8 activations: what the bytes mean (real = scale * (q - zero_point)).
  std::optional<quant::QuantizationParams> quant;
};

struct ArenaBuffer {
  int64_t size = 0;
  int64_t offset = 0;  // filled by the memory planner
  int first_use = 0;
  int last_use = 0;
};

// Computes one step from raw pointers to its argument slots (in Step::args order). For the few
// operators oneDNN has no primitive for (Pad).
using CustomKernel = std::function<void(const std::vector<void*>& args)>;

struct Step {
  std::string name;  // the node (or "reorder ...") it implements, for errors and profiles
  std::shared_ptr<const dnnl::primitive> primitive;
  CustomKernel custom;                    // used when primitive is null
  std::vector<std::pair<int, int>> args;  // (DNNL_ARG_*, slot index)
  bool uses_scratchpad = false;
};

struct Plan {
  std::vector<Slot> slots;
  std::vector<ArenaBuffer> buffers;
  std::vector<Step> steps;
  int64_t arena_bytes = 0;
  int64_t scratchpad_bytes = 0;
  std::vector<int> input_slots;   // per graph input: plain layout
  std::vector<int> output_slots;  // per graph output: plain layout
  std::vector<Shape> input_shapes;
  std::vector<Shape> output_shapes;
  std::vector<DataType> output_types;
  int threads = 0;
};

// The per-session execution state of a Plan.
class PlanInstance {
 public:
  explicit PlanInstance(std::shared_ptr<const Plan> plan);

  // Runs the plan. `inputs` point at plain row-major bytes of the plan's input shapes;
  // `outputs` at buffers of the output shapes. Borrowed for the duration of the call.
  absl::Status Execute(dnnl::stream& stream, const std::vector<const void*>& inputs,
                       const std::vector<void*>& outputs);

  const Plan& plan() const { return *plan_; }

 private:
  std::shared_ptr<const Plan> plan_;
  ConstantBytes arena_;
  ConstantBytes scratchpad_;
  std::vector<dnnl::memory> memory_;  // one per slot
  std::vector<int> bound_slots_;      // input and output slots (and views of them)
  std::vector<std::unordered_map<int, dnnl::memory>> step_args_;
};

}  // namespace runtime
}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_PLAN_H_
