#include "engine/quant/weight_quantization.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "engine/quant/quantization_params.h"

namespace octet::quant {
namespace {

// Quantization levels on each side of zero for the bound a scheme divides by.
constexpr double kFull8Levels = 127.0;
constexpr double kSevenBitLevels = 63.0;

// Where a row-major tensor's axis sits: element i has coordinate (i / stride) % dim on it.
struct Axis {
  int64_t dim = 1;
  int64_t stride = 1;
  int64_t Coord(int64_t i) const { return (i / stride) % dim; }
};

absl::Status ValidateShape(size_t num_values, const std::vector<int64_t>& shape) {
  if (shape.empty()) return absl::InvalidArgumentError("weight shape has no dimensions");
  const auto mismatch = [&] {
    return absl::InvalidArgumentError(absl::StrCat("weight shape [", absl::StrJoin(shape, ", "),
                                                   "] does not match ", num_values, " values"));
  };
  for (int64_t dim : shape) {
    if (dim <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("weight shape [", absl::StrJoin(shape, ", "), "] has a dimension <= 0"));
    }
  }
  int64_t count = 1;
  for (int64_t dim : shape) {
    // count * dim > num_values, tested without overflowing.
    if (dim > static_cast<int64_t>(num_values) / count) return mismatch();
    count *= dim;
  }
  if (count != static_cast<int64_t>(num_values)) return mismatch();
  return absl::OkStatus();
}

absl::StatusOr<Axis> AxisOf(const std::vector<int64_t>& shape, int axis, const char* what) {
  if (axis < 0 || axis >= static_cast<int>(shape.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", axis, " is out of range for rank ", shape.size()));
  }
  Axis result;
  result.dim = shape[axis];
  for (size_t d = axis + 1; d < shape.size(); ++d) result.stride *= shape[d];
  return result;
}

std::string MultiIndex(int64_t i, const std::vector<int64_t>& shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = i % shape[d];
    i /= shape[d];
  }
  return absl::StrCat("[", absl::StrJoin(index, ", "), "]");
}

absl::Status CheckFinite(absl::Span<const float> w, const std::vector<int64_t>& shape) {
  for (size_t i = 0; i < w.size(); ++i) {
    if (!std::isfinite(w[i])) {
      return absl::InvalidArgumentError(absl::StrCat("weight element ", i, " (index ",
                                                     MultiIndex(i, shape), ") is ", w[i],
                                                     "; weights must be finite to quantize"));
    }
  }
  return absl::OkStatus();
}

// Calls fn(first, second) for every adjacent pair along `pair`; `second` is -1 for an unpaired
// last element.
template <typename Fn>
void ForEachPair(int64_t num_values, Axis pair, Fn fn) {
  for (int64_t i = 0; i < num_values; ++i) {
    const int64_t coord = pair.Coord(i);
    if (coord % 2 != 0) continue;
    fn(i, coord + 1 < pair.dim ? i + pair.stride : -1);
  }
}

bool PairSaturates(int32_t qa, int32_t qb, int32_t max_activation) {
  const int64_t positive = std::max(qa, 0) + std::max(qb, 0);
  const int64_t negative = std::max(-qa, 0) + std::max(-qb, 0);
  return max_activation * positive > kInt16Max || max_activation * negative > kInt16MinMagnitude;
}

int64_t CountSaturating(absl::Span<const int8_t> values, Axis pair, int32_t max_activation) {
  int64_t count = 0;
  ForEachPair(values.size(), pair, [&](int64_t a, int64_t b) {
    if (b >= 0 && PairSaturates(values[a], values[b], max_activation)) ++count;
  });
  return count;
}

// Quantizes with `scales` indexed by the element's channel.
std::vector<int8_t> QuantizeValues(absl::Span<const float> w, const std::vector<float>& scales,
                                   Axis channel) {
  std::vector<int8_t> values(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    const float scale = scales[channel.Coord(i)];
    values[i] = static_cast<int8_t>(Quantize(w[i], {scale, 0}, kS8Weight.min, kS8Weight.max));
  }
  return values;
}

// A positive bound / levels as a scale, or 1 for an all-zero channel.
float ScaleFromBound(double bound, double levels, WeightQuantizationStats& stats) {
  if (bound == 0.0) {
    ++stats.zero_channels;
    return 1.0f;
  }
  const float scale = static_cast<float>(bound / levels);
  if (scale < kMinScale) {
    ++stats.min_scale_channels;
    return kMinScale;
  }
  return scale;
}

// Shared by both granularities: `channel_axis` == -1 means one scale for the whole tensor.
absl::StatusOr<QuantizedWeights> QuantizeWeights(absl::Span<const float> w,
                                                 const std::vector<int64_t>& shape,
                                                 int channel_axis, int pair_axis,
                                                 WeightScheme scheme) {
  OCTET_RETURN_IF_ERROR(ValidateShape(w.size(), shape));
  OCTET_ASSIGN_OR_RETURN(const Axis pair, AxisOf(shape, pair_axis, "pair axis"));
  Axis channel;  // per tensor: one channel, Coord(i) == 0 for every element
  if (channel_axis != -1) {
    OCTET_ASSIGN_OR_RETURN(channel, AxisOf(shape, channel_axis, "channel axis"));
    if (channel_axis == pair_axis) {
      return absl::InvalidArgumentError(absl::StrCat("channel axis and pair axis are both ",
                                                     channel_axis, "; pairs lie within a channel"));
    }
  } else {
    channel.stride = static_cast<int64_t>(w.size());
  }
  OCTET_RETURN_IF_ERROR(CheckFinite(w, shape));

  // Per channel: largest |w| and largest pair reach. Doubles: |a| + |b| may exceed FLT_MAX.
  std::vector<double> absmax(channel.dim, 0.0);
  std::vector<double> reach(channel.dim, 0.0);
  for (size_t i = 0; i < w.size(); ++i) {
    double& m = absmax[channel.Coord(i)];
    m = std::max(m, std::fabs(static_cast<double>(w[i])));
  }
  QuantizedWeights result;
  ForEachPair(w.size(), pair, [&](int64_t a, int64_t b) {
    double& r = reach[channel.Coord(a)];  // both elements of a pair share the channel
    r = std::max(r, PairReach(w[a], b >= 0 ? w[b] : 0.0));
    if (b >= 0) ++result.stats.pairs;
  });

  result.shape = shape;
  result.channel_axis = channel_axis;
  result.scheme = scheme;
  result.scales.resize(channel.dim);
  std::vector<float> full8_scales(channel.dim);
  WeightQuantizationStats ignored;
  for (int64_t c = 0; c < channel.dim; ++c) {
    switch (scheme) {
      case WeightScheme::kFull8:
        result.scales[c] = ScaleFromBound(absmax[c], kFull8Levels, result.stats);
        break;
      case WeightScheme::kSevenBit:
        result.scales[c] = ScaleFromBound(absmax[c], kSevenBitLevels, result.stats);
        break;
      case WeightScheme::kPairLimited:
        result.scales[c] = ScaleFromBound(reach[c], kFull8Levels, result.stats);
        break;
    }
    full8_scales[c] = ScaleFromBound(absmax[c], kFull8Levels, ignored);
  }
  result.values = QuantizeValues(w, result.scales, channel);

  result.stats.saturating_pairs = CountSaturating(result.values, pair, kMaxU8Activation);
  result.stats.saturating_pairs_full8 =
      scheme == WeightScheme::kFull8
          ? result.stats.saturating_pairs
          : CountSaturating(QuantizeValues(w, full8_scales, channel), pair, kMaxU8Activation);
  for (size_t i = 0; i < w.size(); ++i) {
    const float scale = result.scales[channel.Coord(i)];
    result.stats.max_abs_error =
        std::max(result.stats.max_abs_error, std::fabs(w[i] - scale * result.values[i]));
  }
  return result;
}

}  // namespace

absl::string_view WeightSchemeName(WeightScheme scheme) {
  switch (scheme) {
    case WeightScheme::kFull8:
      return "full8";
    case WeightScheme::kSevenBit:
      return "seven_bit";
    case WeightScheme::kPairLimited:
      return "pair_limited";
  }
  return "unknown";
}

absl::StatusOr<WeightScheme> ParseWeightScheme(absl::string_view name) {
  for (WeightScheme scheme :
       {WeightScheme::kFull8, WeightScheme::kSevenBit, WeightScheme::kPairLimited}) {
    if (name == WeightSchemeName(scheme)) return scheme;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown weight scheme '", name,
                                                 "'; expected full8, seven_bit or pair_limited"));
}

double PairReach(double a, double b) {
  const double positive = std::max(a, 0.0) + std::max(b, 0.0);
  const double negative = std::max(-a, 0.0) + std::max(-b, 0.0);
  return std::max(positive, negative);
}

absl::StatusOr<QuantizedWeights> QuantizeWeightsPerChannel(absl::Span<const float> w,
                                                           const std::vector<int64_t>& shape,
                                                           int channel_axis, int pair_axis,
                                                           WeightScheme scheme) {
  if (channel_axis < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel axis ", channel_axis, " is out of range for rank ", shape.size()));
  }
  return QuantizeWeights(w, shape, channel_axis, pair_axis, scheme);
}

absl::StatusOr<QuantizedWeights> QuantizeWeightsPerTensor(absl::Span<const float> w,
                                                          const std::vector<int64_t>& shape,
                                                          int pair_axis, WeightScheme scheme) {
  return QuantizeWeights(w, shape, /*channel_axis=*/-1, pair_axis, scheme);
}

absl::StatusOr<int64_t> CountSaturatingPairs(absl::Span<const int8_t> values,
                                             const std::vector<int64_t>& shape, int pair_axis,
                                             int32_t max_activation) {
  OCTET_RETURN_IF_ERROR(ValidateShape(values.size(), shape));
  OCTET_ASSIGN_OR_RETURN(const Axis pair, AxisOf(shape, pair_axis, "pair axis"));
  if (max_activation < 0 || max_activation > kMaxU8Activation) {
    return absl::InvalidArgumentError(
        absl::StrCat("max activation ", max_activation, " is outside [0, 255]"));
  }
  return CountSaturating(values, pair, max_activation);
}

}  // namespace octet::quant
