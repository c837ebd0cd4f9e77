// Numerics of Gemm and MatMul against naive reference loops: Gemm with transA / transB, alpha,
// beta, constant or runtime B, and C as a bias vector, a [1, N] row, a scalar, a full [M, N]
// matrix (constant and runtime); MatMul in 2-D, 3-D, with batch broadcasting and 1-D operands.
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

constexpr int64_t kM = 3, kK = 5, kN = 4;

struct GemmCase {
  std::string name;
  bool trans_a = false;
  bool trans_b = false;
  float alpha = 1.0f;
  float beta = 1.0f;
  Shape c;               // empty: no C; {0}: C is a scalar
  bool b_input = false;  // B a graph input instead of an initializer
  bool c_input = false;  // C a graph input instead of an initializer
};

class GemmNumericsTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmNumericsTest, MatchesReferenceLoops) {
  const GemmCase& g = GetParam();
  const Shape a_shape = g.trans_a ? Shape{kK, kM} : Shape{kM, kK};
  const Shape b_shape = g.trans_b ? Shape{kN, kK} : Shape{kK, kN};
  const Tensor a = RandomTensor(a_shape, 1);
  const Tensor b = RandomTensor(b_shape, 2);
  const bool has_c = !g.c.empty();
  const Tensor c = has_c ? RandomTensor(g.c == Shape{0} ? Shape{} : g.c, 3) : Tensor();

  OnnxModelBuilder m;
  m.Input("a", a_shape);
  std::vector<Tensor> inputs = {a};
  if (g.b_input) {
    m.Input("b", b_shape);
    inputs.push_back(b);
  } else {
    m.Initializer("b", b);
  }
  std::vector<std::string> node_inputs = {"a", "b"};
  if (has_c) {
    if (g.c_input) {
      m.Input("c", c.shape());
      inputs.push_back(c);
    } else {
      m.Initializer("c", c);
    }
    node_inputs.push_back("c");
  }
  testing::NodeAttributes gemm = m.Node("Gemm", node_inputs, {"y"}, "gemm");
  if (g.trans_a) gemm.Int("transA", 1);
  if (g.trans_b) gemm.Int("transB", 1);
  if (g.alpha != 1.0f) gemm.Float("alpha", g.alpha);
  if (g.beta != 1.0f) gemm.Float("beta", g.beta);
  m.Output("y");

  const Tensor expected =
      ref::Gemm(a, b, has_c ? &c : nullptr, g.trans_a, g.trans_b, g.alpha, g.beta);
  // The file's M is fixed; dim 0 of A is not a batch dimension here.
  ModelOptions options;
  options.dynamic_batch = false;
  ModelOptions unoptimized = WithoutPasses();
  unoptimized.dynamic_batch = false;
  for (const ModelOptions& o : {options, unoptimized}) {
    auto out = RunModelBytes(m.Serialize(), inputs, o);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(AllClose((*out)[0], expected));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GemmNumericsTest,
    ::testing::ValuesIn(std::vector<GemmCase>{
        {"plain_no_c", false, false, 1.0f, 1.0f, {}, false, false},
        {"bias_vector", false, false, 1.0f, 1.0f, {kN}, false, false},
        {"bias_row_trans_b_alpha_beta", false, true, 0.5f, 2.0f, {1, kN}, false, false},
        {"trans_a", true, false, 1.0f, 1.0f, {kN}, false, false},
        {"trans_a_trans_b_alpha", true, true, -1.5f, 1.0f, {kN}, false, false},
        {"scalar_c_beta", false, false, 1.0f, 0.25f, {0}, false, false},
        {"full_c", false, false, 1.0f, 1.0f, {kM, kN}, false, false},
        {"full_c_alpha_beta", false, true, 2.0f, -0.5f, {kM, kN}, false, false},
        {"column_c", false, false, 1.0f, 3.0f, {kM, 1}, false, false},
        {"runtime_b_alpha", false, false, 0.5f, 1.0f, {kN}, true, false},
        {"runtime_b_trans_b_alpha_full_c", false, true, 0.5f, 2.0f, {kM, kN}, true, false},
        {"runtime_c", false, false, 1.0f, 1.0f, {kM, kN}, false, true},
        {"runtime_c_alpha_beta", false, false, 2.0f, 0.5f, {kM, kN}, false, true},
        {"runtime_b_and_c_beta", false, true, 1.0f, -2.0f, {1, kN}, true, true},
        {"zero_beta", false, false, 1.0f, 0.0f, {kM, kN}, false, false},
    }),
    [](const auto& info) { return info.param.name; });

TEST(GemmTest, BatchedGemmWithBiasFollowsTheBatchDimension) {
  // A Gemm classifier head: [N, K] x [K, N'] + bias, run at several batch sizes.
  const Tensor b = RandomTensor({kK, kN}, 5);
  const Tensor c = RandomTensor({kN}, 6);
  OnnxModelBuilder m;
  m.Input("a", {1, kK});
  m.Initializer("b", b);
  m.Initializer("c", c);
  m.Node("Gemm", {"a", "b", "c"}, {"y"}, "fc");
  m.Output("y");
  for (int64_t batch : {1, 7}) {
    const Tensor a = RandomTensor({batch, kK}, 7);
    auto out = RunModelBytes(m.Serialize(), {a});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(AllClose((*out)[0], ref::Gemm(a, b, &c, false, false, 1.0f, 1.0f)));
  }
}

struct MatMulCase {
  std::string name;
  Shape a;
  Shape b;
  bool b_input = false;  // B a graph input instead of an initializer
};

class MatMulNumericsTest : public ::testing::TestWithParam<MatMulCase> {};

TEST_P(MatMulNumericsTest, MatchesReferenceLoops) {
  const MatMulCase& c = GetParam();
  const Tensor a = RandomTensor(c.a, 1);
  const Tensor b = RandomTensor(c.b, 2);
  OnnxModelBuilder m;
  m.Input("a", c.a);
  std::vector<Tensor> inputs = {a};
  if (c.b_input) {
    m.Input("b", c.b);
    inputs.push_back(b);
  } else {
    m.Initializer("b", b);
  }
  m.Node("MatMul", {"a", "b"}, {"y"}, "matmul");
  m.Output("y");
  ModelOptions options;
  options.dynamic_batch = false;
  auto out = RunModelBytes(m.Serialize(), inputs, options);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(AllClose((*out)[0], ref::MatMul(a, b)));
}

INSTANTIATE_TEST_SUITE_P(Cases, MatMulNumericsTest,
                         ::testing::ValuesIn(std::vector<MatMulCase>{
                             {"2d_const", {3, 5}, {5, 4}, false},
                             {"2d_inputs", {3, 5}, {5, 4}, true},
                             {"3d_by_2d_const", {2, 3, 5}, {5, 4}, false},
                             {"3d_by_3d_inputs", {2, 3, 5}, {2, 5, 4}, true},
                             {"broadcast_a_batch", {1, 3, 5}, {2, 5, 4}, true},
                             {"broadcast_b_batch", {2, 3, 5}, {1, 5, 4}, true},
                             {"broadcast_4d_both", {2, 1, 3, 5}, {4, 5, 6}, false},
                             {"1d_by_2d", {5}, {5, 4}, false},
                             {"2d_by_1d", {3, 5}, {5}, false},
                             {"3d_by_1d_input", {2, 3, 5}, {5}, true},
                             {"1d_by_3d", {5}, {2, 5, 4}, true},
                             {"1d_by_1d", {5}, {5}, true},
                         }),
                         [](const auto& info) { return info.param.name; });

TEST(MatMulTest, DynamicBatch3dMatchesPerSample) {
  const Tensor b = RandomTensor({5, 4}, 8);
  OnnxModelBuilder m;
  m.Input("a", {-1, 3, 5});
  m.Initializer("b", b);
  m.Node("MatMul", {"a", "b"}, {"y"}, "matmul");
  m.Output("y");
  const Tensor a = RandomTensor({4, 3, 5}, 9);
  auto out = RunModelBytes(m.Serialize(), {a});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(AllClose((*out)[0], ref::MatMul(a, b)));
}

}  // namespace
}  // namespace octet
