// The AVX2 saturation problem (docs/quantization.md, section 7): vpmaddubsw adds the u8 * s8
// products of ADJACENT reduction elements into a saturating int16. With inputs near 255 and
// same-signed adjacent input-channel (K) weights, full-range (kFull8) weights give a wrong
// result on a CPU without VNNI - far from the exact integer result on the same quantized values
// and far outside the quantization tolerance against FP32 - while the pair-limited and 7-bit
// schemes match the exact result to float rounding. Also checks that the kernels pair along the
// axis kPairLimited limits (opposite signs there: nothing saturates), and that depthwise
// kernels do not pair at all. References: engine/testing/int8_reference.h.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/cpu_info.h"
#include "engine/model.h"
#include "engine/quantize_graph.h"
#include "engine/testing/int8_reference.h"
#include "engine/testing/model_runner.h"
#include "engine/testing/onnx_model_builder.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::quant::WeightScheme;
using ::octet::testing::Compare;
using ::octet::testing::ConvGeometry;
using ::octet::testing::Deviation;
using ::octet::testing::ErrorBound;
using ::octet::testing::ExactOutput;
using ::octet::testing::Geometry;
using ::octet::testing::LoadFp32;
using ::octet::testing::MatrixGeometry;
using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::QuantizedLayer;
using ::octet::testing::QuantizeLikeReorder;
using ::octet::testing::RandomTensor;
using ::octet::testing::ReadQuantizedLayer;
using ::octet::testing::RunModel;
using ::octet::testing::ToDouble;
using ::octet::testing::Transposed;
using ::octet::testing::Values;

// Weights whose adjacent elements along `pair_axis` (the reduction axis the kernels pair) form
// pairs of large magnitude (0.7 to 1) and one sign. With `same_sign_pairs`, both elements of a
// pair share the sign of their output channel (kFull8 then gives |q_a| + |q_b| >= 178 > 128:
// every pair can saturate); otherwise the two elements of each pair have opposite signs and
// nothing can saturate, whatever the scheme, if the kernels pair along that axis.
Tensor PairWeights(const Shape& shape, int channel_axis, int pair_axis, bool same_sign_pairs,
                   uint32_t seed) {
  Tensor t = RandomTensor(shape, seed, 0.7f, 1.0f);
  int64_t channel_stride = 1;
  for (size_t d = channel_axis + 1; d < shape.size(); ++d) channel_stride *= shape[d];
  int64_t pair_stride = 1;
  for (size_t d = pair_axis + 1; d < shape.size(); ++d) pair_stride *= shape[d];
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    const int64_t channel = i / channel_stride % shape[channel_axis];
    const int64_t along_pair = i / pair_stride % shape[pair_axis];
    const bool negative = same_sign_pairs ? channel % 2 == 1 : along_pair % 2 == 1;
    if (negative) t.data<float>()[i] = -t.data<float>()[i];
  }
  return t;
}

// Integer-valued inputs in [200, 255], one of them 255: with the range [0, 255] they quantize
// exactly (scale 1, zero point 0), so any difference from the exact reference is the kernel's.
Tensor HighInputs(const Shape& shape, uint32_t seed) {
  Tensor t = RandomTensor(shape, seed, 200.0f, 256.0f);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    t.data<float>()[i] = std::min(255.0f, std::floor(t.data<float>()[i]));
  }
  t.data<float>()[0] = 255.0f;
  return t;
}

struct SaturationCase {
  std::string name;
  std::string op;  // "Conv", "MatMul" (weights [K, N]) or "Gemm" (transB: [N, K])
  Geometry g;
};

void PrintTo(const SaturationCase& c, std::ostream* os) { *os << c.name; }

// The model, its FP32 weights as [OC, C, KH, KW], and the input.
struct SaturationModel {
  std::shared_ptr<const Model> fp32;
  std::vector<float> weights;
  Tensor x;
  Shape x_shape;
};

SaturationModel BuildSaturationModel(const SaturationCase& c, bool same_sign_pairs) {
  const Geometry& g = c.g;
  SaturationModel s;
  OnnxModelBuilder m;
  Tensor w;
  if (c.op == "Conv") {
    s.x_shape = {g.n, g.c, g.h, g.w};
    w = PairWeights({g.oc, g.c, g.kh, g.kw}, 0, 1, same_sign_pairs, 11);
    s.weights = Values(w);
  } else if (c.op == "MatMul") {
    s.x_shape = {g.n, g.c};
    w = PairWeights({g.c, g.oc}, 1, 0, same_sign_pairs, 12);
    s.weights = Transposed(w);
  } else {
    s.x_shape = {g.n, g.c};
    w = PairWeights({g.oc, g.c}, 0, 1, same_sign_pairs, 13);
    s.weights = Values(w);
  }
  m.Input("x", s.x_shape);
  m.Initializer("w", w);
  if (c.op == "Conv") {
    m.Node("Conv", {"x", "w"}, {"y"}, "layer").Ints("pads", {g.pad, g.pad, g.pad_end, g.pad_end});
  } else if (c.op == "MatMul") {
    m.Node("MatMul", {"x", "w"}, {"y"}, "layer");
  } else {
    m.Node("Gemm", {"x", "w"}, {"y"}, "layer").Int("transB", 1);
  }
  m.Output("y");
  s.fp32 = LoadFp32(m);
  s.x = HighInputs(s.x_shape, 21);
  return s;
}

// One scheme's INT8 output against the exact integer computation on its own quantized values
// and against FP32. The output is a graph output, hence f32 straight from the accumulator.
struct SchemeResult {
  Deviation vs_exact;  // tolerance: float rounding of s_x * s_w * acc (relative 1e-6)
  Deviation vs_fp32;   // tolerance: ErrorBound
  double max_bound = 0.0;
};

SchemeResult RunScheme(const SaturationModel& s, const Geometry& g, WeightScheme scheme) {
  SchemeResult result;
  QuantizationOptions options;
  options.weight_scheme = scheme;
  auto int8 =
      s.fp32->Quantize({{"x", {0.0f, 255.0f}}}, PrecisionPlan::AllInt8(s.fp32->graph()), options);
  EXPECT_TRUE(int8.ok()) << int8.status();
  if (!int8.ok()) return result;
  std::optional<QuantizedLayer> q = ReadQuantizedLayer(**int8, "layer");
  if (!q) return result;
  EXPECT_EQ(q->input.scale, 1.0f);
  EXPECT_EQ(q->input.zero_point, 0);
  auto fp32_out = RunModel(s.fp32, {s.x});
  auto int8_out = RunModel(*int8, {s.x});
  EXPECT_TRUE(fp32_out.ok() && int8_out.ok());
  if (!fp32_out.ok() || !int8_out.ok()) return result;
  const std::vector<double> actual = ToDouble((*int8_out)[0]);
  const std::vector<double> exact = ExactOutput(g, *q, QuantizeLikeReorder(s.x, q->input));
  std::vector<double> float_rounding;
  for (double v : exact) float_rounding.push_back(1e-6 * std::max(1.0, std::abs(v)));
  result.vs_exact = Compare(actual, exact, float_rounding);
  const std::vector<double> no_input_error(s.x.num_elements(), 0.0);
  const std::vector<double> bound = ErrorBound(g, *q, s.weights, ToDouble(s.x), no_input_error);
  result.vs_fp32 = Compare(actual, ToDouble((*fp32_out)[0]), bound);
  result.max_bound = *std::max_element(bound.begin(), bound.end());
  return result;
}

class SaturationTest : public ::testing::TestWithParam<SaturationCase> {};

TEST_P(SaturationTest, FullRangeWeightsSaturateAndPairLimitedIsExact) {
  if (CpuHasVnni()) {
    GTEST_SKIP() << "this CPU (" << CpuIsaName()
                 << ") has VNNI: int8 products accumulate in 32 bits and cannot saturate";
  }
  const SaturationCase& c = GetParam();
  const SaturationModel s = BuildSaturationModel(c, /*same_sign_pairs=*/true);
  ASSERT_NE(s.fp32, nullptr);

  const SchemeResult full8 = RunScheme(s, c.g, WeightScheme::kFull8);
  // Saturation is real: far from the exact integer result and far outside the quantization
  // tolerance against FP32.
  EXPECT_GT(full8.vs_exact.worst_ratio, 1e3) << "kFull8 did not saturate on " << CpuIsaName();
  EXPECT_GT(full8.vs_fp32.worst_ratio, 3.0);
  EXPECT_GT(full8.vs_fp32.outside, 0);

  for (WeightScheme scheme : {WeightScheme::kPairLimited, WeightScheme::kSevenBit}) {
    const SchemeResult r = RunScheme(s, c.g, scheme);
    EXPECT_LE(r.vs_exact.worst_ratio, 1.0)
        << quant::WeightSchemeName(scheme) << ": max |int8 - exact| " << r.vs_exact.max_abs;
    EXPECT_LE(r.vs_fp32.worst_ratio, 1.0)
        << quant::WeightSchemeName(scheme) << ": max |int8 - fp32| " << r.vs_fp32.max_abs
        << ", bound " << r.max_bound;
    RecordProperty(absl::StrCat(quant::WeightSchemeName(scheme), "_max_error_vs_fp32"),
                   absl::StrCat(r.vs_fp32.max_abs));
  }
  RecordProperty("full8_max_error_vs_fp32", absl::StrCat(full8.vs_fp32.max_abs));
  RecordProperty("full8_max_error_vs_exact", absl::StrCat(full8.vs_exact.max_abs));
  RecordProperty("max_fp32_bound", absl::StrCat(full8.max_bound));
}

// Opposite signs within each pair along the assumed pairing axis but equal signs along every
// other axis: no scheme saturates, so the kernels pair along the axis that kPairLimited limits
// (a kernel pairing along another axis would saturate here under kFull8). Runs on any CPU.
TEST_P(SaturationTest, OppositeSignedPairsNeverSaturate) {
  const SaturationCase& c = GetParam();
  const SaturationModel s = BuildSaturationModel(c, /*same_sign_pairs=*/false);
  ASSERT_NE(s.fp32, nullptr);
  for (WeightScheme scheme :
       {WeightScheme::kFull8, WeightScheme::kPairLimited, WeightScheme::kSevenBit}) {
    const SchemeResult r = RunScheme(s, c.g, scheme);
    EXPECT_LE(r.vs_exact.worst_ratio, 1.0)
        << quant::WeightSchemeName(scheme) << ": max |int8 - exact| " << r.vs_exact.max_abs;
    EXPECT_LE(r.vs_fp32.worst_ratio, 1.0)
        << quant::WeightSchemeName(scheme) << ": max |int8 - fp32| " << r.vs_fp32.max_abs;
  }
}

// Depthwise convolutions reduce over one channel's window, where kPairLimited finds no pairs
// and chooses kFull8's scale. That is exact only if oneDNN's depthwise int8 kernel does not add
// products in saturating int16 pairs along the window: checked with one sign per channel and
// inputs near 255, where any pairing would saturate. Runs on any CPU.
TEST(Int8DepthwiseTest, FullRangeWeightsDoNotSaturate) {
  Geometry g = ConvGeometry(1, 16, 6, 16, 3, 1);
  g.group = 16;
  const Tensor w = PairWeights({16, 1, 3, 3}, 0, 2, /*same_sign_pairs=*/true, 14);
  OnnxModelBuilder m;
  m.Input("x", {1, 16, 6, 6});
  m.Initializer("w", w);
  m.Node("Conv", {"x", "w"}, {"y"}, "layer").Ints("pads", {1, 1, 1, 1}).Int("group", 16);
  m.Output("y");
  SaturationModel s;
  s.fp32 = LoadFp32(m);
  ASSERT_NE(s.fp32, nullptr);
  s.weights = Values(w);
  s.x_shape = {1, 16, 6, 6};
  s.x = HighInputs(s.x_shape, 22);
  for (WeightScheme scheme : {WeightScheme::kFull8, WeightScheme::kPairLimited}) {
    const SchemeResult r = RunScheme(s, g, scheme);
    EXPECT_LE(r.vs_exact.worst_ratio, 1.0)
        << quant::WeightSchemeName(scheme) << ": max |int8 - exact| " << r.vs_exact.max_abs;
    EXPECT_LE(r.vs_fp32.worst_ratio, 1.0)
        << quant::WeightSchemeName(scheme) << ": max |int8 - fp32| " << r.vs_fp32.max_abs;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Int8, SaturationTest,
    ::testing::Values(SaturationCase{"conv3x3", "Conv", ConvGeometry(1, 16, 6, 8, 3, 1)},
                      SaturationCase{"conv1x1", "Conv", ConvGeometry(2, 32, 4, 16, 1, 0)},
                      SaturationCase{"matmul", "MatMul", MatrixGeometry(4, 64, 8)},
                      SaturationCase{"gemm_transb", "Gemm", MatrixGeometry(3, 48, 16)}),
    [](const ::testing::TestParamInfo<SaturationCase>& info) { return info.param.name; });

}  // namespace
}  // namespace octet
