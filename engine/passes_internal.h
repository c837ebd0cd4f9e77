// Helpers shared by the pass implementations (passes.cc, folding.cc, fusion.cc). Internal.
#ifndef OCTET_ENGINE_PASSES_INTERNAL_H_
#define OCTET_ENGINE_PASSES_INTERNAL_H_

#include <vector>

#include "engine/graph.h"

namespace octet {
namespace passes {

// The index of the only node reading `value` (which must read it once and not be a graph
// output), or -1.
int SoleConsumer(const Graph& graph, const std::vector<std::vector<int>>& consumers, ValueId value);
// Removes nodes whose op_type was cleared to mark them dead.
void EraseMarkedNodes(Graph& graph);

}  // namespace passes
}  // namespace octet

#endif  // OCTET_ENGINE_PASSES_INTERNAL_H_
