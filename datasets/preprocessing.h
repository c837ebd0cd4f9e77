// Preprocessing: how a model wants its input tensor made from 8-bit pixels, and FillBatch,
// which makes it.
//
//   dst[...] = (pixel * scale - mean[c]) / stddev[c]     in NCHW or NHWC order
//
//   ASSIGN_OR_RETURN(Preprocessing prep,
//                    ParsePreprocessing("1/255", "0.4914,0.4822,0.4465",
//                                       "0.2470,0.2435,0.2616", "nchw"));
//   std::vector<float> batch(n * images.image_size());
//   RETURN_IF_ERROR(FillBatch(images, first, n, prep, absl::MakeSpan(batch)));
//
// Each (channel, pixel value) pair is computed once per call in double precision and
// rounded to float, so dst holds the float nearest to the exact formula, and FillBatch
// itself is a table lookup. The parameters are doubles for the same reason: pixel * scale
// and mean nearly cancel (128/255 - 0.4822 = 0.0198), which magnifies the rounding of a
// float scale 1/255 into a 17-ulp error in the result.
//
// Ownership and threads: Preprocessing is a plain value. The functions keep no state and
// may run concurrently; FillBatch only reads `images` and writes `dst`, which it borrows
// for the call.
#ifndef OCTET_DATASETS_PREPROCESSING_H_
#define OCTET_DATASETS_PREPROCESSING_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "datasets/dataset.h"

namespace octet::datasets {

struct Preprocessing {
  enum class Layout { kNCHW, kNHWC };

  double scale = 1.0;
  // Per-channel values. Empty: mean 0, stddev 1. One value: used for every channel.
  // Otherwise exactly one value per channel of the images.
  std::vector<double> mean;
  std::vector<double> stddev;
  Layout layout = Layout::kNCHW;
};

// Parses a comma-separated list of finite numbers, "0.485, 0.456,0.406". "" is the
// empty list.
absl::StatusOr<std::vector<double>> ParseNumberList(absl::string_view text);

// "nchw" or "nhwc", any case.
absl::StatusOr<Preprocessing::Layout> ParseLayout(absl::string_view text);

// Builds a Preprocessing from command-line text; an empty argument keeps the default.
// `scale` is a finite number or a fraction "A/B" ("1/255"). The per-channel list sizes
// are checked against the images later, by ValidatePreprocessing / FillBatch.
absl::StatusOr<Preprocessing> ParsePreprocessing(absl::string_view scale, absl::string_view mean,
                                                 absl::string_view stddev,
                                                 absl::string_view layout);

// OK when `prep` applies to images with `channels` channels: finite scale, mean and
// stddev with 0, 1 or `channels` entries, no zero stddev.
absl::Status ValidatePreprocessing(const Preprocessing& prep, int64_t channels);

// Writes images [first, first + n) of `images` into `dst` as floats in prep.layout
// order. `dst` must hold exactly n * images.image_size() floats. InvalidArgument (and
// `dst` untouched) when the range, the size of `dst` or `prep` does not fit.
absl::Status FillBatch(const LabelledImages& images, int64_t first, int64_t n,
                       const Preprocessing& prep, absl::Span<float> dst);

}  // namespace octet::datasets

#endif  // OCTET_DATASETS_PREPROCESSING_H_
