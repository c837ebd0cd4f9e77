// Models quantized by other tools (ONNX's QDQ and QOperator formats), end to end:
//
//  - QuantizeLinear / DequantizeLinear against ONNX's definitions (quant::Quantize, Dequantize),
//    exactly, ties included, with constant parameters (oneDNN reorders) and runtime ones (the
//    exact loop);
//  - QLinearConv / QLinearMatMul with constant weights become INT8 nodes on oneDNN's int8
//    primitives; they are compared with the exact integer kernels that run the same model with
//    the passes off (and that pass ONNX's conformance tests);
//  - a QDQ model (u8 and s8 activations with non-zero zero points around a Conv and a Gemm)
//    folds into INT8 nodes with no QuantizeLinear / DequantizeLinear left, and matches the FP32
//    computation of the dequantized model within a bound derived from the scales;
//  - full-range weights on a CPU without VNNI are requantized so that vpmaddubsw cannot
//    saturate (docs/quantization.md, sections 7 and 9).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu_info.h"
#include "engine/model.h"
#include "engine/quant/quantization_params.h"
#include "engine/quantize_graph.h"
#include "engine/testing/model_runner.h"
#include "engine/testing/onnx_model_builder.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::quant::QuantizationParams;
using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::RandomTensor;
using ::octet::testing::RunModel;
using ::octet::testing::WithoutPasses;

template <typename T>
Tensor Scalar(DataType type, T value) {
  return Tensor::FromVector<T>(type, {}, {value});
}

Tensor Floats(const Shape& shape, const std::vector<float>& values) {
  return Tensor::FromVector<float>(DataType::kFloat32, shape, values);
}

// Uniform integers in [lo, hi] of an integer type.
Tensor RandomIntegers(DataType type, const Shape& shape, uint32_t seed, int lo, int hi) {
  Tensor t(type, shape);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    const int v = dist(rng);
    switch (type) {
      case DataType::kUInt8:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
        break;
      case DataType::kInt8:
        t.data<int8_t>()[i] = static_cast<int8_t>(v);
        break;
      default:
        t.data<int32_t>()[i] = v;
    }
  }
  return t;
}

int64_t IntegerAt(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kUInt8:
      return t.data<uint8_t>()[i];
    case DataType::kInt8:
      return t.data<int8_t>()[i];
    case DataType::kInt32:
      return t.data<int32_t>()[i];
    default:
      return 0;
  }
}

int CountNodes(const Model& model, const std::string& op_type,
               std::optional<Precision> precision = std::nullopt) {
  int n = 0;
  for (const Node& node : model.graph().nodes()) {
    n += node.op_type == op_type && (!precision || node.precision == *precision);
  }
  return n;
}

std::shared_ptr<const Model> Load(const OnnxModelBuilder& m, const ModelOptions& options = {}) {
  auto model = Model::FromBytes(m.Serialize(), options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

Tensor RunOne(std::shared_ptr<const Model> model, const std::vector<Tensor>& inputs) {
  auto out = RunModel(std::move(model), inputs);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? (*out)[0] : Tensor();
}

// Values around ties of x / 2 (half-integers), saturating ones and zero.
const std::vector<float> kTieInputs = {0.0f, 2.0f,  3.0f,  1000.0f, -254.0f, -1000.0f,
                                       1.0f, -1.0f, 5.0f,  2.5f,    7.0f,    -3.0f,
                                       0.5f, 1.5f,  -2.5f, 300.0f,  -7.0f,   9.0f};

struct ZeroPointCase {
  DataType type;
  int value;
};

class QuantizeLinearTest : public ::testing::TestWithParam<ZeroPointCase> {};

// ONNX rounds x / s to even and then adds the zero point; with an odd zero point oneDNN's
// single reorder would round x / s + zp instead and differ at every tie.
TEST_P(QuantizeLinearTest, ConstantParametersRoundLikeOnnx) {
  const ZeroPointCase zp = GetParam();
  const int64_t n = static_cast<int64_t>(kTieInputs.size());
  for (bool runtime_parameters : {false, true}) {
    OnnxModelBuilder m(13);
    m.Input("x", {n});
    const Tensor scale = Scalar<float>(DataType::kFloat32, 2.0f);
    const Tensor zero_point = zp.type == DataType::kUInt8
                                  ? Scalar<uint8_t>(zp.type, static_cast<uint8_t>(zp.value))
                                  : Scalar<int8_t>(zp.type, static_cast<int8_t>(zp.value));
    if (runtime_parameters) {
      m.Input("scale", {}, DataType::kFloat32);
      m.Input("zp", {}, zp.type);
    } else {
      m.Initializer("scale", scale);
      m.Initializer("zp", zero_point);
    }
    m.Node("QuantizeLinear", {"x", "scale", "zp"}, {"y"}, "q");
    m.Output("y");
    auto model = Load(m);
    ASSERT_NE(model, nullptr);
    std::vector<Tensor> inputs = {Floats({n}, kTieInputs)};
    if (runtime_parameters) inputs.insert(inputs.end(), {scale, zero_point});
    const Tensor y = RunOne(model, inputs);
    ASSERT_EQ(y.dtype(), zp.type);
    const int32_t qmin = zp.type == DataType::kUInt8 ? 0 : -128;
    const int32_t qmax = zp.type == DataType::kUInt8 ? 255 : 127;
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(IntegerAt(y, i), quant::Quantize(kTieInputs[i], {2.0f, zp.value}, qmin, qmax))
          << "x = " << kTieInputs[i] << (runtime_parameters ? " (runtime parameters)" : "");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ZeroPoints, QuantizeLinearTest,
                         ::testing::Values(ZeroPointCase{DataType::kUInt8, 127},
                                           ZeroPointCase{DataType::kUInt8, 128},
                                           ZeroPointCase{DataType::kUInt8, 0},
                                           ZeroPointCase{DataType::kInt8, -3},
                                           ZeroPointCase{DataType::kInt8, 0}));

// Per-axis scales: one zero point for all channels runs as a oneDNN reorder with a scale mask,
// zero points that differ per channel on the exact loop (oneDNN 2.6 takes one zero point).
TEST(QuantizeLinearTest, PerAxisMatchesOnnx) {
  const Shape shape = {2, 3, 4};
  const Tensor x = RandomTensor(shape, 7, -3.0f, 3.0f);
  const std::vector<float> scales = {0.02f, 0.05f, 0.013f};
  for (const std::vector<uint8_t>& zps :
       {std::vector<uint8_t>{128, 128, 128}, std::vector<uint8_t>{1, 100, 201}}) {
    for (const std::string op : {"QuantizeLinear", "DequantizeLinear"}) {
      const bool quantize = op == "QuantizeLinear";
      OnnxModelBuilder m(13);
      m.Input("x", shape, quantize ? DataType::kFloat32 : DataType::kUInt8);
      m.Initializer("scale", Tensor::FromVector<float>(DataType::kFloat32, {3}, scales));
      m.Initializer("zp", Tensor::FromVector<uint8_t>(DataType::kUInt8, {3}, zps));
      m.Node(op, {"x", "scale", "zp"}, {"y"}, "q").Int("axis", 1);
      m.Output("y");
      auto model = Load(m);
      ASSERT_NE(model, nullptr);
      const Tensor input = quantize ? x : RandomIntegers(DataType::kUInt8, shape, 3, 0, 255);
      const Tensor y = RunOne(model, {input});
      for (int64_t i = 0; i < x.num_elements(); ++i) {
        const int64_t c = i / 4 % 3;
        const QuantizationParams p{scales[c], zps[c]};
        if (quantize) {
          EXPECT_EQ(IntegerAt(y, i), quant::Quantize(x.data<float>()[i], p, 0, 255)) << i;
        } else {
          EXPECT_EQ(y.data<float>()[i], quant::Dequantize(IntegerAt(input, i), p)) << i;
        }
      }
    }
  }
}

// u8, s8 and s32 data, dequantized exactly as (q - zp) * s.
TEST(DequantizeLinearTest, MatchesOnnx) {
  struct Case {
    DataType type;
    int lo, hi, zero_point;
  };
  for (const Case& c : {Case{DataType::kUInt8, 0, 255, 131}, Case{DataType::kInt8, -128, 127, -5},
                        Case{DataType::kInt32, -100000, 100000, 0}}) {
    OnnxModelBuilder m(13);
    m.Input("x", {4, 5}, c.type);
    m.Initializer("scale", Scalar<float>(DataType::kFloat32, 0.0173f));
    if (c.type == DataType::kUInt8) {
      m.Initializer("zp", Scalar<uint8_t>(c.type, static_cast<uint8_t>(c.zero_point)));
    } else if (c.type == DataType::kInt8) {
      m.Initializer("zp", Scalar<int8_t>(c.type, static_cast<int8_t>(c.zero_point)));
    } else {
      m.Initializer("zp", Scalar<int32_t>(c.type, 0));
    }
    m.Node("DequantizeLinear", {"x", "scale", "zp"}, {"y"}, "dq");
    m.Output("y");
    auto model = Load(m);
    ASSERT_NE(model, nullptr);
    EXPECT_EQ(model->inputs()[0].dtype, c.type);
    const Tensor x = RandomIntegers(c.type, {4, 5}, 11, c.lo, c.hi);
    const Tensor y = RunOne(model, {x});
    ASSERT_EQ(y.dtype(), DataType::kFloat32);
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      EXPECT_EQ(y.data<float>()[i],
                quant::Dequantize(static_cast<int32_t>(IntegerAt(x, i)), {0.0173f, c.zero_point}))
          << DataTypeName(c.type) << " element " << i;
    }
  }
}

// u8 in, u8 out: a u8 graph input is a plain u8 tensor and a u8 output is copied as it is.
TEST(QuantizedGraphBoundaryTest, Uint8InputsAndOutputs) {
  OnnxModelBuilder m(13);
  m.Input("x", {1, 2, 4, 4}, DataType::kUInt8);
  m.Initializer("s_in", Scalar<float>(DataType::kFloat32, 0.1f));
  m.Initializer("zp_in", Scalar<uint8_t>(DataType::kUInt8, 100));
  m.Initializer("s_out", Scalar<float>(DataType::kFloat32, 0.05f));
  m.Initializer("zp_out", Scalar<uint8_t>(DataType::kUInt8, 3));
  m.Node("MaxPool", {"x"}, {"pooled"}, "pool").Ints("kernel_shape", {2, 2}).Ints("strides", {2, 2});
  m.Node("DequantizeLinear", {"x", "s_in", "zp_in"}, {"real"}, "dq");
  m.Node("Relu", {"real"}, {"relu"}, "relu");
  m.Node("QuantizeLinear", {"relu", "s_out", "zp_out"}, {"y"}, "q");
  m.Output("pooled");
  m.Output("y");
  auto model = Load(m);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->inputs()[0].dtype, DataType::kUInt8);
  EXPECT_EQ(model->outputs()[0].dtype, DataType::kUInt8);
  EXPECT_EQ(model->outputs()[1].dtype, DataType::kUInt8);
  const Tensor x = RandomIntegers(DataType::kUInt8, {1, 2, 4, 4}, 5, 0, 255);
  auto out = RunModel(model, {x});
  ASSERT_TRUE(out.ok()) << out.status();
  const Tensor& pooled = (*out)[0];
  const Tensor& y = (*out)[1];
  ASSERT_EQ(pooled.shape(), (Shape{1, 2, 2, 2}));
  for (int64_t c = 0; c < 2; ++c) {
    for (int64_t oh = 0; oh < 2; ++oh) {
      for (int64_t ow = 0; ow < 2; ++ow) {
        int64_t best = 0;
        for (int64_t i = 0; i < 4; ++i) {
          best = std::max(best, IntegerAt(x, c * 16 + (2 * oh + i / 2) * 4 + 2 * ow + i % 2));
        }
        EXPECT_EQ(IntegerAt(pooled, c * 4 + oh * 2 + ow), best);
      }
    }
  }
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    const float real = std::max(0.0f, quant::Dequantize(IntegerAt(x, i), {0.1f, 100}));
    EXPECT_EQ(IntegerAt(y, i), quant::Quantize(real, {0.05f, 3}, 0, 255)) << i;
  }
  // A u8 input wants u8 data.
  auto wrong = RunModel(model, {RandomTensor({1, 2, 4, 4}, 1)});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
}

// Compares the INT8 lowering of a QLinear model with the exact integer kernel (passes off):
// equal but where oneDNN, which adds the output zero point before rounding, meets a tie.
void ExpectMatchesExactKernel(const Tensor& int8, const Tensor& exact) {
  ASSERT_EQ(int8.shape(), exact.shape());
  ASSERT_EQ(int8.dtype(), exact.dtype());
  int64_t differ = 0;
  for (int64_t i = 0; i < exact.num_elements(); ++i) {
    const int64_t d = std::abs(IntegerAt(int8, i) - IntegerAt(exact, i));
    EXPECT_LE(d, 1) << "element " << i;
    differ += d != 0;
  }
  EXPECT_LE(differ, exact.num_elements() / 100) << differ << " elements differ by one";
}

struct QLinearConvCase {
  DataType weight_type;
  int weight_zero_point;
  bool lowered;  // expected to become an INT8 Conv
};

class QLinearConvTest : public ::testing::TestWithParam<QLinearConvCase> {};

TEST_P(QLinearConvTest, ConstantWeights) {
  const QLinearConvCase c = GetParam();
  const Shape x_shape = {2, 8, 7, 7};
  const Shape w_shape = {6, 8, 3, 3};
  // |q - zp| <= 60: no adjacent pair can saturate, so the weights are used as given. Weights
  // that stay on the exact kernel span the whole u8 range.
  Tensor w = c.lowered ? RandomIntegers(DataType::kInt32, w_shape, 21, -60, 60)
                       : RandomIntegers(DataType::kInt32, w_shape, 21, -c.weight_zero_point,
                                        255 - c.weight_zero_point);
  Tensor weights(c.weight_type, w_shape);
  for (int64_t i = 0; i < w.num_elements(); ++i) {
    const int v = w.data<int32_t>()[i] + c.weight_zero_point;
    if (c.weight_type == DataType::kUInt8) {
      weights.data<uint8_t>()[i] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    } else {
      weights.data<int8_t>()[i] = static_cast<int8_t>(v);
    }
  }
  OnnxModelBuilder m(13);
  m.Input("x", x_shape, DataType::kUInt8);
  m.Initializer("s_x", Scalar<float>(DataType::kFloat32, 0.05f));
  m.Initializer("zp_x", Scalar<uint8_t>(DataType::kUInt8, 100));
  m.Initializer("w", weights);
  m.Initializer("s_w", Tensor::FromVector<float>(DataType::kFloat32, {6},
                                                 {0.01f, 0.02f, 0.015f, 0.003f, 0.03f, 0.008f}));
  if (c.weight_type == DataType::kUInt8) {
    m.Initializer("zp_w", Scalar<uint8_t>(DataType::kUInt8, c.weight_zero_point));
  } else {
    m.Initializer("zp_w", Tensor(DataType::kInt8, {6}));
  }
  m.Initializer("s_y", Scalar<float>(DataType::kFloat32, 0.4f));
  m.Initializer("zp_y", Scalar<uint8_t>(DataType::kUInt8, 77));
  m.Initializer("b", RandomIntegers(DataType::kInt32, {6}, 4, -3000, 3000));
  m.Node("QLinearConv", {"x", "s_x", "zp_x", "w", "s_w", "zp_w", "s_y", "zp_y", "b"}, {"y"},
         "qconv")
      .Ints("pads", {1, 1, 1, 1})
      .Ints("strides", {2, 1});
  m.Output("y");
  auto model = Load(m);
  auto exact_model = Load(m, WithoutPasses());
  ASSERT_NE(model, nullptr);
  ASSERT_NE(exact_model, nullptr);
  EXPECT_EQ(CountNodes(*model, "Conv", Precision::kInt8), c.lowered ? 1 : 0);
  EXPECT_EQ(CountNodes(*model, "QLinearConv"), c.lowered ? 0 : 1);
  const Tensor x = RandomIntegers(DataType::kUInt8, x_shape, 9, 0, 255);
  ExpectMatchesExactKernel(RunOne(model, {x}), RunOne(exact_model, {x}));
}

INSTANTIATE_TEST_SUITE_P(
    WeightTypes, QLinearConvTest,
    ::testing::Values(QLinearConvCase{DataType::kInt8, 0, true},
                      // u8 weights with zero point 128 are s8 weights plus 128: exact.
                      QLinearConvCase{DataType::kUInt8, 128, true},
                      // Far from 128, q - zp leaves s8: the exact integer kernel runs them.
                      QLinearConvCase{DataType::kUInt8, 200, false}));

TEST(QLinearMatMulTest, ConstantWeightsRunInt8In2DAnd3D) {
  for (const Shape& a_shape : {Shape{5, 16}, Shape{2, 3, 16}}) {
    OnnxModelBuilder m(13);
    m.Input("a", a_shape, DataType::kUInt8);
    m.Initializer("s_a", Scalar<float>(DataType::kFloat32, 0.03f));
    m.Initializer("zp_a", Scalar<uint8_t>(DataType::kUInt8, 113));
    m.Initializer("b", RandomIntegers(DataType::kInt8, {16, 7}, 8, -64, 64));
    m.Initializer("s_b",
                  Tensor::FromVector<float>(DataType::kFloat32, {7},
                                            {0.01f, 0.02f, 0.03f, 0.04f, 0.05f, 0.06f, 0.07f}));
    m.Initializer("zp_b", Tensor(DataType::kInt8, {7}));
    m.Initializer("s_y", Scalar<float>(DataType::kFloat32, 0.2f));
    m.Initializer("zp_y", Scalar<uint8_t>(DataType::kUInt8, 118));
    m.Node("QLinearMatMul", {"a", "s_a", "zp_a", "b", "s_b", "zp_b", "s_y", "zp_y"}, {"y"},
           "qmatmul");
    m.Output("y");
    auto model = Load(m);
    auto exact_model = Load(m, WithoutPasses());
    ASSERT_NE(model, nullptr);
    ASSERT_NE(exact_model, nullptr);
    EXPECT_EQ(CountNodes(*model, "MatMul", Precision::kInt8), 1) << ShapeToString(a_shape);
    const Tensor a = RandomIntegers(DataType::kUInt8, a_shape, 2, 0, 255);
    ExpectMatchesExactKernel(RunOne(model, {a}), RunOne(exact_model, {a}));
  }
}

// The QOperator form end to end: float in, QuantizeLinear, two QLinearConv (u8 between them,
// never dequantized), DequantizeLinear, float out.
TEST(QLinearConvTest, ChainRunsInt8BetweenQuantizeAndDequantize) {
  OnnxModelBuilder m(13);
  m.Input("x", {1, 4, 6, 6});
  m.Initializer("s_x", Scalar<float>(DataType::kFloat32, 0.01f));
  m.Initializer("zp_x", Scalar<uint8_t>(DataType::kUInt8, 128));
  m.Node("QuantizeLinear", {"x", "s_x", "zp_x"}, {"x_q"}, "q");
  const std::vector<std::string> suffixes = {"1", "2"};
  std::string in = "x_q";
  std::string in_scale = "s_x", in_zp = "zp_x";
  for (const std::string& i : suffixes) {
    m.Initializer("w" + i, RandomIntegers(DataType::kInt8, {4, 4, 3, 3}, 40 + i[0], -50, 50));
    m.Initializer("s_w" + i, Scalar<float>(DataType::kFloat32, 0.004f));
    m.Initializer("zp_w" + i, Scalar<int8_t>(DataType::kInt8, 0));
    m.Initializer("s_y" + i, Scalar<float>(DataType::kFloat32, 0.02f));
    m.Initializer("zp_y" + i, Scalar<uint8_t>(DataType::kUInt8, i == "1" ? 131 : 120));
    m.Node("QLinearConv",
           {in, in_scale, in_zp, "w" + i, "s_w" + i, "zp_w" + i, "s_y" + i, "zp_y" + i}, {"y" + i},
           "qconv" + i)
        .Ints("pads", {1, 1, 1, 1});
    in = "y" + i;
    in_scale = "s_y" + i;
    in_zp = "zp_y" + i;
  }
  m.Node("DequantizeLinear", {in, in_scale, in_zp}, {"y"}, "dq");
  m.Output("y");
  auto model = Load(m);
  auto exact_model = Load(m, WithoutPasses());
  ASSERT_NE(model, nullptr);
  ASSERT_NE(exact_model, nullptr);
  EXPECT_EQ(CountNodes(*model, "Conv", Precision::kInt8), 2);
  const Tensor x = RandomTensor({1, 4, 6, 6}, 17, -1.2f, 1.2f);  // some saturate at +-1.28
  const Tensor y = RunOne(model, {x});
  const Tensor exact = RunOne(exact_model, {x});
  ASSERT_EQ(y.shape(), exact.shape());
  int64_t differ = 0;
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    // A tie rounded the other way in the first layer moves the second by a fraction of a step.
    EXPECT_NEAR(y.data<float>()[i], exact.data<float>()[i], 0.02f + 1e-6f) << i;
    differ += y.data<float>()[i] != exact.data<float>()[i];
  }
  EXPECT_LE(differ, y.num_elements() / 20);
}

// ---------------------------------------------------------------------------------------------
// A QDQ model as ONNX Runtime's quantizer writes it:
//   x -> Q -> DQ -> Conv(DQ(w1), DQ(b1)) -> Q -> DQ -> Flatten -> Q -> DQ
//     -> Gemm(DQ(w2), DQ(b2), transB) -> Q -> DQ -> y
// Weights are s8 per output channel (axis 0), biases int32 in the scale s_in * s_w.

struct QdqModel {
  Tensor w1, w2;                    // integer weights (int32 holding s8 values)
  std::vector<float> s_w1, s_w2;    // per output channel
  Tensor b1, b2;                    // integer biases
  QuantizationParams x, conv, out;  // u8 params of the three quantized activations
  DataType activation = DataType::kUInt8;
};

Tensor AsType(const Tensor& ints, DataType type) {
  Tensor t(type, ints.shape());
  for (int64_t i = 0; i < ints.num_elements(); ++i) {
    const int32_t v = ints.data<int32_t>()[i];
    if (type == DataType::kInt8) t.data<int8_t>()[i] = static_cast<int8_t>(v);
    if (type == DataType::kUInt8) t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    if (type == DataType::kInt32) t.data<int32_t>()[i] = v;
  }
  return t;
}

Tensor Real(const Tensor& ints, const std::vector<float>& scales) {
  Tensor t(DataType::kFloat32, ints.shape());
  const int64_t block = ints.num_elements() / static_cast<int64_t>(scales.size());
  for (int64_t i = 0; i < ints.num_elements(); ++i) {
    t.data<float>()[i] = scales[i / block] * static_cast<float>(ints.data<int32_t>()[i]);
  }
  return t;
}

std::vector<float> Times(const std::vector<float>& v, float s) {
  std::vector<float> out;
  for (float x : v) out.push_back(x * s);
  return out;
}

// Adds QuantizeLinear -> DequantizeLinear of `in` with `p` (written in the model's activation
// type: an s8 zero point is the u8 one minus 128).
void AddQdq(OnnxModelBuilder& m, const QdqModel& q, const std::string& in, const std::string& out,
            const QuantizationParams& p) {
  m.Initializer(in + "_s", Scalar<float>(DataType::kFloat32, p.scale));
  if (q.activation == DataType::kUInt8) {
    m.Initializer(in + "_zp", Scalar<uint8_t>(DataType::kUInt8, p.zero_point));
  } else {
    m.Initializer(in + "_zp", Scalar<int8_t>(DataType::kInt8, p.zero_point - 128));
  }
  m.Node("QuantizeLinear", {in, in + "_s", in + "_zp"}, {in + "_q"}, in + "/q");
  m.Node("DequantizeLinear", {in + "_q", in + "_s", in + "_zp"}, {out}, in + "/dq");
}

void AddDequantizedConstant(OnnxModelBuilder& m, const std::string& name, const Tensor& q,
                            const std::vector<float>& scales) {
  const int64_t channels = static_cast<int64_t>(scales.size());
  m.Initializer(name + "_q", q);
  m.Initializer(name + "_s", Tensor::FromVector<float>(DataType::kFloat32, {channels}, scales));
  m.Initializer(name + "_zp", Tensor(q.dtype(), {channels}));
  m.Node("DequantizeLinear", {name + "_q", name + "_s", name + "_zp"}, {name}, name + "/dq")
      .Int("axis", 0);
}

std::string QdqModelBytes(const QdqModel& q) {
  OnnxModelBuilder m(13);
  m.Input("x", {2, 3, 8, 8});
  AddQdq(m, q, "x", "x_dq", q.x);
  AddDequantizedConstant(m, "w1", AsType(q.w1, DataType::kInt8), q.s_w1);
  AddDequantizedConstant(m, "b1", q.b1, Times(q.s_w1, q.x.scale));
  m.Node("Conv", {"x_dq", "w1", "b1"}, {"conv"}, "conv").Ints("pads", {1, 1, 1, 1});
  AddQdq(m, q, "conv", "conv_dq", q.conv);
  m.Node("Flatten", {"conv_dq"}, {"flat"}, "flatten");
  AddQdq(m, q, "flat", "flat_dq", q.conv);  // reshapes keep their input's parameters
  AddDequantizedConstant(m, "w2", AsType(q.w2, DataType::kInt8), q.s_w2);
  AddDequantizedConstant(m, "b2", q.b2, Times(q.s_w2, q.conv.scale));
  m.Node("Gemm", {"flat_dq", "w2", "b2"}, {"gemm"}, "gemm").Int("transB", 1);
  AddQdq(m, q, "gemm", "y", q.out);
  m.Output("y");
  return m.Serialize();
}

// The same model in FP32 on the dequantized weights, with the Conv's output as a second output.
std::string Fp32ModelBytes(const QdqModel& q) {
  OnnxModelBuilder m(13);
  m.Input("x", {2, 3, 8, 8});
  m.Initializer("w1", Real(q.w1, q.s_w1));
  m.Initializer("b1", Real(q.b1, Times(q.s_w1, q.x.scale)));
  m.Initializer("w2", Real(q.w2, q.s_w2));
  m.Initializer("b2", Real(q.b2, Times(q.s_w2, q.conv.scale)));
  m.Node("Conv", {"x", "w1", "b1"}, {"conv"}, "conv").Ints("pads", {1, 1, 1, 1});
  m.Node("Flatten", {"conv"}, {"flat"}, "flatten");
  m.Node("Gemm", {"flat", "w2", "b2"}, {"y"}, "gemm").Int("transB", 1);
  m.Output("y");
  m.Output("conv");
  return m.Serialize();
}

float MaxRowAbsSum(const Tensor& ints, const std::vector<float>& scales) {
  const int64_t block = ints.num_elements() / static_cast<int64_t>(scales.size());
  float worst = 0.0f;
  for (size_t c = 0; c < scales.size(); ++c) {
    float sum = 0.0f;
    for (int64_t i = 0; i < block; ++i) {
      sum += scales[c] * std::abs(static_cast<float>(ints.data<int32_t>()[c * block + i]));
    }
    worst = std::max(worst, sum);
  }
  return worst;
}

// Weights within +-60: no adjacent pair can saturate vpmaddubsw, so they are used as given.
QdqModel MakeQdqModel(DataType activation) {
  QdqModel q;
  q.activation = activation;
  q.w1 = RandomIntegers(DataType::kInt32, {4, 3, 3, 3}, 31, -60, 60);
  q.s_w1 = {0.004f, 0.007f, 0.002f, 0.005f};
  q.b1 = RandomIntegers(DataType::kInt32, {4}, 32, -400, 400);
  q.w2 = RandomIntegers(DataType::kInt32, {5, 256}, 33, -60, 60);
  q.s_w2 = {0.0005f, 0.0008f, 0.0003f, 0.0006f, 0.0004f};
  q.b2 = RandomIntegers(DataType::kInt32, {5}, 34, -2000, 2000);
  q.x = {2.0f / 255.0f, 128};
  return q;
}

// Chooses the Conv's and the output's parameters from the FP32 model's ranges (zero points are
// then non-zero: both ranges straddle 0).
void Calibrate(QdqModel& q, const Tensor& x) {
  auto fp32 = testing::RunModelBytes(Fp32ModelBytes(q), {x});
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  for (int k = 0; k < 2; ++k) {
    const absl::Span<const float> v = (*fp32)[k].values<float>();
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    auto params = quant::ChooseActivationParams(*lo, *hi);
    ASSERT_TRUE(params.ok());
    (k == 0 ? q.out : q.conv) = *params;
  }
}

class QdqModelTest : public ::testing::TestWithParam<DataType> {};

TEST_P(QdqModelTest, ConvAndGemmRunInt8AndMatchFp32) {
  QdqModel q = MakeQdqModel(GetParam());
  const Tensor x = RandomTensor({2, 3, 8, 8}, 12, -1.0f, 0.99f);
  ASSERT_NO_FATAL_FAILURE(Calibrate(q, x));
  ASSERT_NE(q.conv.zero_point, 0);
  ASSERT_NE(q.out.zero_point, 0);

  auto model = Model::FromBytes(QdqModelBytes(q));
  ASSERT_TRUE(model.ok()) << model.status();
  // One INT8 node each, with the model's own integers and scales, and nothing else.
  EXPECT_EQ(CountNodes(**model, "Conv", Precision::kInt8), 1);
  EXPECT_EQ(CountNodes(**model, "Gemm", Precision::kInt8), 1);
  EXPECT_EQ(CountNodes(**model, "QuantizeLinear"), 0);
  EXPECT_EQ(CountNodes(**model, "DequantizeLinear"), 0);
  for (const Node& node : (*model)->graph().nodes()) {
    if (node.op_type != "Conv") continue;
    EXPECT_EQ(node.attrs.GetFloats(kWeightScalesAttr), q.s_w1);
    const Tensor& w = (*model)->graph().constant(node.inputs[1]);
    ASSERT_EQ(w.dtype(), DataType::kInt8);
    for (int64_t i = 0; i < w.num_elements(); ++i) {
      ASSERT_EQ(w.data<int8_t>()[i], q.w1.data<int32_t>()[i]) << i;
    }
  }
  const Tensor y = RunOne(*model, {x});
  auto fp32 = testing::RunModelBytes(Fp32ModelBytes(q), {x});
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  // Fake quantization: the QDQ model run as written, in FP32 with QuantizeLinear and
  // DequantizeLinear reorders.
  auto fake = testing::RunModelBytes(QdqModelBytes(q), {x}, WithoutPasses());
  ASSERT_TRUE(fake.ok()) << fake.status();

  // Worst case against FP32: each quantized tensor is off by at most half its step, and that
  // error passes through the layers after it (a Conv output channel's weights sum to at most
  // MaxRowAbsSum in magnitude). The INT8 Gemm writes its float output unrounded.
  const float conv_error = q.x.scale / 2 * MaxRowAbsSum(q.w1, q.s_w1) + q.conv.scale / 2;
  const float bound = conv_error * MaxRowAbsSum(q.w2, q.s_w2);
  // Against fake quantization the only differences are that final rounding and rare float ties
  // in the intermediate rounding.
  const float fake_bound = q.out.scale / 2 + 0.1f * q.out.scale;
  float worst = 0.0f, worst_fake = 0.0f;
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    worst = std::max(worst, std::abs(y.data<float>()[i] - (*fp32)[0].data<float>()[i]));
    worst_fake = std::max(worst_fake, std::abs(y.data<float>()[i] - (*fake)[0].data<float>()[i]));
  }
  EXPECT_LE(worst, bound);
  // In practice the INT8 model is within one output step of FP32 (ONNX Runtime's rounding of
  // the output alone is half a step).
  EXPECT_LE(worst, q.out.scale);
  EXPECT_LE(worst_fake, fake_bound);
  RecordProperty("max_error_vs_fp32", std::to_string(worst));
  RecordProperty("bound_vs_fp32", std::to_string(bound));
  RecordProperty("output_step", std::to_string(q.out.scale));
  RecordProperty("max_error_vs_fake_quant", std::to_string(worst_fake));
}

INSTANTIATE_TEST_SUITE_P(ActivationTypes, QdqModelTest,
                         ::testing::Values(DataType::kUInt8, DataType::kInt8),
                         [](const auto& info) { return DataTypeName(info.param); });

// Weights quantized by another tool over the full s8 range: on AVX2 without VNNI an adjacent
// pair of large same-signed weights times u8 inputs near 255 saturates vpmaddubsw's int16, so
// Octet requantizes such weights with its pair-limited scheme (the error then stays within
// the coarser step's bound); with VNNI the given weights run as they are.
TEST(QdqModelTest, FullRangeWeightsAreExactOnEveryCpu) {
  QdqModel q = MakeQdqModel(DataType::kUInt8);
  for (int64_t i = 0; i < q.w1.num_elements(); ++i) {
    q.w1.data<int32_t>()[i] = 100 + static_cast<int32_t>(i % 28);  // same-signed, large
  }
  q.x = {1.0f / 255.0f, 0};
  const Tensor x = RandomTensor({2, 3, 8, 8}, 13, 0.9f, 1.0f);  // u8 codes near 255
  ASSERT_NO_FATAL_FAILURE(Calibrate(q, x));
  auto model = Model::FromBytes(QdqModelBytes(q));
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ(CountNodes(**model, "Conv", Precision::kInt8), 1);
  std::vector<float> scales;
  for (const Node& node : (*model)->graph().nodes()) {
    if (node.op_type == "Conv") scales = node.attrs.GetFloats(kWeightScalesAttr);
  }
  if (CpuHasVnni()) {
    EXPECT_EQ(scales, q.s_w1);
  } else {
    ASSERT_EQ(scales.size(), q.s_w1.size());
    for (size_t c = 0; c < scales.size(); ++c) EXPECT_GT(scales[c], q.s_w1[c]) << c;
  }
  const Tensor y = RunOne(*model, {x});
  auto fp32 = testing::RunModelBytes(Fp32ModelBytes(q), {x});
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  // The requantized step is at most twice the given one (docs/quantization.md, section 7): each
  // weight moves by at most one given step, times inputs of at most 1.
  float requantization_error = 0.0f;
  for (float s : q.s_w1) requantization_error = std::max(requantization_error, s * 27);
  const float conv_error =
      q.x.scale / 2 * MaxRowAbsSum(q.w1, q.s_w1) + requantization_error + q.conv.scale / 2;
  const float bound = conv_error * MaxRowAbsSum(q.w2, q.s_w2);
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    EXPECT_NEAR(y.data<float>()[i], (*fp32)[0].data<float>()[i], bound) << i;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors name the node and say what is wrong.

TEST(QuantizationErrorsTest, RefusedAtLoad) {
  {  // axis does not exist before opset 13
    OnnxModelBuilder m(10);
    m.Input("x", {2, 3});
    m.Initializer("s", Scalar<float>(DataType::kFloat32, 1.0f));
    m.Node("QuantizeLinear", {"x", "s"}, {"y"}, "q10").Int("axis", 1);
    m.Output("y");
    auto model = Model::FromBytes(m.Serialize());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(model.status().message().find("q10"), std::string::npos) << model.status();
  }
  {  // a per-axis scale must match the axis
    OnnxModelBuilder m(13);
    m.Input("x", {2, 3});
    m.Initializer("s", Tensor::FromVector<float>(DataType::kFloat32, {2}, {1.0f, 2.0f}));
    m.Node("QuantizeLinear", {"x", "s"}, {"y"}, "per_axis").Int("axis", 1);
    m.Output("y");
    auto model = Model::FromBytes(m.Serialize());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(model.status().message().find("per_axis"), std::string::npos) << model.status();
  }
  {  // int32 data has zero point 0
    OnnxModelBuilder m(13);
    m.Input("x", {3}, DataType::kInt32);
    m.Initializer("s", Scalar<float>(DataType::kFloat32, 1.0f));
    m.Initializer("zp", Scalar<int32_t>(DataType::kInt32, 4));
    m.Node("DequantizeLinear", {"x", "s", "zp"}, {"y"}, "dq32");
    m.Output("y");
    auto model = Model::FromBytes(m.Serialize());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(model.status().message().find("dq32"), std::string::npos) << model.status();
  }
}

}  // namespace
}  // namespace octet
