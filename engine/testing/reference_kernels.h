// Deliberately naive implementations of the ONNX operators, written from the ONNX operator
// specification as nested loops over float32 NCHW tensors, accumulating in double. The engine's
// numeric tests compare oneDNN's results against them; they share no code with the engine, so a
// misreading of the spec in the engine does not hide itself.
//
//   reference_kernels::ConvParams p;
//   p.pads_begin = p.pads_end = {1, 1};
//   EXPECT_TRUE(AllClose(actual, reference_kernels::Conv2D(x, w, &bias, p)));
//
// Pure functions; thread-safe. Slow: for tensors of a few thousand elements.
#ifndef OCTET_ENGINE_TESTING_REFERENCE_KERNELS_H_
#define OCTET_ENGINE_TESTING_REFERENCE_KERNELS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "gtest/gtest.h"

namespace octet {
namespace testing {
namespace reference_kernels {

// Explicit 2-D window parameters (auto_pad already resolved by the test).
struct ConvParams {
  std::vector<int64_t> strides = {1, 1};
  std::vector<int64_t> dilations = {1, 1};
  std::vector<int64_t> pads_begin = {0, 0};
  std::vector<int64_t> pads_end = {0, 0};
  int64_t group = 1;
};

// x [N, C, H, W], w [OC, C / group, KH, KW], bias [OC] or null.
Tensor Conv2D(const Tensor& x, const Tensor& w, const Tensor* bias, const ConvParams& p);

// alpha * A' * B' + beta * C, with C (or null) broadcast to [M, N] (scalar, [N], [1, N],
// [M, 1] or [M, N]).
Tensor Gemm(const Tensor& a, const Tensor& b, const Tensor* c, bool trans_a, bool trans_b,
            float alpha, float beta);

// numpy.matmul: 1-D operands are promoted and the added dimension removed again; batch
// dimensions broadcast.
Tensor MatMul(const Tensor& a, const Tensor& b);

struct PoolParams {
  std::vector<int64_t> kernel = {2, 2};
  std::vector<int64_t> strides = {1, 1};
  std::vector<int64_t> pads_begin = {0, 0};
  std::vector<int64_t> pads_end = {0, 0};
  bool ceil_mode = false;
  bool count_include_pad = false;  // average only
};

// ONNX MaxPool / AveragePool on [N, C, H, W]. With ceil_mode the last window may run past the
// end padding; those positions count for neither max nor average (onnxruntime's behaviour and
// the ONNX reference implementation's).
Tensor MaxPool2D(const Tensor& x, const PoolParams& p);
Tensor AveragePool2D(const Tensor& x, const PoolParams& p);
Tensor GlobalAveragePool(const Tensor& x);

// Softmax over one axis (opset >= 13 semantics).
Tensor Softmax(const Tensor& x, int axis);
// Softmax of x flattened to 2-D [prod(dims < axis), prod(dims >= axis)] (opset < 13).
Tensor SoftmaxCoerced2D(const Tensor& x, int axis);

Tensor Concat(const std::vector<const Tensor*>& inputs, int axis);

// ONNX Pad; `pads` is [begin_0, ..., begin_{r-1}, end_0, ..., end_{r-1}]; mode is "constant",
// "edge" or "reflect".
Tensor Pad(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode, float value);

Tensor Transpose(const Tensor& x, const std::vector<int64_t>& perm);

// Inference batch normalization over axis 1.
Tensor BatchNorm(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean,
                 const Tensor& var, float epsilon);

// a + b with NumPy broadcasting.
Tensor Add(const Tensor& a, const Tensor& b);
Tensor Relu(const Tensor& x);
Tensor Clip(const Tensor& x, float lo, float hi);

}  // namespace reference_kernels

// Same shape, and every element within `tolerance * max(1, |expected|)` of the expected one.
::testing::AssertionResult AllClose(const Tensor& actual, const Tensor& expected,
                                    double tolerance = 1e-5);

}  // namespace testing
}  // namespace octet

#endif  // OCTET_ENGINE_TESTING_REFERENCE_KERNELS_H_
