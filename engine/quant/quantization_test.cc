// Activation parameters, Quantize / Dequantize, requantization and bias, against values
// computed by hand in the comments (formulas: docs/quantization.md).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/quant/quantization_params.h"
#include "engine/quant/requantization.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::quant {
namespace {

using ::testing::HasSubstr;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// --- ChooseActivationParams -------------------------------------------------------------------

TEST(ChooseActivationParamsTest, SymmetricRangeTiesToEvenZeroPoint) {
  // scale = (1 - (-1)) / 255 = 2/255; zero_point = 0 - (-1) / (2/255) = 127.5, a tie, which
  // rounds to the even 128. The grid then covers [-128, 127] * 2/255 = [-1.0039, 0.9961].
  auto p = ChooseActivationParams(-1.0f, 1.0f);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FLOAT_EQ(p->scale, 2.0f / 255.0f);
  EXPECT_EQ(p->zero_point, 128);
}

TEST(ChooseActivationParamsTest, NonNegativeRangeHasZeroPointZero) {
  // [0, 6] (Relu6): scale = 6/255, zero_point = 0 - 0 / scale = 0.
  auto p = ChooseActivationParams(0.0f, 6.0f);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FLOAT_EQ(p->scale, 6.0f / 255.0f);
  EXPECT_EQ(p->zero_point, 0);
}

TEST(ChooseActivationParamsTest, RangeIsWidenedToContainZero) {
  // [2, 5] -> [0, 5]: scale = 5/255, zero_point 0.
  auto positive = ChooseActivationParams(2.0f, 5.0f);
  ASSERT_TRUE(positive.ok()) << positive.status();
  EXPECT_FLOAT_EQ(positive->scale, 5.0f / 255.0f);
  EXPECT_EQ(positive->zero_point, 0);
  // [-3, -1] -> [-3, 0]: scale = 3/255, zero_point = 0 - (-3) / (3/255) = 255.
  auto negative = ChooseActivationParams(-3.0f, -1.0f);
  ASSERT_TRUE(negative.ok()) << negative.status();
  EXPECT_FLOAT_EQ(negative->scale, 3.0f / 255.0f);
  EXPECT_EQ(negative->zero_point, 255);
  EXPECT_EQ(Quantize(0.0f, *negative, 0, 255), 255);
}

TEST(ChooseActivationParamsTest, AsymmetricRangeRoundsZeroPoint) {
  // [-0.5, 1.5]: scale = 2/255, zero_point = 0.5 * 255 / 2 = 63.75 -> 64.
  auto p = ChooseActivationParams(-0.5f, 1.5f);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FLOAT_EQ(p->scale, 2.0f / 255.0f);
  EXPECT_EQ(p->zero_point, 64);
  EXPECT_EQ(Dequantize(Quantize(0.0f, *p, 0, 255), *p), 0.0f);
}

TEST(ChooseActivationParamsTest, AllZeroTensorGetsAValidScaleAndExactZero) {
  // min == max == 0: nothing to resolve; scale 1 and zero_point qmin represent 0 exactly.
  auto p = ChooseActivationParams(0.0f, 0.0f);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->scale, 1.0f);
  EXPECT_EQ(p->zero_point, 0);
  EXPECT_EQ(Dequantize(Quantize(0.0f, *p, 0, 255), *p), 0.0f);
}

TEST(ChooseActivationParamsTest, ConstantNonZeroTensorIsWidenedToZero) {
  // min == max == 3 -> [0, 3]: scale = 3/255, zero_point 0; 3 itself is q = 255, exact.
  auto p = ChooseActivationParams(3.0f, 3.0f);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FLOAT_EQ(p->scale, 3.0f / 255.0f);
  EXPECT_EQ(p->zero_point, 0);
  EXPECT_EQ(Quantize(3.0f, *p, 0, 255), 255);
  EXPECT_FLOAT_EQ(Dequantize(255, *p), 3.0f);
  // min == max == -3 -> [-3, 0]: zero_point 255.
  auto n = ChooseActivationParams(-3.0f, -3.0f);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->zero_point, 255);
}

TEST(ChooseActivationParamsTest, OtherIntegerRanges) {
  // u7 [0, 127] on [-1, 1]: scale = 2/127, zero_point = 127/2 = 63.5 -> 64 (even).
  auto u7 = ChooseActivationParams(-1.0f, 1.0f, kU7Activation.min, kU7Activation.max);
  ASSERT_TRUE(u7.ok()) << u7.status();
  EXPECT_FLOAT_EQ(u7->scale, 2.0f / 127.0f);
  EXPECT_EQ(u7->zero_point, 64);
  // s8 [-128, 127] on [-1, 1]: zero_point = -128 + 127.5 = -0.5 -> 0 (even).
  auto s8 = ChooseActivationParams(-1.0f, 1.0f, -128, 127);
  ASSERT_TRUE(s8.ok()) << s8.status();
  EXPECT_EQ(s8->zero_point, 0);
}

TEST(ChooseActivationParamsTest, NonFiniteRangeIsRejected) {
  for (auto [min, max] : std::vector<std::pair<float, float>>{
           {kNaN, 1.0f}, {0.0f, kNaN}, {-kInf, 1.0f}, {0.0f, kInf}, {kNaN, kNaN}}) {
    auto p = ChooseActivationParams(min, max);
    ASSERT_FALSE(p.ok()) << min << " " << max;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(p.status().message(), HasSubstr("not finite"));
  }
}

TEST(ChooseActivationParamsTest, InvertedRangeAndEmptyIntegerRangeAreRejected) {
  auto inverted = ChooseActivationParams(1.0f, -1.0f);
  EXPECT_EQ(inverted.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(inverted.status().message(), HasSubstr("min > max"));
  EXPECT_EQ(ChooseActivationParams(0.0f, 1.0f, 5, 5).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ChooseActivationParamsTest, TinyRangeClampsScaleToMinimum) {
  // 1e-12 / 255 ~ 4e-15 is far below kMinScale; so is a denormal range.
  for (float max : {1e-12f, 1e-40f, std::numeric_limits<float>::denorm_min()}) {
    auto p = ChooseActivationParams(0.0f, max);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->scale, kMinScale);
    EXPECT_EQ(p->zero_point, 0);
    EXPECT_TRUE(std::isfinite(1.0f / p->scale));
  }
  // Symmetric tiny range: zero_point = 0 - (-1e-12) / 1e-8 = 1e-4 -> 0.
  auto p = ChooseActivationParams(-1e-12f, 1e-12f);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->scale, kMinScale);
  EXPECT_EQ(p->zero_point, 0);
}

TEST(ChooseActivationParamsTest, HugeRangeDoesNotOverflow) {
  // max - min = 2 * FLT_MAX overflows float, not the double the scale is computed in.
  const float big = std::numeric_limits<float>::max();
  auto p = ChooseActivationParams(-big, big);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(std::isfinite(p->scale));
  EXPECT_FLOAT_EQ(p->scale, static_cast<float>(2.0 * big / 255.0));
  EXPECT_EQ(p->zero_point, 128);
}

TEST(ValidateQuantizationParamsTest, RejectsBadScaleAndZeroPoint) {
  EXPECT_TRUE(ValidateQuantizationParams({0.1f, 128}, 0, 255).ok());
  EXPECT_FALSE(ValidateQuantizationParams({0.0f, 0}, 0, 255).ok());
  EXPECT_FALSE(ValidateQuantizationParams({-0.1f, 0}, 0, 255).ok());
  EXPECT_FALSE(ValidateQuantizationParams({kNaN, 0}, 0, 255).ok());
  EXPECT_FALSE(ValidateQuantizationParams({kInf, 0}, 0, 255).ok());
  EXPECT_FALSE(ValidateQuantizationParams({0.1f, 256}, 0, 255).ok());
  EXPECT_FALSE(ValidateQuantizationParams({0.1f, -1}, 0, 255).ok());
}

// --- Quantize / Dequantize --------------------------------------------------------------------

TEST(QuantizeTest, RoundsHalfToEven) {
  const QuantizationParams unit{1.0f, 0};
  const std::vector<std::pair<float, int32_t>> cases = {
      {0.5f, 0},   {1.5f, 2},   {2.5f, 2},  {3.5f, 4},  {-0.5f, 0},
      {-1.5f, -2}, {-2.5f, -2}, {0.49f, 0}, {0.51f, 1}, {-0.51f, -1}};
  for (auto [x, q] : cases) {
    EXPECT_EQ(Quantize(x, unit, kS8Weight.min, kS8Weight.max), q) << x;
  }
  // Rounded before the zero point is added (ONNX QuantizeLinear): 2.5 -> 2, + 11 = 13.
  EXPECT_EQ(Quantize(2.5f, {1.0f, 11}, 0, 255), 13);
  // scale 0.5: 0.75 / 0.5 = 1.5 -> 2, + 10 = 12; 1.25 / 0.5 = 2.5 -> 2, + 10 = 12.
  EXPECT_EQ(Quantize(0.75f, {0.5f, 10}, 0, 255), 12);
  EXPECT_EQ(Quantize(1.25f, {0.5f, 10}, 0, 255), 12);
}

TEST(QuantizeTest, HandComputedValues) {
  // [-1, 1]: scale 2/255, zero_point 128. 0.5 / (2/255) = 63.75 -> 64, + 128 = 192.
  // -1 / (2/255) would be the tie -127.5, but the float scale 0.0078431377 is a hair above
  // 2/255 = 0.0078431372..., so the quotient is -127.499992 -> -127, + 128 = 1: still within
  // half a step of -1. Ties in real arithmetic are rarely ties in float.
  const QuantizationParams p{2.0f / 255.0f, 128};
  EXPECT_EQ(Quantize(0.5f, p, 0, 255), 192);
  EXPECT_EQ(Quantize(-1.0f, p, 0, 255), 1);
  EXPECT_LE(std::fabs(Dequantize(1, p) - (-1.0f)), 0.5f * p.scale);
  EXPECT_EQ(Quantize(0.0f, p, 0, 255), 128);
  EXPECT_FLOAT_EQ(Dequantize(192, p), 64.0f * 2.0f / 255.0f);
  EXPECT_EQ(Dequantize(128, p), 0.0f);
}

TEST(QuantizeTest, SaturatesAndHandlesNonFinite) {
  const QuantizationParams p{0.1f, 128};
  EXPECT_EQ(Quantize(100.0f, p, 0, 255), 255);
  EXPECT_EQ(Quantize(-100.0f, p, 0, 255), 0);
  EXPECT_EQ(Quantize(kInf, p, 0, 255), 255);
  EXPECT_EQ(Quantize(-kInf, p, 0, 255), 0);
  EXPECT_EQ(Quantize(kNaN, p, 0, 255), 128);
  EXPECT_EQ(Quantize(std::numeric_limits<float>::max(), {kMinScale, 0}, -127, 127), 127);
}

TEST(QuantizeTest, RoundTripIsWithinHalfAStep) {
  // Anywhere in the observed [min, max], even where the rounded zero point shifts the grid.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> bound(-10.0f, 10.0f);
  for (int trial = 0; trial < 200; ++trial) {
    float min = bound(rng), max = bound(rng);
    if (min > max) std::swap(min, max);
    auto p = ChooseActivationParams(min, max);
    ASSERT_TRUE(p.ok()) << p.status();
    std::uniform_real_distribution<float> value(std::min(min, 0.0f), std::max(max, 0.0f));
    for (int i = 0; i < 100; ++i) {
      const float x = value(rng);
      const float error = std::fabs(Dequantize(Quantize(x, *p, 0, 255), *p) - x);
      EXPECT_LE(error, 0.5f * p->scale * (1.0f + 1e-4f))
          << x << " in [" << min << ", " << max << "]";
    }
    EXPECT_EQ(Dequantize(Quantize(0.0f, *p, 0, 255), *p), 0.0f);
  }
}

TEST(QuantizeTensorTest, MatchesScalarVersionAndChecksArguments) {
  const std::vector<float> src = {-1.0f, -0.25f, 0.0f, 0.55f, 2.0f};
  const QuantizationParams p{2.0f / 255.0f, 128};
  std::vector<uint8_t> u8(src.size());
  ASSERT_TRUE(QuantizeTensor(src, p, kU8Activation, absl::MakeSpan(u8)).ok());
  // -1 -> 1 (see HandComputedValues); -0.25 / (2/255) = -31.875 -> -32, + 128 = 96;
  // 0.55 / (2/255) = 70.125 -> 70, + 128 = 198; 2.0 saturates at 255.
  EXPECT_THAT(u8, ::testing::ElementsAre(1, 96, 128, 198, 255));
  std::vector<float> back(src.size());
  ASSERT_TRUE(DequantizeTensor(absl::MakeConstSpan(u8), p, absl::MakeSpan(back)).ok());
  for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(back[i], Dequantize(u8[i], p));

  std::vector<int8_t> s8(src.size());
  ASSERT_TRUE(QuantizeTensor(src, {1.0f / 127.0f, 0}, kS8Weight, absl::MakeSpan(s8)).ok());
  // -0.25 * 127 = -31.75 -> -32; 0.55 * 127 = 69.85 -> 70; 2 saturates at 127.
  EXPECT_THAT(s8, ::testing::ElementsAre(-127, -32, 0, 70, 127));
  ASSERT_TRUE(DequantizeTensor(absl::MakeConstSpan(s8), {0.5f, 0}, absl::MakeSpan(back)).ok());
  EXPECT_EQ(back[0], -63.5f);

  std::vector<uint8_t> short_dst(2);
  EXPECT_EQ(QuantizeTensor(src, p, kU8Activation, absl::MakeSpan(short_dst)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(QuantizeTensor(src, {1.0f, 0}, kS8Weight, absl::MakeSpan(u8)).code(),
            absl::StatusCode::kInvalidArgument);  // a negative range does not fit u8
  EXPECT_EQ(QuantizeTensor(src, {0.0f, 0}, kU8Activation, absl::MakeSpan(u8)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DequantizeTensor(absl::MakeConstSpan(u8), p, absl::MakeSpan(back).subspan(1)).code(),
            absl::StatusCode::kInvalidArgument);
}

// --- Requantization ---------------------------------------------------------------------------

TEST(RequantizationTest, MultiplierIsInputTimesWeightOverOutputScale) {
  // 0.02 * 0.005 / 0.1 = 0.001.
  EXPECT_FLOAT_EQ(RequantizationMultiplier(0.02f, 0.005f, 0.1f), 0.001f);
  const std::vector<float> s_w = {0.005f, 0.01f, 0.5f};
  EXPECT_THAT(RequantizationMultiplier(0.02f, s_w, 0.1f),
              ::testing::Pointwise(::testing::FloatEq(), {0.001f, 0.002f, 0.1f}));
  // Scales at kMinScale still give a normal, non-zero multiplier.
  EXPECT_TRUE(std::isnormal(RequantizationMultiplier(kMinScale, kMinScale, 1e4f)));
}

TEST(RequantizationTest, ResidualSumPostOp) {
  // Residual r (0.2, zp 10) into y (0.1, zp 3): y units per r unit = 0.2 / 0.1 = 2, and the
  // residual's own zero point is subtracted.
  const SumPostOp op = ResidualSumPostOp({0.2f, 10}, {0.1f, 3});
  EXPECT_FLOAT_EQ(op.scale, 2.0f);
  EXPECT_EQ(op.zero_point, 10);
}

TEST(QuantizeBiasTest, HandComputedValues) {
  // s_x = 0.5: accumulator scales 0.5 * {0.25, 0.25, 0.125, 1} = {0.125, 0.125, 0.0625, 0.5}.
  // 0.3125 / 0.125 = 2.5 -> 2 (even); 0.4375 / 0.125 = 3.5 -> 4; -1 / 0.0625 = -16; 0 -> 0.
  const std::vector<float> bias = {0.3125f, 0.4375f, -1.0f, 0.0f};
  const std::vector<float> s_w = {0.25f, 0.25f, 0.125f, 1.0f};
  auto b = QuantizeBias(bias, 0.5f, s_w);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(b->values, ::testing::ElementsAre(2, 4, -16, 0));
  EXPECT_EQ(b->saturated, 0);
  EXPECT_EQ(b->first_saturated_channel, -1);

  // One per-tensor weight scale: 0.1 * 0.01 = 0.001; 1 / 0.001 = 1000, -0.5 / 0.001 = -500.
  auto t = QuantizeBias(std::vector<float>{1.0f, -0.5f}, 0.1f, std::vector<float>{0.01f});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->values, ::testing::ElementsAre(1000, -500));
}

TEST(QuantizeBiasTest, SaturationIsReported) {
  // Channel 1: 1e4 / (1e-3 * 1e-8) = 1e15 > 2^31 - 1; channel 2: -1e15 < -2^31.
  const std::vector<float> bias = {1.0f, 1e4f, -1e4f};
  const std::vector<float> s_w = {1e-3f, 1e-8f, 1e-8f};
  auto b = QuantizeBias(bias, 1e-3f, s_w);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->values[0], 1000000);
  EXPECT_EQ(b->values[1], std::numeric_limits<int32_t>::max());
  EXPECT_EQ(b->values[2], std::numeric_limits<int32_t>::min());
  EXPECT_EQ(b->saturated, 2);
  EXPECT_EQ(b->first_saturated_channel, 1);
}

TEST(QuantizeBiasTest, RejectsBadArguments) {
  const std::vector<float> bias = {1.0f, 2.0f, 3.0f};
  EXPECT_EQ(QuantizeBias(bias, 0.1f, std::vector<float>{0.1f, 0.1f}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(QuantizeBias(bias, 0.0f, std::vector<float>{0.1f}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(QuantizeBias(bias, 0.1f, std::vector<float>{0.1f, kNaN, 0.1f}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto nan_bias = QuantizeBias(std::vector<float>{1.0f, kNaN}, 0.1f, std::vector<float>{0.1f});
  EXPECT_EQ(nan_bias.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(nan_bias.status().message(), HasSubstr("channel 1"));
}

}  // namespace
}  // namespace octet::quant
