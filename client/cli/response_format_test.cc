#include "client/cli/response_format.h"

#include "client/cli/text_output.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace octet::cli {
namespace {

using ::testing::HasSubstr;

google::protobuf::Struct ParseJson(const std::string& json) {
  google::protobuf::Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return parsed;
}

TEST(TextTable, AlignsColumnsWithoutTrailingSpaces) {
  TextTable table({{"NAME"}, {"N", TextTable::kRight}, {"NOTE"}});
  table.AddRow({"a", "1", ""});
  table.AddRow({"longer", "1234"});  // a missing cell is empty
  EXPECT_EQ(table.Render(),
            "NAME       N  NOTE\n"
            "a          1\n"
            "longer  1234\n");
}

TEST(JsonString, Escapes) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(JsonNumber(1.5), "1.5");
  EXPECT_EQ(JsonNumber(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,\"b\""), "\"a,\"\"b\"\"\"");
}

TEST(FormatRepositoryIndex, Table) {
  inference::RepositoryIndexResponse index;
  auto* m = index.add_models();
  m->set_name("resnet8");
  m->set_version("1");
  m->set_state("READY");
  m = index.add_models();
  m->set_name("broken");
  m->set_state("UNAVAILABLE");
  m->set_reason("opset 3 is not supported");
  EXPECT_EQ(FormatRepositoryIndex(index),
            "MODEL    VERSION  STATE        REASON\n"
            "resnet8  1        READY\n"
            "broken            UNAVAILABLE  opset 3 is not supported\n");
  EXPECT_EQ(FormatRepositoryIndex({}), "no models\n");
  EXPECT_EQ(ParseJson(ProtoJson(index)).fields().at("models").list_value().values_size(), 2);
}

TEST(FormatModelMetadata, ListsTensors) {
  inference::ModelMetadataResponse m;
  m.set_name("digits");
  m.add_versions("1");
  m.add_versions("2");
  m.set_platform("onnx");
  auto* input = m.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  input->add_shape(-1);
  input->add_shape(784);
  const std::string text = FormatModelMetadata(m);
  EXPECT_THAT(text, HasSubstr("model     digits\n"));
  EXPECT_THAT(text, HasSubstr("versions  1, 2\n"));
  EXPECT_THAT(text, HasSubstr("input  FP32      [-1,784]\n"));
  EXPECT_THAT(text, HasSubstr("OUTPUT  DATATYPE  SHAPE\n"));
}

TEST(FormatStatistics, MeansPerRequest) {
  inference::ModelStatisticsResponse stats;
  auto* s = stats.add_model_stats();
  s->set_name("resnet8");
  s->set_version("1");
  s->set_inference_count(40);
  s->set_execution_count(10);
  s->mutable_inference_stats()->mutable_success()->set_count(20);
  s->mutable_inference_stats()->mutable_success()->set_ns(20 * 3000000);
  s->mutable_inference_stats()->mutable_queue()->set_count(20);
  s->mutable_inference_stats()->mutable_queue()->set_ns(20 * 150000);
  s->mutable_inference_stats()->mutable_compute_infer()->set_count(20);
  s->mutable_inference_stats()->mutable_compute_infer()->set_ns(20 * 2000000);
  s->mutable_inference_stats()->mutable_compute_input()->set_count(20);
  s->mutable_inference_stats()->mutable_compute_input()->set_ns(20 * 100000);
  auto* b = s->add_batch_stats();
  b->set_batch_size(4);
  b->mutable_compute_infer()->set_count(10);
  b->mutable_compute_infer()->set_ns(10 * 2500000);
  const std::string text = FormatStatistics(stats);
  EXPECT_THAT(text, HasSubstr("resnet8  1"));
  EXPECT_THAT(text, HasSubstr("150.0"));   // queue us
  EXPECT_THAT(text, HasSubstr("2100.0"));  // compute = input + infer
  EXPECT_THAT(text, HasSubstr("3000.0"));  // request
  EXPECT_THAT(text, HasSubstr("resnet8 version 1 batch sizes: 4 x10 (2500.0 us)"));
}

octet::v1::CalibrationReport Report() {
  octet::v1::CalibrationReport r;
  r.set_model_name("resnet8");
  r.set_source_version("1");
  r.set_published_version("2");
  r.set_method(octet::v1::PERCENTILE);
  r.set_percentile(99.99);
  r.set_precision(octet::v1::PRECISION_MIXED);
  r.set_num_calibration_samples(500);
  r.set_num_validation_samples(10000);
  r.set_accuracy_from_labels(true);
  r.set_fp32_accuracy(75.48);
  r.set_initial_accuracy(73.45);
  r.set_accuracy(75.30);
  r.set_top1_agreement(97.5);
  r.set_tolerance(0.5);
  r.set_tolerance_mode(octet::v1::ABSOLUTE);
  auto* layer = r.add_layers();
  layer->set_node_name("conv1");
  layer->set_op_type("Conv");
  layer->set_precision("int8");
  layer->set_sqnr_db(35.25);
  layer = r.add_layers();
  layer->set_node_name("fc");
  layer->set_op_type("Gemm");
  layer->set_precision("fp32");
  r.set_isa("avx2");
  r.set_weight_scheme("s7 where u8*s8 pairs could saturate");
  r.set_weight_bytes_fp32(4000);
  r.set_weight_bytes(1000);
  r.set_duration_seconds(12.5);
  return r;
}

TEST(FormatCalibrationReport, Summary) {
  const std::string text = FormatCalibrationReport(Report());
  EXPECT_THAT(text,
              HasSubstr("calibrated resnet8 version 1 -> version 2 (mixed, percentile 99.99)"));
  EXPECT_THAT(text, HasSubstr("500 calibration, 10000 validation; accuracy against labels"));
  EXPECT_THAT(text, HasSubstr("fp32 75.48%   all-int8 73.45%   published 75.30%   drop 0.18"));
  EXPECT_THAT(text, HasSubstr("tolerance  0.5 points (absolute): met"));
  EXPECT_THAT(text, HasSubstr("1000 bytes vs 4000 FP32 (25.0%); isa avx2"));
  EXPECT_THAT(text, HasSubstr("plan       1 of 2 layers INT8; FP32: fc"));
  EXPECT_THAT(text, HasSubstr("conv1  Conv  int8"));
  EXPECT_THAT(text, HasSubstr("35.25"));
}

TEST(ToleranceMet, AbsoluteAndRelative) {
  octet::v1::CalibrationReport r = Report();
  EXPECT_TRUE(ToleranceMet(r));
  r.set_accuracy(74.98);  // drop 0.5 exactly: met
  EXPECT_TRUE(ToleranceMet(r));
  r.set_accuracy(74.9);
  EXPECT_FALSE(ToleranceMet(r));
  r.set_tolerance_mode(octet::v1::RELATIVE);
  r.set_tolerance(1.0);  // 1% of 75.48 = 0.7548 points
  EXPECT_TRUE(ToleranceMet(r));
  r.set_accuracy(74.7);
  EXPECT_FALSE(ToleranceMet(r));
  EXPECT_THAT(FormatCalibrationReport(r), HasSubstr("1 percent of FP32 (relative): NOT met"));
}

client::InferResult Scores() {
  client::InferResult result;
  result.model_name = "digits";
  result.model_version = "1";
  result.id = "7";
  const float values[] = {0.1f, 0.7f, 0.2f, 3, 1, 2};
  client::OutputTensor t;
  t.name = "scores";
  t.datatype = "FP32";
  t.shape = {2, 3};
  t.raw.assign(reinterpret_cast<const char*>(values), sizeof(values));
  result.outputs.push_back(t);
  client::OutputTensor ids;
  ids.name = "ids";
  ids.datatype = "INT64";
  ids.shape = {2};
  const int64_t id_values[] = {1, int64_t{1} << 40};
  ids.raw.assign(reinterpret_cast<const char*>(id_values), sizeof(id_values));
  result.outputs.push_back(ids);
  return result;
}

TEST(FormatTopK, NamesClassesAndOrigins) {
  absl::StatusOr<std::string> text = FormatTopK(Scores(), "scores", 2, {"zero", "one", "two"},
                                                {{"test.bin #17", 1}, {"test.bin #18", -1}});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "model digits version 1, output 'scores' FP32 [2,3]\n"
            "sample 0 (test.bin #17, label 1 one)\n"
            "   #  CLASS  NAME  SCORE\n"
            "   1      1  one     0.7\n"
            "   2      2  two     0.2\n"
            "sample 1 (test.bin #18)\n"
            "   #  CLASS  NAME  SCORE\n"
            "   1      0  zero      3\n"
            "   2      2  two       2\n");
  EXPECT_EQ(FormatTopK(Scores(), "logits", 2, {}, {}).status().code(), absl::StatusCode::kNotFound);
}

TEST(InferResultJson, EveryOutputExactly) {
  absl::StatusOr<std::string> json = InferResultJson(Scores(), "scores", 1, {"zero"}, {});
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"data\": [1, 1099511627776]"));  // INT64 printed exactly
  const google::protobuf::Struct parsed = ParseJson(*json);
  EXPECT_EQ(parsed.fields().at("model_name").string_value(), "digits");
  const auto& outputs = parsed.fields().at("outputs").list_value();
  ASSERT_EQ(outputs.values_size(), 2);
  const auto& data = outputs.values(0).struct_value().fields().at("data").list_value();
  ASSERT_EQ(data.values_size(), 6);
  EXPECT_FLOAT_EQ(data.values(1).number_value(), 0.7f);
  const auto& rows = parsed.fields().at("top_k").struct_value().fields().at("rows").list_value();
  ASSERT_EQ(rows.values_size(), 2);
  const auto& first = rows.values(1).struct_value().fields().at("classes").list_value().values(0);
  EXPECT_EQ(first.struct_value().fields().at("class").number_value(), 0);
  EXPECT_EQ(first.struct_value().fields().at("name").string_value(), "zero");
  // k = 0: no top-k.
  EXPECT_THAT(*InferResultJson(Scores(), "scores", 0, {}, {}), HasSubstr("\"top_k\": null"));
}

}  // namespace
}  // namespace octet::cli
