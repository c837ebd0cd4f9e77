// s8 weight schemes: hand-computed tensors for each scheme, the saturation count at its exact
// boundary, and a property test over random tensors (formulas: docs/quantization.md).
#include "engine/quant/weight_quantization.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "engine/quant/quantization_params.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::quant {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Conv weights [OC = 2, IC = 4, 1, 1]; pairs along IC are (ic 0, ic 1) and (ic 2, ic 3).
//   channel 0: 1.0  0.6 | -0.2  0.7   absmax 1.0; pair reach 1.6 (same sign), 0.7 (opposite)
//   channel 1: -0.5 -0.4 | 0.3  0.0   absmax 0.5; pair reach 0.9 (same sign), 0.3
const std::vector<float> kConvWeights = {1.0f, 0.6f, -0.2f, 0.7f, -0.5f, -0.4f, 0.3f, 0.0f};
const std::vector<int64_t> kConvShape = {2, 4, 1, 1};

QuantizedWeights QuantizeConv(WeightScheme scheme) {
  auto qw = QuantizeWeightsPerChannel(kConvWeights, kConvShape, /*channel_axis=*/0,
                                      /*pair_axis=*/1, scheme);
  EXPECT_TRUE(qw.ok()) << qw.status();
  return qw.ok() ? *std::move(qw) : QuantizedWeights{};
}

TEST(QuantizeWeightsPerChannelTest, Full8HandComputed) {
  // scale = absmax / 127. Channel 0: w * 127 = 127, 76.2, -25.4, 88.9 -> 127, 76, -25, 89.
  // Channel 1: w * 254 = -127, -101.6, 76.2, 0 -> -127, -102, 76, 0.
  // Saturating pairs: (127, 76) sums to 203 and (-127, -102) to 229, both same-signed > 128;
  // (-25, 89) has opposite signs and cannot saturate.
  const QuantizedWeights qw = QuantizeConv(WeightScheme::kFull8);
  EXPECT_THAT(qw.scales,
              ElementsAre(::testing::FloatEq(1.0f / 127), ::testing::FloatEq(0.5f / 127)));
  EXPECT_THAT(qw.values, ElementsAre(127, 76, -25, 89, -127, -102, 76, 0));
  EXPECT_EQ(qw.shape, kConvShape);
  EXPECT_EQ(qw.channel_axis, 0);
  EXPECT_EQ(qw.stats.pairs, 4);
  EXPECT_EQ(qw.stats.saturating_pairs, 2);
  EXPECT_EQ(qw.stats.saturating_pairs_full8, 2);
  EXPECT_EQ(qw.stats.zero_channels, 0);
  // Largest error: channel 0's -0.2, |-25.4 - (-25)| / 127 = 0.4 / 127 = 0.00315.
  EXPECT_NEAR(qw.stats.max_abs_error, 0.4f / 127.0f, 1e-6f);
}

TEST(QuantizeWeightsPerChannelTest, SevenBitHandComputed) {
  // scale = absmax / 63. Channel 0: w * 63 = 63, 37.8, -12.6, 44.1 -> 63, 38, -13, 44.
  // Channel 1: w * 126 = -63, -50.4, 37.8, 0 -> -63, -50, 38, 0. No pair exceeds 126.
  const QuantizedWeights qw = QuantizeConv(WeightScheme::kSevenBit);
  EXPECT_THAT(qw.scales, ElementsAre(::testing::FloatEq(1.0f / 63), ::testing::FloatEq(0.5f / 63)));
  EXPECT_THAT(qw.values, ElementsAre(63, 38, -13, 44, -63, -50, 38, 0));
  EXPECT_EQ(qw.stats.saturating_pairs, 0);
  EXPECT_EQ(qw.stats.saturating_pairs_full8, 2);
}

TEST(QuantizeWeightsPerChannelTest, PairLimitedHandComputed) {
  // scale = max pair reach / 127: channel 0: 1.6 / 127, channel 1: 0.9 / 127.
  // Channel 0: w * 127 / 1.6 = 79.375, 47.625, -15.875, 55.5625 -> 79, 48, -16, 56.
  // Channel 1: w * 127 / 0.9 = -70.56, -56.44, 42.33, 0 -> -71, -56, 42, 0.
  // Same-signed pairs now sum to 79 + 48 = 127 and 71 + 56 = 127: 255 * 127 = 32385 fits.
  const QuantizedWeights qw = QuantizeConv(WeightScheme::kPairLimited);
  EXPECT_THAT(qw.scales,
              ElementsAre(::testing::FloatEq(1.6f / 127), ::testing::FloatEq(0.9f / 127)));
  EXPECT_THAT(qw.values, ElementsAre(79, 48, -16, 56, -71, -56, 42, 0));
  EXPECT_EQ(qw.stats.saturating_pairs, 0);
  EXPECT_EQ(qw.stats.saturating_pairs_full8, 2);
  EXPECT_EQ(qw.scheme, WeightScheme::kPairLimited);
  // Finer than seven-bit: 1.6 / 127 = 0.0126 < 1 / 63 = 0.0159 and 0.9 / 127 < 0.5 / 63.
  const QuantizedWeights seven = QuantizeConv(WeightScheme::kSevenBit);
  for (size_t c = 0; c < qw.scales.size(); ++c) EXPECT_LT(qw.scales[c], seven.scales[c]);
}

TEST(QuantizeWeightsPerTensorTest, OneScaleForTheTensor) {
  // The largest channel bound over the tensor: absmax 1.0, pair reach 1.6.
  auto full8 = QuantizeWeightsPerTensor(kConvWeights, kConvShape, 1, WeightScheme::kFull8);
  auto seven = QuantizeWeightsPerTensor(kConvWeights, kConvShape, 1, WeightScheme::kSevenBit);
  auto pair = QuantizeWeightsPerTensor(kConvWeights, kConvShape, 1, WeightScheme::kPairLimited);
  ASSERT_TRUE(full8.ok() && seven.ok() && pair.ok());
  EXPECT_EQ(full8->channel_axis, -1);
  EXPECT_THAT(full8->scales, ElementsAre(::testing::FloatEq(1.0f / 127)));
  EXPECT_THAT(seven->scales, ElementsAre(::testing::FloatEq(1.0f / 63)));
  EXPECT_THAT(pair->scales, ElementsAre(::testing::FloatEq(1.6f / 127)));
  // Channel 1 at scale 1/127: -63.5 and -50.8 round to at most 64 + 51 = 115: only channel 0's
  // (127, 76) saturates.
  EXPECT_EQ(full8->stats.saturating_pairs, 1);
  EXPECT_EQ(pair->stats.saturating_pairs, 0);
  EXPECT_EQ(pair->stats.saturating_pairs_full8, 1);
}

TEST(QuantizeWeightsPerChannelTest, MatMulPairsRunAlongK) {
  // MatMul weights [K = 4, N = 2]: channels are columns (axis 1), pairs are rows (2k, 2k+1).
  //   column 0: 1, 1 | 0, 0        full8: (127, 127) saturates
  //   column 1: 0.1, -1 | 0.45, 0.55  full8: (13, -127) opposite signs; (57, 70) sums to 127
  const std::vector<float> w = {1.0f, 0.1f, 1.0f, -1.0f, 0.0f, 0.45f, 0.0f, 0.55f};
  auto full8 = QuantizeWeightsPerChannel(w, {4, 2}, 1, 0, WeightScheme::kFull8);
  ASSERT_TRUE(full8.ok()) << full8.status();
  EXPECT_THAT(full8->values, ElementsAre(127, 13, 127, -127, 0, 57, 0, 70));
  EXPECT_EQ(full8->stats.saturating_pairs, 1);
  auto pair = QuantizeWeightsPerChannel(w, {4, 2}, 1, 0, WeightScheme::kPairLimited);
  ASSERT_TRUE(pair.ok()) << pair.status();
  // Column 0 reach 2 -> scale 2/127, values 63.5 -> 64 each (128 in all: 255 * 128 = 32640).
  // Column 1: (0.1, -1) reaches 1 (opposite signs), (0.45, 0.55) reaches 1.0 -> the full-8
  // scale: nothing lost there.
  EXPECT_THAT(pair->scales,
              ElementsAre(::testing::FloatEq(2.0f / 127), ::testing::FloatEq(1.0f / 127)));
  EXPECT_EQ(pair->stats.saturating_pairs, 0);
  EXPECT_EQ(pair->stats.saturating_pairs_full8, 1);
}

TEST(QuantizeWeightsPerChannelTest, ZeroAndTinyChannels) {
  // [3, 2]: channel 0 all zeros, channel 1 ~1e-12 (below kMinScale), channel 2 ordinary.
  const std::vector<float> w = {0.0f, 0.0f, 1e-12f, -1e-12f, 0.5f, -0.25f};
  auto qw = QuantizeWeightsPerChannel(w, {3, 2}, 0, 1, WeightScheme::kPairLimited);
  ASSERT_TRUE(qw.ok()) << qw.status();
  EXPECT_EQ(qw->scales[0], 1.0f);
  EXPECT_EQ(qw->scales[1], kMinScale);
  // Channel 2: opposite signs, reach 0.5 -> scale 0.5/127: 127, -63.5 -> -64 (even).
  EXPECT_FLOAT_EQ(qw->scales[2], 0.5f / 127);
  EXPECT_THAT(qw->values, ElementsAre(0, 0, 0, 0, 127, ::testing::AnyOf(-63, -64)));
  EXPECT_EQ(qw->stats.zero_channels, 1);
  EXPECT_EQ(qw->stats.min_scale_channels, 1);
}

TEST(QuantizeWeightsPerChannelTest, NonFiniteWeightNamesTheFirstBadElement) {
  std::vector<float> w = kConvWeights;
  w[5] = std::numeric_limits<float>::quiet_NaN();
  w[6] = std::numeric_limits<float>::infinity();
  auto qw = QuantizeWeightsPerChannel(w, kConvShape, 0, 1, WeightScheme::kFull8);
  ASSERT_FALSE(qw.ok());
  EXPECT_EQ(qw.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(qw.status().message(), HasSubstr("element 5 (index [1, 1, 0, 0])"));
  w[5] = 0.0f;
  auto inf = QuantizeWeightsPerTensor(w, kConvShape, 1, WeightScheme::kFull8);
  EXPECT_THAT(inf.status().message(), HasSubstr("element 6"));
}

TEST(QuantizeWeightsPerChannelTest, RejectsBadShapesAndAxes) {
  const auto code = [](const absl::StatusOr<QuantizedWeights>& r) { return r.status().code(); };
  constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
  const WeightScheme s = WeightScheme::kPairLimited;
  EXPECT_EQ(code(QuantizeWeightsPerChannel(kConvWeights, {2, 3, 1, 1}, 0, 1, s)), kInvalid);
  EXPECT_EQ(code(QuantizeWeightsPerChannel(kConvWeights, {2, 4, 0, 1}, 0, 1, s)), kInvalid);
  EXPECT_EQ(code(QuantizeWeightsPerChannel(kConvWeights, {}, 0, 1, s)), kInvalid);
  EXPECT_EQ(code(QuantizeWeightsPerChannel(kConvWeights, kConvShape, 1, 1, s)), kInvalid);
  EXPECT_EQ(code(QuantizeWeightsPerChannel(kConvWeights, kConvShape, 4, 1, s)), kInvalid);
  EXPECT_EQ(code(QuantizeWeightsPerChannel(kConvWeights, kConvShape, -1, 1, s)), kInvalid);
  EXPECT_EQ(code(QuantizeWeightsPerTensor(kConvWeights, kConvShape, 7, s)), kInvalid);
  // A product of dimensions that would overflow int64 is a mismatch, not a wraparound.
  const int64_t big = int64_t{1} << 40;
  EXPECT_EQ(code(QuantizeWeightsPerChannel(kConvWeights, {big, big, big, 8}, 0, 1, s)), kInvalid);
}

TEST(CountSaturatingPairsTest, ExactBoundary) {
  const auto count = [](std::vector<int8_t> v, int32_t max_activation = 255) {
    auto n = CountSaturatingPairs(v, {static_cast<int64_t>(v.size())}, 0, max_activation);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  };
  // 255 * 128 = 32640 fits int16; 255 * 129 = 32895 does not, on either side.
  EXPECT_EQ(count({127, 1}), 0);
  EXPECT_EQ(count({127, 2}), 1);
  EXPECT_EQ(count({-64, -64}), 0);
  EXPECT_EQ(count({-127, -2}), 1);
  // Opposite signs partly cancel: at most 255 * 127 either way.
  EXPECT_EQ(count({127, -127}), 0);
  EXPECT_EQ(count({-127, 127}), 0);
  // Pairs are (0, 1), (2, 3); (1, 2) is not a pair. A last unpaired element never counts.
  EXPECT_EQ(count({1, 127, 127, 1}), 0);
  EXPECT_EQ(count({100, 100, 127}), 1);
  // With u7 activations nothing saturates: 127 * 254 = 32258. The limit is 129 * 254 = 32766.
  EXPECT_EQ(count({127, 127}, 127), 0);
  EXPECT_EQ(count({127, 127}, 129), 0);
  EXPECT_EQ(count({127, 127}, 130), 1);
  EXPECT_FALSE(CountSaturatingPairs(std::vector<int8_t>{1, 2}, {2}, 0, 256).ok());
  EXPECT_FALSE(CountSaturatingPairs(std::vector<int8_t>{1, 2}, {3}, 0).ok());
  EXPECT_FALSE(CountSaturatingPairs(std::vector<int8_t>{1, 2}, {2}, 1).ok());
}

TEST(CountSaturatingPairsTest, PairsAreAdjacentAlongTheGivenAxisOnly) {
  // [2, 2] row-major: along axis 1 the pairs are rows {127, 127}, {1, 1}; along axis 0 they
  // are columns {127, 1}, {127, 1}.
  const std::vector<int8_t> v = {127, 127, 1, 1};
  EXPECT_EQ(*CountSaturatingPairs(v, {2, 2}, 1), 1);
  EXPECT_EQ(*CountSaturatingPairs(v, {2, 2}, 0), 0);
}

TEST(PairReachTest, SameSignAddsOppositeSignCancels) {
  EXPECT_DOUBLE_EQ(PairReach(0.5, 0.25), 0.75);
  EXPECT_DOUBLE_EQ(PairReach(-0.5, -0.25), 0.75);
  EXPECT_DOUBLE_EQ(PairReach(0.5, -0.75), 0.75);
  EXPECT_DOUBLE_EQ(PairReach(-0.5, 0.0), 0.5);
}

TEST(WeightSchemeTest, NamesRoundTrip) {
  for (WeightScheme s :
       {WeightScheme::kFull8, WeightScheme::kSevenBit, WeightScheme::kPairLimited}) {
    auto parsed = ParseWeightScheme(WeightSchemeName(s));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(WeightSchemeName(WeightScheme::kPairLimited), "pair_limited");
  EXPECT_FALSE(ParseWeightScheme("int7").ok());
}

// --- Property test ----------------------------------------------------------------------------

// Saturating pairs counted independently of the library: walk every multi-index, and pair it
// with its neighbour one step further along `pair_axis` when its coordinate there is even.
int64_t NaiveSaturatingPairs(const std::vector<int8_t>& v, const std::vector<int64_t>& shape,
                             int pair_axis) {
  const int rank = static_cast<int>(shape.size());
  std::vector<int64_t> strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) strides[d] = strides[d + 1] * shape[d + 1];
  std::vector<int64_t> index(rank, 0);
  int64_t count = 0;
  for (size_t flat = 0; flat < v.size(); ++flat) {
    int64_t rest = static_cast<int64_t>(flat);
    for (int d = 0; d < rank; ++d) {
      index[d] = rest / strides[d];
      rest %= strides[d];
    }
    if (index[pair_axis] % 2 != 0 || index[pair_axis] + 1 >= shape[pair_axis]) continue;
    const int32_t a = v[flat];
    const int32_t b = v[flat + strides[pair_axis]];
    if (a * b > 0 && 255 * (std::abs(a) + std::abs(b)) > (a > 0 ? 32767 : 32768)) ++count;
  }
  return count;
}

TEST(WeightSchemePropertyTest, PairLimitedNeverSaturatesAndIsFinerThanSevenBit) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> rank_dist(2, 4);
  std::uniform_int_distribution<int64_t> dim_dist(1, 7);
  std::uniform_int_distribution<int> kind_dist(0, 3);
  double pair_squared_error = 0.0, seven_squared_error = 0.0;
  int64_t full8_saturating_total = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    const int rank = rank_dist(rng);
    std::vector<int64_t> shape(rank);
    int64_t n = 1;
    for (int64_t& d : shape) n *= (d = dim_dist(rng));
    const int channel_axis = std::uniform_int_distribution<int>(0, rank - 1)(rng);
    const int pair_axis =
        (channel_axis + std::uniform_int_distribution<int>(1, rank - 1)(rng)) % rank;
    // Gaussian, uniform, all-positive, and Gaussian with rare large outliers.
    const int kind = kind_dist(rng);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::bernoulli_distribution outlier(0.02);
    std::vector<float> w(n);
    for (float& x : w) {
      switch (kind) {
        case 0:
          x = normal(rng);
          break;
        case 1:
          x = uniform(rng);
          break;
        case 2:
          x = std::fabs(uniform(rng));
          break;
        default:
          x = normal(rng) * (outlier(rng) ? 20.0f : 1.0f);
          break;
      }
    }
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " kind " << kind << " rank " << rank
                                      << " channel " << channel_axis << " pair " << pair_axis);
    auto pair =
        QuantizeWeightsPerChannel(w, shape, channel_axis, pair_axis, WeightScheme::kPairLimited);
    auto seven =
        QuantizeWeightsPerChannel(w, shape, channel_axis, pair_axis, WeightScheme::kSevenBit);
    auto full8 = QuantizeWeightsPerChannel(w, shape, channel_axis, pair_axis, WeightScheme::kFull8);
    ASSERT_TRUE(pair.ok() && seven.ok() && full8.ok());

    EXPECT_EQ(pair->stats.saturating_pairs, 0);
    ASSERT_EQ(NaiveSaturatingPairs(pair->values, shape, pair_axis), 0);
    EXPECT_EQ(NaiveSaturatingPairs(full8->values, shape, pair_axis), full8->stats.saturating_pairs);
    EXPECT_EQ(pair->stats.saturating_pairs_full8, full8->stats.saturating_pairs);
    full8_saturating_total += full8->stats.saturating_pairs;

    // The step lies between full 8-bit's and seven-bit's, channel by channel.
    for (size_t c = 0; c < pair->scales.size(); ++c) {
      EXPECT_LE(pair->scales[c], seven->scales[c]);
      EXPECT_GE(pair->scales[c], full8->scales[c]);
    }
    // So the worst error is at most half a pair-limited step, never more than seven-bit's
    // worst case (half its step). (Comparing the two tensors' realised maxima instead would
    // be a coin toss for tensors of a few elements, where either may land on the grid.)
    int64_t stride = 1;
    for (int d = rank - 1; d > channel_axis; --d) stride *= shape[d];
    float worst_seven_bound = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = (i / stride) % shape[channel_axis];
      const float pair_error = std::fabs(w[i] - pair->scales[c] * pair->values[i]);
      const float seven_error = std::fabs(w[i] - seven->scales[c] * seven->values[i]);
      EXPECT_LE(pair_error, 0.5f * pair->scales[c] * (1.0f + 1e-4f));
      worst_seven_bound = std::max(worst_seven_bound, 0.5f * seven->scales[c]);
      pair_squared_error += pair_error * pair_error;
      seven_squared_error += seven_error * seven_error;
    }
    EXPECT_LE(pair->stats.max_abs_error, worst_seven_bound * (1.0f + 1e-5f));
  }
  // Over all tensors pair-limited is clearly more precise, and full 8-bit did saturate.
  EXPECT_LT(pair_squared_error, 0.8 * seven_squared_error);
  EXPECT_GT(full8_saturating_total, 0);
}

}  // namespace
}  // namespace octet::quant
