// infer: one request built from a data set or a tensor file; prints the top-k classes or, with
// --json, every output tensor.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/cli/commands.h"
#include "client/cli/input_builder.h"
#include "client/cli/response_format.h"
#include "common/status_macros.h"

namespace octet::cli {
namespace {

// Line i of the file names class i; surrounding whitespace is dropped, a final empty line too.
absl::StatusOr<std::vector<std::string>> ReadClassNames(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read labels file '", path, "'"));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(file, line)) names.emplace_back(absl::StripAsciiWhitespace(line));
  while (!names.empty() && names.back().empty()) names.pop_back();
  return names;
}

struct BuiltInput {
  client::InferInput tensor;
  std::vector<SampleOrigin> origins;
};

// The data set's images [index, index + batch), or the file's tensor.
absl::StatusOr<BuiltInput> BuildInput(const TensorMetadata& input, const InputSource& source) {
  BuiltInput built;
  if (!source.file.empty()) {
    OCTET_ASSIGN_OR_RETURN(built.tensor, InputFromFile(input, source.file, source.shape));
    return built;
  }
  // Only the images needed are read: a prefix of the file.
  OCTET_ASSIGN_OR_RETURN(datasets::LabelledImages images,
                         LoadImageRange(source.dataset, source.index, source.batch));
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < source.batch; ++i) {
    const int64_t index = source.index + i;
    indices.push_back(index);
    built.origins.push_back(
        {absl::StrCat(source.dataset, " #", index), images.labelled() ? images.labels[index] : -1});
  }
  OCTET_ASSIGN_OR_RETURN(built.tensor, InputFromImages(input, images, indices, source.prep));
  return built;
}

}  // namespace

absl::Status RunInfer(const client::Client& client, const InferOptions& options, Console& console) {
  std::vector<std::string> class_names;
  if (!options.labels_file.empty()) {
    OCTET_ASSIGN_OR_RETURN(class_names, ReadClassNames(options.labels_file));
  }
  OCTET_ASSIGN_OR_RETURN(inference::ModelMetadataResponse metadata,
                         client.ModelMetadata(options.model.name, options.model.version));
  OCTET_ASSIGN_OR_RETURN(TensorMetadata input, SelectInput(metadata, options.source.input_name));
  OCTET_ASSIGN_OR_RETURN(BuiltInput built, BuildInput(input, options.source));

  client::InferRequest request;
  request.model = options.model.name;
  request.version = options.model.version;
  request.id = options.id;
  request.inputs.push_back(std::move(built.tensor));
  if (!options.output.empty()) request.outputs.push_back(options.output);
  // The ground truth of a single labelled image feeds the server's online accuracy metrics.
  if (built.origins.size() == 1 && built.origins[0].label >= 0) {
    request.parameters["label"] = int64_t{built.origins[0].label};
  }
  OCTET_ASSIGN_OR_RETURN(client::InferResult result, client.Infer(request));
  if (result.outputs.empty()) {
    return absl::InternalError(
        absl::StrCat("model '", options.model.name, "' returned no outputs"));
  }
  const std::string output = options.output.empty() ? result.outputs[0].name : options.output;
  if (options.json) {
    OCTET_ASSIGN_OR_RETURN(std::string json, InferResultJson(result, output, options.top_k,
                                                             class_names, built.origins));
    console.out << json;
  } else {
    OCTET_ASSIGN_OR_RETURN(std::string text,
                           FormatTopK(result, output, options.top_k, class_names, built.origins));
    console.out << text;
  }
  return absl::OkStatus();
}

}  // namespace octet::cli
