// Assigns byte offsets in one arena to buffers with known lifetimes, so that buffers that are
// never live at the same time share memory (the activations of a feed-forward network need a
// small fraction of the sum of their sizes).
//
// Greedy by decreasing size: each buffer goes at the lowest offset that does not overlap, in
// address and in time, any buffer already placed (the heuristic TFLite's arena planner uses).
// Pure function; thread-safe.
#ifndef OCTET_ENGINE_RUNTIME_MEMORY_PLANNER_H_
#define OCTET_ENGINE_RUNTIME_MEMORY_PLANNER_H_

#include <cstdint>
#include <vector>

namespace octet {
namespace runtime {

struct BufferRequest {
  int64_t size = 0;   // bytes
  int first_use = 0;  // index of the first step that touches the buffer
  int last_use = 0;   // index of the last step that touches it (inclusive)
};

struct MemoryLayout {
  std::vector<int64_t> offsets;  // one per request, multiples of `alignment`
  int64_t arena_size = 0;
};

MemoryLayout PlanMemory(const std::vector<BufferRequest>& requests, int64_t alignment = 64);

}  // namespace runtime
}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_MEMORY_PLANNER_H_
