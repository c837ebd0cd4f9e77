#include "client/cli/input_builder.h"

#include <cstring>

#include "client/cli/testing/test_files.h"
#include "datasets/file_tensor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempPath;

TensorMetadata Tensor(const std::string& name, const std::string& datatype,
                      std::vector<int64_t> shape) {
  TensorMetadata t;
  t.set_name(name);
  t.set_datatype(datatype);
  for (int64_t d : shape) t.add_shape(d);
  return t;
}

inference::ModelMetadataResponse TwoInputs() {
  inference::ModelMetadataResponse m;
  m.set_name("m");
  *m.add_inputs() = Tensor("a", "FP32", {-1, 2});
  *m.add_inputs() = Tensor("b", "INT64", {-1});
  return m;
}

TEST(SelectInput, ByNameOrTheOnlyOne) {
  EXPECT_EQ(SelectInput(TwoInputs(), "b")->datatype(), "INT64");
  EXPECT_THAT(SelectInput(TwoInputs(), "").status().message(),
              HasSubstr("has 2 inputs ('a', 'b'); choose one with --input"));
  EXPECT_THAT(SelectInput(TwoInputs(), "c").status().message(),
              HasSubstr("has no input 'c' (inputs: 'a', 'b')"));
  inference::ModelMetadataResponse one;
  *one.add_inputs() = Tensor("x", "FP32", {-1, 3});
  EXPECT_EQ(SelectInput(one, "")->name(), "x");
}

TEST(EvenlySpaced, SpreadsOverTheWholeSet) {
  EXPECT_THAT(EvenlySpaced(10, 5), ElementsAre(0, 2, 4, 6, 8));
  EXPECT_THAT(EvenlySpaced(10, 3), ElementsAre(0, 3, 6));
  EXPECT_THAT(EvenlySpaced(4, 0), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(EvenlySpaced(4, 9), ElementsAre(0, 1, 2, 3));
  // A file sorted by class (1000 per class): 10 samples hit every class once.
  std::vector<int64_t> classes;
  for (int64_t i : EvenlySpaced(10000, 10)) classes.push_back(i / 1000);
  EXPECT_THAT(classes, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
}

// Two 2x2 RGB images: pixel = 100 * image + 10 * channel + position.
datasets::LabelledImages SmallImages() {
  datasets::LabelledImages images;
  images.count = 2;
  images.channels = 3;
  images.height = 2;
  images.width = 2;
  for (int i = 0; i < 2; ++i) {
    for (int c = 0; c < 3; ++c) {
      for (int p = 0; p < 4; ++p)
        images.pixels.push_back(static_cast<uint8_t>(100 * i + 10 * c + p));
    }
  }
  images.labels = {3, 5};
  return images;
}

std::vector<float> Floats(const client::InferInput& t) {
  std::vector<float> v(t.raw.size() / 4);
  std::memcpy(v.data(), t.raw.data(), t.raw.size());
  return v;
}

TEST(InputFromImages, Fp32ThroughPreprocessingNchw) {
  datasets::Preprocessing prep;
  prep.scale = 0.5;
  prep.mean = {1.0};
  absl::StatusOr<client::InferInput> t =
      InputFromImages(Tensor("x", "FP32", {-1, 3, 2, 2}), SmallImages(), {1}, prep);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "x");
  EXPECT_THAT(t->shape, ElementsAre(1, 3, 2, 2));
  const std::vector<float> v = Floats(*t);
  ASSERT_EQ(v.size(), 12u);
  EXPECT_EQ(v[0], 100 * 0.5f - 1);  // image 1, channel 0, pixel 0
  EXPECT_EQ(v[5], 111 * 0.5f - 1);  // channel 1, pixel 1
}

TEST(InputFromImages, Uint8NhwcInterleavesChannels) {
  datasets::Preprocessing prep;
  prep.layout = datasets::Preprocessing::Layout::kNHWC;
  absl::StatusOr<client::InferInput> t =
      InputFromImages(Tensor("x", "UINT8", {-1, 2, 2, 3}), SmallImages(), {0, 1}, prep);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->shape, ElementsAre(2, 2, 2, 3));
  ASSERT_EQ(t->raw.size(), 24u);
  EXPECT_EQ(static_cast<uint8_t>(t->raw[0]), 0);
  EXPECT_EQ(static_cast<uint8_t>(t->raw[1]), 10);  // pixel 0 of channel 1 follows channel 0's
  EXPECT_EQ(static_cast<uint8_t>(t->raw[2]), 20);
  EXPECT_EQ(static_cast<uint8_t>(t->raw[3]), 1);
  EXPECT_EQ(static_cast<uint8_t>(t->raw[12]), 100);  // second image
}

TEST(InputFromImages, FlattenedAndVariableDimensions) {
  datasets::Preprocessing prep;
  EXPECT_THAT(InputFromImages(Tensor("x", "FP32", {-1, 12}), SmallImages(), {0}, prep)->shape,
              ElementsAre(1, 12));
  EXPECT_THAT(
      InputFromImages(Tensor("x", "FP32", {-1, 3, -1, -1}), SmallImages(), {0}, prep)->shape,
      ElementsAre(1, 3, 2, 2));
}

TEST(InputFromImages, MismatchesNameBothSides) {
  datasets::Preprocessing prep;
  const absl::Status s =
      InputFromImages(Tensor("x", "FP32", {-1, 1, 28, 28}), SmallImages(), {0}, prep).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("images are 3x2x2 (channels x height x width) but input 'x' "
                                     "takes [-1,1,28,28] (layout NCHW; see --layout)"));
  EXPECT_THAT(
      InputFromImages(Tensor("x", "INT32", {-1, 12}), SmallImages(), {0}, prep).status().message(),
      HasSubstr("FP32 or UINT8 inputs only"));
  EXPECT_THAT(
      InputFromImages(Tensor("x", "FP32", {-1, 12}), SmallImages(), {2}, prep).status().message(),
      HasSubstr("image index 2 is outside the data set's 2 images"));
  prep.mean = {1, 2};  // two means for three channels
  EXPECT_FALSE(InputFromImages(Tensor("x", "FP32", {-1, 12}), SmallImages(), {0}, prep).ok());
}

TEST(InputFromFile, NpyWithAndWithoutBatchDimension) {
  datasets::FileTensor npy;
  npy.dtype = "float32";
  npy.shape = {2, 3};
  npy.bytes.resize(24);
  const std::string path = TempPath("sample.npy");
  ASSERT_TRUE(datasets::SaveNpy(path, npy).ok());
  absl::StatusOr<client::InferInput> t = InputFromFile(Tensor("x", "FP32", {-1, 2, 3}), path, "");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->shape, ElementsAre(1, 2, 3));  // batch of one prepended
  EXPECT_EQ(t->datatype, "FP32");
  EXPECT_EQ(t->raw.size(), 24u);
  EXPECT_THAT(InputFromFile(Tensor("x", "FP32", {-1, 3}), path, "")->shape, ElementsAre(2, 3));

  EXPECT_THAT(InputFromFile(Tensor("x", "UINT8", {-1, 3}), path, "").status().message(),
              HasSubstr("holds float32 but input 'x' is UINT8"));
  EXPECT_THAT(InputFromFile(Tensor("x", "FP32", {-1, 4}), path, "").status().message(),
              HasSubstr("has shape [2,3] but input 'x' takes [-1,4]"));
  EXPECT_THAT(InputFromFile(Tensor("x", "FP32", {-1, 3}), path, "2,3").status().message(),
              HasSubstr("--shape is for raw files"));
}

TEST(InputFromFile, RawNeedsAShapeThatMatchesTheFile) {
  const std::string path = testing::WriteFile("sample.bin", std::string(12, '\0'));
  absl::StatusOr<client::InferInput> t = InputFromFile(Tensor("x", "FP32", {-1, 3}), path, "1,3");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->shape, ElementsAre(1, 3));
  EXPECT_THAT(InputFromFile(Tensor("x", "FP32", {-1, 3}), path, "").status().message(),
              HasSubstr("needs --shape"));
  EXPECT_THAT(InputFromFile(Tensor("x", "FP32", {-1, 3}), path, "2,3").status().message(),
              HasSubstr("holds 12 bytes"));
  EXPECT_THAT(InputFromFile(Tensor("x", "UINT8", {-1, 12}), path, "12")->shape, ElementsAre(1, 12));
  EXPECT_THAT(InputFromFile(Tensor("x", "FP32", {-1, 3}), TempPath("missing.bin"), "1,3")
                  .status()
                  .message(),
              HasSubstr("missing.bin"));
  EXPECT_THAT(InputFromFile(Tensor("x", "FP16", {-1, 3}), path, "1,3").status().message(),
              HasSubstr("FP16, which files cannot feed"));
}

TEST(SyntheticInput, FillsTheShapeDeterministically) {
  absl::StatusOr<client::InferInput> a = SyntheticInput(Tensor("x", "FP32", {-1, 3, 4}), 2);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->shape, ElementsAre(2, 3, 4));
  EXPECT_EQ(a->raw.size(), 96u);
  for (float v : Floats(*a)) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LT(v, 1.0f);
  }
  EXPECT_EQ(a->raw, SyntheticInput(Tensor("x", "FP32", {-1, 3, 4}), 2)->raw);
  EXPECT_EQ(SyntheticInput(Tensor("x", "INT64", {-1, 2}), 1)->raw.size(), 16u);
  EXPECT_THAT(SyntheticInput(Tensor("x", "FP32", {-1, -1}), 1).status().message(),
              HasSubstr("variable dimension"));
}

}  // namespace
}  // namespace octet::cli
