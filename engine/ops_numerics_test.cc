// Numerics of the non-convolution operators against naive reference loops: MaxPool and
// AveragePool (pads, strides, count_include_pad, ceil_mode), GlobalAveragePool, Softmax in its
// opset 11 (2-D coercion) and opset 13 (single axis) meanings, Concat, Pad (constant, edge,
// reflect; pads as input and as attribute), Reshape / Flatten, Add with broadcasting and Clip
// with constant bounds.
#include <limits>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/testing/model_runner.h"
#include "engine/testing/onnx_model_builder.h"
#include "engine/testing/reference_kernels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

namespace ref = ::octet::testing::reference_kernels;
using ::octet::testing::AllClose;
using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::RandomTensor;
using ::octet::testing::RunModelBytes;

// Loads and runs the model on `inputs` and returns its first output (an empty tensor, after a
// failed expectation, when that does not work).
Tensor RunSingleOutput(const OnnxModelBuilder& m, const std::vector<Tensor>& inputs) {
  auto out = RunModelBytes(m.Serialize(), inputs);
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok() || out->empty()) return Tensor();
  return std::move((*out)[0]);
}

struct PoolCase {
  std::string name;
  bool max;
  Shape x;
  ref::PoolParams p;
};

ref::PoolParams Pool(std::vector<int64_t> kernel, std::vector<int64_t> strides,
                     std::vector<int64_t> pads_begin, std::vector<int64_t> pads_end,
                     bool ceil_mode = false, bool count_include_pad = false) {
  ref::PoolParams p;
  p.kernel = std::move(kernel);
  p.strides = std::move(strides);
  p.pads_begin = std::move(pads_begin);
  p.pads_end = std::move(pads_end);
  p.ceil_mode = ceil_mode;
  p.count_include_pad = count_include_pad;
  return p;
}

class PoolNumericsTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolNumericsTest, MatchesReferenceLoops) {
  const PoolCase& c = GetParam();
  OnnxModelBuilder m;
  m.Input("x", {-1, c.x[1], c.x[2], c.x[3]});
  testing::NodeAttributes pool = m.Node(c.max ? "MaxPool" : "AveragePool", {"x"}, {"y"}, "pool");
  pool.Ints("kernel_shape", c.p.kernel).Ints("strides", c.p.strides);
  pool.Ints("pads", {c.p.pads_begin[0], c.p.pads_begin[1], c.p.pads_end[0], c.p.pads_end[1]});
  if (c.p.ceil_mode) pool.Int("ceil_mode", 1);
  if (c.p.count_include_pad) pool.Int("count_include_pad", 1);
  m.Output("y");
  const Tensor x = RandomTensor(c.x, 3);
  const Tensor expected = c.max ? ref::MaxPool2D(x, c.p) : ref::AveragePool2D(x, c.p);
  EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), expected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PoolNumericsTest,
    ::testing::ValuesIn(std::vector<PoolCase>{
        {"max_2x2", true, {2, 3, 8, 8}, Pool({2, 2}, {2, 2}, {0, 0}, {0, 0})},
        {"max_3x3_s2_pads", true, {1, 2, 9, 9}, Pool({3, 3}, {2, 2}, {1, 1}, {1, 1})},
        {"max_asymmetric_pads", true, {1, 2, 7, 6}, Pool({3, 2}, {1, 2}, {0, 1}, {2, 0})},
        // 8 + 0 - 3 = 5 is not a multiple of 2: ceil_mode adds a partial window.
        {"max_ceil", true, {1, 2, 8, 8}, Pool({3, 3}, {2, 2}, {0, 0}, {0, 0}, true)},
        {"avg_exclude_pad", false, {2, 3, 7, 7}, Pool({3, 3}, {2, 2}, {1, 1}, {1, 1})},
        {"avg_include_pad", false, {2, 3, 7, 7}, Pool({3, 3}, {2, 2}, {1, 1}, {1, 1}, false, true)},
        {"avg_ceil_exclude_pad", false, {1, 2, 8, 8}, Pool({3, 3}, {2, 2}, {0, 0}, {0, 0}, true)},
        // The partial window of ceil_mode runs past the declared pads: those positions are not
        // counted even with count_include_pad.
        {"avg_ceil_include_pad",
         false,
         {1, 2, 8, 8},
         Pool({3, 3}, {2, 2}, {1, 1}, {1, 1}, true, true)},
        {"avg_ceil_include_pad_no_pads",
         false,
         {1, 2, 8, 8},
         Pool({3, 3}, {2, 2}, {0, 0}, {0, 0}, true, true)},
    }),
    [](const auto& info) { return info.param.name; });

TEST(PoolTest, GlobalAveragePoolMatchesReference) {
  OnnxModelBuilder m;
  m.Input("x", {-1, 5, 6, 7});
  m.Node("GlobalAveragePool", {"x"}, {"y"}, "gap");
  m.Output("y");
  const Tensor x = RandomTensor({3, 5, 6, 7}, 4);
  EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), ref::GlobalAveragePool(x)));
}

TEST(SoftmaxTest, Opset11CoercesTo2dAndOpset13UsesOneAxis) {
  const Tensor x = RandomTensor({2, 3, 4}, 5, -3.0f, 3.0f);
  const Tensor coerced = ref::SoftmaxCoerced2D(x, 1);
  const Tensor single_axis = ref::Softmax(x, 1);
  // The two meanings must differ on this input, or the test below proves nothing.
  ASSERT_FALSE(AllClose(coerced, single_axis, 1e-3));
  for (int64_t opset : {11, 13}) {
    OnnxModelBuilder m(opset);
    m.Input("x", {-1, 3, 4});
    m.Node("Softmax", {"x"}, {"y"}, "softmax").Int("axis", 1);
    m.Output("y");
    EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), opset == 11 ? coerced : single_axis))
        << "opset " << opset;
  }
}

TEST(SoftmaxTest, DefaultAxisDependsOnOpset) {
  // Opset 11: axis 1, coerced to [N, 12]; opset 13: axis -1.
  const Tensor x = RandomTensor({2, 3, 4}, 6, -3.0f, 3.0f);
  for (int64_t opset : {11, 13}) {
    OnnxModelBuilder m(opset);
    m.Input("x", {-1, 3, 4});
    m.Node("Softmax", {"x"}, {"y"}, "softmax");
    m.Output("y");
    const Tensor expected = opset == 11 ? ref::SoftmaxCoerced2D(x, 1) : ref::Softmax(x, 2);
    EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), expected)) << "opset " << opset;
  }
}

TEST(ConcatTest, InputsOnAxis1) {
  OnnxModelBuilder m;
  m.Input("a", {-1, 2, 4, 4});
  m.Input("b", {-1, 3, 4, 4});
  m.Node("Concat", {"a", "b", "a"}, {"y"}, "concat").Int("axis", 1);
  m.Output("y");
  const Tensor a = RandomTensor({2, 2, 4, 4}, 7);
  const Tensor b = RandomTensor({2, 3, 4, 4}, 8);
  EXPECT_TRUE(AllClose(RunSingleOutput(m, {a, b}), ref::Concat({&a, &b, &a}, 1)));
}

TEST(ConcatTest, ConvOutputsInBlockedLayoutsOnAxis1) {
  // Channel counts that are not multiples of oneDNN's blocks (8 or 16).
  const Tensor w1 = RandomTensor({3, 4, 3, 3}, 9);
  const Tensor w2 = RandomTensor({5, 4, 1, 1}, 10);
  OnnxModelBuilder m;
  m.Input("x", {-1, 4, 6, 6});
  m.Initializer("w1", w1);
  m.Initializer("w2", w2);
  m.Node("Conv", {"x", "w1"}, {"c1"}, "conv1").Ints("pads", {1, 1, 1, 1});
  m.Node("Conv", {"x", "w2"}, {"c2"}, "conv2");
  m.Node("Concat", {"c1", "c2"}, {"y"}, "concat").Int("axis", 1);
  m.Output("y");
  const Tensor x = RandomTensor({2, 4, 6, 6}, 11);
  ref::ConvParams p1;
  p1.pads_begin = p1.pads_end = {1, 1};
  const Tensor c1 = ref::Conv2D(x, w1, nullptr, p1);
  const Tensor c2 = ref::Conv2D(x, w2, nullptr, ref::ConvParams());
  EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), ref::Concat({&c1, &c2}, 1)));
}

TEST(PadTest, ModesWithPadsAsInput) {
  const std::vector<int64_t> pads = {0, 0, 1, 2, 0, 0, 2, 1};
  const Tensor x = RandomTensor({2, 3, 4, 5}, 12);
  for (const std::string mode : {"constant", "edge", "reflect"}) {
    OnnxModelBuilder m;
    m.Input("x", {-1, 3, 4, 5});
    m.Int64Initializer("pads", pads);
    std::vector<std::string> inputs = {"x", "pads"};
    if (mode == "constant") {
      m.ScalarInitializer("value", 0.75f);
      inputs.push_back("value");
    }
    m.Node("Pad", inputs, {"y"}, "pad").String("mode", mode);
    m.Output("y");
    EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), ref::Pad(x, pads, mode, 0.75f))) << mode;
  }
}

TEST(PadTest, Opset7AttributesAndZeroPadBeforeConv) {
  const std::vector<int64_t> pads = {0, 0, 1, 1, 0, 0, 0, 2};
  const Tensor x = RandomTensor({1, 2, 5, 5}, 13);
  const Tensor w = RandomTensor({3, 2, 3, 3}, 14);
  OnnxModelBuilder m(7);
  m.Input("x", {-1, 2, 5, 5});
  m.Initializer("w", w);
  m.Node("Pad", {"x"}, {"padded"}, "pad").Ints("pads", pads).Float("value", 0.0f);
  m.Node("Conv", {"padded", "w"}, {"y"}, "conv");
  m.Output("y");
  const Tensor expected = ref::Conv2D(ref::Pad(x, pads, "constant", 0.0f), w, nullptr, {});
  EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), expected));
}

TEST(ReshapeTest, ReshapeAndFlatten) {
  const Tensor x = RandomTensor({2, 3, 4, 5}, 15);
  {
    // 0 copies the batch dimension; -1 is inferred.
    OnnxModelBuilder m;
    m.Input("x", {-1, 3, 4, 5});
    m.Int64Initializer("shape", {0, -1, 5});
    m.Node("Reshape", {"x", "shape"}, {"r"}, "reshape");
    m.Node("Relu", {"r"}, {"y"}, "relu");
    m.Output("y");
    Tensor expected = ref::Relu(x);
    expected.Reshape({2, 12, 5});
    EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), expected));
  }
  for (int64_t axis : {1, 2}) {
    OnnxModelBuilder m;
    m.Input("x", {-1, 3, 4, 5});
    m.Node("Flatten", {"x"}, {"y"}, "flatten").Int("axis", axis);
    m.Output("y");
    Tensor expected = x;
    expected.Reshape(axis == 1 ? Shape{2, 60} : Shape{6, 20});
    EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), expected)) << "axis " << axis;
  }
}

TEST(ReshapeTest, FlattenOfBlockedConvOutput) {
  // The Conv's blocked layout must be reordered to plain before the reshape reinterprets it.
  const Tensor w = RandomTensor({10, 3, 3, 3}, 16);
  OnnxModelBuilder m;
  m.Input("x", {-1, 3, 5, 5});
  m.Initializer("w", w);
  m.Node("Conv", {"x", "w"}, {"c"}, "conv").Ints("pads", {1, 1, 1, 1});
  m.Node("Flatten", {"c"}, {"y"}, "flatten");
  m.Output("y");
  const Tensor x = RandomTensor({2, 3, 5, 5}, 17);
  ref::ConvParams p;
  p.pads_begin = p.pads_end = {1, 1};
  Tensor expected = ref::Conv2D(x, w, nullptr, p);
  expected.Reshape({2, 250});
  EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), expected));
}

TEST(AddTest, BroadcastingShapes) {
  struct Case {
    Shape a, b;
    bool b_input;
  };
  for (const Case& c : std::vector<Case>{{{2, 3, 4, 4}, {3, 1, 1}, false},
                                         {{2, 3, 4, 4}, {4}, false},
                                         {{2, 3, 4, 4}, {1}, false},
                                         {{2, 3, 4, 4}, {2, 3, 4, 4}, true},
                                         {{2, 3, 4, 4}, {2, 1, 4, 4}, true},
                                         {{2, 1, 4, 4}, {2, 3, 4, 4}, true}}) {
    OnnxModelBuilder m;
    Shape declared_a = c.a;
    declared_a[0] = -1;
    m.Input("a", declared_a);
    const Tensor a = RandomTensor(c.a, 18);
    const Tensor b = RandomTensor(c.b, 19);
    std::vector<Tensor> inputs = {a};
    if (c.b_input) {
      Shape declared_b = c.b;
      declared_b[0] = -1;
      m.Input("b", declared_b);
      inputs.push_back(b);
    } else {
      m.Initializer("b", b);
    }
    m.Node("Add", {"a", "b"}, {"y"}, "add");
    m.Output("y");
    EXPECT_TRUE(AllClose(RunSingleOutput(m, inputs), ref::Add(a, b)))
        << ShapeToString(c.a) << " + " << ShapeToString(c.b);
  }
}

TEST(ClipTest, ConstantBoundsAsInputsAndAttributes) {
  const Tensor x = RandomTensor({2, 3, 4}, 20, -10.0f, 10.0f);
  {
    OnnxModelBuilder m(13);
    m.Input("x", {-1, 3, 4});
    m.ScalarInitializer("lo", -1.5f);
    m.ScalarInitializer("hi", 6.0f);
    m.Node("Clip", {"x", "lo", "hi"}, {"y"}, "clip");
    m.Output("y");
    EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), ref::Clip(x, -1.5f, 6.0f)));
  }
  {
    // Only a max: the min input is omitted.
    OnnxModelBuilder m(13);
    m.Input("x", {-1, 3, 4});
    m.ScalarInitializer("hi", 2.0f);
    m.Node("Clip", {"x", "", "hi"}, {"y"}, "clip");
    m.Output("y");
    const float lowest = std::numeric_limits<float>::lowest();
    EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), ref::Clip(x, lowest, 2.0f)));
  }
  {
    OnnxModelBuilder m(7);
    m.Input("x", {-1, 3, 4});
    m.Node("Clip", {"x"}, {"y"}, "clip").Float("min", 0.0f).Float("max", 6.0f);
    m.Output("y");
    EXPECT_TRUE(AllClose(RunSingleOutput(m, {x}), ref::Clip(x, 0.0f, 6.0f)));
  }
}

TEST(ClipTest, RuntimeBoundIsAnErrorNamingTheNode) {
  OnnxModelBuilder m(13);
  m.Input("x", {1, 4});
  m.Input("hi", {});
  m.Node("Clip", {"x", "", "hi"}, {"y"}, "runtime_clip");
  m.Output("y");
  auto model = Model::FromBytes(m.Serialize());
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kUnimplemented) << model.status();
  EXPECT_THAT(std::string(model.status().message()), ::testing::HasSubstr("runtime_clip"));
}

}  // namespace
}  // namespace octet
