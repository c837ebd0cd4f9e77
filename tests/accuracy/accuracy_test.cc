// FP32 accuracy on real models and real test sets: the engine must reproduce the reference
// top-1 figures (../shared/data/README.md, examples/README.md) to within 2 images in 10,000,
// the most that float rounding at ties can explain.
//
// The shared models and data sets live beside the checkout. When one is missing the test is
// skipped with a message naming it, except in CI (CI=true), where that is a failure.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/evaluation.h"
#include "datasets/dataset.h"
#include "datasets/preprocessing.h"
#include "engine/model.h"
#include "engine/session.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

struct AccuracyCase {
  std::string name;
  std::string model;      // path
  std::string dataset;    // datasets::LoadDataset spec
  std::string data_file;  // the file the spec reads, to check that it exists
  std::string scale, mean, stddev;
  int64_t expected_correct;  // of 10,000
};

const std::string kShared = OCTET_SHARED_DATA;
const std::string kFashion = "/usr/share/datasets/fashion-mnist";

std::vector<AccuracyCase> Cases() {
  const std::string cifar = kShared + "/cifar10-jpeg/test.bin";
  const std::string mnist = kShared + "/mnist/t10k-images-idx3-ubyte.gz";
  const std::string fashion = kFashion + "/t10k-images-idx3-ubyte.gz";
  return {
      {"mnist8", kShared + "/models/mnist-8.onnx", "idx:" + mnist, mnist, "1", "", "", 9891},
      {"resnet8", kShared + "/models/resnet8-mlperf-tiny.onnx", "cifar10:" + cifar, cifar, "1", "",
       "", 7548},
      {"mobilenet_tiny", kShared + "/models/mobilenet-tiny-cifar10.onnx", "cifar10:" + cifar, cifar,
       "1/255", "0.4914,0.4822,0.4465", "0.2470,0.2435,0.2616", 7002},
      {"example_fashion_lenet", OCTET_SOURCE_DIR "/examples/models/fashion-lenet/1/model.onnx",
       "idx:" + fashion, fashion, "1", "", "", 9118},
  };
}

void PrintTo(const AccuracyCase& c, std::ostream* os) { *os << c.name; }

class AccuracyTest : public testing::TestWithParam<AccuracyCase> {};

TEST_P(AccuracyTest, ReproducesReferenceTop1) {
  const AccuracyCase& c = GetParam();
  for (const std::string& path : {c.model, c.data_file}) {
    if (std::filesystem::exists(path)) continue;
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << "required file is missing: " << path
             << " (shared data beside the checkout, or Debian's dataset-fashion-mnist)";
    }
    GTEST_SKIP() << "missing " << path;
  }
  auto model = Model::Load(c.model);
  ASSERT_TRUE(model.ok()) << model.status();
  auto session = Session::Create(*model);
  ASSERT_TRUE(session.ok()) << session.status();
  auto images = datasets::LoadDataset(c.dataset);
  ASSERT_TRUE(images.ok()) << images.status();
  ASSERT_EQ(images->count, 10000);
  auto prep = datasets::ParsePreprocessing(c.scale, c.mean, c.stddev, "NCHW");
  ASSERT_TRUE(prep.ok()) << prep.status();

  auto result = bench::Evaluate(**session, *images, *prep, bench::EvalOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->samples, 10000);
  EXPECT_NEAR(result->correct, c.expected_correct, 2)
      << c.name << ": " << result->correct << "/10000 correct, reference " << c.expected_correct;
}

INSTANTIATE_TEST_SUITE_P(RealModels, AccuracyTest, testing::ValuesIn(Cases()),
                         [](const testing::TestParamInfo<AccuracyCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace octet
