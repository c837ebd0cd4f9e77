// Tests of the protocol definitions: that a Triton-style config.pbtxt parses into ModelConfig, and
// that the KServe / Triton field numbers and service methods are the ones existing clients use, so
// that an accidental renumbering fails here rather than in a user's client.

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "inference.grpc.pb.h"
#include "inference.pb.h"
#include "octet/v1/calibration.grpc.pb.h"
#include "octet/v1/calibration.pb.h"
#include "octet/v1/model_config.pb.h"

namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::DescriptorPool;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::MethodDescriptor;
using ::google::protobuf::ServiceDescriptor;
using ::google::protobuf::TextFormat;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

// Collects text-format parse errors instead of logging them.
class RecordingErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_ += std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message + "\n";
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

bool ParseConfig(const std::string& text, octet::v1::ModelConfig* config, std::string* errors) {
  RecordingErrorCollector collector;
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  const bool ok = parser.ParseFromString(text, config);
  *errors = collector.errors();
  return ok;
}

constexpr char kFashionLenetConfig[] = R"txt(
name: "fashion-lenet"
max_batch_size: 64
input [ { name: "input" data_type: TYPE_FP32 dims: [ 1, 28, 28 ] } ]
output [ { name: "logits" data_type: TYPE_FP32 dims: [ 10 ] } ]
dynamic_batching { max_queue_delay_microseconds: 500 preferred_batch_size: [ 8, 16 ] max_queue_size: 256 default_queue_policy { default_timeout_microseconds: 0 } }
instance_group [ { count: 1 } ]
version_policy { latest { num_versions: 1 } }
optimization { precision: PRECISION_FP32 threads: 2 }
)txt";

TEST(ModelConfigTest, ParsesTritonStyleConfig) {
  octet::v1::ModelConfig config;
  std::string errors;
  ASSERT_TRUE(ParseConfig(kFashionLenetConfig, &config, &errors)) << errors;

  EXPECT_EQ(config.name(), "fashion-lenet");
  EXPECT_EQ(config.max_batch_size(), 64);

  ASSERT_EQ(config.input_size(), 1);
  EXPECT_EQ(config.input(0).name(), "input");
  EXPECT_EQ(config.input(0).data_type(), octet::v1::TYPE_FP32);
  EXPECT_THAT(config.input(0).dims(), ElementsAre(1, 28, 28));
  EXPECT_FALSE(config.input(0).allow_nan());

  ASSERT_EQ(config.output_size(), 1);
  EXPECT_EQ(config.output(0).name(), "logits");
  EXPECT_EQ(config.output(0).data_type(), octet::v1::TYPE_FP32);
  EXPECT_THAT(config.output(0).dims(), ElementsAre(10));

  ASSERT_TRUE(config.has_dynamic_batching());
  const octet::v1::ModelDynamicBatching& batching = config.dynamic_batching();
  EXPECT_EQ(batching.max_queue_delay_microseconds(), 500u);
  EXPECT_THAT(batching.preferred_batch_size(), ElementsAre(8, 16));
  EXPECT_EQ(batching.max_queue_size(), 256u);
  EXPECT_TRUE(batching.has_default_queue_policy());
  EXPECT_EQ(batching.default_queue_policy().default_timeout_microseconds(), 0u);

  ASSERT_EQ(config.instance_group_size(), 1);
  EXPECT_EQ(config.instance_group(0).count(), 1);

  ASSERT_EQ(config.version_policy().policy_choice_case(), octet::v1::ModelVersionPolicy::kLatest);
  EXPECT_EQ(config.version_policy().latest().num_versions(), 1u);

  EXPECT_EQ(config.optimization().precision(), octet::v1::PRECISION_FP32);
  EXPECT_EQ(config.optimization().threads(), 2);

  EXPECT_FALSE(config.has_calibration());
  EXPECT_EQ(config.shadow_fraction(), 0.0);
}

constexpr char kOctetFieldsConfig[] = R"txt(
name: "resnet8"
platform: "onnxruntime_onnx"
input [ { name: "x" data_type: TYPE_FP32 dims: [ 3, 32, 32 ] allow_nan: true } ]
instance_group [ { count: 2 kind: KIND_CPU } ]
version_policy { specific { versions: [ 1, 3 ] } }
optimization { precision: PRECISION_MIXED batch_size_buckets: [ 1, 8, 32 ] }
calibration {
  method: PERCENTILE percentile: 99.99 num_samples: 500
  tolerance: 0 tolerance_mode: RELATIVE
  dataset: "cifar10:calib500.bin" validation_dataset: "cifar10:test.bin"
}
shadow_fraction: 0.05
parameters { key: "note" value: "x" }
)txt";

TEST(ModelConfigTest, ParsesOctetFields) {
  octet::v1::ModelConfig config;
  std::string errors;
  ASSERT_TRUE(ParseConfig(kOctetFieldsConfig, &config, &errors)) << errors;

  EXPECT_TRUE(config.input(0).allow_nan());
  EXPECT_EQ(config.instance_group(0).kind(), octet::v1::ModelInstanceGroup::KIND_CPU);
  EXPECT_THAT(config.version_policy().specific().versions(), ElementsAre(1, 3));
  EXPECT_EQ(config.optimization().precision(), octet::v1::PRECISION_MIXED);
  EXPECT_THAT(config.optimization().batch_size_buckets(), ElementsAre(1, 8, 32));

  const octet::v1::CalibrationDefaults& calibration = config.calibration();
  EXPECT_EQ(calibration.method(), octet::v1::PERCENTILE);
  EXPECT_EQ(calibration.percentile(), 99.99);
  EXPECT_EQ(calibration.num_samples(), 500);
  // A zero tolerance is a real setting, distinct from an absent one.
  EXPECT_EQ(calibration.optional_tolerance_case(), octet::v1::CalibrationDefaults::kTolerance);
  EXPECT_EQ(calibration.tolerance(), 0.0);
  EXPECT_EQ(calibration.tolerance_mode(), octet::v1::RELATIVE);
  EXPECT_EQ(calibration.dataset(), "cifar10:calib500.bin");
  EXPECT_EQ(calibration.validation_dataset(), "cifar10:test.bin");

  EXPECT_EQ(config.shadow_fraction(), 0.05);
  EXPECT_EQ(config.parameters().at("note"), "x");

  octet::v1::CalibrationDefaults unset;
  EXPECT_EQ(unset.optional_tolerance_case(),
            octet::v1::CalibrationDefaults::OPTIONAL_TOLERANCE_NOT_SET);
}

TEST(ModelConfigTest, RejectsUnknownFieldAndUnsupportedType) {
  octet::v1::ModelConfig config;
  std::string errors;
  EXPECT_FALSE(ParseConfig("name: \"m\" max_batch_sise: 8", &config, &errors));
  EXPECT_THAT(errors, HasSubstr("max_batch_sise"));

  EXPECT_FALSE(ParseConfig("input [ { name: \"x\" data_type: TYPE_STRING } ]", &config, &errors));
  EXPECT_THAT(errors, HasSubstr("TYPE_STRING"));
}

struct ExpectedField {
  const char* message;  // Full name.
  const char* field;
  int number;
  FieldDescriptor::Type type;
  bool repeated;
};

// A sample of the public KServe v2 and Triton numbering, weighted to what clients put on the wire.
const ExpectedField kWireFields[] = {
    {"inference.ModelInferRequest", "model_name", 1, FieldDescriptor::TYPE_STRING, false},
    {"inference.ModelInferRequest", "model_version", 2, FieldDescriptor::TYPE_STRING, false},
    {"inference.ModelInferRequest", "id", 3, FieldDescriptor::TYPE_STRING, false},
    {"inference.ModelInferRequest", "inputs", 5, FieldDescriptor::TYPE_MESSAGE, true},
    {"inference.ModelInferRequest", "outputs", 6, FieldDescriptor::TYPE_MESSAGE, true},
    {"inference.ModelInferRequest", "raw_input_contents", 7, FieldDescriptor::TYPE_BYTES, true},
    {"inference.ModelInferRequest.InferInputTensor", "datatype", 2, FieldDescriptor::TYPE_STRING,
     false},
    {"inference.ModelInferRequest.InferInputTensor", "shape", 3, FieldDescriptor::TYPE_INT64, true},
    {"inference.ModelInferRequest.InferInputTensor", "contents", 5, FieldDescriptor::TYPE_MESSAGE,
     false},
    {"inference.ModelInferResponse", "outputs", 5, FieldDescriptor::TYPE_MESSAGE, true},
    {"inference.ModelInferResponse", "raw_output_contents", 6, FieldDescriptor::TYPE_BYTES, true},
    {"inference.InferTensorContents", "int_contents", 2, FieldDescriptor::TYPE_INT32, true},
    {"inference.InferTensorContents", "uint64_contents", 5, FieldDescriptor::TYPE_UINT64, true},
    {"inference.InferTensorContents", "fp32_contents", 6, FieldDescriptor::TYPE_FLOAT, true},
    {"inference.InferTensorContents", "bytes_contents", 8, FieldDescriptor::TYPE_BYTES, true},
    {"inference.InferParameter", "string_param", 3, FieldDescriptor::TYPE_STRING, false},
    {"inference.InferParameter", "uint64_param", 5, FieldDescriptor::TYPE_UINT64, false},
    {"inference.ModelMetadataResponse", "inputs", 4, FieldDescriptor::TYPE_MESSAGE, true},
    {"inference.ModelStreamInferResponse", "infer_response", 2, FieldDescriptor::TYPE_MESSAGE,
     false},
    {"inference.StatisticDuration", "ns", 2, FieldDescriptor::TYPE_UINT64, false},
    {"inference.InferStatistics", "compute_infer", 5, FieldDescriptor::TYPE_MESSAGE, false},
    {"inference.ModelStatistics", "inference_stats", 6, FieldDescriptor::TYPE_MESSAGE, false},
    {"inference.ModelStatistics", "batch_stats", 7, FieldDescriptor::TYPE_MESSAGE, true},
    {"inference.RepositoryIndexResponse.ModelIndex", "reason", 4, FieldDescriptor::TYPE_STRING,
     false},
    {"inference.RepositoryModelLoadRequest", "model_name", 2, FieldDescriptor::TYPE_STRING, false},
};

TEST(InferenceProtoTest, FieldNumbersMatchPublicSpec) {
  // Referencing a generated class links its file into the generated pool.
  ASSERT_EQ(inference::ModelInferRequest::descriptor()->file()->name(), "inference.proto");
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  for (const ExpectedField& expected : kWireFields) {
    SCOPED_TRACE(std::string(expected.message) + "." + expected.field);
    const Descriptor* message = pool->FindMessageTypeByName(expected.message);
    ASSERT_NE(message, nullptr);
    const FieldDescriptor* field = message->FindFieldByName(expected.field);
    ASSERT_NE(field, nullptr);
    EXPECT_EQ(field->number(), expected.number);
    EXPECT_EQ(field->type(), expected.type);
    EXPECT_EQ(field->is_repeated(), expected.repeated);
  }
}

std::vector<std::string> MethodNames(const ServiceDescriptor& service) {
  std::vector<std::string> names;
  for (int i = 0; i < service.method_count(); ++i) names.push_back(service.method(i)->name());
  return names;
}

TEST(InferenceProtoTest, ServiceHasKServeAndTritonMethods) {
  // The gRPC method path clients call is "/inference.GRPCInferenceService/<method>".
  EXPECT_STREQ(inference::GRPCInferenceService::service_full_name(),
               "inference.GRPCInferenceService");
  const ServiceDescriptor* service =
      DescriptorPool::generated_pool()->FindServiceByName("inference.GRPCInferenceService");
  ASSERT_NE(service, nullptr);
  const std::vector<std::string> expected = {
      "ServerLive",      "ServerReady",         "ModelReady",           "ServerMetadata",
      "ModelMetadata",   "ModelInfer",          "ModelStreamInfer",     "ModelStatistics",
      "RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload"};
  EXPECT_THAT(MethodNames(*service), UnorderedElementsAreArray(expected));

  const MethodDescriptor* stream = service->FindMethodByName("ModelStreamInfer");
  ASSERT_NE(stream, nullptr);
  EXPECT_TRUE(stream->client_streaming());
  EXPECT_TRUE(stream->server_streaming());
  EXPECT_EQ(stream->input_type()->full_name(), "inference.ModelInferRequest");
  EXPECT_EQ(stream->output_type()->full_name(), "inference.ModelStreamInferResponse");

  const MethodDescriptor* infer = service->FindMethodByName("ModelInfer");
  ASSERT_NE(infer, nullptr);
  EXPECT_FALSE(infer->client_streaming());
  EXPECT_FALSE(infer->server_streaming());
}

TEST(CalibrationProtoTest, ServiceShape) {
  ASSERT_EQ(octet::v1::CalibrationReport::descriptor()->file()->name(),
            "octet/v1/calibration.proto");
  EXPECT_STREQ(octet::v1::Calibration::service_full_name(), "octet.v1.Calibration");
  const ServiceDescriptor* service =
      DescriptorPool::generated_pool()->FindServiceByName("octet.v1.Calibration");
  ASSERT_NE(service, nullptr);
  EXPECT_THAT(MethodNames(*service),
              UnorderedElementsAreArray({"Calibrate", "GetCalibrationReport"}));

  const MethodDescriptor* calibrate = service->FindMethodByName("Calibrate");
  ASSERT_NE(calibrate, nullptr);
  EXPECT_TRUE(calibrate->client_streaming());
  EXPECT_TRUE(calibrate->server_streaming());

  const MethodDescriptor* get_report = service->FindMethodByName("GetCalibrationReport");
  ASSERT_NE(get_report, nullptr);
  EXPECT_FALSE(get_report->client_streaming());
  EXPECT_FALSE(get_report->server_streaming());
  EXPECT_EQ(get_report->output_type()->full_name(), "octet.v1.CalibrationReport");
}

TEST(CalibrationProtoTest, RequestStreamRoundTrips) {
  octet::v1::CalibrateRequest first;
  octet::v1::CalibrationSpec* spec = first.mutable_spec();
  spec->set_model_name("resnet8");
  spec->set_method(octet::v1::ENTROPY);
  spec->set_precision(octet::v1::PRECISION_MIXED);
  spec->set_tolerance(0.5);
  spec->set_server_dataset("cifar10:calib500.bin");

  octet::v1::CalibrateRequest next;
  octet::v1::CalibrationSample* sample = next.mutable_sample();
  sample->set_role(octet::v1::CalibrationSample::VALIDATION);
  sample->set_datatype("FP32");
  sample->add_shape(2);
  sample->add_shape(3);
  sample->set_raw_contents(std::string(2 * 3 * sizeof(float), '\0'));
  sample->add_labels(4);
  sample->add_labels(7);

  octet::v1::CalibrateRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(first.SerializeAsString()));
  EXPECT_EQ(parsed.request_case(), octet::v1::CalibrateRequest::kSpec);
  EXPECT_EQ(parsed.spec().optional_tolerance_case(), octet::v1::CalibrationSpec::kTolerance);
  EXPECT_EQ(parsed.spec().tolerance(), 0.5);

  ASSERT_TRUE(parsed.ParseFromString(next.SerializeAsString()));
  EXPECT_EQ(parsed.request_case(), octet::v1::CalibrateRequest::kSample);
  EXPECT_THAT(parsed.sample().labels(), ElementsAre(4, 7));
  EXPECT_EQ(parsed.sample().raw_contents().size(), 2 * 3 * sizeof(float));
}

}  // namespace
