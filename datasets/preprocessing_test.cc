#include "datasets/preprocessing.h"

#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::datasets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Two images, 2 channels of 1x2 pixels, NCHW:
//   image 0: channel 0 = [10, 20], channel 1 = [30, 40]
//   image 1: channel 0 = [50, 60], channel 1 = [70, 80]
LabelledImages TwoByTwoChannels() {
  LabelledImages images;
  images.count = 2;
  images.channels = 2;
  images.height = 1;
  images.width = 2;
  images.pixels = {10, 20, 30, 40, 50, 60, 70, 80};
  return images;
}

// scale 0.5, mean (1, 2), stddev (2, 4):
//   channel 0: (p/2 - 1)/2   10 -> 2, 20 -> 4.5, 50 -> 12, 60 -> 14.5
//   channel 1: (p/2 - 2)/4   30 -> 3.25, 40 -> 4.5, 70 -> 8.25, 80 -> 9.5
Preprocessing HandChecked(Preprocessing::Layout layout) {
  Preprocessing prep;
  prep.scale = 0.5;
  prep.mean = {1.0, 2.0};
  prep.stddev = {2.0, 4.0};
  prep.layout = layout;
  return prep;
}

TEST(FillBatch, Nchw) {
  std::vector<float> dst(8);
  ASSERT_TRUE(FillBatch(TwoByTwoChannels(), 0, 2, HandChecked(Preprocessing::Layout::kNCHW),
                        absl::MakeSpan(dst))
                  .ok());
  EXPECT_THAT(dst, ElementsAre(2, 4.5, 3.25, 4.5, 12, 14.5, 8.25, 9.5));
}

TEST(FillBatch, Nhwc) {
  std::vector<float> dst(8);
  ASSERT_TRUE(FillBatch(TwoByTwoChannels(), 0, 2, HandChecked(Preprocessing::Layout::kNHWC),
                        absl::MakeSpan(dst))
                  .ok());
  EXPECT_THAT(dst, ElementsAre(2, 3.25, 4.5, 4.5, 12, 8.25, 14.5, 9.5));
}

TEST(FillBatch, StartsAtFirst) {
  std::vector<float> dst(4);
  ASSERT_TRUE(FillBatch(TwoByTwoChannels(), 1, 1, HandChecked(Preprocessing::Layout::kNHWC),
                        absl::MakeSpan(dst))
                  .ok());
  EXPECT_THAT(dst, ElementsAre(12, 8.25, 14.5, 9.5));
}

TEST(FillBatch, SingleValuesBroadcastAndEmptyListsAreIdentity) {
  Preprocessing broadcast;
  broadcast.scale = 0.5;
  broadcast.mean = {1.0};
  broadcast.stddev = {2.0};
  std::vector<float> dst(4);
  ASSERT_TRUE(FillBatch(TwoByTwoChannels(), 0, 1, broadcast, absl::MakeSpan(dst)).ok());
  EXPECT_THAT(dst, ElementsAre(2, 4.5, 7, 9.5));

  ASSERT_TRUE(FillBatch(TwoByTwoChannels(), 1, 1, Preprocessing(), absl::MakeSpan(dst)).ok());
  EXPECT_THAT(dst, ElementsAre(50, 60, 70, 80));
}

TEST(FillBatch, MatchesTheExactFormulaForRealNormalisation) {
  // The mobilenet-tiny-cifar10 preprocessing: (x/255 - mean)/std.
  absl::StatusOr<Preprocessing> prep =
      ParsePreprocessing("1/255", "0.4914,0.4822,0.4465", "0.2470,0.2435,0.2616", "");
  ASSERT_TRUE(prep.ok()) << prep.status();
  LabelledImages images;
  images.count = 1;
  images.channels = 3;
  images.height = 1;
  images.width = 1;
  images.pixels = {0, 128, 255};
  std::vector<float> dst(3);
  ASSERT_TRUE(FillBatch(images, 0, 1, *prep, absl::MakeSpan(dst)).ok());
  // Within 4 ulps of the formula in double precision; a float scale of 1/255 is 17 ulps
  // off for the middle value.
  EXPECT_FLOAT_EQ(dst[0], static_cast<float>((0 / 255.0 - 0.4914) / 0.2470));
  EXPECT_FLOAT_EQ(dst[1], static_cast<float>((128 / 255.0 - 0.4822) / 0.2435));
  EXPECT_FLOAT_EQ(dst[2], static_cast<float>((255 / 255.0 - 0.4465) / 0.2616));
}

TEST(FillBatch, RejectsWhatDoesNotFit) {
  const LabelledImages images = TwoByTwoChannels();
  std::vector<float> dst(8, -1.0f);
  const Preprocessing ok = HandChecked(Preprocessing::Layout::kNCHW);
  EXPECT_EQ(FillBatch(images, 1, 2, ok, absl::MakeSpan(dst)).code(),
            absl::StatusCode::kInvalidArgument);  // past the end
  EXPECT_EQ(FillBatch(images, -1, 1, ok, absl::MakeSpan(dst)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FillBatch(images, 0, 1, ok, absl::MakeSpan(dst)).code(),
            absl::StatusCode::kInvalidArgument);  // dst is 8 floats, one image is 4

  Preprocessing three_means = ok;
  three_means.mean = {1, 2, 3};
  const absl::Status status = FillBatch(images, 0, 2, three_means, absl::MakeSpan(dst));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("mean has 3 values but the images have 2 channel"));

  Preprocessing zero_stddev = ok;
  zero_stddev.stddev = {1, 0};
  EXPECT_EQ(FillBatch(images, 0, 2, zero_stddev, absl::MakeSpan(dst)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dst, ::testing::Each(-1.0f));  // untouched on error
}

TEST(ParseNumberList, ParsesCommaSeparatedNumbers) {
  absl::StatusOr<std::vector<double>> values = ParseNumberList("0.485,0.456, 0.406 ");
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values, ElementsAre(0.485, 0.456, 0.406));
  values = ParseNumberList("");
  ASSERT_TRUE(values.ok());
  EXPECT_TRUE(values->empty());
  for (const char* bad : {"1,,2", "abc", "1,", "nan", "inf", "1;2"}) {
    EXPECT_EQ(ParseNumberList(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParsePreprocessing, ParsesEveryField) {
  absl::StatusOr<Preprocessing> prep = ParsePreprocessing("1/255", "0.5", "0.25,0.5", "NHWC");
  ASSERT_TRUE(prep.ok()) << prep.status();
  EXPECT_EQ(prep->scale, 1 / 255.0);
  EXPECT_THAT(prep->mean, ElementsAre(0.5));
  EXPECT_THAT(prep->stddev, ElementsAre(0.25, 0.5));
  EXPECT_EQ(prep->layout, Preprocessing::Layout::kNHWC);

  prep = ParsePreprocessing("", "", "", "");
  ASSERT_TRUE(prep.ok()) << prep.status();
  EXPECT_EQ(prep->scale, 1.0);
  EXPECT_TRUE(prep->mean.empty());
  EXPECT_TRUE(prep->stddev.empty());
  EXPECT_EQ(prep->layout, Preprocessing::Layout::kNCHW);
}

TEST(ParsePreprocessing, RejectsBadText) {
  EXPECT_EQ(ParsePreprocessing("1/0", "", "", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParsePreprocessing("1/2/3", "", "", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParsePreprocessing("x", "", "", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParsePreprocessing("", "", "1,0", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status layout = ParsePreprocessing("", "", "", "chw").status();
  EXPECT_EQ(layout.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(layout.message(), HasSubstr("nhwc"));
}

}  // namespace
}  // namespace octet::datasets
