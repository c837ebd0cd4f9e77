// LoadDataset: the command-line spec strings in front of the format loaders.

#include "datasets/dataset.h"

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace octet::datasets {
namespace {

constexpr absl::string_view kSpecForms =
    "expected \"idx:IMAGES\", \"idx:IMAGES:LABELS\" or \"cifar10:PATH\"";
// std::string_view, not absl's: std::string::rfind and replace take it.
constexpr std::string_view kIdxImagesTag = "images-idx3";
constexpr std::string_view kIdxLabelsTag = "labels-idx1";

bool IsRegularFile(const std::string& path) {
  struct stat info = {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

absl::Status BadSpec(const std::string& spec, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrFormat("bad data set spec \"%s\": %s; %s", spec, why, kSpecForms));
}

}  // namespace

// The MNIST naming convention: t10k-images-idx3-ubyte.gz -> t10k-labels-idx1-ubyte.gz.
// Only the file name is rewritten, never a directory that happens to contain the tag.
std::string IdxLabelsPathFor(const std::string& images_path) {
  const size_t name_start = images_path.find_last_of('/') + 1;  // npos + 1 == 0
  const size_t tag = images_path.rfind(kIdxImagesTag);
  if (tag == std::string::npos || tag < name_start) return "";
  std::string labels_path = images_path;
  labels_path.replace(tag, kIdxImagesTag.size(), kIdxLabelsTag);
  return labels_path;
}

absl::StatusOr<LabelledImages> LoadDataset(const std::string& spec, int64_t max_count) {
  const size_t colon = spec.find(':');
  if (colon == std::string::npos) return BadSpec(spec, "no format prefix");
  const absl::string_view format = absl::string_view(spec).substr(0, colon);
  const std::string rest = spec.substr(colon + 1);
  if (rest.empty()) return BadSpec(spec, "no path");

  if (format == "cifar10") return LoadCifar10Binary(rest, max_count);
  if (format != "idx") {
    return BadSpec(spec, absl::StrFormat("unknown format \"%s\"", format));
  }
  const std::vector<std::string> paths = absl::StrSplit(rest, ':');
  if (paths.size() > 2) return BadSpec(spec, "too many ':' (IDX paths cannot contain ':')");
  if (paths[0].empty()) return BadSpec(spec, "no images path");
  if (paths.size() == 2) {
    if (paths[1].empty()) return BadSpec(spec, "empty labels path after ':'");
    return LoadIdx(paths[0], paths[1], max_count);
  }
  std::string labels_path = IdxLabelsPathFor(paths[0]);
  if (!labels_path.empty() && !IsRegularFile(labels_path)) labels_path.clear();
  return LoadIdx(paths[0], labels_path, max_count);
}

}  // namespace octet::datasets
