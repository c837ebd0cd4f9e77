// Numerics of convolution-shaped work against naive reference loops: Conv with pads, strides,
// dilations, asymmetric pads, groups, depthwise, auto_pad SAME_UPPER / SAME_LOWER / VALID, with
// and without bias and graph passes; a Transpose feeding a Conv (an NHWC model); and
// BatchNormalization both standalone and folded into the Conv before it.
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/testing/model_runner.h"
#include "engine/testing/onnx_model_builder.h"
#include "engine/testing/reference_kernels.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

namespace ref = ::octet::testing::reference_kernels;
using ::octet::testing::AllClose;
using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::RandomTensor;
using ::octet::testing::RunModelBytes;
using ::octet::testing::WithoutPasses;

struct ConvCase {
  std::string name;
  Shape x;
  Shape w;
  bool bias = true;
  // ONNX attributes (empty = absent).
  std::vector<int64_t> pads, strides, dilations;
  int64_t group = 1;
  std::string auto_pad;
  // The same window as explicit numbers, for the reference loops.
  ref::ConvParams expected;
};

ref::ConvParams Params(std::vector<int64_t> pads_begin, std::vector<int64_t> pads_end,
                       std::vector<int64_t> strides = {1, 1},
                       std::vector<int64_t> dilations = {1, 1}, int64_t group = 1) {
  ref::ConvParams p;
  p.pads_begin = std::move(pads_begin);
  p.pads_end = std::move(pads_end);
  p.strides = std::move(strides);
  p.dilations = std::move(dilations);
  p.group = group;
  return p;
}

std::vector<ConvCase> ConvCases() {
  std::vector<ConvCase> cases;
  cases.push_back({"pads1",
                   {2, 3, 7, 7},
                   {4, 3, 3, 3},
                   true,
                   {1, 1, 1, 1},
                   {},
                   {},
                   1,
                   "",
                   Params({1, 1}, {1, 1})});
  cases.push_back({"stride2",
                   {1, 3, 9, 9},
                   {5, 3, 3, 3},
                   true,
                   {1, 1, 1, 1},
                   {2, 2},
                   {},
                   1,
                   "",
                   Params({1, 1}, {1, 1}, {2, 2})});
  cases.push_back({"dilation2",
                   {1, 2, 9, 9},
                   {3, 2, 3, 3},
                   true,
                   {2, 2, 2, 2},
                   {},
                   {2, 2},
                   1,
                   "",
                   Params({2, 2}, {2, 2}, {1, 1}, {2, 2})});
  // pads = [h_begin, w_begin, h_end, w_end].
  cases.push_back({"asymmetric_pads",
                   {1, 3, 6, 7},
                   {4, 3, 3, 3},
                   true,
                   {0, 1, 2, 1},
                   {},
                   {},
                   1,
                   "",
                   Params({0, 1}, {2, 1})});
  cases.push_back({"group2",
                   {1, 4, 6, 6},
                   {6, 2, 3, 3},
                   true,
                   {1, 1, 1, 1},
                   {},
                   {},
                   2,
                   "",
                   Params({1, 1}, {1, 1}, {1, 1}, {1, 1}, 2)});
  cases.push_back({"depthwise",
                   {2, 8, 6, 6},
                   {8, 1, 3, 3},
                   true,
                   {1, 1, 1, 1},
                   {},
                   {},
                   8,
                   "",
                   Params({1, 1}, {1, 1}, {1, 1}, {1, 1}, 8)});
  cases.push_back({"depthwise_multiplier2_stride2",
                   {1, 4, 7, 7},
                   {8, 1, 3, 3},
                   false,
                   {1, 1, 1, 1},
                   {2, 2},
                   {},
                   4,
                   "",
                   Params({1, 1}, {1, 1}, {2, 2}, {1, 1}, 4)});
  // 8 wide, kernel 3, stride 2: 4 outputs need 1 padded column, which SAME_UPPER puts at the
  // end and SAME_LOWER at the beginning.
  cases.push_back({"same_upper",
                   {1, 3, 8, 8},
                   {4, 3, 3, 3},
                   true,
                   {},
                   {2, 2},
                   {},
                   1,
                   "SAME_UPPER",
                   Params({0, 0}, {1, 1}, {2, 2})});
  cases.push_back({"same_lower",
                   {1, 3, 8, 8},
                   {4, 3, 3, 3},
                   true,
                   {},
                   {2, 2},
                   {},
                   1,
                   "SAME_LOWER",
                   Params({1, 1}, {0, 0}, {2, 2})});
  cases.push_back({"same_upper_stride1",
                   {1, 3, 5, 5},
                   {2, 3, 3, 3},
                   true,
                   {},
                   {},
                   {},
                   1,
                   "SAME_UPPER",
                   Params({1, 1}, {1, 1})});
  cases.push_back({"valid",
                   {1, 3, 8, 8},
                   {4, 3, 3, 3},
                   true,
                   {},
                   {2, 2},
                   {},
                   1,
                   "VALID",
                   Params({0, 0}, {0, 0}, {2, 2})});
  cases.push_back({"pointwise_no_bias",
                   {3, 6, 5, 5},
                   {4, 6, 1, 1},
                   false,
                   {},
                   {2, 2},
                   {},
                   1,
                   "",
                   Params({0, 0}, {0, 0}, {2, 2})});
  cases.push_back({"rectangular_kernel",
                   {1, 2, 6, 9},
                   {3, 2, 1, 3},
                   true,
                   {0, 1, 0, 1},
                   {1, 2},
                   {},
                   1,
                   "",
                   Params({0, 1}, {0, 1}, {1, 2})});
  return cases;
}

class ConvNumericsTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvNumericsTest, MatchesReferenceLoops) {
  const ConvCase& c = GetParam();
  const Tensor x = RandomTensor(c.x, 11);
  const Tensor w = RandomTensor(c.w, 12);
  const Tensor b = RandomTensor({c.w[0]}, 13);
  OnnxModelBuilder m;
  Shape declared = c.x;
  declared[0] = -1;
  m.Input("x", declared);
  m.Initializer("w", w);
  std::vector<std::string> inputs = {"x", "w"};
  if (c.bias) {
    m.Initializer("b", b);
    inputs.push_back("b");
  }
  testing::NodeAttributes conv = m.Node("Conv", inputs, {"y"}, "conv");
  if (!c.pads.empty()) conv.Ints("pads", c.pads);
  if (!c.strides.empty()) conv.Ints("strides", c.strides);
  if (!c.dilations.empty()) conv.Ints("dilations", c.dilations);
  if (c.group != 1) conv.Int("group", c.group);
  if (!c.auto_pad.empty()) conv.String("auto_pad", c.auto_pad);
  m.Output("y");
  const Tensor expected = ref::Conv2D(x, w, c.bias ? &b : nullptr, c.expected);

  for (bool optimize : {true, false}) {
    auto out = RunModelBytes(m.Serialize(), {x}, optimize ? ModelOptions{} : WithoutPasses());
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), 1u);
    EXPECT_TRUE(AllClose((*out)[0], expected)) << (optimize ? "optimized" : "unoptimized");
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvNumericsTest, ::testing::ValuesIn(ConvCases()),
                         [](const auto& info) { return info.param.name; });

// x NHWC -> Transpose(0,3,1,2) -> Conv -> Relu -> Transpose(0,2,3,1) -> y NHWC, the shape of a
// model exported from TensorFlow.
TEST(ConvTransposeTest, NhwcModelMatchesReference) {
  const Tensor w = RandomTensor({5, 3, 3, 3}, 21);
  const Tensor b = RandomTensor({5}, 22);
  OnnxModelBuilder m;
  m.Input("x", {-1, 6, 7, 3});
  m.Initializer("w", w);
  m.Initializer("b", b);
  m.Node("Transpose", {"x"}, {"nchw"}, "to_nchw").Ints("perm", {0, 3, 1, 2});
  m.Node("Conv", {"nchw", "w", "b"}, {"c"}, "conv").Ints("pads", {1, 1, 1, 1});
  m.Node("Relu", {"c"}, {"r"}, "relu");
  m.Node("Transpose", {"r"}, {"y"}, "to_nhwc").Ints("perm", {0, 2, 3, 1});
  m.Output("y");
  for (int64_t batch : {1, 2}) {
    const Tensor x = RandomTensor({batch, 6, 7, 3}, 23);
    const Tensor expected = ref::Transpose(
        ref::Relu(ref::Conv2D(ref::Transpose(x, {0, 3, 1, 2}), w, &b, Params({1, 1}, {1, 1}))),
        {0, 2, 3, 1});
    auto out = RunModelBytes(m.Serialize(), {x});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(AllClose((*out)[0], expected)) << "batch " << batch;
  }
}

TEST(ConvTransposeTest, TransposedInputAsGraphOutputAndConvInput) {
  // The permuted view is read twice: by the Conv and by the output copy.
  const Tensor w = RandomTensor({2, 3, 1, 1}, 24);
  OnnxModelBuilder m;
  m.Input("x", {1, 4, 5, 3});
  m.Initializer("w", w);
  m.Node("Transpose", {"x"}, {"nchw"}, "to_nchw").Ints("perm", {0, 3, 1, 2});
  m.Node("Conv", {"nchw", "w"}, {"y"}, "conv");
  m.Output("nchw");
  m.Output("y");
  const Tensor x = RandomTensor({1, 4, 5, 3}, 25);
  auto out = RunModelBytes(m.Serialize(), {x});
  ASSERT_TRUE(out.ok()) << out.status();
  const Tensor nchw = ref::Transpose(x, {0, 3, 1, 2});
  EXPECT_TRUE(AllClose((*out)[0], nchw));
  EXPECT_TRUE(AllClose((*out)[1], ref::Conv2D(nchw, w, nullptr, Params({0, 0}, {0, 0}))));
}

struct BatchNormParams {
  Tensor scale, bias, mean, var;
};

BatchNormParams RandomBatchNorm(int64_t channels, uint32_t seed) {
  return {RandomTensor({channels}, seed, 0.5f, 1.5f), RandomTensor({channels}, seed + 1),
          RandomTensor({channels}, seed + 2), RandomTensor({channels}, seed + 3, 0.2f, 2.0f)};
}

void AddBatchNorm(OnnxModelBuilder& m, const BatchNormParams& bn, const std::string& x,
                  const std::string& y, float epsilon) {
  m.Initializer("bn_scale", bn.scale);
  m.Initializer("bn_bias", bn.bias);
  m.Initializer("bn_mean", bn.mean);
  m.Initializer("bn_var", bn.var);
  m.Node("BatchNormalization", {x, "bn_scale", "bn_bias", "bn_mean", "bn_var"}, {y}, "bn")
      .Float("epsilon", epsilon);
}

TEST(BatchNormTest, StandaloneMatchesReference) {
  const BatchNormParams bn = RandomBatchNorm(3, 31);
  for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{4, 3}}) {
    OnnxModelBuilder m;
    Shape declared = shape;
    declared[0] = -1;
    m.Input("x", declared);
    AddBatchNorm(m, bn, "x", "y", 1e-3f);
    m.Output("y");
    const Tensor x = RandomTensor(shape, 32);
    auto out = RunModelBytes(m.Serialize(), {x});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(AllClose((*out)[0], ref::BatchNorm(x, bn.scale, bn.bias, bn.mean, bn.var, 1e-3f)))
        << ShapeToString(shape);
  }
}

TEST(BatchNormTest, FoldedIntoConvMatchesUnfoldedAndReference) {
  const Tensor w = RandomTensor({6, 3, 3, 3}, 41);
  const Tensor b = RandomTensor({6}, 42);
  const BatchNormParams bn = RandomBatchNorm(6, 43);
  for (bool with_bias : {true, false}) {
    OnnxModelBuilder m;
    m.Input("x", {-1, 3, 6, 6});
    m.Initializer("w", w);
    std::vector<std::string> conv_inputs = {"x", "w"};
    if (with_bias) {
      m.Initializer("b", b);
      conv_inputs.push_back("b");
    }
    m.Node("Conv", conv_inputs, {"c"}, "conv").Ints("pads", {1, 1, 1, 1});
    AddBatchNorm(m, bn, "c", "n", 1e-5f);
    m.Node("Relu", {"n"}, {"y"}, "relu");
    m.Output("y");

    auto folded = Model::FromBytes(m.Serialize());
    ASSERT_TRUE(folded.ok()) << folded.status();
    for (const Node& node : (*folded)->graph().nodes()) {
      EXPECT_NE(node.op_type, "BatchNormalization");
    }
    const Tensor x = RandomTensor({2, 3, 6, 6}, 44);
    auto optimized = testing::RunModel(*folded, {x});
    auto unoptimized = RunModelBytes(m.Serialize(), {x}, WithoutPasses());
    ASSERT_TRUE(optimized.ok()) << optimized.status();
    ASSERT_TRUE(unoptimized.ok()) << unoptimized.status();
    const Tensor expected = ref::Relu(
        ref::BatchNorm(ref::Conv2D(x, w, with_bias ? &b : nullptr, Params({1, 1}, {1, 1})),
                       bn.scale, bn.bias, bn.mean, bn.var, 1e-5f));
    EXPECT_TRUE(AllClose((*optimized)[0], expected)) << "bias " << with_bias;
    EXPECT_TRUE(AllClose((*unoptimized)[0], expected)) << "bias " << with_bias;
  }
}

}  // namespace
}  // namespace octet
