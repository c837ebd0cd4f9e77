// Plain C++ implementations of the few operators the graph passes evaluate on constants at
// load time (constant folding), e.g. a Transpose or Reshape of a weight tensor. They favour
// clarity over speed: they run once per model load, never per request. Thread-safe.
#ifndef OCTET_ENGINE_REFERENCE_OPS_H_
#define OCTET_ENGINE_REFERENCE_OPS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace octet {
namespace reference {

// out[i0..in] = x[i_perm...]: the ONNX Transpose of any element type.
Tensor Transpose(const Tensor& x, const std::vector<int64_t>& perm);

enum class BinaryOp { kAdd, kSub, kMul, kDiv };
// NumPy-broadcasting arithmetic on float32 or int64 operands of the same type.
absl::StatusOr<Tensor> Binary(BinaryOp op, const Tensor& a, const Tensor& b);

}  // namespace reference
}  // namespace octet

#endif  // OCTET_ENGINE_REFERENCE_OPS_H_
