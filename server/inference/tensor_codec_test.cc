#include "server/inference/tensor_codec.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::server {
namespace {

using inference::ModelInferRequest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// "x": FP32 [N, 2, 3], N <= 4; "ids": INT64 [N, -1]; outputs "y" and "z".
ModelSignature BatchingSignature() {
  ModelSignature sig;
  sig.max_batch_size = 4;
  sig.inputs = {TensorSpec{"x", DataType::kFloat32, {2, 3}, false, 0},
                TensorSpec{"ids", DataType::kInt64, {-1}, false, 1}};
  sig.outputs = {TensorSpec{"y", DataType::kFloat32, {5}, false, 0},
                 TensorSpec{"z", DataType::kFloat32, {1}, false, 1}};
  return sig;
}

// One input of each type, no batch dimension.
ModelSignature TypedSignature() {
  ModelSignature sig;
  sig.inputs = {TensorSpec{"f", DataType::kFloat32, {2}, true, 0},
                TensorSpec{"u8", DataType::kUInt8, {2}, false, 1},
                TensorSpec{"i8", DataType::kInt8, {2}, false, 2},
                TensorSpec{"i32", DataType::kInt32, {2}, false, 3},
                TensorSpec{"i64", DataType::kInt64, {2}, false, 4}};
  sig.outputs = {TensorSpec{"y", DataType::kFloat32, {2}, false, 0}};
  return sig;
}

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

ModelInferRequest::InferInputTensor* AddInput(ModelInferRequest* request, const std::string& name,
                                              const std::string& datatype,
                                              std::vector<int64_t> shape) {
  auto* input = request->add_inputs();
  input->set_name(name);
  input->set_datatype(datatype);
  for (int64_t d : shape) input->add_shape(d);
  return input;
}

// A valid request for BatchingSignature() with `n` samples and 3 ids each, raw contents.
ModelInferRequest GoodRawRequest(int64_t n) {
  ModelInferRequest request;
  AddInput(&request, "x", "FP32", {n, 2, 3});
  AddInput(&request, "ids", "INT64", {n, 3});
  std::vector<float> x(static_cast<size_t>(n * 6));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.5f;
  std::vector<int64_t> ids(static_cast<size_t>(n * 3), 7);
  request.add_raw_input_contents(Bytes(x));
  request.add_raw_input_contents(Bytes(ids));
  return request;
}

absl::Status Decode(const ModelInferRequest& request, const ModelSignature& sig,
                    CodecLimits limits = {}) {
  return DecodeInferRequest(request, sig, limits).status();
}

void ExpectInvalid(const absl::Status& status, const std::string& substring) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(substring));
}

TEST(TensorCodecTest, DecodesRawContentsInModelOrder) {
  ModelInferRequest request = GoodRawRequest(2);
  // Inputs may come in any order; decoded ones follow the model's.
  request.mutable_inputs()->SwapElements(0, 1);
  request.mutable_raw_input_contents()->SwapElements(0, 1);
  absl::StatusOr<DecodedRequest> decoded =
      DecodeInferRequest(request, BatchingSignature(), CodecLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->samples, 2);
  ASSERT_EQ(decoded->inputs.size(), 2u);
  EXPECT_EQ(decoded->inputs[0].shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(decoded->inputs[0].data<float>()[11], 5.5f);
  EXPECT_EQ(decoded->inputs[1].dtype(), DataType::kInt64);
  EXPECT_EQ(decoded->inputs[1].data<int64_t>()[5], 7);
  EXPECT_THAT(decoded->outputs, ElementsAre(0, 1));
  EXPECT_TRUE(decoded->labels.empty());
}

TEST(TensorCodecTest, DecodesTypedContentsOfEveryType) {
  ModelInferRequest request;
  AddInput(&request, "f", "FP32", {2})->mutable_contents()->add_fp32_contents(1.5f);
  request.mutable_inputs(0)->mutable_contents()->add_fp32_contents(std::nanf(""));  // allowed
  auto* u8 = AddInput(&request, "u8", "UINT8", {2})->mutable_contents();
  u8->add_uint_contents(0);
  u8->add_uint_contents(255);
  auto* i8 = AddInput(&request, "i8", "INT8", {2})->mutable_contents();
  i8->add_int_contents(-128);
  i8->add_int_contents(127);
  auto* i32 = AddInput(&request, "i32", "INT32", {2})->mutable_contents();
  i32->add_int_contents(-70000);
  i32->add_int_contents(70000);
  auto* i64 = AddInput(&request, "i64", "INT64", {2})->mutable_contents();
  i64->add_int64_contents(int64_t{1} << 40);
  i64->add_int64_contents(-1);
  (*request.mutable_parameters())["label"].set_int64_param(3);
  absl::StatusOr<DecodedRequest> decoded =
      DecodeInferRequest(request, TypedSignature(), CodecLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->samples, 1);
  EXPECT_EQ(decoded->inputs[0].data<float>()[0], 1.5f);
  EXPECT_EQ(decoded->inputs[1].data<uint8_t>()[1], 255);
  EXPECT_EQ(decoded->inputs[2].data<int8_t>()[0], -128);
  EXPECT_EQ(decoded->inputs[3].data<int32_t>()[0], -70000);
  EXPECT_EQ(decoded->inputs[4].data<int64_t>()[0], int64_t{1} << 40);
  EXPECT_THAT(decoded->labels, ElementsAre(3));
}

TEST(TensorCodecTest, RejectsUnknownDuplicateAndMissingInputs) {
  ModelInferRequest request = GoodRawRequest(1);
  request.mutable_inputs(1)->set_name("idz");
  ExpectInvalid(Decode(request, BatchingSignature()),
                "unknown input 'idz'; the model's inputs are 'x', 'ids'");

  request = GoodRawRequest(1);
  request.mutable_inputs(1)->set_name("x");
  request.mutable_inputs(1)->set_datatype("FP32");
  ExpectInvalid(Decode(request, BatchingSignature()), "input 'x' is given twice");

  request = GoodRawRequest(1);
  request.mutable_inputs()->RemoveLast();
  request.mutable_raw_input_contents()->RemoveLast();
  ExpectInvalid(Decode(request, BatchingSignature()), "missing input 'ids'");
}

TEST(TensorCodecTest, RejectsWrongOrUnsupportedDatatype) {
  ModelInferRequest request = GoodRawRequest(1);
  request.mutable_inputs(0)->set_datatype("INT32");
  ExpectInvalid(Decode(request, BatchingSignature()),
                "input 'x': datatype 'INT32' but the model expects FP32");
  request.mutable_inputs(0)->set_datatype("FP16");
  ExpectInvalid(Decode(request, BatchingSignature()), "datatype 'FP16'");
  EXPECT_FALSE(ParseProtocolDataType("BYTES").ok());
  EXPECT_EQ(*ParseProtocolDataType("UINT8"), DataType::kUInt8);
}

TEST(TensorCodecTest, RejectsBadShapes) {
  const ModelSignature sig = BatchingSignature();
  ModelInferRequest request = GoodRawRequest(1);
  request.mutable_inputs(0)->mutable_shape()->RemoveLast();
  ExpectInvalid(Decode(request, sig), "has rank 2; expected rank 3, shape [1..4, 2, 3]");

  request = GoodRawRequest(1);
  request.mutable_inputs(0)->set_shape(1, -2);
  ExpectInvalid(Decode(request, sig), "negative dimension");

  request = GoodRawRequest(1);
  request.mutable_inputs(1)->set_shape(1, 0);
  ExpectInvalid(Decode(request, sig), "zero dimension");

  request = GoodRawRequest(1);
  request.mutable_inputs(0)->set_shape(2, 4);
  ExpectInvalid(Decode(request, sig), "dimension 2 is 4, expected 3");

  request = GoodRawRequest(1);
  request.mutable_inputs(0)->set_shape(0, 5);
  request.mutable_inputs(1)->set_shape(0, 5);
  ExpectInvalid(Decode(request, sig), "batch size 5 exceeds the model's max_batch_size 4");

  request = GoodRawRequest(2);
  request.mutable_inputs(1)->set_shape(0, 1);
  ExpectInvalid(Decode(request, sig), "input 'ids': batch size 1 differs from the other inputs' 2");
}

TEST(TensorCodecTest, RejectsHugeDimsWithoutOverflow) {
  const ModelSignature sig = BatchingSignature();
  ModelInferRequest request = GoodRawRequest(1);
  request.mutable_inputs(1)->set_shape(1, std::numeric_limits<int64_t>::max());
  ExpectInvalid(Decode(request, sig), "more elements than the server's limit");
  request.mutable_inputs(1)->set_shape(1, int64_t{1} << 40);
  ExpectInvalid(Decode(request, sig), "more elements than the server's limit");

  CodecLimits limits;
  limits.max_tensor_elements = 5;
  ExpectInvalid(Decode(GoodRawRequest(1), sig, limits), "limit of 5");
}

TEST(TensorCodecTest, RejectsRawByteCountsThatDoNotMatchTheShape) {
  const ModelSignature sig = BatchingSignature();
  ModelInferRequest request = GoodRawRequest(2);
  request.mutable_raw_input_contents(0)->pop_back();
  ExpectInvalid(
      Decode(request, sig),
      "input 'x': raw_input_contents holds 47 bytes but shape [2, 2, 3] of FP32 needs 48");

  request = GoodRawRequest(1);
  request.mutable_raw_input_contents()->RemoveLast();
  ExpectInvalid(Decode(request, sig), "raw_input_contents has 1 entries but the request has 2");
}

TEST(TensorCodecTest, RejectsMixedMissingAndMisplacedContents) {
  const ModelSignature sig = BatchingSignature();
  ModelInferRequest request = GoodRawRequest(1);
  request.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1.0f);
  ExpectInvalid(Decode(request, sig), "input 'x' has typed contents but the request uses raw");

  request = GoodRawRequest(1);
  request.clear_raw_input_contents();
  ExpectInvalid(Decode(request, sig), "input 'x' has no data");

  request = GoodRawRequest(1);
  request.clear_raw_input_contents();
  for (int i = 0; i < 6; ++i) request.mutable_inputs(0)->mutable_contents()->add_int_contents(1);
  for (int i = 0; i < 3; ++i) request.mutable_inputs(1)->mutable_contents()->add_int64_contents(1);
  ExpectInvalid(Decode(request, sig), "FP32 values must be in contents.fp32_contents");

  request = GoodRawRequest(1);
  request.clear_raw_input_contents();
  for (int i = 0; i < 5; ++i) request.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
  for (int i = 0; i < 3; ++i) request.mutable_inputs(1)->mutable_contents()->add_int64_contents(1);
  ExpectInvalid(Decode(request, sig), "contents.fp32_contents holds 5 values but shape [1, 2, 3]");
}

TEST(TensorCodecTest, RejectsTypedValuesOutOfTheirTypesRange) {
  ModelSignature sig;
  sig.inputs = {TensorSpec{"u8", DataType::kUInt8, {1}, false, 0}};
  ModelInferRequest request;
  AddInput(&request, "u8", "UINT8", {1})->mutable_contents()->add_uint_contents(256);
  ExpectInvalid(Decode(request, sig), "input 'u8': element 0 is 256, outside the range");

  sig.inputs = {TensorSpec{"i8", DataType::kInt8, {1}, false, 0}};
  request.Clear();
  AddInput(&request, "i8", "INT8", {1})->mutable_contents()->add_int_contents(-129);
  ExpectInvalid(Decode(request, sig), "element 0 is -129");
}

TEST(TensorCodecTest, RejectsNanAndInfUnlessAllowed) {
  ModelSignature sig = BatchingSignature();
  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    ModelInferRequest request = GoodRawRequest(1);
    std::vector<float> x(6, 1.0f);
    x[4] = bad;
    *request.mutable_raw_input_contents(0) = Bytes(x);
    ExpectInvalid(Decode(request, sig), "input 'x': element 4 is");
    sig.inputs[0].allow_nan = true;
    EXPECT_TRUE(Decode(request, sig).ok());
    sig.inputs[0].allow_nan = false;
  }
}

TEST(TensorCodecTest, RequestedOutputsAreCheckedAndKeepTheirOrder) {
  const ModelSignature sig = BatchingSignature();
  ModelInferRequest request = GoodRawRequest(1);
  request.add_outputs()->set_name("z");
  request.add_outputs()->set_name("y");
  absl::StatusOr<DecodedRequest> decoded = DecodeInferRequest(request, sig, CodecLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(decoded->outputs, ElementsAre(1, 0));

  request.add_outputs()->set_name("z");
  ExpectInvalid(Decode(request, sig), "output 'z' is requested twice");
  request.mutable_outputs()->RemoveLast();
  request.add_outputs()->set_name("w");
  ExpectInvalid(Decode(request, sig), "requested output 'w' is not an output of the model");
}

TEST(TensorCodecTest, LabelParameterGivesOneNonNegativeClassPerSample) {
  const ModelSignature sig = BatchingSignature();
  // One sample: an int64, a uint64 or a one-item string.
  ModelInferRequest request = GoodRawRequest(1);
  (*request.mutable_parameters())["label"].set_uint64_param(9);
  absl::StatusOr<DecodedRequest> decoded = DecodeInferRequest(request, sig, CodecLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(decoded->labels, ElementsAre(9));
  (*request.mutable_parameters())["label"].set_string_param("3");
  decoded = DecodeInferRequest(request, sig, CodecLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(decoded->labels, ElementsAre(3));
  (*request.mutable_parameters())["label"].set_int64_param(-2);
  ExpectInvalid(Decode(request, sig), "parameter 'label' is -2");
  (*request.mutable_parameters())["label"].set_bool_param(true);
  ExpectInvalid(Decode(request, sig), "parameter 'label' must be an int64_param");

  // A batch: a string with one label per sample, in batch order.
  request = GoodRawRequest(3);
  (*request.mutable_parameters())["label"].set_string_param("3, 1,4");
  decoded = DecodeInferRequest(request, sig, CodecLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(decoded->labels, ElementsAre(3, 1, 4));
  (*request.mutable_parameters())["label"].set_string_param("3,1");
  ExpectInvalid(Decode(request, sig), "gives 2 labels but the request has 3 samples");
  (*request.mutable_parameters())["label"].set_string_param("3,x,4");
  ExpectInvalid(Decode(request, sig), "'x' is not an integer");
  (*request.mutable_parameters())["label"].set_string_param("3,,4");
  ExpectInvalid(Decode(request, sig), "'' is not an integer");
  (*request.mutable_parameters())["label"].set_string_param("3,-1,4");
  ExpectInvalid(Decode(request, sig), "parameter 'label' is -1");
  // One int64 for a batch is ambiguous (whose label is it?): refused.
  (*request.mutable_parameters())["label"].set_int64_param(3);
  ExpectInvalid(Decode(request, sig), "gives 1 label but the request has 3 samples");
}

TEST(TensorCodecTest, AppendOutputCopiesTheTasksRows) {
  const TensorSpec spec{"y", DataType::kFloat32, {2}, false, 0};
  Tensor batch = Tensor::FromVector<float>(DataType::kFloat32, {3, 2}, {0, 1, 2, 3, 4, 5});
  inference::ModelInferResponse response;
  ASSERT_TRUE(AppendOutput(spec, batch, 1, 2, /*batching=*/true, &response).ok());
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), "y");
  EXPECT_EQ(response.outputs(0).datatype(), "FP32");
  EXPECT_THAT(response.outputs(0).shape(), ElementsAre(2, 2));
  std::vector<float> rows(4);
  ASSERT_EQ(response.raw_output_contents(0).size(), 16u);
  std::memcpy(rows.data(), response.raw_output_contents(0).data(), 16);
  EXPECT_THAT(rows, ElementsAre(2, 3, 4, 5));

  EXPECT_EQ(AppendOutput(spec, batch, 2, 2, true, &response).code(), absl::StatusCode::kInternal);
  const TensorSpec int_spec{"y", DataType::kInt32, {2}, false, 0};
  EXPECT_EQ(AppendOutput(int_spec, batch, 0, 1, true, &response).code(),
            absl::StatusCode::kInternal);

  inference::ModelInferResponse whole;
  ASSERT_TRUE(AppendOutput(spec, batch, 0, 0, /*batching=*/false, &whole).ok());
  EXPECT_THAT(whole.outputs(0).shape(), ElementsAre(3, 2));
  EXPECT_EQ(whole.raw_output_contents(0).size(), 24u);
}

}  // namespace
}  // namespace octet::server
