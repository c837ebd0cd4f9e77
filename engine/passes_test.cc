// The graph passes, seen through Model::graph() after loading: what gets folded or fused
// (BatchNormalization, bias Adds, zero Pads, Transpose of constants, MatMul + Add -> Gemm,
// activations and residual Adds as post-ops, Identity / Dropout), what must not be (a value
// with a second reader or one that is a graph output), and that every rewrite computes what
// the unoptimized graph computes.
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
using ::octet::testing::RunModel;
using ::octet::testing::RunModelBytes;
using ::octet::testing::WithoutPasses;
using ::testing::ElementsAre;

std::vector<std::string> OpTypes(const Model& model) {
  std::vector<std::string> ops;
  for (const Node& node : model.graph().nodes()) ops.push_back(node.op_type);
  return ops;
}

const Node* FindNode(const Model& model, const std::string& name) {
  for (const Node& node : model.graph().nodes()) {
    if (node.name == name) return &node;
  }
  return nullptr;
}

std::vector<PostOp::Kind> PostOpKinds(const Node& node) {
  std::vector<PostOp::Kind> kinds;
  for (const PostOp& op : node.post_ops) kinds.push_back(op.kind);
  return kinds;
}

std::shared_ptr<const Model> MustLoad(const OnnxModelBuilder& m, const ModelOptions& options = {}) {
  auto model = Model::FromBytes(m.Serialize(), options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

// Runs the model optimized and unoptimized on `inputs`; expects equal outputs and returns the
// optimized ones.
std::vector<Tensor> ExpectSameAsUnoptimized(const OnnxModelBuilder& m,
                                            const std::vector<Tensor>& inputs) {
  auto optimized = RunModelBytes(m.Serialize(), inputs);
  auto unoptimized = RunModelBytes(m.Serialize(), inputs, WithoutPasses());
  EXPECT_TRUE(optimized.ok()) << optimized.status();
  EXPECT_TRUE(unoptimized.ok()) << unoptimized.status();
  if (!optimized.ok() || !unoptimized.ok()) return {};
  EXPECT_EQ(optimized->size(), unoptimized->size());
  for (size_t i = 0; i < optimized->size() && i < unoptimized->size(); ++i) {
    EXPECT_TRUE(AllClose((*optimized)[i], (*unoptimized)[i])) << "output " << i;
  }
  return *std::move(optimized);
}

ref::ConvParams SamePads3x3() {
  ref::ConvParams p;
  p.pads_begin = p.pads_end = {1, 1};
  return p;
}

// x[N,4,6,6] -> conv "name" (3x3, pads 1, bias) -> out.
void AddConv(OnnxModelBuilder& m, const std::string& name, const std::string& x,
             const std::string& out, int64_t in_channels, int64_t out_channels, uint32_t seed) {
  m.Initializer(name + "_w", RandomTensor({out_channels, in_channels, 3, 3}, seed));
  m.Initializer(name + "_b", RandomTensor({out_channels}, seed + 1));
  m.Node("Conv", {x, name + "_w", name + "_b"}, {out}, name).Ints("pads", {1, 1, 1, 1});
}

TEST(PassesTest, ConvBatchNormIsFoldedIntoOneConv) {
  OnnxModelBuilder m;
  m.Input("x", {-1, 4, 6, 6});
  AddConv(m, "conv", "x", "c", 4, 4, 1);
  for (const char* name : {"s", "b", "mean"}) m.Initializer(name, RandomTensor({4}, 5));
  m.Initializer("var", RandomTensor({4}, 6, 0.5f, 2.0f));
  m.Node("BatchNormalization", {"c", "s", "b", "mean", "var"}, {"y"}, "bn");
  m.Output("y");
  auto model = MustLoad(m);
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(OpTypes(*model), ElementsAre("Conv"));
  EXPECT_EQ(model->outputs()[0].name, "y");
  ExpectSameAsUnoptimized(m, {RandomTensor({2, 4, 6, 6}, 7)});
}

TEST(PassesTest, ConvActivationsBecomeEltwisePostOps) {
  struct Case {
    std::string op;
    EltwiseKind kind;
    float alpha, beta;
  };
  for (const Case& c : std::vector<Case>{{"Relu", EltwiseKind::kRelu, 0.0f, 0.0f},
                                         {"LeakyRelu", EltwiseKind::kRelu, 0.1f, 0.0f},
                                         {"Clip", EltwiseKind::kClip, 0.0f, 6.0f},
                                         {"Sigmoid", EltwiseKind::kSigmoid, 0.0f, 0.0f}}) {
    OnnxModelBuilder m;
    m.Input("x", {-1, 4, 6, 6});
    AddConv(m, "conv", "x", "c", 4, 8, 1);
    m.ScalarInitializer("lo", 0.0f);
    m.ScalarInitializer("hi", 6.0f);
    if (c.op == "Clip") {
      m.Node("Clip", {"c", "lo", "hi"}, {"y"}, "act");
    } else if (c.op == "LeakyRelu") {
      m.Node(c.op, {"c"}, {"y"}, "act").Float("alpha", 0.1f);
    } else {
      m.Node(c.op, {"c"}, {"y"}, "act");
    }
    m.Output("y");
    auto model = MustLoad(m);
    ASSERT_NE(model, nullptr);
    EXPECT_THAT(OpTypes(*model), ElementsAre("Conv")) << c.op;
    const Node& conv = model->graph().nodes()[0];
    ASSERT_EQ(conv.post_ops.size(), 1u) << c.op;
    EXPECT_EQ(conv.post_ops[0].kind, PostOp::Kind::kEltwise);
    EXPECT_EQ(conv.post_ops[0].eltwise, c.kind) << c.op;
    EXPECT_FLOAT_EQ(conv.post_ops[0].alpha, c.alpha) << c.op;
    EXPECT_FLOAT_EQ(conv.post_ops[0].beta, c.beta) << c.op;
    EXPECT_EQ(model->outputs()[0].name, "y");
    ExpectSameAsUnoptimized(m, {RandomTensor({2, 4, 6, 6}, 2, -3.0f, 3.0f)});
  }
}

// A ResNet basic block: x -> conv0 -> relu -> [conv1 -> relu -> conv2] + skip -> relu.
OnnxModelBuilder ResidualBlock() {
  OnnxModelBuilder m;
  m.Input("x", {-1, 4, 6, 6});
  AddConv(m, "conv0", "x", "c0", 4, 8, 10);
  m.Node("Relu", {"c0"}, {"skip"}, "relu0");
  AddConv(m, "conv1", "skip", "c1", 8, 8, 20);
  m.Node("Relu", {"c1"}, {"r1"}, "relu1");
  AddConv(m, "conv2", "r1", "c2", 8, 8, 30);
  m.Node("Add", {"c2", "skip"}, {"sum"}, "residual");
  m.Node("Relu", {"sum"}, {"y"}, "relu_out");
  m.Output("y");
  return m;
}

TEST(PassesTest, ResidualAddBecomesSumPostOp) {
  OnnxModelBuilder m = ResidualBlock();
  auto model = MustLoad(m);
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(OpTypes(*model), ElementsAre("Conv", "Conv", "Conv"));
  const Node* conv2 = FindNode(*model, "conv2");
  ASSERT_NE(conv2, nullptr);
  EXPECT_THAT(PostOpKinds(*conv2), ElementsAre(PostOp::Kind::kSum, PostOp::Kind::kEltwise));
  const int sum_input = conv2->post_ops[0].input_index;
  ASSERT_GE(sum_input, 0);
  ASSERT_LT(sum_input, static_cast<int>(conv2->inputs.size()));
  // The residual operand is conv0's (relu-fused) output.
  const Node* conv0 = FindNode(*model, "conv0");
  ASSERT_NE(conv0, nullptr);
  EXPECT_EQ(conv2->inputs[sum_input], conv0->outputs[0]);

  const Tensor x = RandomTensor({3, 4, 6, 6}, 40);
  std::vector<Tensor> out = ExpectSameAsUnoptimized(m, {x});
  ASSERT_EQ(out.size(), 1u);
  // And against the loops, so that "same as unoptimized" is not "equally wrong".
  const Tensor b0 = RandomTensor({8}, 11);
  const Tensor skip = ref::Relu(ref::Conv2D(x, RandomTensor({8, 4, 3, 3}, 10), &b0, SamePads3x3()));
  const Tensor b1 = RandomTensor({8}, 21);
  const Tensor r1 =
      ref::Relu(ref::Conv2D(skip, RandomTensor({8, 8, 3, 3}, 20), &b1, SamePads3x3()));
  const Tensor b2 = RandomTensor({8}, 31);
  const Tensor c2 = ref::Conv2D(r1, RandomTensor({8, 8, 3, 3}, 30), &b2, SamePads3x3());
  EXPECT_TRUE(AllClose(out[0], ref::Relu(ref::Add(c2, skip))));
}

TEST(PassesTest, ResidualAddOfGraphInputAndOfTwoConvs) {
  {
    // y = conv(x) + x: the residual operand is a graph input, which must not be overwritten.
    OnnxModelBuilder m;
    m.Input("x", {-1, 4, 6, 6});
    AddConv(m, "conv", "x", "c", 4, 4, 1);
    m.Node("Add", {"x", "c"}, {"y"}, "residual");
    m.Output("y");
    auto model = MustLoad(m);
    ASSERT_NE(model, nullptr);
    EXPECT_THAT(OpTypes(*model), ElementsAre("Conv"));
    const Tensor x = RandomTensor({2, 4, 6, 6}, 2);
    const Tensor x_copy = x;
    ExpectSameAsUnoptimized(m, {x});
    EXPECT_TRUE(AllClose(x, x_copy)) << "the caller's input was modified";
  }
  {
    // y = conv_a(x) + conv_b(x): the later conv adds the earlier one's output.
    OnnxModelBuilder m;
    m.Input("x", {-1, 4, 6, 6});
    AddConv(m, "conv_a", "x", "a", 4, 8, 3);
    AddConv(m, "conv_b", "x", "b", 4, 8, 5);
    m.Node("Add", {"a", "b"}, {"y"}, "residual");
    m.Output("y");
    auto model = MustLoad(m);
    ASSERT_NE(model, nullptr);
    EXPECT_THAT(OpTypes(*model), ElementsAre("Conv", "Conv"));
    ExpectSameAsUnoptimized(m, {RandomTensor({2, 4, 6, 6}, 4)});
  }
}

TEST(PassesTest, ValueWithASecondReaderIsNotFused) {
  // conv's output feeds the Add, the Relu and the Sigmoid: neither may be fused into it.
  OnnxModelBuilder m;
  m.Input("x", {-1, 4, 6, 6});
  AddConv(m, "conv0", "x", "skip", 4, 4, 1);
  AddConv(m, "conv", "skip", "c", 4, 4, 3);
  m.Node("Add", {"c", "skip"}, {"sum"}, "residual");
  m.Node("Sigmoid", {"c"}, {"gate"}, "gate");
  m.Node("Mul", {"sum", "gate"}, {"y"}, "mul");
  m.Output("y");
  auto model = MustLoad(m);
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(OpTypes(*model), ElementsAre("Conv", "Conv", "Add", "Sigmoid", "Mul"));
  EXPECT_TRUE(FindNode(*model, "conv")->post_ops.empty());
  ExpectSameAsUnoptimized(m, {RandomTensor({2, 4, 6, 6}, 5)});
}

TEST(PassesTest, BatchNormAfterAConvWithTwoReadersIsNotFolded) {
  OnnxModelBuilder m;
  m.Input("x", {-1, 4, 6, 6});
  AddConv(m, "conv", "x", "c", 4, 4, 1);
  for (const char* name : {"s", "b", "mean"}) m.Initializer(name, RandomTensor({4}, 5));
  m.Initializer("var", RandomTensor({4}, 6, 0.5f, 2.0f));
  m.Node("BatchNormalization", {"c", "s", "b", "mean", "var"}, {"n"}, "bn");
  m.Node("Add", {"n", "c"}, {"y"}, "add");
  m.Output("y");
  auto model = MustLoad(m);
  ASSERT_NE(model, nullptr);
  EXPECT_NE(FindNode(*model, "bn"), nullptr);
  ExpectSameAsUnoptimized(m, {RandomTensor({2, 4, 6, 6}, 7)});
}

TEST(PassesTest, ConvWhoseOutputIsAGraphOutputKeepsItsActivationSeparate) {
  OnnxModelBuilder m;
  m.Input("x", {-1, 4, 6, 6});
  AddConv(m, "conv", "x", "c", 4, 4, 1);
  m.Node("Relu", {"c"}, {"y"}, "relu");
  m.Output("c");
  m.Output("y");
  auto model = MustLoad(m);
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(OpTypes(*model), ElementsAre("Conv", "Relu"));
  EXPECT_TRUE(FindNode(*model, "conv")->post_ops.empty());
  std::vector<Tensor> out = ExpectSameAsUnoptimized(m, {RandomTensor({2, 4, 6, 6}, 2)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(AllClose(out[1], ref::Relu(out[0])));
  EXPECT_FALSE(AllClose(out[0], out[1])) << "the pre-activation output lost its negatives";
}

TEST(PassesTest, IdentityAndDropoutAreRemoved) {
  OnnxModelBuilder m;
  m.Input("x", {-1, 4, 6, 6});
  m.Node("Identity", {"x"}, {"xi"}, "identity");
  AddConv(m, "conv", "xi", "c", 4, 4, 1);
  m.Node("Dropout", {"c"}, {"d"}, "dropout").Float("ratio", 0.5f);
  m.Node("Relu", {"d"}, {"y"}, "relu");
  m.Output("y");
  auto model = MustLoad(m);
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(OpTypes(*model), ElementsAre("Conv"));
  ExpectSameAsUnoptimized(m, {RandomTensor({2, 4, 6, 6}, 2)});
}

TEST(PassesTest, IdentityProducingAGraphOutputKeepsTheOutputName) {
  {
    OnnxModelBuilder m;
    m.Input("x", {-1, 4});
    m.Node("Relu", {"x"}, {"r"}, "relu");
    m.Node("Identity", {"r"}, {"y"}, "identity");
    m.Output("y");
    auto model = MustLoad(m);
    ASSERT_NE(model, nullptr);
    ASSERT_EQ(model->outputs().size(), 1u);
    EXPECT_EQ(model->outputs()[0].name, "y");
    const Tensor x = RandomTensor({2, 4}, 3);
    auto out = RunModel(model, {x});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(AllClose((*out)[0], ref::Relu(x)));
  }
  {
    // Input straight to output, and one value under two output names.
    OnnxModelBuilder m;
    m.Input("x", {-1, 4});
    m.Node("Identity", {"x"}, {"y"}, "identity");
    m.Node("Relu", {"x"}, {"r"}, "relu");
    m.Node("Dropout", {"r"}, {"r2"}, "dropout");
    m.Output("y");
    m.Output("r");
    m.Output("r2");
    auto model = MustLoad(m);
    ASSERT_NE(model, nullptr);
    ASSERT_EQ(model->outputs().size(), 3u);
    EXPECT_EQ(model->outputs()[0].name, "y");
    EXPECT_EQ(model->outputs()[1].name, "r");
    EXPECT_EQ(model->outputs()[2].name, "r2");
    const Tensor x = RandomTensor({2, 4}, 3);
    auto out = RunModel(model, {x});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), 3u);
    EXPECT_TRUE(AllClose((*out)[0], x));
    EXPECT_TRUE(AllClose((*out)[1], ref::Relu(x)));
    EXPECT_TRUE(AllClose((*out)[2], ref::Relu(x)));
  }
}

TEST(PassesTest, TransposeOfConstantWeightsIsFolded) {
  // Weights stored HWIO (as TensorFlow keeps them) and transposed to OIHW in the graph.
  const Tensor hwio = RandomTensor({3, 3, 4, 6}, 8);
  OnnxModelBuilder m;
  m.Input("x", {-1, 4, 6, 6});
  m.Initializer("w_hwio", hwio);
  m.Node("Transpose", {"w_hwio"}, {"w"}, "weights_to_oihw").Ints("perm", {3, 2, 0, 1});
  m.Node("Conv", {"x", "w"}, {"y"}, "conv").Ints("pads", {1, 1, 1, 1});
  m.Output("y");
  auto model = MustLoad(m);
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(OpTypes(*model), ElementsAre("Conv"));
  const Node& conv = model->graph().nodes()[0];
  ASSERT_TRUE(model->graph().IsConstant(conv.inputs[1]));
  EXPECT_EQ(model->graph().constant(conv.inputs[1]).shape(), (Shape{6, 4, 3, 3}));
  const Tensor x = RandomTensor({2, 4, 6, 6}, 9);
  std::vector<Tensor> out = ExpectSameAsUnoptimized(m, {x});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(
      AllClose(out[0], ref::Conv2D(x, ref::Transpose(hwio, {3, 2, 0, 1}), nullptr, SamePads3x3())));
}

TEST(PassesTest, MatMulPlusConstantAddBecomesGemmWithBias) {
  const Tensor w = RandomTensor({6, 5}, 10);
  const Tensor bias = RandomTensor({5}, 11);
  OnnxModelBuilder m;
  m.Input("x", {-1, 6});
  m.Initializer("w", w);
  m.Initializer("bias", bias);
  m.Node("MatMul", {"x", "w"}, {"mm"}, "matmul");
  m.Node("Add", {"mm", "bias"}, {"a"}, "add_bias");
  m.Node("Relu", {"a"}, {"y"}, "relu");
  m.Output("y");
  auto model = MustLoad(m);
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(OpTypes(*model), ElementsAre("Gemm"));
  const Node& gemm = model->graph().nodes()[0];
  ASSERT_GE(gemm.inputs.size(), 3u);
  EXPECT_TRUE(model->graph().IsConstant(gemm.inputs[2]));
  EXPECT_THAT(PostOpKinds(gemm), ElementsAre(PostOp::Kind::kEltwise));
  const Tensor x = RandomTensor({3, 6}, 12);
  std::vector<Tensor> out = ExpectSameAsUnoptimized(m, {x});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(AllClose(out[0], ref::Relu(ref::Add(ref::MatMul(x, w), bias))));
}

TEST(PassesTest, PerChannelAddIsFoldedAndOtherAddsAreNot) {
  {
    OnnxModelBuilder m;
    m.Input("x", {-1, 4, 6, 6});
    AddConv(m, "conv", "x", "c", 4, 4, 1);
    m.Initializer("per_channel", RandomTensor({4, 1, 1}, 3));
    m.Node("Add", {"c", "per_channel"}, {"y"}, "add");
    m.Output("y");
    auto model = MustLoad(m);
    ASSERT_NE(model, nullptr);
    EXPECT_THAT(OpTypes(*model), ElementsAre("Conv"));
    ExpectSameAsUnoptimized(m, {RandomTensor({2, 4, 6, 6}, 4)});
  }
  {
    // Varies along W: not a bias.
    OnnxModelBuilder m;
    m.Input("x", {-1, 4, 6, 6});
    AddConv(m, "conv", "x", "c", 4, 4, 1);
    m.Initializer("per_column", RandomTensor({6}, 3));
    m.Node("Add", {"c", "per_column"}, {"y"}, "add");
    m.Output("y");
    auto model = MustLoad(m);
    ASSERT_NE(model, nullptr);
    EXPECT_THAT(OpTypes(*model), ElementsAre("Conv", "Add"));
    ExpectSameAsUnoptimized(m, {RandomTensor({2, 4, 6, 6}, 4)});
  }
}

TEST(PassesTest, ZeroPadIsFoldedIntoConvAndOtherPadsAreNot) {
  for (float value : {0.0f, 1.0f}) {
    OnnxModelBuilder m;
    m.Input("x", {-1, 4, 6, 6});
    m.Int64Initializer("pads", {0, 0, 1, 2, 0, 0, 2, 1});
    m.ScalarInitializer("value", value);
    m.Node("Pad", {"x", "pads", "value"}, {"p"}, "pad");
    m.Initializer("w", RandomTensor({4, 4, 3, 3}, 1));
    m.Node("Conv", {"p", "w"}, {"y"}, "conv").Ints("pads", {1, 1, 1, 1});
    m.Output("y");
    auto model = MustLoad(m);
    ASSERT_NE(model, nullptr);
    if (value == 0.0f) {
      EXPECT_THAT(OpTypes(*model), ElementsAre("Conv"));
      EXPECT_EQ(model->graph().nodes()[0].attrs.GetInts("pads"),
                (std::vector<int64_t>{2, 3, 3, 2}));
    } else {
      EXPECT_THAT(OpTypes(*model), ElementsAre("Pad", "Conv"));
    }
    ExpectSameAsUnoptimized(m, {RandomTensor({2, 4, 6, 6}, 2)});
  }
}

TEST(PassesTest, DisabledPassesLeaveTheGraphAsImported) {
  OnnxModelBuilder m = ResidualBlock();
  auto model = MustLoad(m, WithoutPasses());
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(OpTypes(*model), ElementsAre("Conv", "Relu", "Conv", "Relu", "Conv", "Add", "Relu"));
  for (const Node& node : model->graph().nodes()) EXPECT_TRUE(node.post_ops.empty());
}

}  // namespace
}  // namespace octet
