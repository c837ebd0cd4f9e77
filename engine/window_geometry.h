// Sliding-window geometry shared by Conv and the pooling operators: ONNX's kernel_shape,
// strides, dilations, pads and auto_pad resolved into explicit per-axis numbers.
//
// Shape inference and the runtime both call ResolveWindow(), so the output size that the graph
// promises and the padding that oneDNN is given always agree. Pure functions; thread-safe.
#ifndef OCTET_ENGINE_WINDOW_GEOMETRY_H_
#define OCTET_ENGINE_WINDOW_GEOMETRY_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph.h"

namespace octet {

struct WindowGeometry {
  std::vector<int64_t> kernel;  // per spatial axis
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;  // ONNX convention: 1 means dense
  std::vector<int64_t> pads_begin;
  std::vector<int64_t> pads_end;  // may exceed the ONNX pads when ceil_mode rounds up
  std::vector<int64_t> output;    // output spatial size
};

// `input_spatial` are the input's spatial dims; `kernel` the window (from kernel_shape or the
// weights). Honours auto_pad (NOTSET, SAME_UPPER, SAME_LOWER, VALID) and ceil_mode.
absl::StatusOr<WindowGeometry> ResolveWindow(const Node& node,
                                             const std::vector<int64_t>& input_spatial,
                                             const std::vector<int64_t>& kernel);

}  // namespace octet

#endif  // OCTET_ENGINE_WINDOW_GEOMETRY_H_
