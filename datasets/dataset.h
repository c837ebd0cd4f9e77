// Labelled image data sets loaded from files: MNIST-style IDX and the CIFAR-10 binary
// format, for the benchmark tool and the command-line client.
//
//   absl::StatusOr<LabelledImages> images =
//       LoadDataset("idx:../shared/data/mnist/t10k-images-idx3-ubyte.gz");
//   if (!images.ok()) return images.status();  // the message names the file and the fault
//   const uint8_t* first = images->image(0);   // images->channels * height * width bytes
//
// Loaders never trust a file: every size a header declares is checked for overflow,
// against a 4 GiB ceiling and against the bytes actually present, so a truncated,
// corrupt or hostile file yields an error status, never a crash or a huge allocation.
// Gzip is recognised by its magic bytes (1f 8b), not by the file name.
//
// Ownership and threads: LabelledImages is a plain value that owns its pixels and labels.
// The functions keep no state and may run concurrently; a LabelledImages may be read from
// many threads at once while none modifies it.
#ifndef OCTET_DATASETS_DATASET_H_
#define OCTET_DATASETS_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace octet::datasets {

// Passed as `max_count` to load every image in the file.
inline constexpr int64_t kAllImages = -1;

// Same-sized 8-bit images, stored NCHW (planar: all of channel 0, then channel 1, ...),
// with one label per image or none.
struct LabelledImages {
  int64_t count = 0;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // count * channels * height * width bytes
  std::vector<int32_t> labels;  // `count` entries, or empty when unlabelled

  bool labelled() const { return !labels.empty(); }
  // Bytes per image: channels * height * width.
  int64_t image_size() const { return channels * height * width; }
  // Image i's first byte, 0 <= i < count; its planes follow each other.
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_size(); }
};

// Reads IDX files (the MNIST format): `images_path` an IDX3 file of unsigned bytes
// (count x rows x columns, loaded as 1 channel), `labels_path` an IDX1 file of unsigned
// bytes with the same count, or "" for none. Either may be gzip-compressed. With
// `max_count` >= 1 only the first max_count images (and labels) are read; the rest of
// the file is then not inspected. Note that a prefix is not a sample: some files are
// sorted by class (the shared cifar10-jpeg/*.bin and mnist-train10k files are).
absl::StatusOr<LabelledImages> LoadIdx(const std::string& images_path,
                                       const std::string& labels_path,
                                       int64_t max_count = kAllImages);

// Reads the CIFAR-10 binary format: records of 1 label byte (0..9) followed by 3072 pixel
// bytes (1024 R, 1024 G, 1024 B, each 32x32 row-major), i.e. already NCHW. The file may
// be gzip-compressed. `max_count` as for LoadIdx.
absl::StatusOr<LabelledImages> LoadCifar10Binary(const std::string& path,
                                                 int64_t max_count = kAllImages);

// Loads a data set named the way users write it on a command line:
//   "idx:IMAGES"         IDX images; labels come from the file named like IMAGES with
//                        "images-idx3" replaced by "labels-idx1" in its file name
//                        (t10k-images-idx3-ubyte.gz -> t10k-labels-idx1-ubyte.gz) when
//                        that file exists, otherwise the set is unlabelled
//   "idx:IMAGES:LABELS"  IDX images and labels
//   "cifar10:PATH"       CIFAR-10 binary
// IDX paths cannot contain ':'. A bad spec is InvalidArgument with the accepted forms.
absl::StatusOr<LabelledImages> LoadDataset(const std::string& spec, int64_t max_count = kAllImages);

// The labels file that "idx:IMAGES" reads beside `images_path` (the MNIST naming convention
// above), whether it exists or not; "" when the file name does not follow the convention.
std::string IdxLabelsPathFor(const std::string& images_path);

}  // namespace octet::datasets

#endif  // OCTET_DATASETS_DATASET_H_
