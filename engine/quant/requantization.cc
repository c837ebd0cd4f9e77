#include "engine/quant/requantization.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace octet::quant {
namespace {

bool IsValidScale(float scale) { return std::isfinite(scale) && scale > 0.0f; }

}  // namespace

float RequantizationMultiplier(float s_x, float s_w, float s_y) {
  return static_cast<float>(static_cast<double>(s_x) * static_cast<double>(s_w) /
                            static_cast<double>(s_y));
}

std::vector<float> RequantizationMultiplier(float s_x, absl::Span<const float> s_w, float s_y) {
  std::vector<float> multipliers;
  multipliers.reserve(s_w.size());
  for (float scale : s_w) multipliers.push_back(RequantizationMultiplier(s_x, scale, s_y));
  return multipliers;
}

SumPostOp ResidualSumPostOp(QuantizationParams residual, QuantizationParams dst) {
  SumPostOp op;
  op.scale = static_cast<float>(static_cast<double>(residual.scale) / dst.scale);
  op.zero_point = residual.zero_point;
  return op;
}

absl::StatusOr<QuantizedBias> QuantizeBias(absl::Span<const float> bias, float s_x,
                                           absl::Span<const float> s_w) {
  if (s_w.size() != 1 && s_w.size() != bias.size()) {
    return absl::InvalidArgumentError(absl::StrCat("bias has ", bias.size(), " channels but ",
                                                   s_w.size(), " weight scales were given"));
  }
  if (!IsValidScale(s_x)) {
    return absl::InvalidArgumentError(
        absl::StrCat("input scale ", s_x, " is not positive and finite"));
  }
  for (size_t oc = 0; oc < s_w.size(); ++oc) {
    if (!IsValidScale(s_w[oc])) {
      return absl::InvalidArgumentError(absl::StrCat("weight scale ", s_w[oc], " of channel ", oc,
                                                     " is not positive and finite"));
    }
  }
  constexpr double kInt32Min = std::numeric_limits<int32_t>::min();
  constexpr double kInt32Max = std::numeric_limits<int32_t>::max();
  QuantizedBias result;
  result.values.reserve(bias.size());
  for (size_t oc = 0; oc < bias.size(); ++oc) {
    if (!std::isfinite(bias[oc])) {
      return absl::InvalidArgumentError(
          absl::StrCat("bias of channel ", oc, " is ", bias[oc], "; it must be finite"));
    }
    const double accumulator_scale =
        static_cast<double>(s_x) * static_cast<double>(s_w[s_w.size() == 1 ? 0 : oc]);
    const double q = std::nearbyint(static_cast<double>(bias[oc]) / accumulator_scale);
    if (q < kInt32Min || q > kInt32Max) {
      if (result.saturated++ == 0) result.first_saturated_channel = static_cast<int64_t>(oc);
      result.values.push_back(static_cast<int32_t>(q < 0 ? kInt32Min : kInt32Max));
      continue;
    }
    result.values.push_back(static_cast<int32_t>(q));
  }
  return result;
}

}  // namespace octet::quant
