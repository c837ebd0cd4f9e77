// Reading and checking a model's config.pbtxt (octet.v1.ModelConfig,
// proto/octet/v1/model_config.proto).
//
// A config goes through three steps, each of which fails with INVALID_ARGUMENT naming the file
// and the field at fault:
//   1. ReadModelConfig: protobuf text format, strict (an unknown field is an error, with its
//      line and column);
//   2. ValidateModelConfig: the checks that need no model (names, ranges, batching sizes);
//   3. CompleteConfigForModel: against one loaded version's inputs and outputs (names, data
//      types, ranks, fixed dims), filling in the inputs or outputs a config leaves out and every
//      default, so that the servable reads one fully specified config.
//
//   OCTET_ASSIGN_OR_RETURN(v1::ModelConfig config, ReadModelConfig(dir + "/config.pbtxt"));
//   OCTET_RETURN_IF_ERROR(ValidateModelConfig(config, "fashion-lenet", path));
//   OCTET_ASSIGN_OR_RETURN(v1::ModelConfig full,
//                          CompleteConfigForModel(config, *model, defaults, path));
//
// Stateless functions on values; thread-safe.
#ifndef OCTET_SERVER_CONFIG_MODEL_CONFIG_H_
#define OCTET_SERVER_CONFIG_MODEL_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model.h"
#include "engine/tensor.h"
#include "octet/v1/model_config.pb.h"

namespace octet::server {

// Server-wide values for what a config leaves unset (0).
struct ConfigDefaults {
  // dynamic_batching.max_queue_size, and the queue bound of a model without dynamic batching.
  int max_queue_size = 1024;
  // Cores divided between a model's instances when optimization.threads is 0.
  int cpu_cores = 1;
  // Largest element count of one model_warmup input, batch included: the server's limit for a
  // request tensor, so that a config cannot make a load allocate more than a request may.
  int64_t max_tensor_elements = int64_t{1} << 24;
};

// The file name inside a model directory.
inline constexpr char kModelConfigFileName[] = "config.pbtxt";

absl::StatusOr<v1::ModelConfig> ParseModelConfig(absl::string_view text, const std::string& path);
// NOT_FOUND when the file is missing; otherwise as ParseModelConfig.
absl::StatusOr<v1::ModelConfig> ReadModelConfig(const std::string& path);

// Checks that need no model. `model_name` is the model's directory name; the config's `name`
// must be empty or equal to it.
absl::Status ValidateModelConfig(const v1::ModelConfig& config, const std::string& model_name,
                                 const std::string& path);

// Checks `config` (already validated) against `model`'s inputs and outputs and returns it with:
// inputs (or outputs) copied from the model when the config lists none; a single
// instance group with count >= 1; optimization.threads >= 1 (cores divided between instances);
// optimization.precision set (UNSPECIFIED becomes FP32); batch_size_buckets filled (powers of
// two up to max_batch_size, and max_batch_size) for batching models; dynamic_batching's
// max_queue_size set when dynamic batching is on; version_policy set (latest 1 by default).
// A config that lists outputs may list a subset of the model's; only those are served.
absl::StatusOr<v1::ModelConfig> CompleteConfigForModel(const v1::ModelConfig& config,
                                                       const std::vector<TensorInfo>& inputs,
                                                       const std::vector<TensorInfo>& outputs,
                                                       const ConfigDefaults& defaults,
                                                       const std::string& path);

// How errors name the `index`th model_warmup: "model_warmup 'NAME'", or "model_warmup[INDEX]"
// when it has no name.
std::string WarmupLabel(const v1::ModelWarmup& warmup, int index);

// The engine's data type for a config type; INVALID_ARGUMENT for TYPE_INVALID.
absl::StatusOr<DataType> FromConfigDataType(v1::DataType type);
v1::DataType ToConfigDataType(DataType type);
// "fp32", "int8", "mixed" (for metrics labels and metadata).
std::string PrecisionName(v1::Precision precision);

}  // namespace octet::server

#endif  // OCTET_SERVER_CONFIG_MODEL_CONFIG_H_
