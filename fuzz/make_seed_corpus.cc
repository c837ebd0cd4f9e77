// Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/), so that the committed
// seeds can be reproduced and extended from the repository:
//
//   build-asan/fuzz/octet_fuzz_seed_corpus . fuzz/corpus
//
// Seeds are small valid inputs that reach deep into each parser: tiny ONNX models built with
// the engine's test builder (a few hundred bytes each; the example model is 250 KB), requests
// the example model and a typed signature accept, configs and calibration tables.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/calibration/calibration_table.h"
#include "engine/model.h"
#include "engine/testing/onnx_model_builder.h"
#include "inference.pb.h"

namespace octet {
namespace {

namespace fs = std::filesystem;
using testing::OnnxModelBuilder;
using testing::RandomTensor;

void Write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
}

// A seed that the code under test refuses explores little: every model seed must load.
void WriteModel(const fs::path& path, const std::string& bytes) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::FromBytes(bytes);
  if (!model.ok()) {
    std::fprintf(stderr, "%s does not load: %s\n", path.c_str(),
                 std::string(model.status().message()).c_str());
    std::exit(1);
  }
  Write(path, bytes);
}

void WriteOnnxSeeds(const fs::path& dir) {
  {  // Conv + Relu + MaxPool + Flatten + Gemm + Softmax: the shape of a small CNN.
    OnnxModelBuilder m(13);
    m.Input("x", {-1, 1, 6, 6});
    m.Initializer("w", RandomTensor({2, 1, 3, 3}, 1));
    m.Initializer("b", RandomTensor({2}, 2));
    m.Node("Conv", {"x", "w", "b"}, {"c"}, "conv").Ints("pads", {1, 1, 1, 1});
    m.Node("Relu", {"c"}, {"r"}, "relu");
    m.Node("MaxPool", {"r"}, {"p"}, "pool").Ints("kernel_shape", {2, 2}).Ints("strides", {2, 2});
    m.Node("Flatten", {"p"}, {"f"}, "flatten");
    m.Initializer("g", RandomTensor({3, 18}, 3));
    m.Initializer("gb", RandomTensor({3}, 4));
    m.Node("Gemm", {"f", "g", "gb"}, {"y"}, "fc").Int("transB", 1);
    m.Node("Softmax", {"y"}, {"prob"}, "softmax");
    m.Output("prob");
    WriteModel(dir / "cnn.onnx", m.Serialize());
  }
  {  // BatchNormalization, Add, Clip and GlobalAveragePool: folded and fused by the passes.
    OnnxModelBuilder m(11);
    m.Input("x", {1, 2, 4, 4});
    m.Initializer("w", RandomTensor({2, 2, 1, 1}, 5));
    m.Node("Conv", {"x", "w"}, {"c"}, "conv");
    m.Initializer("scale", RandomTensor({2}, 6, 0.5f, 1.5f));
    m.Initializer("bias", RandomTensor({2}, 7));
    m.Initializer("mean", RandomTensor({2}, 8));
    m.Initializer("var", RandomTensor({2}, 9, 0.5f, 1.5f));
    m.Node("BatchNormalization", {"c", "scale", "bias", "mean", "var"}, {"bn"}, "bn");
    m.Node("Add", {"bn", "x"}, {"sum"}, "residual");
    m.ScalarInitializer("lo", 0.0f);
    m.ScalarInitializer("hi", 6.0f);
    m.Node("Clip", {"sum", "lo", "hi"}, {"clip"}, "relu6");
    m.Node("GlobalAveragePool", {"clip"}, {"y"}, "gap");
    m.Output("y");
    WriteModel(dir / "bn_residual.onnx", m.Serialize());
  }
  {  // Reshape, Transpose, Concat, MatMul: shape functions on constants and tensors.
    OnnxModelBuilder m(13);
    m.Input("x", {-1, 6});
    m.Int64Initializer("shape", {-1, 2, 3});
    m.Node("Reshape", {"x", "shape"}, {"r"}, "reshape");
    m.Node("Concat", {"r", "r"}, {"cat"}, "concat").Int("axis", 1);
    m.Initializer("m", RandomTensor({3, 4}, 10));
    m.Node("MatMul", {"cat", "m"}, {"y"}, "matmul");
    m.Output("y");
    WriteModel(dir / "reshape_concat_matmul.onnx", m.Serialize());
  }
  {  // A model quantized by another tool: QuantizeLinear / DequantizeLinear around a Conv.
    OnnxModelBuilder m(13);
    m.Input("x", {-1, 1, 4, 4});
    m.ScalarInitializer("xs", 0.05f);
    m.Initializer("xz", Tensor::FromVector<uint8_t>(DataType::kUInt8, {}, {128}));
    m.Node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"}, "q");
    m.Node("DequantizeLinear", {"xq", "xs", "xz"}, {"xd"}, "dq");
    m.Initializer("wq", Tensor::FromVector<int8_t>(DataType::kInt8, {1, 1, 2, 2}, {1, -2, 3, -4}));
    m.ScalarInitializer("ws", 0.1f);
    m.Initializer("wz", Tensor::FromVector<int8_t>(DataType::kInt8, {}, {0}));
    m.Node("DequantizeLinear", {"wq", "ws", "wz"}, {"w"}, "wdq");
    m.Node("Conv", {"xd", "w"}, {"y"}, "conv");
    m.Output("y");
    WriteModel(dir / "qdq_conv.onnx", m.Serialize());
  }
}

void AddInput(inference::ModelInferRequest* request, const std::string& name,
              const std::string& datatype, const std::vector<int64_t>& shape) {
  auto* input = request->add_inputs();
  input->set_name(name);
  input->set_datatype(datatype);
  for (int64_t d : shape) input->add_shape(d);
}

// infer_request_fuzzer reads one byte choosing the signature, then the request.
void WriteRequest(const fs::path& path, char signature, const inference::ModelInferRequest& r) {
  Write(path, std::string(1, signature) + r.SerializeAsString());
}

void WriteRequestSeeds(const fs::path& dir) {
  {  // The example model, two samples of raw FP32, an id, a label and a requested output.
    inference::ModelInferRequest r;
    r.set_model_name("fashion-lenet");
    r.set_id("seed");
    AddInput(&r, "input", "FP32", {2, 1, 28, 28});
    std::vector<float> pixels(2 * 28 * 28, 17.0f);
    r.add_raw_input_contents(
        std::string(reinterpret_cast<const char*>(pixels.data()), pixels.size() * sizeof(float)));
    (*r.mutable_parameters())["label"].set_string_param("3,1");
    r.add_outputs()->set_name("logits");
    WriteRequest(dir / "lenet_raw", 0, r);
  }
  {  // The example model, one sample as typed fp32_contents and an int64 label.
    inference::ModelInferRequest r;
    r.set_model_name("fashion-lenet");
    AddInput(&r, "input", "FP32", {1, 1, 28, 28});
    for (int i = 0; i < 28 * 28; ++i) {
      r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(static_cast<float>(i % 255));
    }
    (*r.mutable_parameters())["label"].set_int64_param(7);
    WriteRequest(dir / "lenet_typed", 0, r);
  }
  {  // One input of every datatype, typed contents, no batch dimension.
    inference::ModelInferRequest r;
    AddInput(&r, "f", "FP32", {2, 2});
    for (float v : {0.5f, -1.0f, 2.0f, 3.0f})
      r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(v);
    AddInput(&r, "u8", "UINT8", {3});
    for (int v : {0, 7, 255}) r.mutable_inputs(1)->mutable_contents()->add_uint_contents(v);
    AddInput(&r, "i8", "INT8", {3});
    for (int v : {-128, 0, 127}) r.mutable_inputs(2)->mutable_contents()->add_int_contents(v);
    AddInput(&r, "i32", "INT32", {2});
    for (int v : {-5, 5}) r.mutable_inputs(3)->mutable_contents()->add_int_contents(v);
    AddInput(&r, "i64", "INT64", {2});
    for (int64_t v : {int64_t{1} << 40, int64_t{-3}}) {
      r.mutable_inputs(4)->mutable_contents()->add_int64_contents(v);
    }
    r.add_outputs()->set_name("z");
    WriteRequest(dir / "typed_all", 1, r);
  }
  {  // The same as raw contents.
    inference::ModelInferRequest r;
    AddInput(&r, "f", "FP32", {2, 1});
    AddInput(&r, "u8", "UINT8", {3});
    AddInput(&r, "i8", "INT8", {3});
    AddInput(&r, "i32", "INT32", {1});
    AddInput(&r, "i64", "INT64", {2});
    const float f[] = {1.0f, 2.0f};
    const int32_t i32[] = {9};
    const int64_t i64[] = {4, 5};
    r.add_raw_input_contents(std::string(reinterpret_cast<const char*>(f), sizeof(f)));
    r.add_raw_input_contents(std::string("\x01\x02\x03", 3));
    r.add_raw_input_contents(std::string("\xff\x00\x7f", 3));
    r.add_raw_input_contents(std::string(reinterpret_cast<const char*>(i32), sizeof(i32)));
    r.add_raw_input_contents(std::string(reinterpret_cast<const char*>(i64), sizeof(i64)));
    WriteRequest(dir / "typed_raw", 1, r);
  }
}

void WriteConfigSeeds(const fs::path& source_dir, const fs::path& dir) {
  std::ifstream example(source_dir / "examples/models/fashion-lenet/config.pbtxt");
  Write(dir / "example.pbtxt", std::string(std::istreambuf_iterator<char>(example), {}));
  Write(dir / "minimal.pbtxt", "max_batch_size: 8\n");
  Write(dir / "no_batching.pbtxt",
        "max_batch_size: 0\n"
        "input [ { name: \"input\" data_type: TYPE_FP32 dims: [1, 1, 28, 28] } ]\n"
        "output [ { name: \"logits\" data_type: TYPE_FP32 dims: [1, 10] } ]\n");
  Write(dir / "int8_specific.pbtxt",
        "max_batch_size: 16\n"
        "input [ { name: \"input\" data_type: TYPE_FP32 dims: [-1, 28, 28] allow_nan: false } ]\n"
        "version_policy { specific { versions: [1, 3] } }\n"
        "instance_group [ { count: 2 kind: KIND_CPU } ]\n"
        "optimization { precision: PRECISION_INT8 threads: 1 batch_size_buckets: [1, 4, 16] }\n"
        "dynamic_batching { max_queue_delay_microseconds: 100 preferred_batch_size: [4]\n"
        "  max_queue_size: 10 default_queue_policy { default_timeout_microseconds: 5000 } }\n"
        "shadow_fraction: 0.25\n"
        "parameters { key: \"k\" value: \"v\" }\n");
}

void WriteCalibrationTableSeeds(const fs::path& dir) {
  calibration::CalibrationTable table;
  table.model_digest = "sha256:" + std::string(64, 'a');
  table.weight_scheme = "pair-limited-8bit";
  table.method.method = calibration::CalibrationMethod::kPercentile;
  table.method.percentile = 99.99;
  table.sample_count = 512;
  table.created = absl::FromUnixSeconds(1714564800);
  table.extra["dataset"] = "cifar10 test[0:512]";
  table.tensors["conv1 \"out\""] = {0.0f, 6.2f, 0.0f, 17.5f};
  table.tensors["fc/y\tüñí"] = {-3.25e-3f, 1e30f, std::nullopt, std::nullopt};
  Write(dir / "percentile.table", *calibration::ToText(table));
  table.method.method = calibration::CalibrationMethod::kMinMax;
  table.extra.clear();
  table.tensors = {{"x", {-1.0f, 1.0f, std::nullopt, std::nullopt}}};
  Write(dir / "minmax.table", *calibration::ToText(table));
}

}  // namespace
}  // namespace octet

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SOURCE_DIR CORPUS_DIR  (writes CORPUS_DIR/<target>/...)\n",
                 argv[0]);
    return 2;
  }
  const std::filesystem::path source(argv[1]), corpus(argv[2]);
  octet::WriteOnnxSeeds(corpus / "onnx_import");
  octet::WriteRequestSeeds(corpus / "infer_request");
  octet::WriteConfigSeeds(source, corpus / "model_config");
  octet::WriteCalibrationTableSeeds(corpus / "calibration_table");
  return 0;
}
