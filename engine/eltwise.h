// Maps the ONNX element-wise activation operators onto the engine's EltwiseKind sequence,
// the form in which they run either standalone or fused as post-ops of a Conv or Gemm.
// HardSigmoid, which oneDNN 2.6 lacks, becomes linear followed by clip. Thread-safe.
#ifndef OCTET_ENGINE_ELTWISE_H_
#define OCTET_ENGINE_ELTWISE_H_

#include <optional>
#include <vector>

#include "engine/graph.h"

namespace octet {

// The eltwise steps computing `node`, or nullopt when it is not an activation that Octet can
// express that way (including a Clip whose bounds are not constants).
std::optional<std::vector<PostOp>> AsEltwise(const Graph& graph, const Node& node);

}  // namespace octet

#endif  // OCTET_ENGINE_ELTWISE_H_
