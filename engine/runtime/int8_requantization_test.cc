// One INT8 Conv / Gemm / MatMul with a bias, a signed input (zero point near 128) and a fused
// Relu, Clip(0, 6) or LeakyRelu, writing u8 (read by an INT8 probe) or f32 (a graph output),
// against two references (engine/testing/int8_reference.h):
//  - the exact integer computation on the same quantized values, evaluated in double: u8 codes
//    within one step (a value within float rounding of a tie may go either way; almost none
//    do), f32 outputs within float rounding. A wrong bias order (oneDNN 2.x adds the bias before
//    the output scales), zero point, scale or post-op unit is many steps off;
//  - FP32, within the worst-case bound ErrorBound derives from the scales: input rounding s_x / 2,
//    weight rounding s_w / 2, bias rounding s_x s_w / 2, and s_y / 2 for a u8 output.
// Also strided convolutions with TF "same" pads, groups, depthwise, Gemm with alpha / beta or
// transA, and per-tensor weights.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/model.h"
#include "engine/quantize_graph.h"
#include "engine/testing/int8_reference.h"
#include "engine/testing/model_runner.h"
#include "engine/testing/onnx_model_builder.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::testing::CodesFromProbe;
using ::octet::testing::Compare;
using ::octet::testing::CompareCodes;
using ::octet::testing::ConvGeometry;
using ::octet::testing::Deviation;
using ::octet::testing::DstTypeOf;
using ::octet::testing::ErrorBound;
using ::octet::testing::ExactOutput;
using ::octet::testing::Geometry;
using ::octet::testing::IdentityWeights;
using ::octet::testing::LoadFp32;
using ::octet::testing::MatrixGeometry;
using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::QuantizedLayer;
using ::octet::testing::QuantizeForTest;
using ::octet::testing::QuantizeLikeReorder;
using ::octet::testing::RandomTensor;
using ::octet::testing::ReadQuantizedLayer;
using ::octet::testing::RunModel;
using ::octet::testing::StepDeviation;
using ::octet::testing::ToCodes;
using ::octet::testing::ToDouble;
using ::octet::testing::Transposed;
using ::octet::testing::Values;

struct RequantizationCase {
  std::string name;
  // "Conv", "StridedConv" (stride 2, pads [0, 0, 1, 1]), "GroupConv" (2 groups),
  // "DepthwiseConv", "Gemm" (transB, bias), "GemmAlphaBeta" (alpha 0.5, beta 2), "GemmTransA"
  // (A stored [K, M]) or "MatMul" (weights [K, N], no bias)
  std::string op;
  std::string activation;  // "", "Relu", "Clip" (0, 6), "LeakyRelu" (alpha 0.1)
  bool u8_output;
  bool per_tensor_weights = false;
};

void PrintTo(const RequantizationCase& c, std::ostream* os) { *os << c.name; }

// The layer under test as an ONNX node named "layer" reading "x" and writing `output`, with
// what the references need: its geometry and its float weights as [OC, C / group, KH, KW] with
// Gemm's alpha applied.
struct LayerUnderTest {
  Geometry g;
  Shape x_shape;
  bool transposed_input = false;  // x is stored [K, M]
  std::vector<float> weights;
};

LayerUnderTest AddLayer(OnnxModelBuilder& m, const std::string& op, const std::string& output) {
  LayerUnderTest l;
  const bool conv = absl::StrContains(op, "Conv");
  if (conv) {
    l.g = ConvGeometry(2, 8, 7, op == "DepthwiseConv" ? 8 : 12, 3, 1);
    if (op == "StridedConv") {  // TF "same" with stride 2, as in ResNet-8: pads [0, 0, 1, 1]
      l.g = ConvGeometry(2, 8, 8, 12, 3, 0, 2);
      l.g.pad_end = 1;
    }
    l.g.group = op == "GroupConv" ? 2 : op == "DepthwiseConv" ? 8 : 1;
    l.x_shape = {l.g.n, l.g.c, l.g.h, l.g.w};
  } else {
    l.g = MatrixGeometry(6, 40, 16);
    l.transposed_input = op == "GemmTransA";
    l.x_shape = l.transposed_input ? Shape{l.g.c, l.g.n} : Shape{l.g.n, l.g.c};
  }
  const bool k_major = op == "MatMul" || op == "GemmTransA";  // weights [K, N]
  Tensor w = conv      ? RandomTensor({l.g.oc, l.g.group_c(), l.g.kh, l.g.kw}, 32, -0.5f, 0.5f)
             : k_major ? RandomTensor({l.g.c, l.g.oc}, 33, -0.5f, 0.5f)
                       : RandomTensor({l.g.oc, l.g.c}, 34, -0.5f, 0.5f);
  const Tensor b = RandomTensor({l.g.oc}, 35, -1.0f, 1.0f);
  const float alpha = op == "GemmAlphaBeta" ? 0.5f : 1.0f;
  const float beta = op == "GemmAlphaBeta" ? 2.0f : 1.0f;
  l.weights = k_major ? Transposed(w) : Values(w);
  for (float& v : l.weights) v *= alpha;
  m.Initializer("w", w);
  m.Initializer("b", b);
  if (conv) {
    m.Node("Conv", {"x", "w", "b"}, {output}, "layer")
        .Ints("pads", {l.g.pad, l.g.pad, l.g.pad_end, l.g.pad_end})
        .Ints("strides", {l.g.stride, l.g.stride})
        .Int("group", l.g.group);
  } else if (op == "MatMul") {
    m.Node("MatMul", {"x", "w"}, {output}, "layer");
  } else if (op == "GemmTransA") {
    m.Node("Gemm", {"x", "w", "b"}, {output}, "layer").Int("transA", 1);
  } else {
    m.Node("Gemm", {"x", "w", "b"}, {output}, "layer")
        .Int("transB", 1)
        .Float("alpha", alpha)
        .Float("beta", beta);
  }
  return l;
}

// [K, M] -> [M, K] (for a transposed Gemm input).
template <typename T>
std::vector<T> TransposedInput(const std::vector<T>& v, const LayerUnderTest& l) {
  if (!l.transposed_input) return v;
  std::vector<T> out;
  for (int64_t i = 0; i < l.g.n; ++i) {
    for (int64_t k = 0; k < l.g.c; ++k) out.push_back(v[k * l.g.n + i]);
  }
  return out;
}

class RequantizationTest : public ::testing::TestWithParam<RequantizationCase> {};

TEST_P(RequantizationTest, MatchesExactIntegerResultAndFp32WithinScaleBound) {
  const RequantizationCase& c = GetParam();
  const bool conv = absl::StrContains(c.op, "Conv");
  OnnxModelBuilder m;
  const std::string pre = c.activation.empty() ? "y" : "pre";
  const LayerUnderTest l = AddLayer(m, c.op, pre);
  const Geometry& g = l.g;
  const Shape& x_shape = l.x_shape;
  m.Input("x", x_shape);
  // Wide enough that Clip(0, 6) clips at both ends and LeakyRelu sees negative values.
  const Tensor x = RandomTensor(x_shape, 31, -2.0f, 2.0f);
  if (c.activation == "Clip") {
    m.ScalarInitializer("lo", 0.0f);
    m.ScalarInitializer("hi", 6.0f);
    m.Node("Clip", {pre, "lo", "hi"}, {"y"}, "act");
  } else if (c.activation == "LeakyRelu") {
    m.Node("LeakyRelu", {pre}, {"y"}, "act").Float("alpha", 0.1f);
  } else if (!c.activation.empty()) {
    m.Node(c.activation, {pre}, {"y"}, "act");
  }
  if (c.u8_output) {
    m.Initializer("identity", IdentityWeights(g.oc, conv));
    if (conv) {
      m.Node("Conv", {"y", "identity"}, {"out"}, "probe");
    } else {
      m.Node("Gemm", {"y", "identity"}, {"out"}, "probe").Int("transB", 1);
    }
    m.Output("out");
  } else {
    m.Output("y");
  }
  auto fp32 = LoadFp32(m);
  ASSERT_NE(fp32, nullptr);
  QuantizationOptions options = DefaultQuantizationOptions();
  options.per_tensor_weights = c.per_tensor_weights;
  auto int8 = QuantizeForTest(*fp32, x, PrecisionPlan::AllInt8(fp32->graph()), options);
  ASSERT_NE(int8, nullptr);
  std::optional<QuantizedLayer> q = ReadQuantizedLayer(*int8, "layer");
  ASSERT_TRUE(q.has_value());
  ASSERT_EQ(q->post_ops.size(), c.activation.empty() ? 0u : 1u) << "activation not fused";
  const auto [smallest, largest] =
      std::minmax_element(q->weight_scales.begin(), q->weight_scales.end());
  EXPECT_EQ(*smallest == *largest, c.per_tensor_weights);
  EXPECT_GT(q->input.zero_point, 100) << "a signed input should have a zero point near 128";
  EXPECT_EQ(DstTypeOf(*int8, x_shape, "layer"),
            c.u8_output ? dnnl::memory::data_type::u8 : dnnl::memory::data_type::f32);

  auto fp32_out = RunModel(fp32, {x});
  auto int8_out = RunModel(int8, {x});
  ASSERT_TRUE(fp32_out.ok()) << fp32_out.status();
  ASSERT_TRUE(int8_out.ok()) << int8_out.status();
  const std::vector<double> actual = ToDouble((*int8_out)[0]);
  const std::vector<double> exact =
      ExactOutput(g, *q, TransposedInput(QuantizeLikeReorder(x, q->input), l));

  // Exact reference: codes within one step, and off by one only at near-ties (none expected).
  if (c.u8_output) {
    const StepDeviation d =
        CompareCodes(CodesFromProbe((*int8_out)[0], *q->output), ToCodes(exact, *q->output));
    EXPECT_LE(d.max_steps, 1);
    EXPECT_LE(d.off_by_one, static_cast<int64_t>(exact.size()) / 100);
  } else {
    std::vector<double> float_rounding;
    for (double v : exact) float_rounding.push_back(1e-6 * std::abs(v) + 1e-9);
    const Deviation d = Compare(actual, exact, float_rounding);
    EXPECT_LE(d.worst_ratio, 1.0) << "max |int8 - exact| " << d.max_abs;
  }

  // FP32: the input carries at most s_x / 2, a u8 output another s_y / 2.
  std::vector<double> bound = ErrorBound(g, *q, l.weights, TransposedInput(ToDouble(x), l),
                                         std::vector<double>(x.num_elements(), q->input.scale / 2));
  if (c.u8_output) {
    for (double& b : bound) b += q->output->scale / 2;
  }
  const Deviation d = Compare(actual, ToDouble((*fp32_out)[0]), bound);
  EXPECT_EQ(d.outside, 0) << "max |int8 - fp32| " << d.max_abs << ", worst ratio to the bound "
                          << d.worst_ratio;
  RecordProperty("max_error_vs_fp32", absl::StrCat(d.max_abs));
  RecordProperty("worst_ratio_to_bound", absl::StrCat(d.worst_ratio));
}

std::vector<RequantizationCase> RequantizationCases() {
  std::vector<RequantizationCase> cases;
  for (const std::string op : {"Conv", "Gemm", "MatMul"}) {
    for (const std::string activation : {"", "Relu", "Clip", "LeakyRelu"}) {
      for (bool u8_output : {true, false}) {
        cases.push_back({absl::StrCat(op, activation.empty() ? "" : "_", activation,
                                      u8_output ? "_u8" : "_f32"),
                         op, activation, u8_output});
      }
    }
  }
  for (const std::string op :
       {"StridedConv", "GroupConv", "DepthwiseConv", "GemmAlphaBeta", "GemmTransA"}) {
    for (bool u8_output : {true, false}) {
      cases.push_back(
          {absl::StrCat(op, "_Relu", u8_output ? "_u8" : "_f32"), op, "Relu", u8_output});
    }
  }
  cases.push_back({"Conv_Relu_u8_per_tensor_weights", "Conv", "Relu", true, true});
  cases.push_back({"Gemm_f32_per_tensor_weights", "Gemm", "", false, true});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Int8, RequantizationTest, ::testing::ValuesIn(RequantizationCases()),
                         [](const ::testing::TestParamInfo<RequantizationCase>& info) {
                           return info.param.name;
                         });

// ---------------------------------------------------------------------------------------------

}  // namespace
}  // namespace octet
