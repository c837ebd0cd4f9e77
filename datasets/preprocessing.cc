#include "datasets/preprocessing.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "datasets/internal/status_macros.h"

namespace octet::datasets {
namespace {

constexpr int kPixelValues = 256;

absl::StatusOr<double> ParseFiniteNumber(absl::string_view text, absl::string_view what) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: \"%s\" is not a finite number", what, text));
  }
  return value;
}

// Checks one per-channel list against the channel count.
absl::Status CheckPerChannel(const std::vector<double>& values, int64_t channels,
                             absl::string_view name) {
  if (values.size() > 1 && static_cast<int64_t>(values.size()) != channels) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "preprocessing %s has %d values but the images have %d channel(s); give one value "
        "per channel, or one for all",
        name, values.size(), channels));
  }
  for (size_t c = 0; c < values.size(); ++c) {
    if (!std::isfinite(values[c])) {
      return absl::InvalidArgumentError(
          absl::StrFormat("preprocessing %s[%d] is not finite", name, c));
    }
  }
  return absl::OkStatus();
}

double PerChannel(const std::vector<double>& values, int64_t c, double if_empty) {
  if (values.empty()) return if_empty;
  return values.size() == 1 ? values[0] : values[static_cast<size_t>(c)];
}

}  // namespace

absl::StatusOr<std::vector<double>> ParseNumberList(absl::string_view text) {
  std::vector<double> values;
  if (absl::StripAsciiWhitespace(text).empty()) return values;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    ASSIGN_OR_RETURN(const double value, ParseFiniteNumber(absl::StripAsciiWhitespace(item),
                                                           absl::StrFormat("list \"%s\"", text)));
    values.push_back(value);
  }
  return values;
}

absl::StatusOr<Preprocessing::Layout> ParseLayout(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (lower == "nchw") return Preprocessing::Layout::kNCHW;
  if (lower == "nhwc") return Preprocessing::Layout::kNHWC;
  return absl::InvalidArgumentError(
      absl::StrFormat("layout \"%s\": expected \"nchw\" or \"nhwc\"", text));
}

absl::StatusOr<Preprocessing> ParsePreprocessing(absl::string_view scale, absl::string_view mean,
                                                 absl::string_view stddev,
                                                 absl::string_view layout) {
  Preprocessing prep;
  scale = absl::StripAsciiWhitespace(scale);
  if (!scale.empty()) {
    const std::vector<absl::string_view> parts = absl::StrSplit(scale, '/');
    if (parts.size() > 2) {
      return absl::InvalidArgumentError(
          absl::StrFormat("scale \"%s\": expected a number or a fraction A/B", scale));
    }
    ASSIGN_OR_RETURN(double value,
                     ParseFiniteNumber(absl::StripAsciiWhitespace(parts[0]), "scale"));
    if (parts.size() == 2) {
      ASSIGN_OR_RETURN(const double divisor,
                       ParseFiniteNumber(absl::StripAsciiWhitespace(parts[1]), "scale"));
      if (divisor == 0) {
        return absl::InvalidArgumentError(absl::StrFormat("scale \"%s\" divides by zero", scale));
      }
      value /= divisor;
    }
    prep.scale = value;
  }
  ASSIGN_OR_RETURN(prep.mean, ParseNumberList(mean));
  ASSIGN_OR_RETURN(prep.stddev, ParseNumberList(stddev));
  for (size_t c = 0; c < prep.stddev.size(); ++c) {
    if (prep.stddev[c] == 0.0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("stddev \"%s\": value %d is zero", stddev, c));
    }
  }
  if (!absl::StripAsciiWhitespace(layout).empty()) {
    ASSIGN_OR_RETURN(prep.layout, ParseLayout(layout));
  }
  return prep;
}

absl::Status ValidatePreprocessing(const Preprocessing& prep, int64_t channels) {
  if (channels < 1) {
    return absl::InvalidArgumentError(absl::StrFormat("images have %d channels", channels));
  }
  if (!std::isfinite(prep.scale)) {
    return absl::InvalidArgumentError("preprocessing scale is not finite");
  }
  RETURN_IF_ERROR(CheckPerChannel(prep.mean, channels, "mean"));
  RETURN_IF_ERROR(CheckPerChannel(prep.stddev, channels, "stddev"));
  for (size_t c = 0; c < prep.stddev.size(); ++c) {
    if (prep.stddev[c] == 0.0) {
      return absl::InvalidArgumentError(absl::StrFormat("preprocessing stddev[%d] is zero", c));
    }
  }
  return absl::OkStatus();
}

absl::Status FillBatch(const LabelledImages& images, int64_t first, int64_t n,
                       const Preprocessing& prep, absl::Span<float> dst) {
  if (first < 0 || n < 0 || first > images.count || n > images.count - first) {
    return absl::InvalidArgumentError(
        absl::StrFormat("batch [%d, %d) is outside the %d images", first, first + n, images.count));
  }
  RETURN_IF_ERROR(ValidatePreprocessing(prep, images.channels));
  const int64_t channels = images.channels;
  const int64_t plane = images.height * images.width;
  const int64_t image_size = images.image_size();
  if (static_cast<int64_t>(images.pixels.size()) != images.count * image_size) {
    return absl::InvalidArgumentError(
        absl::StrFormat("images hold %d pixel bytes, not count*channels*height*width = %d",
                        images.pixels.size(), images.count * image_size));
  }
  if (static_cast<int64_t>(dst.size()) != n * image_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "batch of %d images needs %d floats, dst holds %d", n, n * image_size, dst.size()));
  }

  // lut[c * 256 + pixel]: the preprocessed value, rounded once from double precision.
  std::vector<float> lut(static_cast<size_t>(channels) * kPixelValues);
  for (int64_t c = 0; c < channels; ++c) {
    const double mean = PerChannel(prep.mean, c, 0.0);
    const double stddev = PerChannel(prep.stddev, c, 1.0);
    for (int p = 0; p < kPixelValues; ++p) {
      lut[c * kPixelValues + p] = static_cast<float>((p * prep.scale - mean) / stddev);
    }
  }

  const uint8_t* src = images.image(first);
  float* out = dst.data();
  if (prep.layout == Preprocessing::Layout::kNCHW) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t c = 0; c < channels; ++c) {
        const float* channel_lut = lut.data() + c * kPixelValues;
        for (int64_t p = 0; p < plane; ++p) *out++ = channel_lut[*src++];
      }
    }
    return absl::OkStatus();
  }
  for (int64_t i = 0; i < n; ++i, src += image_size) {
    for (int64_t p = 0; p < plane; ++p) {
      for (int64_t c = 0; c < channels; ++c) {
        *out++ = lut[c * kPixelValues + src[c * plane + p]];
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace octet::datasets
