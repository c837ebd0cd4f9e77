// Residual sums fused as oneDNN sum post-ops: y = Relu(conv_b(h) + residual), h = Relu(conv_a(r)),
// r = conv0(x), as ResNet blocks have it. The residual is negative in places, so it must keep its
// own quantization in the sum: requantized into the post-Relu output range (a bug the runtime had)
// it loses its negative values. The residual is an INT8 conv's u8 output (in place, or copied
// because it is read again later), an FP32 conv's output, the graph input, or conv_b's own input
// (whose buffer must not be overwritten); the output is u8 or f32. Each INT8 layer is checked
// against the exact integer result on the codes it received (read through probes), conv_b
// against FP32 arithmetic on its received inputs, and the chain against FP32 with the
// propagated worst-case bound (engine/testing/int8_reference.h).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model.h"
#include "engine/quantize_graph.h"
#include "engine/testing/int8_reference.h"
#include "engine/testing/model_runner.h"
#include "engine/testing/onnx_model_builder.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::quant::QuantizationParams;
using ::octet::testing::CodesFromProbe;
using ::octet::testing::Compare;
using ::octet::testing::CompareCodes;
using ::octet::testing::ConvGeometry;
using ::octet::testing::Dequantize;
using ::octet::testing::Deviation;
using ::octet::testing::DstTypeOf;
using ::octet::testing::ErrorBound;
using ::octet::testing::ExactOutput;
using ::octet::testing::Geometry;
using ::octet::testing::HasStep;
using ::octet::testing::IdentityWeights;
using ::octet::testing::LoadFp32;
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
using ::octet::testing::Values;
using ::octet::testing::WindowSum;

// Where the residual comes from: an INT8 conv (u8), an FP32 conv (f32), the graph input (f32),
// or conv_b's own input h (u8, non-negative; its buffer must not be overwritten in place).
enum class ResidualSource { kInt8Conv, kFp32Conv, kGraphInput, kConvInput };

struct ResidualCase {
  std::string name;
  ResidualSource source;
  // The residual is read again after the sum, by a second block z = Relu(conv_c(y) + r), so
  // conv_b must not seed its output in the residual's buffer.
  bool read_after;
  bool u8_output;                // y read by an INT8 probe (u8) or a graph output (f32)
  std::optional<bool> in_place;  // whether conv_b writes over the residual's buffer, if known
};

void PrintTo(const ResidualCase& c, std::ostream* os) { *os << c.name; }

class ResidualTest : public ::testing::TestWithParam<ResidualCase> {};

// Conv 3x3, pads 1, 8 -> 8 channels on [2, 8, 6, 6].
Geometry BlockGeometry() { return ConvGeometry(2, 8, 6, 8, 3, 1); }

// Checks an INT8 layer against its exact result on the codes it really received.
void ExpectCodesMatch(const std::string& layer, const std::vector<int32_t>& actual,
                      const std::vector<double>& exact, QuantizationParams output) {
  const StepDeviation d = CompareCodes(actual, ToCodes(exact, output));
  EXPECT_LE(d.max_steps, 1) << layer;
  EXPECT_LE(d.off_by_one, static_cast<int64_t>(exact.size()) / 100) << layer;
}

TEST_P(ResidualTest, SumKeepsNegativeResidualsAndMatchesFp32) {
  const ResidualCase& c = GetParam();
  const Geometry g = BlockGeometry();
  const Shape x_shape = {g.n, g.c, g.h, g.w};
  const Tensor x = RandomTensor(x_shape, 41, -2.0f, 2.0f);
  const Tensor w0 = RandomTensor({8, 8, 3, 3}, 42, -0.4f, 0.4f);
  const Tensor wa = RandomTensor({8, 8, 3, 3}, 43, -0.3f, 0.3f);
  const Tensor wb = RandomTensor({8, 8, 3, 3}, 44, -0.3f, 0.3f);
  const Tensor bb = RandomTensor({8}, 47, -0.5f, 0.5f);
  const std::string residual = c.source == ResidualSource::kGraphInput  ? "x"
                               : c.source == ResidualSource::kConvInput ? "h"
                                                                        : "r";

  OnnxModelBuilder m;
  m.Input("x", x_shape);
  m.Initializer("w0", w0);
  m.Initializer("b0", RandomTensor({8}, 45, -0.5f, 0.5f));
  m.Initializer("wa", wa);
  m.Initializer("ba", RandomTensor({8}, 46, -0.5f, 0.5f));
  m.Initializer("wb", wb);
  m.Initializer("bb", bb);
  m.Initializer("identity", IdentityWeights(8, /*conv=*/true));
  const std::vector<int64_t> pads = {1, 1, 1, 1};
  m.Node("Conv", {"x", "w0", "b0"}, {"r"}, "conv0").Ints("pads", pads);
  m.Node("Conv", {"r", "identity"}, {"out_r"}, "probe_r");
  m.Node("Conv", {"r", "wa", "ba"}, {"ca"}, "conv_a").Ints("pads", pads);
  m.Node("Relu", {"ca"}, {"h"}, "relu_a");
  m.Node("Conv", {"h", "identity"}, {"out_h"}, "probe_h");
  m.Node("Conv", {"h", "wb", "bb"}, {"cb"}, "conv_b").Ints("pads", pads);
  m.Node("Add", {"cb", residual}, {"s"}, "add");
  m.Node("Relu", {"s"}, {"y"}, "relu_b");
  if (c.u8_output) m.Node("Conv", {"y", "identity"}, {"out_y"}, "probe_y");
  if (c.read_after) {
    m.Initializer("wc", RandomTensor({8, 8, 3, 3}, 48, -0.3f, 0.3f));
    m.Node("Conv", {"y", "wc"}, {"cc"}, "conv_c").Ints("pads", pads);
    m.Node("Add", {"cc", residual}, {"t"}, "add_c");
    m.Node("Relu", {"t"}, {"z"}, "relu_c");
  }
  m.Output("out_r");
  m.Output("out_h");
  m.Output(c.u8_output ? "out_y" : "y");
  if (c.read_after) m.Output("z");
  auto fp32 = LoadFp32(m);
  ASSERT_NE(fp32, nullptr);
  PrecisionPlan plan = PrecisionPlan::AllInt8(fp32->graph());
  if (c.source == ResidualSource::kFp32Conv) plan.nodes.erase("conv0");
  auto int8 = QuantizeForTest(*fp32, x, plan, DefaultQuantizationOptions());
  ASSERT_NE(int8, nullptr);
  std::optional<QuantizedLayer> qa = ReadQuantizedLayer(*int8, "conv_a");
  std::optional<QuantizedLayer> qb = ReadQuantizedLayer(*int8, "conv_b");
  ASSERT_TRUE(qa && qb);
  ASSERT_EQ(qb->post_ops.size(), 2u) << "Add and Relu not fused into conv_b";
  ASSERT_EQ(qb->post_ops[0].kind, PostOp::Kind::kSum);
  EXPECT_EQ(DstTypeOf(*int8, x_shape, "conv_b"),
            c.u8_output ? dnnl::memory::data_type::u8 : dnnl::memory::data_type::f32);
  // In place: conv_b's output overwrites the residual's buffer, with no copy step first.
  if (c.in_place.has_value()) {
    EXPECT_EQ(!HasStep(*int8, x_shape, "conv_b residual"), *c.in_place);
  }

  auto fp32_out = RunModel(fp32, {x});
  auto int8_out = RunModel(int8, {x});
  ASSERT_TRUE(fp32_out.ok()) << fp32_out.status();
  ASSERT_TRUE(int8_out.ok()) << int8_out.status();
  const Graph& graph = int8->graph();
  const QuantizationParams x_params = *graph.value(graph.FindValue("x")).quant;
  const QuantizationParams r_params = *graph.value(graph.FindValue("r")).quant;
  const QuantizationParams h_params = *graph.value(graph.FindValue("h")).quant;
  const QuantizationParams res_params = residual == "x"   ? x_params
                                        : residual == "h" ? h_params
                                                          : r_params;
  ASSERT_LT(graph.value(graph.FindValue("r")).quant->zero_point, 255);

  // The codes each INT8 layer received.
  const std::vector<int32_t> x_q = QuantizeLikeReorder(x, x_params);
  const std::vector<int32_t> r_q = CodesFromProbe((*int8_out)[0], r_params);
  const std::vector<int32_t> h_q = CodesFromProbe((*int8_out)[1], qa->output.value());
  if (c.source != ResidualSource::kFp32Conv) {
    std::optional<QuantizedLayer> q0 = ReadQuantizedLayer(*int8, "conv0");
    ASSERT_TRUE(q0.has_value());
    ExpectCodesMatch("conv0", r_q, ExactOutput(g, *q0, x_q), r_params);
  }
  ExpectCodesMatch("conv_a", h_q, ExactOutput(g, *qa, r_q), *qa->output);

  // conv_b: a u8 output adds the residual in its own quantization; a float output adds it as
  // the float the residual is (dequantized if it was u8).
  std::vector<double> res;
  if (c.source == ResidualSource::kConvInput) {
    res = Dequantize(h_q, h_params);
  } else if (c.u8_output || c.source == ResidualSource::kInt8Conv) {
    res = Dequantize(residual == "x" ? x_q : r_q, res_params);
  } else {
    res = ToDouble(residual == "x" ? x : (*fp32_out)[0]);
  }
  const std::vector<double> exact = ExactOutput(g, *qb, h_q, &res);
  const std::vector<double> actual = ToDouble((*int8_out)[2]);
  const bool signed_residual = c.source != ResidualSource::kConvInput;
  bool negative_residual = false;
  for (double v : res) negative_residual |= v < -1.0;
  EXPECT_EQ(negative_residual, signed_residual) << "the test needs residuals well below zero";
  if (c.u8_output) {
    ExpectCodesMatch("conv_b", CodesFromProbe((*int8_out)[2], *qb->output), exact, *qb->output);
    if (signed_residual) {
      // The check can fail: a residual requantized into the output's (post-Relu) range loses
      // its negative values, which moves results by many steps.
      std::vector<double> clipped_res = res;
      for (double& v : clipped_res) v = std::max(v, 0.0);
      const StepDeviation bug =
          CompareCodes(ToCodes(ExactOutput(g, *qb, h_q, &clipped_res), *qb->output),
                       ToCodes(exact, *qb->output));
      EXPECT_GT(bug.max_steps, 10);
    }
  } else {
    std::vector<double> float_rounding;
    for (size_t i = 0; i < exact.size(); ++i) {
      float_rounding.push_back(1e-5 * (std::abs(exact[i]) + std::abs(res[i])) + 1e-6);
    }
    const Deviation d = Compare(actual, exact, float_rounding);
    EXPECT_LE(d.worst_ratio, 1.0) << "conv_b: max |int8 - exact| " << d.max_abs;
  }

  // FP32 arithmetic for conv_b on the values it received (float weights and bias, the sum and
  // Relu in real units): only conv_b's weight and bias rounding and its output rounding differ.
  {
    const std::vector<double> h = Dequantize(h_q, qb->input);
    const std::vector<float> wb_values = Values(wb);
    const std::vector<double> sum =
        WindowSum(g, [&](int64_t xi, int64_t wi) { return h[xi] * wb_values[wi]; });
    std::vector<double> expected(sum.size());
    for (size_t i = 0; i < sum.size(); ++i) {
      const double b = bb.data<float>()[g.channel_of(static_cast<int64_t>(i))];
      expected[i] = std::max(0.0, sum[i] + b + res[i]);
    }
    std::vector<double> bound =
        ErrorBound(g, *qb, wb_values, h, std::vector<double>(h.size(), 0.0));
    for (double& e : bound) e += c.u8_output ? qb->output->scale / 2 : 0.0;
    const Deviation d = Compare(actual, expected, bound);
    EXPECT_EQ(d.outside, 0) << "conv_b: max |int8 - fp32 on the same inputs| " << d.max_abs;
  }
  // FP32, through the chain: the error bound of each tensor feeds the next layer's. This
  // worst case grows with each layer's l1 weight norm (about 10 here), so it is loose after
  // three layers; the exact checks above are the sharp ones.
  const std::vector<double> r_fp32 = ToDouble((*fp32_out)[0]);
  const std::vector<double> h_fp32 = ToDouble((*fp32_out)[1]);
  std::vector<double> e_r(r_fp32.size(), r_params.scale / 2);  // r quantized for INT8 readers
  if (c.source != ResidualSource::kFp32Conv) {
    std::optional<QuantizedLayer> q0 = ReadQuantizedLayer(*int8, "conv0");
    ASSERT_TRUE(q0.has_value());
    e_r = ErrorBound(g, *q0, Values(w0), ToDouble(x),
                     std::vector<double>(x.num_elements(), x_params.scale / 2));
    for (double& e : e_r) e += r_params.scale / 2;
  }
  std::vector<double> e_h = ErrorBound(g, *qa, Values(wa), r_fp32, e_r);
  for (double& e : e_h) e += qa->output->scale / 2;
  std::vector<double> e_y = ErrorBound(g, *qb, Values(wb), h_fp32, e_h);
  for (size_t i = 0; i < e_y.size(); ++i) {
    double e_res = 0.0;  // an FP32 residual added to a float output as it is
    if (c.source == ResidualSource::kInt8Conv) {
      e_res = e_r[i];
    } else if (c.source == ResidualSource::kConvInput) {
      e_res = e_h[i];
    } else if (c.u8_output) {
      e_res = res_params.scale / 2;  // quantized into its own params first
    }
    e_y[i] += e_res + (c.u8_output ? qb->output->scale / 2 : 0.0);
  }
  const Deviation d = Compare(actual, ToDouble((*fp32_out)[2]), e_y);
  EXPECT_EQ(d.outside, 0) << "max |int8 - fp32| " << d.max_abs << ", worst ratio to the bound "
                          << d.worst_ratio;
  RecordProperty("max_error_vs_fp32", absl::StrCat(d.max_abs));
  RecordProperty("worst_ratio_to_bound", absl::StrCat(d.worst_ratio));
}

INSTANTIATE_TEST_SUITE_P(
    Int8, ResidualTest,
    ::testing::Values(
        ResidualCase{"int8_in_place", ResidualSource::kInt8Conv, false, true, true},
        ResidualCase{"int8_copied", ResidualSource::kInt8Conv, true, true, false},
        ResidualCase{"int8_f32_output", ResidualSource::kInt8Conv, false, false, false},
        ResidualCase{"int8_copied_f32_output", ResidualSource::kInt8Conv, true, false, false},
        ResidualCase{"fp32_residual", ResidualSource::kFp32Conv, false, true, false},
        ResidualCase{"fp32_residual_copied", ResidualSource::kFp32Conv, true, true, false},
        ResidualCase{"fp32_residual_f32_output", ResidualSource::kFp32Conv, false, false,
                     std::nullopt},
        ResidualCase{"graph_input", ResidualSource::kGraphInput, false, true, false},
        ResidualCase{"graph_input_f32_output", ResidualSource::kGraphInput, false, false, false},
        ResidualCase{"conv_input", ResidualSource::kConvInput, false, true, false},
        ResidualCase{"conv_input_f32_output", ResidualSource::kConvInput, false, false, false}),
    [](const ::testing::TestParamInfo<ResidualCase>& info) { return info.param.name; });

}  // namespace
}  // namespace octet
