#include "engine/runtime/memory_planner.h"

#include <algorithm>
#include <numeric>

namespace octet {
namespace runtime {

MemoryLayout PlanMemory(const std::vector<BufferRequest>& requests, int64_t alignment) {
  MemoryLayout layout;
  layout.offsets.assign(requests.size(), 0);
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return requests[a].size > requests[b].size; });
  auto align = [alignment](int64_t v) { return (v + alignment - 1) / alignment * alignment; };

  std::vector<size_t> placed;
  for (size_t i : order) {
    const BufferRequest& r = requests[i];
    // Address ranges of placed buffers that are live at the same time, sorted by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t j : placed) {
      const BufferRequest& o = requests[j];
      if (o.last_use < r.first_use || r.last_use < o.first_use) continue;
      busy.emplace_back(layout.offsets[j], layout.offsets[j] + align(o.size));
    }
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + align(r.size) <= begin) break;
      offset = std::max(offset, end);
    }
    layout.offsets[i] = offset;
    layout.arena_size = std::max(layout.arena_size, offset + align(r.size));
    placed.push_back(i);
  }
  return layout;
}

}  // namespace runtime
}  // namespace octet
