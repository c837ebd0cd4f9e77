// Turns an optimized FP32 graph into a mixed FP32/INT8 graph: the runtime form of a
// calibrated model.
//
// Inputs are the activation ranges chosen by calibration (per tensor name) and a
// PrecisionPlan (which compute nodes run in INT8). For every INT8 node the weights are
// quantized once, here, to s8 per output channel with the weight scheme the CPU needs
// (docs/quantization.md), the bias to s32 in the accumulator's scale, and the per-channel
// weight scales are kept on the node. Every calibrated activation gets u8 QuantizationParams
// (Value::quant). Pooling and reshapes pass their input's params through, so that an INT8 chain
// needs no requantization. What runs in u8 and where Quantize/Dequantize reorders go is then
// decided by the plan builder from these annotations.
//
// Pure function of its arguments; thread-safe.
#ifndef OCTET_ENGINE_QUANTIZE_GRAPH_H_
#define OCTET_ENGINE_QUANTIZE_GRAPH_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "engine/quant/weight_quantization.h"

namespace octet {

// Which compute nodes run in INT8, by node name (absent means FP32).
struct PrecisionPlan {
  std::map<std::string, Precision> nodes;

  // Every node of `graph` that can run in INT8.
  static PrecisionPlan AllInt8(const Graph& graph);
  int CountInt8() const;
};

// Why `node` cannot run in INT8, or "" when it can.
std::string Int8Ineligibility(const Graph& graph, const Node& node);

struct ActivationRange {
  float min = 0.0f;
  float max = 0.0f;
};
using ActivationRanges = std::map<std::string, ActivationRange>;

struct QuantizationOptions {
  quant::WeightScheme weight_scheme = quant::WeightScheme::kPairLimited;
  bool per_tensor_weights = false;  // one weight scale per layer instead of per channel
};

// kFull8 where the CPU has VNNI, kPairLimited (exact on AVX2) elsewhere.
QuantizationOptions DefaultQuantizationOptions();

// What quantizing one node's weights did, for reports.
struct NodeQuantization {
  std::string node;
  quant::WeightQuantizationStats weights;
};

struct QuantizedGraph {
  Graph graph;
  std::vector<NodeQuantization> nodes;
};

absl::StatusOr<QuantizedGraph> QuantizeGraph(const Graph& fp32, const ActivationRanges& ranges,
                                             const PrecisionPlan& plan,
                                             const QuantizationOptions& options);

// The node attribute holding an INT8 node's per-output-channel weight scales.
inline constexpr char kWeightScalesAttr[] = "octet.weight_scales";

}  // namespace octet

#endif  // OCTET_ENGINE_QUANTIZE_GRAPH_H_
