#include "client/infer_types.h"

#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(DatatypeSize, KnownAndUnknown) {
  EXPECT_EQ(*DatatypeSize("FP32"), 4);
  EXPECT_EQ(*DatatypeSize("UINT8"), 1);
  EXPECT_EQ(*DatatypeSize("INT64"), 8);
  EXPECT_EQ(*DatatypeSize("FP16"), 2);
  EXPECT_THAT(DatatypeSize("FLOAT").status().message(), HasSubstr("unknown datatype 'FLOAT'"));
  EXPECT_THAT(DatatypeSize("BYTES").status().message(), HasSubstr("BYTES"));
}

TEST(ElementCount, ProductNegativeAndOverflow) {
  EXPECT_EQ(*ElementCount({}), 1);
  EXPECT_EQ(*ElementCount({2, 3, 4}), 24);
  EXPECT_EQ(*ElementCount({2, 0}), 0);
  EXPECT_FALSE(ElementCount({2, -1}).ok());
  EXPECT_THAT(ElementCount({int64_t{1} << 40, int64_t{1} << 40}).status().message(),
              HasSubstr("too large"));
}

TEST(InferInput, HelpersEncodeLittleEndianBytes) {
  const float values[] = {1.0f, -2.5f};
  InferInput f = InferInput::FromFloats("x", {1, 2}, values);
  EXPECT_EQ(f.datatype, "FP32");
  ASSERT_EQ(f.raw.size(), 8u);
  float back[2];
  std::memcpy(back, f.raw.data(), 8);
  EXPECT_EQ(back[1], -2.5f);

  const int64_t longs[] = {0x0102030405060708};
  InferInput l = InferInput::FromInt64("y", {1}, longs);
  EXPECT_EQ(l.datatype, "INT64");
  EXPECT_EQ(static_cast<uint8_t>(l.raw[0]), 0x08);  // little-endian

  const uint8_t bytes[] = {7, 8, 9};
  EXPECT_EQ(InferInput::FromUint8("z", {3}, bytes).raw, "\x07\x08\x09");
  const int8_t signed_bytes[] = {-1};
  EXPECT_EQ(InferInput::FromInt8("s", {1}, signed_bytes).datatype, "INT8");
  const int32_t ints[] = {1, 2};
  EXPECT_EQ(InferInput::FromInt32("i", {2}, ints).raw.size(), 8u);
}

InferRequest OneInputRequest() {
  InferRequest request;
  request.model = "m";
  request.version = "3";
  request.id = "req-1";
  const float values[] = {1, 2, 3, 4, 5, 6};
  request.inputs.push_back(InferInput::FromFloats("input", {1, 6}, values));
  return request;
}

TEST(BuildModelInferRequest, EncodesEverything) {
  InferRequest request = OneInputRequest();
  request.outputs = {"scores"};
  request.parameters["label"] = int64_t{7};
  request.parameters["tag"] = std::string("a");
  absl::StatusOr<inference::ModelInferRequest> proto = BuildModelInferRequest(request);
  ASSERT_TRUE(proto.ok()) << proto.status();
  EXPECT_EQ(proto->model_name(), "m");
  EXPECT_EQ(proto->model_version(), "3");
  EXPECT_EQ(proto->id(), "req-1");
  ASSERT_EQ(proto->inputs_size(), 1);
  EXPECT_EQ(proto->inputs(0).name(), "input");
  EXPECT_EQ(proto->inputs(0).datatype(), "FP32");
  EXPECT_THAT(proto->inputs(0).shape(), ElementsAre(1, 6));
  EXPECT_FALSE(proto->inputs(0).has_contents());
  ASSERT_EQ(proto->raw_input_contents_size(), 1);
  EXPECT_EQ(proto->raw_input_contents(0), request.inputs[0].raw);
  ASSERT_EQ(proto->outputs_size(), 1);
  EXPECT_EQ(proto->outputs(0).name(), "scores");
  EXPECT_EQ(proto->parameters().at("label").int64_param(), 7);
  EXPECT_EQ(proto->parameters().at("tag").string_param(), "a");
}

TEST(BuildModelInferRequest, RejectsBadRequestsNamingTheInput) {
  InferRequest no_model = OneInputRequest();
  no_model.model.clear();
  EXPECT_THAT(BuildModelInferRequest(no_model).status().message(), HasSubstr("no model"));

  InferRequest no_inputs = OneInputRequest();
  no_inputs.inputs.clear();
  EXPECT_THAT(BuildModelInferRequest(no_inputs).status().message(), HasSubstr("no inputs"));

  InferRequest wrong_size = OneInputRequest();
  wrong_size.inputs[0].shape = {1, 5};
  const absl::Status s = BuildModelInferRequest(wrong_size).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("input 'input': FP32 [1,5] needs 20 bytes, got 24"));

  InferRequest twice = OneInputRequest();
  twice.inputs.push_back(twice.inputs[0]);
  EXPECT_THAT(BuildModelInferRequest(twice).status().message(), HasSubstr("given twice"));

  InferRequest bad_type = OneInputRequest();
  bad_type.inputs[0].datatype = "float32";
  EXPECT_THAT(BuildModelInferRequest(bad_type).status().message(),
              HasSubstr("unknown datatype 'float32'"));

  InferRequest negative = OneInputRequest();
  negative.inputs[0].shape = {-1, 6};
  EXPECT_FALSE(BuildModelInferRequest(negative).ok());
}

inference::ModelInferResponse ScoresResponse(std::vector<int64_t> shape, std::vector<float> v) {
  inference::ModelInferResponse response;
  response.set_model_name("m");
  response.set_model_version("1");
  response.set_id("req-1");
  auto* out = response.add_outputs();
  out->set_name("scores");
  out->set_datatype("FP32");
  for (int64_t d : shape) out->add_shape(d);
  response.add_raw_output_contents(
      std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  return response;
}

TEST(ParseModelInferResponse, RawOutputs) {
  absl::StatusOr<InferResult> result =
      ParseModelInferResponse(ScoresResponse({2, 3}, {0.1f, 0.7f, 0.2f, 5, 4, 3}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->model_name, "m");
  EXPECT_EQ(result->model_version, "1");
  EXPECT_EQ(result->id, "req-1");
  ASSERT_EQ(result->outputs.size(), 1u);
  EXPECT_THAT(result->outputs[0].shape, ElementsAre(2, 3));
  EXPECT_THAT(*result->AsFloats("scores"), ElementsAre(0.1f, 0.7f, 0.2f, 5, 4, 3));
  EXPECT_THAT(*result->ArgMax("scores"), ElementsAre(1, 0));
}

TEST(ParseModelInferResponse, TypedContents) {
  inference::ModelInferResponse response;
  auto* out = response.add_outputs();
  out->set_name("ids");
  out->set_datatype("INT64");
  out->add_shape(3);
  out->mutable_contents()->add_int64_contents(5);
  out->mutable_contents()->add_int64_contents(-2);
  out->mutable_contents()->add_int64_contents(9);
  absl::StatusOr<InferResult> result = ParseModelInferResponse(response);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outputs[0].raw.size(), 24u);
  EXPECT_THAT(*result->AsFloats("ids"), ElementsAre(5, -2, 9));
  EXPECT_THAT(*result->ArgMax("ids"), ElementsAre(2));  // rank 1: one row
}

TEST(ParseModelInferResponse, InconsistentResponsesAreInternalErrors) {
  inference::ModelInferResponse short_raw = ScoresResponse({1, 3}, {1, 2});
  const absl::Status s = ParseModelInferResponse(short_raw).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("output 'scores'"));

  inference::ModelInferResponse extra_raw = ScoresResponse({1, 1}, {1});
  extra_raw.add_raw_output_contents("xx");
  EXPECT_EQ(ParseModelInferResponse(extra_raw).status().code(), absl::StatusCode::kInternal);
}

TEST(InferResult, TopKOrdersByScoreThenIndex) {
  InferResult result =
      *ParseModelInferResponse(ScoresResponse({1, 5}, {0.5f, 0.9f, 0.5f, 0.1f, 0.9f}));
  absl::StatusOr<std::vector<std::vector<ScoredClass>>> top = result.TopK("scores", 3);
  ASSERT_TRUE(top.ok()) << top.status();
  ASSERT_EQ(top->size(), 1u);
  ASSERT_EQ((*top)[0].size(), 3u);
  EXPECT_EQ((*top)[0][0].index, 1);
  EXPECT_EQ((*top)[0][1].index, 4);
  EXPECT_EQ((*top)[0][2].index, 0);
  EXPECT_EQ((*top)[0][2].score, 0.5f);
  // k larger than the row: the whole row.
  EXPECT_EQ((*result.TopK("scores", 10))[0].size(), 5u);
  EXPECT_FALSE(result.TopK("scores", 0).ok());
}

TEST(InferResult, MissingOutputNamesThoseThatExist) {
  InferResult result = *ParseModelInferResponse(ScoresResponse({1, 1}, {1}));
  const absl::Status s = result.AsFloats("logits").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("no output 'logits' in the response (outputs: 'scores')"));
  EXPECT_EQ(result.Find("logits"), nullptr);
}

}  // namespace
}  // namespace octet::client
