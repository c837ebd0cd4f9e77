#include "server/config/model_config.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace octet::server {
namespace {

// Keeps every parse error (line and column are zero-based in protobuf; people count from 1).
class CollectingErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    AddError(line, column, message);
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

absl::Status Invalid(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

std::string DimsToString(const google::protobuf::RepeatedField<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

// A dimension as the config writes it: -1 for anything variable.
int64_t ConfigDim(int64_t model_dim) { return model_dim < 0 ? -1 : model_dim; }

template <typename TensorConfig>
absl::Status ValidateTensorList(const google::protobuf::RepeatedPtrField<TensorConfig>& tensors,
                                const char* field, const std::string& path) {
  std::set<std::string> names;
  for (int i = 0; i < tensors.size(); ++i) {
    const TensorConfig& t = tensors[i];
    const std::string where = absl::StrCat(field, "[", i, "]");
    if (t.name().empty()) return Invalid(path, absl::StrCat(where, ": name is empty"));
    if (!names.insert(t.name()).second) {
      return Invalid(path, absl::StrCat(field, " '", t.name(), "' is listed twice"));
    }
    if (!FromConfigDataType(t.data_type()).ok()) {
      return Invalid(path, absl::StrCat(field, " '", t.name(), "': data_type ",
                                        v1::DataType_Name(t.data_type()),
                                        " is not supported (TYPE_FP32, TYPE_UINT8, TYPE_INT8, "
                                        "TYPE_INT32, TYPE_INT64)"));
    }
    for (int64_t d : t.dims()) {
      if (d == 0 || d < -1) {
        return Invalid(path, absl::StrCat(field, " '", t.name(), "': dims ", DimsToString(t.dims()),
                                          ": each must be -1 (variable) or positive"));
      }
    }
  }
  return absl::OkStatus();
}

// Whether a config's dims fit the model's shape (batch dimension already removed).
// `inputs`: a config may not widen an input's fixed model dimension to a variable one, since
// requests of other sizes would then fail inside the engine instead of being refused up front.
// Output shapes are inferred for batch size 1 and fixed sizes of variable inputs, so an output
// may say -1 where the model's inferred shape is fixed.
bool DimsCompatible(const google::protobuf::RepeatedField<int64_t>& config_dims,
                    const Shape& model_dims, bool inputs) {
  if (config_dims.size() != static_cast<int>(model_dims.size())) return false;
  for (size_t i = 0; i < model_dims.size(); ++i) {
    const int64_t c = config_dims[static_cast<int>(i)];
    const int64_t m = model_dims[i];
    if (c >= 0 && m >= 0 && c != m) return false;
    if (inputs && c < 0 && m >= 0) return false;
  }
  return true;
}

// The model's shape as the config sees it: without the batch dimension for batching models.
absl::StatusOr<Shape> ModelDimsForConfig(const TensorInfo& info, bool batching, const char* what,
                                         const std::string& path) {
  if (!batching) return info.shape;
  if (info.shape.empty()) {
    return Invalid(path, absl::StrCat("max_batch_size > 0 but the model's ", what, " '", info.name,
                                      "' is a scalar, with no batch dimension"));
  }
  if (info.shape[0] > 1) {
    return Invalid(path, absl::StrCat("max_batch_size > 0 but the model's ", what, " '", info.name,
                                      "' fixes its first dimension to ", info.shape[0],
                                      "; set max_batch_size: 0 and give the full shape in dims"));
  }
  return Shape(info.shape.begin() + 1, info.shape.end());
}

std::string Names(const std::vector<TensorInfo>& infos) {
  return absl::StrJoin(infos, ", ", [](std::string* out, const TensorInfo& t) {
    absl::StrAppend(out, "'", t.name, "'");
  });
}

template <typename TensorConfig>
absl::Status CompleteTensors(google::protobuf::RepeatedPtrField<TensorConfig>* tensors,
                             const std::vector<TensorInfo>& model_tensors, bool batching,
                             bool inputs, const char* field, const std::string& path) {
  if (tensors->empty()) {
    for (const TensorInfo& info : model_tensors) {
      OCTET_ASSIGN_OR_RETURN(Shape dims, ModelDimsForConfig(info, batching, field, path));
      TensorConfig* t = tensors->Add();
      t->set_name(info.name);
      t->set_data_type(ToConfigDataType(info.dtype));
      for (int64_t d : dims) t->add_dims(ConfigDim(d));
    }
    return absl::OkStatus();
  }
  std::set<std::string> listed;
  for (TensorConfig& t : *tensors) {
    listed.insert(t.name());
    auto it = std::find_if(model_tensors.begin(), model_tensors.end(),
                           [&](const TensorInfo& info) { return info.name == t.name(); });
    if (it == model_tensors.end()) {
      return Invalid(path, absl::StrCat(field, " '", t.name(), "' is not an ", field,
                                        " of the model; the model's are ", Names(model_tensors)));
    }
    OCTET_ASSIGN_OR_RETURN(DataType dtype, FromConfigDataType(t.data_type()));
    if (dtype != it->dtype) {
      return Invalid(path, absl::StrCat(field, " '", t.name(), "': data_type ",
                                        v1::DataType_Name(t.data_type()), " but the model's is ",
                                        v1::DataType_Name(ToConfigDataType(it->dtype))));
    }
    OCTET_ASSIGN_OR_RETURN(Shape model_dims, ModelDimsForConfig(*it, batching, field, path));
    if (!DimsCompatible(t.dims(), model_dims, inputs)) {
      std::vector<int64_t> expected;
      for (int64_t d : model_dims) expected.push_back(ConfigDim(d));
      return Invalid(path,
                     absl::StrCat(field, " '", t.name(), "': dims ", DimsToString(t.dims()),
                                  " do not match the model's [", absl::StrJoin(expected, ", "), "]",
                                  batching ? " (without the batch dimension)" : ""));
    }
  }
  if (inputs) {  // Every input needs data; outputs may be a subset.
    for (const TensorInfo& info : model_tensors) {
      if (!listed.count(info.name)) {
        return Invalid(path, absl::StrCat("the model's ", field, " '", info.name,
                                          "' is missing from the config"));
      }
    }
  }
  return absl::OkStatus();
}

// The checks of model_warmup that need no model; the inputs are checked against the model's
// signature when the version loads (server/inference/warmup.h).
absl::Status ValidateWarmups(const v1::ModelConfig& config, const std::string& path) {
  const int max_rows = std::max(1, config.max_batch_size());
  for (int i = 0; i < config.model_warmup_size(); ++i) {
    const v1::ModelWarmup& warmup = config.model_warmup(i);
    const std::string where = WarmupLabel(warmup, i);
    if (warmup.batch_size() < 1 || warmup.batch_size() > static_cast<uint32_t>(max_rows)) {
      return Invalid(
          path,
          absl::StrCat(
              where, ": batch_size ", warmup.batch_size(), " is outside [1, ", max_rows, "]",
              config.max_batch_size() > 0 ? " (max_batch_size)" : " (the model does not batch)"));
    }
    if (warmup.inputs().empty()) {
      return Invalid(path, absl::StrCat(where, ": no inputs; give every model input"));
    }
    for (const auto& [name, input] : warmup.inputs()) {
      const std::string in = absl::StrCat(where, ": input '", name, "'");
      switch (input.input_data_type_case()) {
        case v1::ModelWarmup::Input::kZeroData:
        case v1::ModelWarmup::Input::kRandomData:
          break;
        case v1::ModelWarmup::Input::kInputDataFile:
          return Invalid(path, absl::StrCat(in,
                                            ": input_data_file is not supported by Octet; "
                                            "use zero_data or random_data"));
        default:
          return Invalid(path, absl::StrCat(in, ": say zero_data: true or random_data: true"));
      }
      if (!FromConfigDataType(input.data_type()).ok()) {
        return Invalid(path, absl::StrCat(in, ": data_type ", v1::DataType_Name(input.data_type()),
                                          " is not supported"));
      }
      for (int64_t d : input.dims()) {
        if (d < 1) {
          return Invalid(path, absl::StrCat(in, ": dims ", DimsToString(input.dims()),
                                            ": each must be positive"));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::ModelConfig> ParseModelConfig(absl::string_view text, const std::string& path) {
  v1::ModelConfig config;
  google::protobuf::TextFormat::Parser parser;
  CollectingErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return Invalid(path, errors.errors().empty() ? std::string("not a valid ModelConfig")
                                                 : absl::StrJoin(errors.errors(), "; "));
  }
  return config;
}

absl::StatusOr<v1::ModelConfig> ReadModelConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the model config"));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseModelConfig(text.str(), path);
}

absl::Status ValidateModelConfig(const v1::ModelConfig& config, const std::string& model_name,
                                 const std::string& path) {
  if (!config.name().empty() && config.name() != model_name) {
    return Invalid(path, absl::StrCat("name '", config.name(),
                                      "' differs from the directory name '", model_name, "'"));
  }
  if (!config.platform().empty() && config.platform() != "onnxruntime_onnx") {
    return Invalid(path, absl::StrCat("platform '", config.platform(),
                                      "' is not supported: Octet serves ONNX models "
                                      "(leave it empty or write \"onnxruntime_onnx\")"));
  }
  if (!config.backend().empty() && config.backend() != "onnxruntime") {
    return Invalid(path, absl::StrCat("backend '", config.backend(),
                                      "' is not supported (leave it empty or write "
                                      "\"onnxruntime\")"));
  }
  const int max_batch = config.max_batch_size();
  if (max_batch < 0) {
    return Invalid(path, absl::StrCat("max_batch_size ", max_batch, " is negative"));
  }
  OCTET_RETURN_IF_ERROR(ValidateTensorList(config.input(), "input", path));
  OCTET_RETURN_IF_ERROR(ValidateTensorList(config.output(), "output", path));
  for (const v1::ModelInstanceGroup& group : config.instance_group()) {
    if (group.count() < 0) {
      return Invalid(path, absl::StrCat("instance_group count ", group.count(), " is negative"));
    }
  }
  if (config.has_dynamic_batching()) {
    for (int size : config.dynamic_batching().preferred_batch_size()) {
      if (size < 1 || size > max_batch) {
        return Invalid(path, absl::StrCat("dynamic_batching.preferred_batch_size ", size,
                                          " is outside [1, max_batch_size = ", max_batch, "]"));
      }
    }
  }
  if (config.optimization().threads() < 0) {
    return Invalid(path, absl::StrCat("optimization.threads ", config.optimization().threads(),
                                      " is negative"));
  }
  for (int size : config.optimization().batch_size_buckets()) {
    if (size < 1 || size > max_batch) {
      return Invalid(path, absl::StrCat("optimization.batch_size_buckets ", size,
                                        " is outside [1, max_batch_size = ", max_batch, "]"));
    }
  }
  if (!v1::Precision_IsValid(config.optimization().precision())) {
    return Invalid(path, "optimization.precision is not a known precision");
  }
  if (config.shadow_fraction() < 0 || config.shadow_fraction() > 1) {
    return Invalid(
        path, absl::StrCat("shadow_fraction ", config.shadow_fraction(), " is outside [0, 1]"));
  }
  if (config.version_policy().has_specific()) {
    if (config.version_policy().specific().versions().empty()) {
      return Invalid(path, "version_policy.specific lists no versions");
    }
    for (int64_t v : config.version_policy().specific().versions()) {
      if (v < 1) {
        return Invalid(path, absl::StrCat("version_policy.specific: version ", v,
                                          " is not a positive integer"));
      }
    }
  }
  const v1::CalibrationDefaults& calibration = config.calibration();
  if (calibration.percentile() < 0 || calibration.percentile() > 100) {
    return Invalid(path, absl::StrCat("calibration.percentile ", calibration.percentile(),
                                      " is outside (0, 100]"));
  }
  if (calibration.has_tolerance() && calibration.tolerance() < 0) {
    return Invalid(path,
                   absl::StrCat("calibration.tolerance ", calibration.tolerance(), " is negative"));
  }
  if (calibration.num_samples() < 0) {
    return Invalid(
        path, absl::StrCat("calibration.num_samples ", calibration.num_samples(), " is negative"));
  }
  return ValidateWarmups(config, path);
}

absl::StatusOr<v1::ModelConfig> CompleteConfigForModel(const v1::ModelConfig& config,
                                                       const std::vector<TensorInfo>& inputs,
                                                       const std::vector<TensorInfo>& outputs,
                                                       const ConfigDefaults& defaults,
                                                       const std::string& path) {
  v1::ModelConfig full = config;
  const bool batching = config.max_batch_size() > 0;
  OCTET_RETURN_IF_ERROR(CompleteTensors(full.mutable_input(), inputs, batching,
                                        /*inputs=*/true, "input", path));
  OCTET_RETURN_IF_ERROR(CompleteTensors(full.mutable_output(), outputs, batching,
                                        /*inputs=*/false, "output", path));

  int instances = 0;
  for (const v1::ModelInstanceGroup& group : config.instance_group()) instances += group.count();
  instances = std::max(instances, 1);
  full.clear_instance_group();
  v1::ModelInstanceGroup* group = full.add_instance_group();
  group->set_count(instances);
  group->set_kind(v1::ModelInstanceGroup::KIND_CPU);

  v1::ModelOptimization* optimization = full.mutable_optimization();
  if (optimization->threads() == 0) {
    optimization->set_threads(std::max(1, defaults.cpu_cores / instances));
  }
  if (optimization->precision() == v1::PRECISION_UNSPECIFIED) {
    optimization->set_precision(v1::PRECISION_FP32);
  }
  if (batching && optimization->batch_size_buckets().empty()) {
    // Powers of two and the midpoints between them (1, 2, 3, 4, 6, 8, 12, 16, 24, ...): a batch
    // is padded by at most a third (half with powers alone, where a batch of 17 ran as 32 and
    // padding was a quarter of the server's CPU at 32 clients, bench/results/serving.md), for
    // 1.7x the compiled plans.
    for (int b = 1; b < config.max_batch_size(); b *= 2) {
      optimization->add_batch_size_buckets(b);
      if (b >= 2 && b + b / 2 < config.max_batch_size()) {
        optimization->add_batch_size_buckets(b + b / 2);
      }
    }
    optimization->add_batch_size_buckets(config.max_batch_size());
  }
  if (batching) {
    // Sorted and unique, so that the smallest bucket that holds a batch is found by a scan.
    std::vector<int> buckets(optimization->batch_size_buckets().begin(),
                             optimization->batch_size_buckets().end());
    buckets.push_back(config.max_batch_size());
    std::sort(buckets.begin(), buckets.end());
    buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
    optimization->clear_batch_size_buckets();
    for (int b : buckets) optimization->add_batch_size_buckets(b);
  }
  if (full.has_dynamic_batching() && full.dynamic_batching().max_queue_size() == 0) {
    full.mutable_dynamic_batching()->set_max_queue_size(defaults.max_queue_size);
  }
  if (full.version_policy().policy_choice_case() == v1::ModelVersionPolicy::POLICY_CHOICE_NOT_SET) {
    full.mutable_version_policy()->mutable_latest()->set_num_versions(1);
  }
  if (full.version_policy().has_latest() && full.version_policy().latest().num_versions() == 0) {
    full.mutable_version_policy()->mutable_latest()->set_num_versions(1);
  }
  return full;
}

std::string WarmupLabel(const v1::ModelWarmup& warmup, int index) {
  return warmup.name().empty() ? absl::StrCat("model_warmup[", index, "]")
                               : absl::StrCat("model_warmup '", warmup.name(), "'");
}

absl::StatusOr<DataType> FromConfigDataType(v1::DataType type) {
  switch (type) {
    case v1::TYPE_FP32:
      return DataType::kFloat32;
    case v1::TYPE_UINT8:
      return DataType::kUInt8;
    case v1::TYPE_INT8:
      return DataType::kInt8;
    case v1::TYPE_INT32:
      return DataType::kInt32;
    case v1::TYPE_INT64:
      return DataType::kInt64;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unsupported data type ", type));
  }
}

v1::DataType ToConfigDataType(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return v1::TYPE_FP32;
    case DataType::kUInt8:
      return v1::TYPE_UINT8;
    case DataType::kInt8:
      return v1::TYPE_INT8;
    case DataType::kInt32:
      return v1::TYPE_INT32;
    case DataType::kInt64:
      return v1::TYPE_INT64;
  }
  return v1::TYPE_INVALID;
}

std::string PrecisionName(v1::Precision precision) {
  switch (precision) {
    case v1::PRECISION_INT8:
      return "int8";
    case v1::PRECISION_MIXED:
      return "mixed";
    default:
      return "fp32";
  }
}

}  // namespace octet::server
