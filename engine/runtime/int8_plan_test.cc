// The shape of compiled INT8 plans and their consistency:
//  - a chain of INT8 operators stays INT8 end to end: one quantizing reorder at the input, u8
//    between the layers (pooling and flattening included), and the last INT8 layer writes f32
//    itself, with no dequantizing reorder before the output;
//  - in a mixed plan, Quantize/Dequantize reorders appear only where the precision changes
//    (an INT8 layer whose readers are FP32 writes f32 directly, so the edge may cost nothing);
//  - a batch computes what its samples compute alone, and 1 and 2 threads agree bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model.h"
#include "engine/quantize_graph.h"
#include "engine/runtime/plan.h"
#include "engine/runtime/plan_builder.h"
#include "engine/session.h"
#include "engine/testing/int8_reference.h"
#include "engine/testing/model_runner.h"
#include "engine/testing/onnx_model_builder.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using dnnl::memory;
using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::QuantizeForTest;
using ::octet::testing::RandomTensor;
using ::octet::testing::RunModel;

const Shape kInputShape = {2, 3, 16, 16};

// Conv -> Relu -> Conv -> MaxPool -> Conv -> GlobalAveragePool -> Flatten -> Gemm.
std::shared_ptr<const Model> ChainModel() {
  OnnxModelBuilder m;
  m.Input("x", {-1, 3, 16, 16});
  m.Initializer("w1", RandomTensor({8, 3, 3, 3}, 1, -0.5f, 0.5f));
  m.Initializer("b1", RandomTensor({8}, 2));
  m.Node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1").Ints("pads", {1, 1, 1, 1});
  m.Node("Relu", {"c1"}, {"r1"}, "relu1");
  m.Initializer("w2", RandomTensor({8, 8, 3, 3}, 3, -0.3f, 0.3f));
  m.Initializer("b2", RandomTensor({8}, 4));
  m.Node("Conv", {"r1", "w2", "b2"}, {"c2"}, "conv2").Ints("pads", {1, 1, 1, 1});
  m.Node("MaxPool", {"c2"}, {"p2"}, "pool").Ints("kernel_shape", {2, 2}).Ints("strides", {2, 2});
  m.Initializer("w3", RandomTensor({16, 8, 3, 3}, 5, -0.3f, 0.3f));
  m.Initializer("b3", RandomTensor({16}, 6));
  m.Node("Conv", {"p2", "w3", "b3"}, {"c3"}, "conv3").Ints("pads", {1, 1, 1, 1});
  m.Node("GlobalAveragePool", {"c3"}, {"g"}, "gap");
  m.Node("Flatten", {"g"}, {"f"}, "flatten");
  m.Initializer("fc_w", RandomTensor({10, 16}, 7));
  m.Initializer("fc_b", RandomTensor({10}, 8));
  m.Node("Gemm", {"f", "fc_w", "fc_b"}, {"logits"}, "fc").Int("transB", 1);
  m.Output("logits");
  auto model = Model::FromBytes(m.Serialize());
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

// Calibrated (minmax) on `calibration`, with `fp32_nodes` left in FP32.
std::shared_ptr<const Model> Quantized(const Model& fp32, const Tensor& calibration,
                                       const std::vector<std::string>& fp32_nodes) {
  PrecisionPlan plan = PrecisionPlan::AllInt8(fp32.graph());
  for (const std::string& node : fp32_nodes) plan.nodes.erase(node);
  return QuantizeForTest(fp32, calibration, plan, DefaultQuantizationOptions());
}

// The reorders of a plan, by the representation they convert between.
struct ReorderCounts {
  int quantize = 0;    // f32 -> u8
  int dequantize = 0;  // u8 -> f32
  int requantize = 0;  // u8 -> u8 with other parameters
  int layout = 0;      // same data type and parameters (layout changes, output copies)
  std::vector<std::string> quantize_names;
  std::vector<std::string> dequantize_names;
};

bool IsU8(const runtime::Slot& slot) { return slot.md.data_type() == memory::data_type::u8; }

ReorderCounts CountReorders(const runtime::Plan& plan) {
  ReorderCounts counts;
  for (const runtime::Step& step : plan.steps) {
    if (step.primitive == nullptr || step.primitive->get_kind() != dnnl::primitive::kind::reorder) {
      continue;
    }
    int src = -1;
    int dst = -1;
    for (const auto& [arg, slot] : step.args) {
      if (arg == DNNL_ARG_FROM) src = slot;
      if (arg == DNNL_ARG_TO) dst = slot;
    }
    const runtime::Slot& from = plan.slots[src];
    const runtime::Slot& to = plan.slots[dst];
    if (!IsU8(from) && IsU8(to)) {
      ++counts.quantize;
      counts.quantize_names.push_back(step.name);
    } else if (IsU8(from) && !IsU8(to)) {
      ++counts.dequantize;
      counts.dequantize_names.push_back(step.name);
    } else if (IsU8(from) && !runtime::SameQuantization(from.quant, to.quant)) {
      ++counts.requantize;
    } else {
      ++counts.layout;
    }
  }
  return counts;
}

// The data type of argument `arg` of the step named `name`.
memory::data_type ArgType(const runtime::Plan& plan, const std::string& name, int arg) {
  for (const runtime::Step& step : plan.steps) {
    if (step.name != name) continue;
    for (const auto& [a, slot] : step.args) {
      if (a == arg) return plan.slots[slot].md.data_type();
    }
  }
  ADD_FAILURE() << "no step '" << name << "' with argument " << arg;
  return memory::data_type::undef;
}

std::string StepNames(const runtime::Plan& plan) {
  std::string names;
  for (const runtime::Step& step : plan.steps) absl::StrAppend(&names, step.name, "; ");
  return names;
}

// Sanity tolerance for a whole chain against FP32: 5% of the largest FP32 logit. (The tight,
// derived bounds are per layer, in int8_numerics_test.cc; a misplaced or missing reorder is
// off by whole scales, far beyond this.)
void ExpectCloseToFp32(const Model& fp32, const std::shared_ptr<const Model>& int8,
                       const Tensor& x) {
  auto expected = RunModel(std::shared_ptr<const Model>(&fp32, [](const Model*) {}), {x});
  auto actual = RunModel(int8, {x});
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_TRUE(actual.ok()) << actual.status();
  double largest = 0.0;
  double max_error = 0.0;
  for (int64_t i = 0; i < (*expected)[0].num_elements(); ++i) {
    const double e = (*expected)[0].data<float>()[i];
    largest = std::max(largest, std::abs(e));
    max_error = std::max(max_error, std::abs((*actual)[0].data<float>()[i] - e));
  }
  EXPECT_LE(max_error, 0.05 * largest) << "largest FP32 logit " << largest;
  ::testing::Test::RecordProperty("max_error_vs_fp32", absl::StrCat(max_error));
  ::testing::Test::RecordProperty("largest_fp32_logit", absl::StrCat(largest));
}

class Int8PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fp32_ = ChainModel();
    ASSERT_NE(fp32_, nullptr);
  }

  // The plan a session compiles for kInputShape.
  std::shared_ptr<const runtime::Plan> PlanOf(const std::shared_ptr<const Model>& model) {
    auto session = Session::Create(model, {1});
    EXPECT_TRUE(session.ok()) << session.status();
    if (!session.ok()) return nullptr;
    const absl::Status prepared = (*session)->Prepare({kInputShape});
    EXPECT_TRUE(prepared.ok()) << prepared;
    auto plan = model->GetPlan({kInputShape}, 1);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() ? *plan : nullptr;
  }

  std::shared_ptr<const Model> fp32_;
  const Tensor calibration_ = RandomTensor({8, 3, 16, 16}, 20);
  const Tensor x_ = RandomTensor(kInputShape, 21);
};

TEST_F(Int8PlanTest, AllInt8ChainStaysInt8EndToEnd) {
  auto int8 = Quantized(*fp32_, calibration_, {});
  ASSERT_NE(int8, nullptr);
  EXPECT_EQ(PrecisionPlan::AllInt8(fp32_->graph()).CountInt8(), 4);
  auto plan = PlanOf(int8);
  ASSERT_NE(plan, nullptr);
  const ReorderCounts counts = CountReorders(*plan);
  EXPECT_EQ(counts.quantize, 1) << StepNames(*plan);
  EXPECT_EQ(counts.dequantize, 0) << StepNames(*plan);
  EXPECT_EQ(counts.requantize, 0) << StepNames(*plan);
  ASSERT_FALSE(counts.quantize_names.empty());
  EXPECT_EQ(counts.quantize_names[0], "reorder x");
  // The input's quantization is the first step: everything after it computes on u8.
  EXPECT_EQ(plan->steps.front().name, "reorder x");
  for (const std::string node : {"conv1", "conv2", "pool", "conv3", "gap", "fc"}) {
    EXPECT_EQ(ArgType(*plan, node, DNNL_ARG_SRC), memory::data_type::u8) << node;
  }
  for (const std::string node : {"conv1", "conv2", "pool", "conv3", "gap"}) {
    EXPECT_EQ(ArgType(*plan, node, DNNL_ARG_DST), memory::data_type::u8) << node;
  }
  // The last INT8 layer writes the output's f32 itself.
  EXPECT_EQ(ArgType(*plan, "fc", DNNL_ARG_DST), memory::data_type::f32);
  ExpectCloseToFp32(*fp32_, int8, x_);
}

TEST_F(Int8PlanTest, FallbackAfterAnInt8LayerCostsOneQuantizeAndNoDequantize) {
  // conv1 (INT8) feeds conv2 (FP32) directly: conv1 writes f32, so the only conversions are
  // the input's quantization and the one before conv3, where INT8 resumes.
  auto int8 = Quantized(*fp32_, calibration_, {"conv2"});
  ASSERT_NE(int8, nullptr);
  auto plan = PlanOf(int8);
  ASSERT_NE(plan, nullptr);
  const ReorderCounts counts = CountReorders(*plan);
  EXPECT_EQ(counts.quantize, 2) << StepNames(*plan);
  EXPECT_EQ(counts.dequantize, 0) << StepNames(*plan);
  EXPECT_EQ(counts.requantize, 0) << StepNames(*plan);
  EXPECT_EQ(ArgType(*plan, "conv1", DNNL_ARG_DST), memory::data_type::f32);
  EXPECT_EQ(ArgType(*plan, "conv2", DNNL_ARG_SRC), memory::data_type::f32);
  EXPECT_EQ(ArgType(*plan, "pool", DNNL_ARG_DST), memory::data_type::f32);
  EXPECT_EQ(ArgType(*plan, "conv3", DNNL_ARG_SRC), memory::data_type::u8);
  EXPECT_EQ(ArgType(*plan, "conv3", DNNL_ARG_DST), memory::data_type::u8);
  ExpectCloseToFp32(*fp32_, int8, x_);
}

TEST_F(Int8PlanTest, FallbackAfterPoolingCostsOneDequantizeAndOneQuantize) {
  // conv2 (INT8) -> MaxPool on u8 -> conv3 (FP32): one dequantize before conv3, one quantize
  // before fc, where INT8 resumes.
  auto int8 = Quantized(*fp32_, calibration_, {"conv3"});
  ASSERT_NE(int8, nullptr);
  auto plan = PlanOf(int8);
  ASSERT_NE(plan, nullptr);
  const ReorderCounts counts = CountReorders(*plan);
  EXPECT_EQ(counts.quantize, 2) << StepNames(*plan);
  EXPECT_EQ(counts.dequantize, 1) << StepNames(*plan);
  EXPECT_EQ(counts.requantize, 0) << StepNames(*plan);
  ASSERT_EQ(counts.dequantize_names.size(), 1u);
  EXPECT_EQ(counts.dequantize_names[0], "reorder p2");
  EXPECT_EQ(ArgType(*plan, "pool", DNNL_ARG_DST), memory::data_type::u8);
  EXPECT_EQ(ArgType(*plan, "conv3", DNNL_ARG_DST), memory::data_type::f32);
  EXPECT_EQ(ArgType(*plan, "fc", DNNL_ARG_SRC), memory::data_type::u8);
  ExpectCloseToFp32(*fp32_, int8, x_);
}

// Sample `i` of a batch tensor, as a batch of one.
Tensor Slice(const Tensor& batch, int64_t i) {
  Shape shape = batch.shape();
  shape[0] = 1;
  Tensor sample(batch.dtype(), shape);
  const size_t bytes = sample.byte_size();
  std::memcpy(sample.raw_data(), static_cast<const char*>(batch.raw_data()) + i * bytes, bytes);
  return sample;
}

bool BitwiseEqual(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()) == 0;
}

TEST_F(Int8PlanTest, BatchEqualsPerSampleRunsAndThreadCountsAgree) {
  for (const std::vector<std::string>& fp32_nodes :
       {std::vector<std::string>{}, std::vector<std::string>{"conv3"}}) {
    auto int8 = Quantized(*fp32_, calibration_, fp32_nodes);
    ASSERT_NE(int8, nullptr);
    const std::string plan_name = fp32_nodes.empty() ? "all-INT8" : "mixed";
    const Tensor batch = RandomTensor({8, 3, 16, 16}, 30);
    auto one_thread = RunModel(int8, {batch}, 1);
    auto two_threads = RunModel(int8, {batch}, 2);
    ASSERT_TRUE(one_thread.ok()) << one_thread.status();
    ASSERT_TRUE(two_threads.ok()) << two_threads.status();
    EXPECT_TRUE(BitwiseEqual((*one_thread)[0], (*two_threads)[0])) << plan_name;
    for (int64_t i = 0; i < 8; ++i) {
      auto alone = RunModel(int8, {Slice(batch, i)}, 1);
      ASSERT_TRUE(alone.ok()) << alone.status();
      EXPECT_TRUE(BitwiseEqual(Slice((*one_thread)[0], i), (*alone)[0]))
          << plan_name << ", sample " << i;
    }
  }
}

}  // namespace
}  // namespace octet
