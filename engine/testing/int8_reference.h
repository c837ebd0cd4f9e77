// References for the INT8 runtime's tests: the exact integer computation of one quantized
// Conv / Gemm / MatMul on the values it really received, evaluated in double, and a worst-case
// bound on its difference from FP32 derived from the scales (docs/quantization.md has the
// arithmetic). Written from the quantized graph's annotations, not from the runtime's code.
//
//   std::optional<QuantizedLayer> q = ReadQuantizedLayer(*int8_model, "conv1");
//   std::vector<double> exact = ExactOutput(g, *q, QuantizeLikeReorder(x, q->input));
//   StepDeviation d = CompareCodes(CodesFromProbe(probe_output, *q->output),
//                                  ToCodes(exact, *q->output));
//
// A "probe" is a 1x1 INT8 identity layer (IdentityWeights) placed after a u8 tensor: identity
// weights quantize exactly (q = 127, scale 1/127), so the probe writes s * (q - zp) as f32 and
// CodesFromProbe recovers the codes; the tensor stays u8 because all its readers are INT8.
//
// Helpers report failures through GoogleTest (ADD_FAILURE / EXPECT) and return empty results.
// Pure functions otherwise; thread-compatible.
#ifndef OCTET_ENGINE_TESTING_INT8_REFERENCE_H_
#define OCTET_ENGINE_TESTING_INT8_REFERENCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/model.h"
#include "engine/quant/quantization_params.h"
#include "engine/quantize_graph.h"
#include "engine/tensor.h"
#include "engine/testing/onnx_model_builder.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace octet {
namespace testing {

// The input and window of a Conv; a Gemm / MatMul [M, K] x [K, N] is the 1x1 case with
// n = M, c = K, h = w = 1, oc = N. Pads are the same for both spatial axes.
struct Geometry {
  int64_t n = 1, c = 1, h = 1, w = 1;
  int64_t oc = 1, kh = 1, kw = 1;
  int64_t stride = 1, pad = 0;
  int64_t pad_end = 0;
  int64_t group = 1;

  int64_t group_c() const { return c / group; }  // input channels per group (weights' axis 1)
  int64_t oh() const { return (h + pad + pad_end - kh) / stride + 1; }
  int64_t ow() const { return (w + pad + pad_end - kw) / stride + 1; }
  int64_t output_size() const { return n * oc * oh() * ow(); }
  int64_t channel_of(int64_t output_index) const { return output_index / (oh() * ow()) % oc; }
};

// Square images and kernels, pads `pad` on every side.
Geometry ConvGeometry(int64_t n, int64_t c, int64_t hw, int64_t oc, int64_t k, int64_t pad,
                      int64_t stride = 1);
// [M, K] x [K, N].
Geometry MatrixGeometry(int64_t m, int64_t k, int64_t n);

// For every output element (NCHW order), the sum over its window of term(input index, weight
// index), weights indexed as [OC, C / group, KH, KW]. Padded positions contribute nothing: a
// padded u8 input holds the zero point, i.e. real 0.
std::vector<double> WindowSum(const Geometry& g,
                              const std::function<double(int64_t, int64_t)>& term);

// One INT8 layer as the quantized graph holds it.
struct QuantizedLayer {
  std::vector<int32_t> weights;                     // s8 values, [OC, C / group, KH, KW]
  std::vector<float> weight_scales;                 // [OC]
  std::vector<int32_t> bias;                        // [OC], in the accumulator's scale
  quant::QuantizationParams input;                  // the u8 source
  std::optional<quant::QuantizationParams> output;  // the calibrated output (used when u8)
  std::vector<PostOp> post_ops;
};

// Reads INT8 node `name` of a quantized model; weights come back as [OC, C / group, KH, KW] (a
// MatMul's or Gemm's [K, N] transposed to [N, K]).
std::optional<QuantizedLayer> ReadQuantizedLayer(const Model& model, const std::string& name);

// What the plan's reorder does to a float: round(x * (1 / s) + zp) in float, saturated to u8
// (docs/quantization.md, "Rounding, precisely").
int32_t QuantizeLikeReorder(float x, quant::QuantizationParams p);
std::vector<int32_t> QuantizeLikeReorder(const Tensor& t, quant::QuantizationParams p);
std::vector<double> Dequantize(const std::vector<int32_t>& q, quant::QuantizationParams p);
// Rounds real values to the u8 codes of `p` (ties to even, saturated).
std::vector<int32_t> ToCodes(const std::vector<double>& v, quant::QuantizationParams p);

// The u8 codes behind a probe's output. Fails the test if a value is not on the grid of `p`,
// i.e. if the probed tensor was not u8 with those parameters.
std::vector<int32_t> CodesFromProbe(const Tensor& probe, quant::QuantizationParams p);

// The real value the integer pipeline computes before rounding to the output:
//   s_x * s_w[oc] * (sum_k (x_q - zp_x) * w_q + b_q),
// then the post-ops in order (Relu, LeakyRelu, Clip in real units; a sum adds `residual`, real
// values).
std::vector<double> ExactOutput(const Geometry& g, const QuantizedLayer& q,
                                const std::vector<int32_t>& x_q,
                                const std::vector<double>* residual = nullptr);

// A worst-case bound on |int8 - fp32| for one layer, per output element. The layer's input
// differs from its FP32 value v by at most e (per element, real units); each weight `w`
// ([OC, C / group, KH, KW], float) differs from its quantized value by at most s_w / 2 and
// the bias by s_x * s_w / 2 (rounding to the accumulator's scale). Then
//   x' w' - x w = (x' - x) w + x' (w' - w),  |x'| <= |v| + e,
// so the bound is  sum_k (|w_k| e_k + (|v_k| + e_k) s_w / 2) + s_x s_w / 2,  plus whatever
// the caller adds for a residual and for rounding to a u8 output (s_y / 2). Relu, LeakyRelu
// with slope < 1 and Clip are 1-Lipschitz and do not grow it; neither does clamping to a
// calibrated range that contains the FP32 value. A relative 1e-5 covers float rounding in both
// engines. Chained through layers it grows with each layer's l1 weight norm: rigorous but loose
// after a few layers.
std::vector<double> ErrorBound(const Geometry& g, const QuantizedLayer& q,
                               const std::vector<float>& w, const std::vector<double>& v,
                               const std::vector<double>& e);

// Largest |a - b|, the largest ratio |a - b| / tolerance (> 1: outside) and how many are outside.
struct Deviation {
  double max_abs = 0.0;
  double worst_ratio = 0.0;
  int64_t outside = 0;
};
Deviation Compare(const std::vector<double>& a, const std::vector<double>& b,
                  const std::vector<double>& tolerance);

// How far u8 codes are from the expected ones, in steps.
struct StepDeviation {
  int max_steps = 0;
  int64_t off_by_one = 0;
};
StepDeviation CompareCodes(const std::vector<int32_t>& actual,
                           const std::vector<int32_t>& expected);

// Calibrates `fp32` with minmax on `inputs` (so that every value lies inside its range) and
// quantizes the nodes of `plan`. Null (and a test failure) on error.
std::shared_ptr<const Model> QuantizeForTest(const Model& fp32, const Tensor& inputs,
                                             const PrecisionPlan& plan,
                                             const QuantizationOptions& options);
// The model with all passes. Null (and a test failure) on error.
std::shared_ptr<const Model> LoadFp32(const OnnxModelBuilder& builder);

// The data type of the destination of step `name` in the plan for `input_shape` (one thread).
std::optional<dnnl::memory::data_type> DstTypeOf(const Model& model, const Shape& input_shape,
                                                 const std::string& name);
// Whether that plan has a step named `name`.
bool HasStep(const Model& model, const Shape& input_shape, const std::string& name);

// Identity weights for a probe: [C, C, 1, 1] for a Conv, [C, C] for a Gemm / MatMul.
Tensor IdentityWeights(int64_t c, bool conv);

std::vector<float> Values(const Tensor& t);
std::vector<double> ToDouble(const Tensor& t);
// [K, N] row-major -> [N, K].
std::vector<float> Transposed(const Tensor& t);

}  // namespace testing
}  // namespace octet

#endif  // OCTET_ENGINE_TESTING_INT8_REFERENCE_H_
