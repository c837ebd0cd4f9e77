// Running models through Session: a batch computes what its samples compute alone (sizes 1, 3
// and 16: no cross-talk), thread counts and concurrent sessions agree, repeated runs do not
// leak state, plans are compiled once and cached, and a model whose file fixes the batch to 1
// still takes any batch (unless dynamic_batch is off).
#include "engine/session.h"

#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "engine/model.h"
#include "engine/testing/model_runner.h"
#include "engine/testing/onnx_model_builder.h"
#include "engine/testing/reference_kernels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::testing::AllClose;
using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::RandomTensor;
using ::octet::testing::RunModel;
using ::testing::HasSubstr;

// A small classifier with every kind of layer the batch dimension flows through: Conv + BN +
// Relu, MaxPool, a residual block, GlobalAveragePool, Flatten, Gemm, Softmax. The file fixes
// the batch to 1, as exporters usually do.
std::string ClassifierBytes() {
  OnnxModelBuilder m;
  m.Input("image", {1, 3, 8, 8});
  m.Initializer("w0", RandomTensor({8, 3, 3, 3}, 1));
  m.Initializer("b0", RandomTensor({8}, 2));
  m.Node("Conv", {"image", "w0", "b0"}, {"c0"}, "conv0").Ints("pads", {1, 1, 1, 1});
  m.Initializer("bn_s", RandomTensor({8}, 3, 0.5f, 1.5f));
  m.Initializer("bn_b", RandomTensor({8}, 4));
  m.Initializer("bn_m", RandomTensor({8}, 5));
  m.Initializer("bn_v", RandomTensor({8}, 6, 0.5f, 2.0f));
  m.Node("BatchNormalization", {"c0", "bn_s", "bn_b", "bn_m", "bn_v"}, {"n0"}, "bn0");
  m.Node("Relu", {"n0"}, {"r0"}, "relu0");
  m.Node("MaxPool", {"r0"}, {"p0"}, "pool0").Ints("kernel_shape", {2, 2}).Ints("strides", {2, 2});
  m.Initializer("w1", RandomTensor({8, 8, 3, 3}, 7));
  m.Node("Conv", {"p0", "w1"}, {"c1"}, "conv1").Ints("pads", {1, 1, 1, 1});
  m.Node("Add", {"c1", "p0"}, {"a1"}, "residual");
  m.Node("Relu", {"a1"}, {"r1"}, "relu1");
  m.Node("GlobalAveragePool", {"r1"}, {"g"}, "gap");
  m.Node("Flatten", {"g"}, {"f"}, "flatten");
  m.Initializer("fc_w", RandomTensor({5, 8}, 8));
  m.Initializer("fc_b", RandomTensor({5}, 9));
  m.Node("Gemm", {"f", "fc_w", "fc_b"}, {"logits"}, "fc").Int("transB", 1);
  m.Node("Softmax", {"logits"}, {"probs"}, "softmax").Int("axis", 1);
  m.Output("probs");
  m.Output("logits");
  return m.Serialize();
}

std::shared_ptr<const Model> LoadClassifier(const ModelOptions& options = {}) {
  auto model = Model::FromBytes(ClassifierBytes(), options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
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

TEST(SessionTest, BatchResultsEqualPerSampleResults) {
  auto model = LoadClassifier();
  ASSERT_NE(model, nullptr);
  for (int64_t batch : {1, 3, 16}) {
    const Tensor images = RandomTensor({batch, 3, 8, 8}, 100 + batch);
    auto batched = RunModel(model, {images});
    ASSERT_TRUE(batched.ok()) << batched.status();
    ASSERT_EQ(batched->size(), 2u);
    EXPECT_EQ((*batched)[0].shape(), (Shape{batch, 5}));
    for (int64_t i = 0; i < batch; ++i) {
      auto alone = RunModel(model, {Slice(images, i)});
      ASSERT_TRUE(alone.ok()) << alone.status();
      for (size_t o = 0; o < 2; ++o) {
        EXPECT_TRUE(AllClose(Slice((*batched)[o], i), (*alone)[o]))
            << "batch " << batch << " sample " << i << " output " << o;
      }
    }
  }
}

TEST(SessionTest, ThreadCountsGiveTheSameResults) {
  auto model = LoadClassifier();
  ASSERT_NE(model, nullptr);
  const Tensor images = RandomTensor({16, 3, 8, 8}, 7);
  auto one = RunModel(model, {images}, 1);
  auto two = RunModel(model, {images}, 2);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(two.ok()) << two.status();
  for (size_t o = 0; o < one->size(); ++o) {
    EXPECT_TRUE(AllClose((*two)[o], (*one)[o], 1e-6)) << "output " << o;
  }
}

TEST(SessionTest, ConcurrentSessionsOnOneModelAgree) {
  auto model = LoadClassifier();
  ASSERT_NE(model, nullptr);
  const Tensor images = RandomTensor({4, 3, 8, 8}, 8);
  auto expected = RunModel(model, {images});
  ASSERT_TRUE(expected.ok()) << expected.status();
  std::vector<std::vector<Tensor>> results(2);
  std::vector<absl::Status> statuses(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int run = 0; run < 5 && statuses[t].ok(); ++run) {
        auto out = RunModel(model, {images});
        statuses[t] = out.status();
        if (out.ok()) results[t] = *std::move(out);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 2; ++t) {
    ASSERT_TRUE(statuses[t].ok()) << statuses[t];
    EXPECT_TRUE(BitwiseEqual(results[t][0], (*expected)[0])) << "thread " << t;
  }
}

TEST(SessionTest, RepeatedRunsDoNotLeakStateBetweenRuns) {
  auto model = LoadClassifier();
  ASSERT_NE(model, nullptr);
  auto session = Session::Create(model, {1});
  ASSERT_TRUE(session.ok()) << session.status();
  const Tensor a = RandomTensor({3, 3, 8, 8}, 9);
  const Tensor b = RandomTensor({3, 3, 8, 8}, 10, -5.0f, 5.0f);
  auto first = (*session)->Run({a.view()});
  auto other = (*session)->Run({b.view()});
  auto again = (*session)->Run({a.view()});
  ASSERT_TRUE(first.ok() && other.ok() && again.ok());
  EXPECT_TRUE(BitwiseEqual((*again)[0], (*first)[0]));
  EXPECT_FALSE(BitwiseEqual((*other)[0], (*first)[0]));
  const Tensor a_copy = RandomTensor({3, 3, 8, 8}, 9);
  EXPECT_TRUE(BitwiseEqual(a, a_copy)) << "Run wrote into its input";
}

TEST(SessionTest, PlansAreCompiledOnceAndShared) {
  auto model = LoadClassifier();
  ASSERT_NE(model, nullptr);
  const std::vector<Shape> shapes = {{4, 3, 8, 8}};
  auto session = Session::Create(model, {1});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->Prepare(shapes).ok());
  auto plan = model->GetPlan(shapes, 1);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const int64_t packed = model->packed_weight_bytes();
  EXPECT_GT(packed, 0);

  ASSERT_TRUE((*session)->Prepare(shapes).ok());
  auto other_session = Session::Create(model, {1});
  ASSERT_TRUE(other_session.ok());
  ASSERT_TRUE((*other_session)->Prepare(shapes).ok());
  auto again = model->GetPlan(shapes, 1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), plan->get());
  EXPECT_EQ(model->packed_weight_bytes(), packed) << "weights packed twice for one plan";

  auto bigger = model->GetPlan({{8, 3, 8, 8}}, 1);
  ASSERT_TRUE(bigger.ok()) << bigger.status();
  EXPECT_NE(bigger->get(), plan->get());
  EXPECT_EQ((*bigger)->input_shapes[0], (Shape{8, 3, 8, 8}));
  auto two_threads = model->GetPlan(shapes, 2);
  ASSERT_TRUE(two_threads.ok()) << two_threads.status();
  EXPECT_NE(two_threads->get(), plan->get());
}

TEST(SessionTest, PrepareRefusesShapesThatDoNotFitTheInputs) {
  auto model = LoadClassifier();
  ASSERT_NE(model, nullptr);
  auto session = Session::Create(model, {1});
  ASSERT_TRUE(session.ok());
  for (const std::vector<Shape>& shapes :
       {std::vector<Shape>{}, std::vector<Shape>{{1, 3, 8, 8}, {1, 3, 8, 8}},
        std::vector<Shape>{{1, 3, 8}}, std::vector<Shape>{{1, 4, 8, 8}}}) {
    absl::Status s = (*session)->Prepare(shapes);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  }
}

TEST(SessionTest, FileWithBatchOneTakesAnyBatchByDefault) {
  auto model = LoadClassifier();
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->inputs()[0].name, "image");
  EXPECT_EQ(model->inputs()[0].shape, (Shape{-1, 3, 8, 8}));
  EXPECT_EQ(model->outputs()[0].name, "probs");
  EXPECT_EQ(model->outputs()[0].shape, (Shape{-1, 5}));
  auto out = RunModel(model, {RandomTensor({5, 3, 8, 8}, 11)});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), (Shape{5, 5}));
}

TEST(SessionTest, FixedBatchWithoutDynamicBatchIsEnforced) {
  ModelOptions options;
  options.dynamic_batch = false;
  auto model = LoadClassifier(options);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->inputs()[0].shape, (Shape{1, 3, 8, 8}));
  EXPECT_TRUE(RunModel(model, {RandomTensor({1, 3, 8, 8}, 12)}).ok());
  auto out = RunModel(model, {RandomTensor({2, 3, 8, 8}, 12)});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_THAT(std::string(out.status().message()),
              ::testing::AllOf(HasSubstr("'image'"), HasSubstr("[1,3,8,8]")));
}

TEST(SessionTest, GraphThatNeedsItsDeclaredBatchKeepsIt) {
  // Gemm adds a full [3, 4] matrix C: the graph only works with 3 rows.
  const Tensor b = RandomTensor({5, 4}, 1);
  const Tensor c = RandomTensor({3, 4}, 2);
  OnnxModelBuilder m;
  m.Input("a", {3, 5});
  m.Initializer("b", b);
  m.Initializer("c", c);
  m.Node("Gemm", {"a", "b", "c"}, {"y"}, "gemm_full_c");
  m.Output("y");
  auto model = Model::FromBytes(m.Serialize());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->inputs()[0].shape, (Shape{3, 5}));
  const Tensor a = RandomTensor({3, 5}, 3);
  auto out = RunModel(*model, {a});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(
      AllClose((*out)[0], testing::reference_kernels::Gemm(a, b, &c, false, false, 1.0f, 1.0f)));
  out = RunModel(*model, {RandomTensor({4, 5}, 4)});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("'a'"));
}

TEST(SessionTest, DeclaredBatchLargerThanOneIsStillDynamicWhenTheGraphAllows) {
  OnnxModelBuilder m;
  m.Input("x", {3, 4});
  m.Node("Relu", {"x"}, {"y"}, "relu");
  m.Output("y");
  auto model = Model::FromBytes(m.Serialize());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->inputs()[0].shape, (Shape{-1, 4}));
  EXPECT_TRUE(RunModel(*model, {RandomTensor({7, 4}, 1)}).ok());
}

// Wrong inputs at Session::Run: errors that name the input and say what was expected.
class SessionInputErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = LoadClassifier();
    ASSERT_NE(model_, nullptr);
    auto session = Session::Create(model_, {1});
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = *std::move(session);
  }

  absl::Status RunWith(const std::vector<TensorView>& inputs) {
    absl::Status direct = model_->ValidateInputs(inputs);
    absl::Status run = session_->Run(inputs).status();
    EXPECT_EQ(direct.code(), run.code());
    return run;
  }

  std::shared_ptr<const Model> model_;
  std::unique_ptr<Session> session_;
};

TEST_F(SessionInputErrorsTest, WrongRankNamesInputAndExpectedShape) {
  const Tensor x = RandomTensor({3, 8, 8}, 1);
  absl::Status s = RunWith({x.view()});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()),
              ::testing::AllOf(HasSubstr("'image'"), HasSubstr("[N,3,8,8]"), HasSubstr("[3,8,8]")));
}

TEST_F(SessionInputErrorsTest, WrongDimsNameInputAndExpectedShape) {
  for (const Shape& shape : {Shape{2, 4, 8, 8}, Shape{2, 3, 8, 9}, Shape{0, 3, 8, 8}}) {
    const Tensor x(DataType::kFloat32, shape);
    absl::Status s = RunWith({x.view()});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()),
                ::testing::AllOf(HasSubstr("'image'"), HasSubstr("[N,3,8,8]")));
  }
}

TEST_F(SessionInputErrorsTest, WrongDtypeNamesInputAndBothTypes) {
  const Tensor x(DataType::kInt32, {1, 3, 8, 8});
  absl::Status s = RunWith({x.view()});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()),
              ::testing::AllOf(HasSubstr("'image'"), HasSubstr("float32"), HasSubstr("int32")));
}

TEST_F(SessionInputErrorsTest, WrongInputCountSaysHowManyAreExpected) {
  const Tensor x = RandomTensor({1, 3, 8, 8}, 1);
  for (const std::vector<TensorView>& inputs :
       {std::vector<TensorView>{}, std::vector<TensorView>{x.view(), x.view()}}) {
    absl::Status s = RunWith(inputs);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("expected 1 input"));
  }
}

TEST_F(SessionInputErrorsTest, MissingDataNamesInput) {
  TensorView view{DataType::kFloat32, {1, 3, 8, 8}, nullptr};
  absl::Status s = RunWith({view});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("'image'"));
}

TEST(SessionInputErrors2Test, SecondInputIsNamedWhenItIsTheWrongOne) {
  OnnxModelBuilder m;
  m.Input("left", {-1, 4});
  m.Input("right", {-1, 4});
  m.Node("Add", {"left", "right"}, {"y"}, "add");
  m.Output("y");
  auto model = Model::FromBytes(m.Serialize());
  ASSERT_TRUE(model.ok()) << model.status();
  const Tensor good = RandomTensor({2, 4}, 1);
  const Tensor bad = RandomTensor({2, 5}, 2);
  auto out = RunModel(*model, {good, bad});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("'right'"));
  // Batch sizes that do not broadcast fail when the plan is built, naming the node.
  out = RunModel(*model, {good, RandomTensor({3, 4}, 3)});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("'add'"));
}

TEST(SessionInputErrors2Test, ShapeThatTheGraphCannotTakeNamesTheNode) {
  // Spatial dims are variable in the file, but an Add with a [3, 2, 2] constant only
  // broadcasts for 1x1 and 2x2 inputs.
  OnnxModelBuilder m;
  m.Input("x", {-1, 3, -1, -1});
  m.Initializer("k", RandomTensor({3, 2, 2}, 2));
  m.Node("Add", {"x", "k"}, {"y"}, "fixed_add");
  m.Output("y");
  auto model = Model::FromBytes(m.Serialize());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->inputs()[0].shape, (Shape{-1, 3, -1, -1}));
  auto fits = RunModel(*model, {RandomTensor({2, 3, 2, 2}, 1)});
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ((*fits)[0].shape(), (Shape{2, 3, 2, 2}));
  auto out = RunModel(*model, {RandomTensor({2, 3, 3, 3}, 1)});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("fixed_add"));
}

TEST(SessionCreateTest, InvalidOptionsAreRefused) {
  auto model = LoadClassifier();
  ASSERT_NE(model, nullptr);
  SessionOptions options;
  options.threads = -1;
  EXPECT_EQ(Session::Create(model, options).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Session::Create(nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace octet
