#include "engine/runtime/plan.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace octet {
namespace runtime {

const dnnl::engine& CpuEngine() {
  static const auto* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

ConstantBytes AllocateConstant(size_t bytes) {
  constexpr size_t kAlignment = 64;
  const size_t rounded =
      std::max<size_t>(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
  void* p = std::aligned_alloc(kAlignment, rounded);
  std::memset(p, 0, rounded);
  return ConstantBytes(p, [](void* q) { std::free(q); });
}

PlanInstance::PlanInstance(std::shared_ptr<const Plan> plan) : plan_(std::move(plan)) {
  arena_ = AllocateConstant(plan_->arena_bytes);
  scratchpad_ = AllocateConstant(plan_->scratchpad_bytes);
  char* arena = static_cast<char*>(arena_.get());
  memory_.reserve(plan_->slots.size());
  for (const Slot& slot : plan_->slots) {
    void* handle = nullptr;
    switch (slot.kind) {
      case SlotKind::kArena:
        handle = arena + plan_->buffers[slot.buffer].offset;
        break;
      case SlotKind::kConstant:
        handle = slot.constant.get();
        break;
      case SlotKind::kInput:
      case SlotKind::kOutput:
        handle = DNNL_MEMORY_NONE;  // bound per run
        bound_slots_.push_back(static_cast<int>(memory_.size()));
        break;
    }
    memory_.emplace_back(slot.md, CpuEngine(), handle);
  }
  dnnl::memory scratch;
  if (plan_->scratchpad_bytes > 0) {
    dnnl::memory::desc md({plan_->scratchpad_bytes}, dnnl::memory::data_type::u8,
                          dnnl::memory::format_tag::a);
    scratch = dnnl::memory(md, CpuEngine(), scratchpad_.get());
  }
  for (const Step& step : plan_->steps) {
    std::unordered_map<int, dnnl::memory> args;
    for (const auto& [arg, slot] : step.args) args[arg] = memory_[slot];
    if (step.uses_scratchpad) args[DNNL_ARG_SCRATCHPAD] = scratch;
    step_args_.push_back(std::move(args));
  }
}

absl::Status PlanInstance::Execute(dnnl::stream& stream, const std::vector<const void*>& inputs,
                                   const std::vector<void*>& outputs) {
  for (int slot : bound_slots_) {
    const Slot& s = plan_->slots[slot];
    memory_[slot].set_data_handle(s.kind == SlotKind::kInput ? const_cast<void*>(inputs[s.io_index])
                                                             : outputs[s.io_index]);
  }
  for (size_t i = 0; i < plan_->steps.size(); ++i) {
    const Step& step = plan_->steps[i];
    try {
      if (step.primitive) {
        step.primitive->execute(stream, step_args_[i]);
      } else {
        std::vector<void*> pointers;
        pointers.reserve(step.args.size());
        for (const auto& [arg, slot] : step.args) {
          pointers.push_back(memory_[slot].get_data_handle());
        }
        step.custom(pointers);
      }
    } catch (const dnnl::error& e) {
      return absl::InternalError(absl::StrCat("step '", step.name, "' failed: ", e.what()));
    }
  }
  stream.wait();
  return absl::OkStatus();
}

}  // namespace runtime
}  // namespace octet
