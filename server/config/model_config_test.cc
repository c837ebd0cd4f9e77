#include "server/config/model_config.h"

#include <string>
#include <vector>

#include "engine/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kPath[] = "repo/m/config.pbtxt";

// The shape of the example model: input [N, 1, 28, 28], output [N, 10].
std::vector<TensorInfo> Inputs() { return {{"input", DataType::kFloat32, {-1, 1, 28, 28}}}; }
std::vector<TensorInfo> Outputs() { return {{"logits", DataType::kFloat32, {-1, 10}}}; }

v1::ModelConfig Parse(const std::string& text) {
  absl::StatusOr<v1::ModelConfig> config = ParseModelConfig(text, kPath);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : v1::ModelConfig();
}

// The error of validating `text` (which must parse) for a model directory named "m".
absl::Status ValidateText(const std::string& text) {
  return ValidateModelConfig(Parse(text), "m", kPath);
}

absl::Status CompleteText(const std::string& text) {
  return CompleteConfigForModel(Parse(text), Inputs(), Outputs(), ConfigDefaults{}, kPath).status();
}

void ExpectInvalid(const absl::Status& status, const std::string& substring) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(kPath));
  EXPECT_THAT(std::string(status.message()), HasSubstr(substring));
}

TEST(ModelConfigTest, ExampleRepositoryConfigLoadsAndMatchesItsModel) {
  const std::string dir = std::string(OCTET_SOURCE_DIR) + "/examples/models/fashion-lenet";
  absl::StatusOr<v1::ModelConfig> config = ReadModelConfig(dir + "/config.pbtxt");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(ValidateModelConfig(*config, "fashion-lenet", dir).ok());
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir + "/1/model.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  ConfigDefaults defaults;
  defaults.cpu_cores = 4;
  absl::StatusOr<v1::ModelConfig> full = CompleteConfigForModel(
      *config, (*model)->inputs(), (*model)->outputs(), defaults, dir + "/config.pbtxt");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->optimization().threads(), 4);
  EXPECT_THAT(full->optimization().batch_size_buckets(),
              ElementsAre(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64));
  EXPECT_EQ(full->dynamic_batching().max_queue_size(), 1024);
}

TEST(ModelConfigTest, SyntaxErrorNamesFileAndLine) {
  absl::StatusOr<v1::ModelConfig> config =
      ParseModelConfig("name: \"m\"\nmax_batch_size: [\n", kPath);
  ExpectInvalid(config.status(), "line 2");
}

TEST(ModelConfigTest, UnknownFieldIsAnErrorNotADefault) {
  absl::StatusOr<v1::ModelConfig> config = ParseModelConfig("max_batch: 8\n", kPath);
  ExpectInvalid(config.status(), "max_batch");
}

TEST(ModelConfigTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadModelConfig("/nonexistent/config.pbtxt").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ModelConfigTest, ValidationNamesTheFieldAtFault) {
  EXPECT_TRUE(ValidateText("name: \"m\" max_batch_size: 8").ok());
  EXPECT_TRUE(ValidateText("").ok());
  ExpectInvalid(ValidateText("name: \"other\""), "differs from the directory name 'm'");
  ExpectInvalid(ValidateText("platform: \"tensorflow_savedmodel\""), "platform");
  ExpectInvalid(ValidateText("backend: \"pytorch\""), "backend");
  ExpectInvalid(ValidateText("max_batch_size: -1"), "max_batch_size -1");
  ExpectInvalid(ValidateText("max_batch_size: 8 dynamic_batching { preferred_batch_size: 16 }"),
                "preferred_batch_size 16");
  ExpectInvalid(ValidateText("max_batch_size: 8 optimization { batch_size_buckets: 0 }"),
                "batch_size_buckets 0");
  ExpectInvalid(ValidateText("input [ { name: \"x\" data_type: TYPE_FP32 dims: [ 0 ] } ]"),
                "dims [0]");
  ExpectInvalid(ValidateText("input [ { name: \"x\" data_type: TYPE_FP32 dims: [ -2 ] } ]"),
                "dims [-2]");
  ExpectInvalid(ValidateText("input [ { name: \"x\" dims: [ 1 ] } ]"), "TYPE_INVALID");
  ExpectInvalid(ValidateText("input [ { name: \"x\" data_type: TYPE_FP32 dims: 1 },"
                             "        { name: \"x\" data_type: TYPE_FP32 dims: 1 } ]"),
                "listed twice");
  ExpectInvalid(ValidateText("output [ { data_type: TYPE_FP32 dims: 1 } ]"), "name is empty");
  ExpectInvalid(ValidateText("instance_group [ { count: -2 } ]"), "count -2");
  ExpectInvalid(ValidateText("optimization { threads: -1 }"), "optimization.threads");
  ExpectInvalid(ValidateText("shadow_fraction: 1.5"), "shadow_fraction");
  ExpectInvalid(ValidateText("version_policy { specific { } }"), "lists no versions");
  ExpectInvalid(ValidateText("version_policy { specific { versions: [ 0 ] } }"), "version 0");
  ExpectInvalid(ValidateText("calibration { tolerance: -1 }"), "calibration.tolerance");
  ExpectInvalid(ValidateText("calibration { percentile: 101 }"), "calibration.percentile");
}

// Triton's model_warmup stanza, as a Triton user writes it for this model.
constexpr char kTritonWarmup[] = R"(
max_batch_size: 8
model_warmup [
  {
    name: "zeros"
    batch_size: 4
    inputs { key: "input" value { data_type: TYPE_FP32 dims: [ 1, 28, 28 ] zero_data: true } }
  },
  {
    name: "random"
    batch_size: 1
    count: 3
    inputs [ { key: "input" value { data_type: TYPE_FP32 dims: [ 1, 28, 28 ] random_data: true } } ]
  }
]
)";

TEST(ModelConfigTest, TritonModelWarmupParsesAndValidates) {
  const v1::ModelConfig config = Parse(kTritonWarmup);
  ASSERT_EQ(config.model_warmup_size(), 2);
  EXPECT_EQ(config.model_warmup(0).batch_size(), 4u);
  EXPECT_TRUE(config.model_warmup(0).inputs().at("input").zero_data());
  EXPECT_EQ(config.model_warmup(1).count(), 3u);
  EXPECT_TRUE(config.model_warmup(1).inputs().at("input").random_data());
  EXPECT_TRUE(ValidateModelConfig(config, "m", kPath).ok());
}

TEST(ModelConfigTest, ModelWarmupErrorsNameTheWarmupAndField) {
  // A config with `max_batch` (none when empty) and one warm-up: `head` (name, batch_size),
  // then an input "input" with `input` (type, dims and data) unless `input` is empty.
  auto warmup = [](const std::string& max_batch, const std::string& head,
                   const std::string& input) {
    std::string text = max_batch.empty() ? "" : "max_batch_size: " + max_batch + " ";
    text += "model_warmup { " + head;
    if (!input.empty()) text += " inputs { key: \"input\" value { " + input + " } }";
    return ValidateText(text + " }");
  };
  const std::string zeros = "data_type: TYPE_FP32 dims: [1, 28, 28] zero_data: true";
  ExpectInvalid(warmup("8", "name: \"w\" batch_size: 9", zeros),
                "model_warmup 'w': batch_size 9 is outside [1, 8] (max_batch_size)");
  ExpectInvalid(warmup("8", "batch_size: 0", zeros), "model_warmup[0]: batch_size 0");
  ExpectInvalid(warmup("", "name: \"w\" batch_size: 2", zeros), "(the model does not batch)");
  ExpectInvalid(warmup("8", "name: \"w\" batch_size: 1", ""), "model_warmup 'w': no inputs");
  ExpectInvalid(warmup("8", "name: \"w\" batch_size: 1", "data_type: TYPE_FP32 dims: [1]"),
                "input 'input': say zero_data: true or random_data: true");
  ExpectInvalid(warmup("8", "name: \"w\" batch_size: 1",
                       "data_type: TYPE_FP32 dims: [1] input_data_file: \"raw\""),
                "input_data_file is not supported by Octet");
  ExpectInvalid(warmup("8", "name: \"w\" batch_size: 1",
                       "data_type: TYPE_FP32 dims: [1, -1, 28] zero_data: true"),
                "dims [1, -1, 28]: each must be positive");
  ExpectInvalid(
      warmup("8", "name: \"w\" batch_size: 1", "data_type: TYPE_INVALID dims: [1] zero_data: true"),
      "data_type TYPE_INVALID is not supported");
  EXPECT_TRUE(warmup("8", "name: \"w\" batch_size: 8", zeros).ok());
}

TEST(ModelConfigTest, CompletionChecksTheConfigAgainstTheModel) {
  const std::string good_input =
      "input [ { name: \"input\" data_type: TYPE_FP32 dims: [1,28,28] } ]";
  EXPECT_TRUE(CompleteText("max_batch_size: 8 " + good_input).ok());
  ExpectInvalid(
      CompleteText("max_batch_size: 8 input [ { name: \"image\" data_type: TYPE_FP32 dims: 1 } ]"),
      "input 'image' is not an input of the model; the model's are 'input'");
  ExpectInvalid(CompleteText("max_batch_size: 8 input [ { name: \"input\" data_type: TYPE_UINT8 "
                             "dims: [1,28,28] } ]"),
                "data_type TYPE_UINT8 but the model's is TYPE_FP32");
  ExpectInvalid(CompleteText("max_batch_size: 8 input [ { name: \"input\" data_type: TYPE_FP32 "
                             "dims: [1,28,27] } ]"),
                "dims [1, 28, 27] do not match the model's [1, 28, 28]");
  // Without a batch dimension the config must give all four.
  ExpectInvalid(CompleteText("max_batch_size: 0 " + good_input), "do not match");
  EXPECT_TRUE(CompleteText("max_batch_size: 0 input [ { name: \"input\" data_type: TYPE_FP32 "
                           "dims: [1,1,28,28] } ]")
                  .ok());
  ExpectInvalid(CompleteText("max_batch_size: 8 " + good_input +
                             " output [ { name: \"probs\" data_type: TYPE_FP32 dims: 10 } ]"),
                "output 'probs' is not an output of the model");
  ExpectInvalid(CompleteText("max_batch_size: 8 " + good_input +
                             " output [ { name: \"logits\" data_type: TYPE_FP32 dims: 11 } ]"),
                "output 'logits': dims [11]");
}

TEST(ModelConfigTest, MissingInputOfATwoInputModelIsNamed) {
  std::vector<TensorInfo> inputs = {{"a", DataType::kFloat32, {-1, 4}},
                                    {"b", DataType::kInt64, {-1, 2}}};
  absl::StatusOr<v1::ModelConfig> full = CompleteConfigForModel(
      Parse("max_batch_size: 4 input [ { name: \"a\" data_type: TYPE_FP32 dims: 4 } ]"), inputs,
      Outputs(), ConfigDefaults{}, kPath);
  ExpectInvalid(full.status(), "the model's input 'b' is missing from the config");
}

TEST(ModelConfigTest, BatchingModelMustNotFixItsBatchDimension) {
  std::vector<TensorInfo> inputs = {{"x", DataType::kFloat32, {8, 4}}};
  absl::StatusOr<v1::ModelConfig> full = CompleteConfigForModel(Parse("max_batch_size: 8"), inputs,
                                                                Outputs(), ConfigDefaults{}, kPath);
  ExpectInvalid(full.status(), "fixes its first dimension to 8");
}

TEST(ModelConfigTest, CompletionFillsInputsOutputsAndDefaults) {
  ConfigDefaults defaults;
  defaults.cpu_cores = 8;
  defaults.max_queue_size = 7;
  absl::StatusOr<v1::ModelConfig> full = CompleteConfigForModel(
      Parse("max_batch_size: 6 instance_group [ { count: 2 } ] dynamic_batching { }"), Inputs(),
      Outputs(), defaults, kPath);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->name(), "");  // The repository names it after the directory.
  ASSERT_EQ(full->input_size(), 1);
  EXPECT_EQ(full->input(0).name(), "input");
  EXPECT_EQ(full->input(0).data_type(), v1::TYPE_FP32);
  EXPECT_THAT(full->input(0).dims(), ElementsAre(1, 28, 28));
  ASSERT_EQ(full->output_size(), 1);
  EXPECT_THAT(full->output(0).dims(), ElementsAre(10));
  ASSERT_EQ(full->instance_group_size(), 1);
  EXPECT_EQ(full->instance_group(0).count(), 2);
  EXPECT_EQ(full->optimization().threads(), 4);
  EXPECT_EQ(full->optimization().precision(), v1::PRECISION_FP32);
  EXPECT_THAT(full->optimization().batch_size_buckets(), ElementsAre(1, 2, 3, 4, 6));
  EXPECT_EQ(full->dynamic_batching().max_queue_size(), 7);
  EXPECT_EQ(full->version_policy().latest().num_versions(), 1u);
}

}  // namespace
}  // namespace octet::server
