// Turning what a user names on the command line into a model input tensor, checked against the
// model's metadata: images of a labelled data set (IDX, CIFAR-10 binary) through the model's
// preprocessing, a .npy file, or a raw little-endian file of a given shape. `infer`, `perf` and
// `calibrate` share it.
//
//   ASSIGN_OR_RETURN(TensorMetadata input, SelectInput(metadata, ""));  // the only input
//   ASSIGN_OR_RETURN(LabelledImages images, LoadDataset("cifar10:test.bin"));
//   ASSIGN_OR_RETURN(InferInput tensor, InputFromImages(input, images, {17}, prep));
//
// The input's datatype and shape come from the metadata; its first dimension is the batch. Images
// feed FP32 inputs through `prep` (x = (pixel * scale - mean[c]) / std[c]) and UINT8 inputs as the
// pixels themselves, in prep.layout either way. A mismatch (wrong image size, wrong file shape or
// dtype) is InvalidArgument naming both sides.
//
// Stateless; thread-safe.
#ifndef OCTET_CLIENT_CLI_INPUT_BUILDER_H_
#define OCTET_CLIENT_CLI_INPUT_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/infer_types.h"
#include "datasets/dataset.h"
#include "datasets/preprocessing.h"
#include "inference.pb.h"

namespace octet::cli {

using TensorMetadata = inference::ModelMetadataResponse::TensorMetadata;

// The input called `name`, or, with `name` empty, the model's only input.
absl::StatusOr<TensorMetadata> SelectInput(const inference::ModelMetadataResponse& metadata,
                                           const std::string& name);

// `n` indices spread evenly over [0, count): i * count / n. All of them when n <= 0 or n >= count.
// Data files are often sorted by class, so a prefix would be a biased sample.
std::vector<int64_t> EvenlySpaced(int64_t count, int64_t n);

// Images first..first+count-1 of a data set ("idx:PATH" or "cifar10:PATH"), reading only the
// prefix of the file they need; an error naming the range when the file has fewer.
absl::StatusOr<datasets::LabelledImages> LoadImageRange(const std::string& dataset, int64_t first,
                                                        int64_t count);

// Images images[indices[0]], images[indices[1]], ... as one batch of `input`.
absl::StatusOr<client::InferInput> InputFromImages(const TensorMetadata& input,
                                                   const datasets::LabelledImages& images,
                                                   absl::Span<const int64_t> indices,
                                                   const datasets::Preprocessing& prep);

// A tensor read from `path`: a .npy file (by its name ending in .npy or .npy.gz), else raw bytes
// of the input's datatype with `shape_text` ("1,3,32,32"). A shape without the batch dimension
// gets a batch of 1.
absl::StatusOr<client::InferInput> InputFromFile(const TensorMetadata& input,
                                                 const std::string& path,
                                                 const std::string& shape_text);

// A batch of deterministic pseudo-random data for `input` (perf without an input file): FP32 in
// [0, 1), integers in [0, 100). Variable non-batch dimensions are an error.
absl::StatusOr<client::InferInput> SyntheticInput(const TensorMetadata& input, int64_t batch);

}  // namespace octet::cli

#endif  // OCTET_CLIENT_CLI_INPUT_BUILDER_H_
