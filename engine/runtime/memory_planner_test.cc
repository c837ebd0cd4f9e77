// The arena planner: buffers live at the same time never share bytes, buffers with disjoint
// lifetimes do, every offset is aligned - checked on hand-made cases, on random request sets,
// and on the arena of a real compiled plan.
#include "engine/runtime/memory_planner.h"

#include <algorithm>
#include <climits>
#include <random>
#include <vector>

#include "engine/model.h"
#include "engine/testing/onnx_model_builder.h"
#include "gtest/gtest.h"

namespace octet {
namespace runtime {
namespace {

int64_t AlignUp(int64_t v, int64_t alignment) {
  return (v + alignment - 1) / alignment * alignment;
}

bool LiveTogether(const BufferRequest& a, const BufferRequest& b) {
  return !(a.last_use < b.first_use || b.last_use < a.first_use);
}

// Checks the planner's contract on `layout`; returns a description of the first violation.
::testing::AssertionResult IsValidLayout(const std::vector<BufferRequest>& requests,
                                         const MemoryLayout& layout, int64_t alignment) {
  if (layout.offsets.size() != requests.size()) {
    return ::testing::AssertionFailure()
           << layout.offsets.size() << " offsets for " << requests.size() << " requests";
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const int64_t begin = layout.offsets[i];
    if (begin < 0 || begin % alignment != 0) {
      return ::testing::AssertionFailure() << "buffer " << i << " at unaligned offset " << begin;
    }
    if (begin + requests[i].size > layout.arena_size) {
      return ::testing::AssertionFailure() << "buffer " << i << " ends past the arena";
    }
    for (size_t j = 0; j < i; ++j) {
      if (!LiveTogether(requests[i], requests[j])) continue;
      const int64_t other = layout.offsets[j];
      if (begin < other + requests[j].size && other < begin + requests[i].size) {
        return ::testing::AssertionFailure()
               << "buffers " << j << " and " << i << " are live together and overlap: [" << other
               << ", " << other + requests[j].size << ") and [" << begin << ", "
               << begin + requests[i].size << ")";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(MemoryPlannerTest, NoRequestsNeedNoArena) {
  const MemoryLayout layout = PlanMemory({});
  EXPECT_TRUE(layout.offsets.empty());
  EXPECT_EQ(layout.arena_size, 0);
}

TEST(MemoryPlannerTest, DisjointLifetimesShareOneBuffer) {
  const std::vector<BufferRequest> requests = {{1000, 0, 0}, {2000, 1, 1}, {500, 2, 2}};
  const MemoryLayout layout = PlanMemory(requests);
  ASSERT_TRUE(IsValidLayout(requests, layout, 64));
  EXPECT_EQ(layout.offsets, (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(layout.arena_size, AlignUp(2000, 64));
}

TEST(MemoryPlannerTest, OverlappingLifetimesGetDisjointBytes) {
  // Each pair shares at least one step (inclusive ends).
  const std::vector<BufferRequest> requests = {{100, 0, 2}, {200, 1, 3}, {300, 2, 4}};
  const MemoryLayout layout = PlanMemory(requests);
  ASSERT_TRUE(IsValidLayout(requests, layout, 64));
  EXPECT_EQ(layout.arena_size, AlignUp(100, 64) + AlignUp(200, 64) + AlignUp(300, 64));
}

TEST(MemoryPlannerTest, ChainReusesMemory) {
  // A feed-forward network: activation i is written by step i and read by step i + 1.
  std::vector<BufferRequest> requests;
  int64_t total = 0;
  for (int i = 0; i < 10; ++i) {
    requests.push_back({4096, i, i + 1});
    total += 4096;
  }
  const MemoryLayout layout = PlanMemory(requests);
  ASSERT_TRUE(IsValidLayout(requests, layout, 64));
  EXPECT_EQ(layout.arena_size, 2 * 4096) << "of " << total << " bytes requested";
}

TEST(MemoryPlannerTest, OffsetsHonourTheAlignment) {
  const std::vector<BufferRequest> requests = {
      {1, 0, 5}, {63, 0, 5}, {65, 0, 5}, {100, 0, 5}, {0, 0, 5}};
  for (int64_t alignment : {64, 128, 4096}) {
    const MemoryLayout layout = PlanMemory(requests, alignment);
    EXPECT_TRUE(IsValidLayout(requests, layout, alignment)) << "alignment " << alignment;
    EXPECT_EQ(layout.arena_size % alignment, 0) << "alignment " << alignment;
  }
}

TEST(MemoryPlannerTest, RandomRequestSetsAreValidAndNoWorseThanNoSharing) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const int count = 1 + static_cast<int>(rng() % 40);
    const int64_t alignment = int64_t{1} << (rng() % 8);
    std::vector<BufferRequest> requests;
    int64_t unshared = 0;
    for (int i = 0; i < count; ++i) {
      const int first = static_cast<int>(rng() % 30);
      const int last = first + static_cast<int>(rng() % 10);
      const int64_t size = rng() % 5000;
      requests.push_back({size, first, last});
      unshared += AlignUp(size, alignment);
    }
    const MemoryLayout layout = PlanMemory(requests, alignment);
    ASSERT_TRUE(IsValidLayout(requests, layout, alignment)) << "trial " << trial;
    EXPECT_LE(layout.arena_size, unshared) << "trial " << trial;
    // No layout can be smaller than the bytes live at the busiest step.
    for (int step = 0; step < 40; ++step) {
      int64_t live = 0;
      for (const BufferRequest& r : requests) {
        if (r.first_use <= step && step <= r.last_use) live += r.size;
      }
      EXPECT_GE(layout.arena_size, live) << "trial " << trial << " step " << step;
    }
  }
}

// The arena of a compiled ResNet-like plan, with the planner's inputs recovered from it.
TEST(PlanArenaTest, CompiledPlanBuffersFollowTheContract) {
  using ::octet::testing::OnnxModelBuilder;
  using ::octet::testing::RandomTensor;
  OnnxModelBuilder m;
  m.Input("x", {1, 8, 16, 16});
  std::string prev = "x";
  for (int i = 0; i < 6; ++i) {
    const std::string id = std::to_string(i);
    m.Initializer("w" + id, RandomTensor({8, 8, 3, 3}, i));
    m.Node("Conv", {prev, "w" + id}, {"c" + id}, "conv" + id).Ints("pads", {1, 1, 1, 1});
    m.Node("Sigmoid", {"c" + id}, {"s" + id}, "sigmoid" + id);
    m.Node("Add", {"s" + id, prev}, {"a" + id}, "add" + id);
    prev = "a" + id;
  }
  m.Node("GlobalAveragePool", {prev}, {"y"}, "gap");
  m.Output("y");
  auto model = Model::FromBytes(m.Serialize());
  ASSERT_TRUE(model.ok()) << model.status();
  auto plan = (*model)->GetPlan({{4, 8, 16, 16}}, 1);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const Plan& p = **plan;
  ASSERT_GE(p.buffers.size(), 6u);
  std::vector<BufferRequest> requests;
  MemoryLayout layout;
  int64_t total = 0;
  for (const ArenaBuffer& b : p.buffers) {
    EXPECT_LE(b.first_use, b.last_use) << "a buffer no step uses";
    requests.push_back({b.size, b.first_use, b.last_use});
    layout.offsets.push_back(b.offset);
    total += b.size;
  }
  layout.arena_size = p.arena_bytes;
  EXPECT_TRUE(IsValidLayout(requests, layout, 64));
  EXPECT_LT(p.arena_bytes, total) << "no buffer was reused";
}

}  // namespace
}  // namespace runtime
}  // namespace octet
