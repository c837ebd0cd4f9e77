#include "client/cli/input_builder.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "datasets/file_tensor.h"

namespace octet::cli {
namespace {

using client::InferInput;
using client::ShapeString;
using datasets::Preprocessing;

std::vector<int64_t> Dims(const TensorMetadata& input) {
  return std::vector<int64_t>(input.shape().begin(), input.shape().end());
}

// The file-format dtype name (datasets/file_tensor.h) of a protocol datatype, or "".
std::string FileDtype(const std::string& datatype) {
  if (datatype == "FP32") return "float32";
  if (datatype == "UINT8") return "uint8";
  if (datatype == "INT8") return "int8";
  if (datatype == "INT32") return "int32";
  if (datatype == "INT64") return "int64";
  return "";
}

// Whether a sample of `sample_shape` fits the input's non-batch dimensions (-1 fits anything).
bool Fits(const TensorMetadata& input, const std::vector<int64_t>& sample_shape) {
  if (input.shape_size() != static_cast<int>(sample_shape.size()) + 1) return false;
  for (size_t d = 0; d < sample_shape.size(); ++d) {
    const int64_t want = input.shape(static_cast<int>(d) + 1);
    if (want >= 0 && want != sample_shape[d]) return false;
  }
  return true;
}

// The shape of one image as the input takes it: CHW or HWC by layout, HW for one channel and a
// rank-3 input, or flattened for a rank-2 input.
absl::StatusOr<std::vector<int64_t>> ImageSampleShape(const TensorMetadata& input,
                                                      const datasets::LabelledImages& images,
                                                      Preprocessing::Layout layout) {
  const int64_t c = images.channels, h = images.height, w = images.width;
  std::vector<int64_t> shape;
  switch (input.shape_size()) {
    case 4:
      shape = layout == Preprocessing::Layout::kNCHW ? std::vector<int64_t>{c, h, w}
                                                     : std::vector<int64_t>{h, w, c};
      break;
    case 3:
      if (c == 1) shape = {h, w};
      break;
    case 2:
      shape = {c * h * w};
      break;
    default:
      break;
  }
  if (shape.empty() || !Fits(input, shape)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the data set's images are ", c, "x", h, "x", w, " (channels x height x width) but input '",
        input.name(), "' takes ", ShapeString(Dims(input)),
        input.shape_size() == 4
            ? absl::StrCat(" (layout ", layout == Preprocessing::Layout::kNCHW ? "NCHW" : "NHWC",
                           "; see --layout)")
            : ""));
  }
  return shape;
}

// Pixels of image `index` in `layout` order, appended to `out`.
void AppendPixels(const datasets::LabelledImages& images, int64_t index,
                  Preprocessing::Layout layout, std::string* out) {
  const uint8_t* src = images.image(index);
  const int64_t plane = images.height * images.width;
  if (layout == Preprocessing::Layout::kNCHW || images.channels == 1) {
    out->append(reinterpret_cast<const char*>(src), images.image_size());
    return;
  }
  for (int64_t p = 0; p < plane; ++p) {
    for (int64_t c = 0; c < images.channels; ++c)
      out->push_back(static_cast<char>(src[c * plane + p]));
  }
}

}  // namespace

absl::StatusOr<TensorMetadata> SelectInput(const inference::ModelMetadataResponse& metadata,
                                           const std::string& name) {
  std::vector<std::string> names;
  for (const TensorMetadata& input : metadata.inputs()) {
    if (input.name() == name) return input;
    names.push_back(absl::StrCat("'", input.name(), "'"));
  }
  if (metadata.inputs_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("model '", metadata.name(), "' has no inputs"));
  }
  if (name.empty() && metadata.inputs_size() == 1) return metadata.inputs(0);
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", metadata.name(), "' has ", metadata.inputs_size(), " inputs (",
                     absl::StrJoin(names, ", "), "); choose one with --input"));
  }
  return absl::InvalidArgumentError(absl::StrCat("model '", metadata.name(), "' has no input '",
                                                 name, "' (inputs: ", absl::StrJoin(names, ", "),
                                                 ")"));
}

std::vector<int64_t> EvenlySpaced(int64_t count, int64_t n) {
  if (n <= 0 || n > count) n = count;
  std::vector<int64_t> indices(n);
  for (int64_t i = 0; i < n; ++i) {
    // 128-bit product: i * count overflows int64 only for absurd sizes, but costs nothing to avoid.
    indices[i] = static_cast<int64_t>(static_cast<__int128>(i) * count / n);
  }
  return indices;
}

absl::StatusOr<InferInput> InputFromImages(const TensorMetadata& input,
                                           const datasets::LabelledImages& images,
                                           absl::Span<const int64_t> indices,
                                           const Preprocessing& prep) {
  if (indices.empty()) return absl::InvalidArgumentError("no images selected");
  for (int64_t index : indices) {
    if (index < 0 || index >= images.count) {
      return absl::InvalidArgumentError(absl::StrCat(
          "image index ", index, " is outside the data set's ", images.count, " images"));
    }
  }
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> sample_shape,
                         ImageSampleShape(input, images, prep.layout));
  const int64_t n = static_cast<int64_t>(indices.size());
  std::vector<int64_t> shape = {n};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  if (input.datatype() == "FP32") {
    OCTET_RETURN_IF_ERROR(datasets::ValidatePreprocessing(prep, images.channels));
    std::vector<float> values(n * images.image_size());
    for (int64_t i = 0; i < n; ++i) {
      OCTET_RETURN_IF_ERROR(datasets::FillBatch(
          images, indices[i], 1, prep,
          absl::MakeSpan(values.data() + i * images.image_size(), images.image_size())));
    }
    return InferInput::FromFloats(input.name(), std::move(shape), values);
  }
  if (input.datatype() == "UINT8") {
    InferInput tensor;
    tensor.name = input.name();
    tensor.datatype = "UINT8";
    tensor.shape = std::move(shape);
    tensor.raw.reserve(n * images.image_size());
    for (int64_t index : indices) AppendPixels(images, index, prep.layout, &tensor.raw);
    return tensor;
  }
  return absl::InvalidArgumentError(absl::StrCat("input '", input.name(), "' is ", input.datatype(),
                                                 "; images can feed FP32 or UINT8 inputs only"));
}

absl::StatusOr<InferInput> InputFromFile(const TensorMetadata& input, const std::string& path,
                                         const std::string& shape_text) {
  const std::string dtype = FileDtype(input.datatype());
  if (dtype.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("input '", input.name(), "' is ",
                                                   input.datatype(),
                                                   ", which files cannot feed (FP32, UINT8, INT8, "
                                                   "INT32 or INT64 only)"));
  }
  datasets::FileTensor file;
  if (absl::EndsWith(path, ".npy") || absl::EndsWith(path, ".npy.gz")) {
    if (!shape_text.empty()) {
      return absl::InvalidArgumentError("--shape is for raw files; a .npy file has its own shape");
    }
    OCTET_ASSIGN_OR_RETURN(file, datasets::LoadNpy(path));
    if (file.dtype != dtype) {
      return absl::InvalidArgumentError(absl::StrCat("'", path, "' holds ", file.dtype,
                                                     " but input '", input.name(), "' is ",
                                                     input.datatype(), " (", dtype, ")"));
    }
  } else {
    if (shape_text.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", path, "' is read as raw ", dtype, " bytes, which needs --shape (e.g. ",
                       absl::StrJoin(Dims(input), ","), " with -1 replaced); or give a .npy file"));
    }
    OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> shape, datasets::ParseShape(shape_text));
    OCTET_ASSIGN_OR_RETURN(file, datasets::LoadRaw(path, dtype, shape));
  }
  std::vector<int64_t> shape = file.shape;
  if (static_cast<int>(shape.size()) + 1 == input.shape_size()) shape.insert(shape.begin(), 1);
  const std::vector<int64_t> sample(shape.begin() + (shape.empty() ? 0 : 1), shape.end());
  if (shape.empty() || !Fits(input, sample)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' has shape ", ShapeString(file.shape), " but input '",
                     input.name(), "' takes ", ShapeString(Dims(input))));
  }
  InferInput tensor;
  tensor.name = input.name();
  tensor.datatype = input.datatype();
  tensor.shape = std::move(shape);
  tensor.raw.assign(reinterpret_cast<const char*>(file.bytes.data()), file.bytes.size());
  return tensor;
}

absl::StatusOr<datasets::LabelledImages> LoadImageRange(const std::string& dataset, int64_t first,
                                                        int64_t count) {
  OCTET_ASSIGN_OR_RETURN(datasets::LabelledImages images,
                         datasets::LoadDataset(dataset, first + count));
  if (first + count > images.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("images ", first, "..", first + count - 1, " are past the end of '", dataset,
                     "' (", images.count, " images)"));
  }
  return images;
}

absl::StatusOr<InferInput> SyntheticInput(const TensorMetadata& input, int64_t batch) {
  if (input.shape_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", input.name(), "' has no batch dimension"));
  }
  std::vector<int64_t> shape = {batch};
  for (int d = 1; d < input.shape_size(); ++d) {
    if (input.shape(d) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", input.name(), "' ", ShapeString(Dims(input)),
          " has a variable dimension besides the batch; give an input with --dataset or --file"));
    }
    shape.push_back(input.shape(d));
  }
  OCTET_ASSIGN_OR_RETURN(int64_t count, client::ElementCount(shape));
  OCTET_ASSIGN_OR_RETURN(int64_t element_size, client::DatatypeSize(input.datatype()));
  InferInput tensor;
  tensor.name = input.name();
  tensor.datatype = input.datatype();
  tensor.shape = std::move(shape);
  tensor.raw.resize(count * element_size);
  uint32_t state = 12345;  // fixed seed: every run sends the same data
  for (int64_t i = 0; i < count; ++i) {
    state = state * 1664525u + 1013904223u;
    char* dst = tensor.raw.data() + i * element_size;
    if (input.datatype() == "FP32") {
      const float v = static_cast<float>(state >> 8) / static_cast<float>(1 << 24);
      std::memcpy(dst, &v, sizeof(v));
    } else if (input.datatype() == "FP64") {
      const double v = static_cast<double>(state >> 8) / static_cast<double>(1 << 24);
      std::memcpy(dst, &v, sizeof(v));
    } else {
      // Little-endian integer of any width in [0, 100): the low byte, the rest zero.
      dst[0] = static_cast<char>((state >> 16) % 100);
    }
  }
  return tensor;
}

}  // namespace octet::cli
