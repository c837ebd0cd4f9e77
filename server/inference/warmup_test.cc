#include "server/inference/warmup.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config/model_config.h"

namespace octet::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kPath[] = "repo/m/config.pbtxt";

// The example model's signature: input "input" [N, 1, 28, 28] FP32; batching when max_batch > 0.
ModelSignature Signature(int max_batch_size, Shape dims = {1, 28, 28}) {
  ModelSignature signature;
  signature.max_batch_size = max_batch_size;
  TensorSpec input;
  input.name = "input";
  input.dims = std::move(dims);
  signature.inputs.push_back(input);
  return signature;
}

absl::StatusOr<std::vector<WarmupRequest>> FromText(const std::string& text,
                                                    const ModelSignature& signature) {
  absl::StatusOr<v1::ModelConfig> config = ParseModelConfig(text, kPath);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return config.status();
  EXPECT_TRUE(ValidateModelConfig(*config, "m", kPath).ok());
  return WarmupRequests(*config, signature, /*max_tensor_elements=*/1 << 20, kPath);
}

std::string Warmup(const std::string& name, int batch_size, const std::string& inputs,
                   int count = 0) {
  return "model_warmup { name: \"" + name + "\" batch_size: " + std::to_string(batch_size) +
         " count: " + std::to_string(count) + " " + inputs + " }";
}

std::string Input(const std::string& name, const std::string& dims, const std::string& data,
                  const std::string& type = "TYPE_FP32") {
  return "inputs { key: \"" + name + "\" value { data_type: " + type + " dims: " + dims + " " +
         data + ": true } }";
}

TEST(WarmupTest, NoWarmupsByDefault) {
  absl::StatusOr<std::vector<WarmupRequest>> requests = FromText("max_batch_size: 8", Signature(8));
  ASSERT_TRUE(requests.ok()) << requests.status();
  EXPECT_TRUE(requests->empty());
}

TEST(WarmupTest, ZeroAndRandomDataWithTheBatchDimension) {
  const std::string config = "max_batch_size: 8 " +
                             Warmup("zeros", 3, Input("input", "[1, 28, 28]", "zero_data")) +
                             Warmup("random", 1, Input("input", "[1, 28, 28]", "random_data"), 5);
  absl::StatusOr<std::vector<WarmupRequest>> requests = FromText(config, Signature(8));
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 2u);

  const WarmupRequest& zeros = (*requests)[0];
  EXPECT_EQ(zeros.label, "model_warmup 'zeros'");
  EXPECT_EQ(zeros.batch_size, 3);
  EXPECT_EQ(zeros.count, 1);  // 0 means once
  ASSERT_EQ(zeros.inputs.size(), 1u);
  EXPECT_THAT(zeros.inputs[0].shape(), ElementsAre(3, 1, 28, 28));
  for (float v : zeros.inputs[0].values<float>()) ASSERT_EQ(v, 0.0f);

  const WarmupRequest& random = (*requests)[1];
  EXPECT_EQ(random.count, 5);
  EXPECT_THAT(random.inputs[0].shape(), ElementsAre(1, 1, 28, 28));
  float low = 1, high = 0;
  for (float v : random.inputs[0].values<float>()) {
    low = std::min(low, v);
    high = std::max(high, v);
  }
  EXPECT_GE(low, 0.0f);
  EXPECT_LT(high, 1.0f);
  EXPECT_GT(high - low, 0.5f) << "784 uniform values should spread over [0, 1)";

  // Deterministic: the same config gives the same values.
  absl::StatusOr<std::vector<WarmupRequest>> again = FromText(config, Signature(8));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(std::vector<float>((*again)[1].inputs[0].values<float>().begin(),
                               (*again)[1].inputs[0].values<float>().end()),
            std::vector<float>(random.inputs[0].values<float>().begin(),
                               random.inputs[0].values<float>().end()));
}

TEST(WarmupTest, NonBatchingModelGetsTheFullShape) {
  absl::StatusOr<std::vector<WarmupRequest>> requests = FromText(
      Warmup("w", 1, Input("input", "[2, 1, 28, 28]", "zero_data")), Signature(0, {2, 1, 28, 28}));
  ASSERT_TRUE(requests.ok()) << requests.status();
  EXPECT_THAT((*requests)[0].inputs[0].shape(), ElementsAre(2, 1, 28, 28));
}

TEST(WarmupTest, VariableDimsTakeTheWarmupsSize) {
  absl::StatusOr<std::vector<WarmupRequest>> requests =
      FromText("max_batch_size: 4 " + Warmup("w", 2, Input("input", "[1, 32, 30]", "zero_data")),
               Signature(4, {1, -1, -1}));
  ASSERT_TRUE(requests.ok()) << requests.status();
  EXPECT_THAT((*requests)[0].inputs[0].shape(), ElementsAre(2, 1, 32, 30));
}

TEST(WarmupTest, InputsThatDoNotFitTheModelAreRefusedByName) {
  const ModelSignature signature = Signature(8);
  auto expect_invalid = [&](const std::string& text, const std::string& substring) {
    absl::StatusOr<std::vector<WarmupRequest>> requests =
        FromText("max_batch_size: 8 " + text, signature);
    EXPECT_EQ(requests.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(requests.status().message()), HasSubstr(kPath));
    EXPECT_THAT(std::string(requests.status().message()), HasSubstr(substring));
  };
  expect_invalid(Warmup("w", 1, Input("image", "[1, 28, 28]", "zero_data")),
                 "model_warmup 'w': 'image' is not a model input");
  expect_invalid(
      Warmup("w", 1,
             Input("input", "[1, 28, 28]", "zero_data") + Input("extra", "[1]", "zero_data")),
      "'extra' is not a model input");
  expect_invalid(Warmup("w", 1, Input("input", "[28, 28]", "zero_data")),
                 "input 'input': dims [28,28] do not fit the input's [1,28,28] (without the "
                 "batch dimension)");
  expect_invalid(Warmup("w", 1, Input("input", "[1, 28, 28]", "zero_data", "TYPE_INT64")),
                 "input 'input': data_type TYPE_INT64 but the model's is TYPE_FP32");
}

TEST(WarmupTest, NoLargerThanARequestMayBe) {
  const ModelSignature variable = Signature(8, {1, -1, -1});
  absl::StatusOr<std::vector<WarmupRequest>> requests = FromText(
      "max_batch_size: 8 " + Warmup("w", 8, Input("input", "[1, 1024, 1024]", "zero_data")),
      variable);
  EXPECT_EQ(requests.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(requests.status().message()),
              HasSubstr("model_warmup 'w': input 'input': [8,1,1024,1024] is more than the "
                        "1048576 elements a request tensor may have"));
  // Products that overflow int64 are refused the same way, not wrapped.
  requests =
      FromText("max_batch_size: 8 " +
                   Warmup("w", 8, Input("input", "[1, 4294967296, 4294967296]", "zero_data")),
               variable);
  EXPECT_EQ(requests.status().code(), absl::StatusCode::kInvalidArgument);
  // Exactly at the limit is fine: 1 x 1 x 1024 x 1024.
  requests = FromText(
      "max_batch_size: 8 " + Warmup("w", 1, Input("input", "[1, 1024, 1024]", "zero_data")),
      variable);
  EXPECT_TRUE(requests.ok()) << requests.status();
}

TEST(WarmupTest, EveryModelInputIsNeeded) {
  ModelSignature signature = Signature(8);
  TensorSpec mask;
  mask.name = "mask";
  mask.dtype = DataType::kInt64;
  mask.dims = {4};
  signature.inputs.push_back(mask);
  absl::StatusOr<std::vector<WarmupRequest>> requests = FromText(
      "max_batch_size: 8 " + Warmup("", 1, Input("input", "[1, 28, 28]", "zero_data")), signature);
  EXPECT_EQ(requests.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(requests.status().message()),
              HasSubstr("model_warmup[0]: input 'mask' is missing"));

  requests =
      FromText("max_batch_size: 8 " + Warmup("both", 2,
                                             Input("input", "[1, 28, 28]", "zero_data") +
                                                 Input("mask", "[4]", "random_data", "TYPE_INT64")),
               signature);
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ((*requests)[0].inputs.size(), 2u);
  EXPECT_THAT((*requests)[0].inputs[1].shape(), ElementsAre(2, 4));
  for (int64_t v : (*requests)[0].inputs[1].values<int64_t>()) EXPECT_TRUE(v == 0 || v == 1) << v;
}

}  // namespace
}  // namespace octet::server
