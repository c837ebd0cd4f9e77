#include "server/repository/servable.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/calibration/calibration_table.h"
#include "engine/calibration/calibrator.h"
#include "engine/calibration/model_digest.h"
#include "engine/quantize_graph.h"
#include "google/protobuf/text_format.h"
#include "octet/v1/calibration.pb.h"
#include "server/repository/repository_layout.h"

namespace octet::server {
namespace {

bool FileExists(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

// Prefixes an error with where it happened, keeping its code.
absl::Status Annotate(const absl::Status& status, absl::string_view where) {
  return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
}

absl::StatusOr<PrecisionPlan> PlanFromReport(const std::string& path, const Graph& graph) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  v1::CalibrationReport report;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &report)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not an octet.v1.CalibrationReport in text format"));
  }
  PrecisionPlan plan;
  for (const auto& [node, precision] : report.plan()) {
    // C++17 lambdas cannot capture a structured binding (clang refuses; gcc allows it).
    const std::string& node_name = node;
    const bool known = std::any_of(graph.nodes().begin(), graph.nodes().end(),
                                   [&](const Node& n) { return n.name == node_name; });
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": the plan names node '", node, "', which the model does not have"));
    }
    if (precision == "int8") {
      plan.nodes[node] = Precision::kInt8;
    } else if (precision == "fp32") {
      plan.nodes[node] = Precision::kFp32;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(path, ": the plan gives node '", node, "' '",
                                                     precision, "'; expected int8 or fp32"));
    }
  }
  return plan;
}

// The calibrated form of `fp32` described by the files in `dir`, and its precision name.
absl::StatusOr<std::pair<std::shared_ptr<const Model>, std::string>> Quantize(
    const std::shared_ptr<const Model>& fp32, const std::string& dir) {
  const std::string model_path = absl::StrCat(dir, "/", kModelFileName);
  const std::string table_path = absl::StrCat(dir, "/", kCalibrationTableFileName);
  const std::string report_path = absl::StrCat(dir, "/", kCalibrationReportFileName);
  OCTET_ASSIGN_OR_RETURN(calibration::CalibrationTable table, calibration::Load(table_path));
  OCTET_ASSIGN_OR_RETURN(std::string digest, calibration::FileDigest(model_path));
  if (absl::Status s = calibration::CheckMatchesModel(table, digest); !s.ok()) {
    return Annotate(s, table_path);
  }
  const PrecisionPlan all_int8 = PrecisionPlan::AllInt8(fp32->graph());
  PrecisionPlan plan = all_int8;
  if (FileExists(report_path)) {
    OCTET_ASSIGN_OR_RETURN(plan, PlanFromReport(report_path, fp32->graph()));
  }
  absl::StatusOr<std::shared_ptr<const Model>> quantized =
      fp32->Quantize(calibration::RangesFromTable(table), plan, DefaultQuantizationOptions());
  if (!quantized.ok()) return Annotate(quantized.status(), "quantizing with " + table_path);
  const std::string precision = plan.CountInt8() == all_int8.CountInt8() ? "int8" : "mixed";
  return std::make_pair(*std::move(quantized), precision);
}

}  // namespace

absl::StatusOr<std::shared_ptr<Servable>> Servable::Load(const ServableOptions& options) {
  if (options.metrics == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError("Servable: metrics sink and clock must not be null");
  }
  const absl::Time start = absl::Now();
  const std::string& dir = options.version_dir;
  const std::string where =
      absl::StrCat("model '", options.model_name, "' version ", options.version, " (", dir, ")");
  const std::string model_path = absl::StrCat(dir, "/", kModelFileName);
  if (!FileExists(model_path)) {
    return absl::NotFoundError(absl::StrCat(where, ": ", kModelFileName, " is missing"));
  }
  std::shared_ptr<Servable> servable(new Servable());
  servable->version_ = options.version;
  servable->metrics_ = options.metrics;
  servable->fingerprint_ = VersionFingerprint(dir, options.config);

  ModelOptions model_options;
  model_options.dynamic_batch = options.config.max_batch_size() > 0;
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(model_path, model_options);
  if (!model.ok()) return Annotate(model.status(), where);
  absl::StatusOr<v1::ModelConfig> config =
      CompleteConfigForModel(options.config, (*model)->inputs(), (*model)->outputs(),
                             options.defaults, options.config_path);
  if (!config.ok()) return Annotate(config.status(), where);
  config->set_name(options.model_name);

  std::string precision = "fp32";
  if (FileExists(absl::StrCat(dir, "/", kCalibrationTableFileName))) {
    auto quantized = Quantize(*model, dir);
    if (!quantized.ok()) return Annotate(quantized.status(), where);
    std::tie(*model, precision) = *std::move(quantized);
  } else if (config->optimization().precision() != v1::PRECISION_FP32) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, ": config.pbtxt asks for ", v1::Precision_Name(config->optimization().precision()),
        " but the version has no ", kCalibrationTableFileName,
        "; calibrate it first (the Calibration service or `octet "
        "calibrate`), or serve it with precision PRECISION_FP32"));
  }
  servable->model_ = *model;
  servable->config_ = *std::move(config);
  servable->key_ = ModelKey{options.model_name, absl::StrCat(options.version), precision};
  const v1::ModelConfig& full = servable->config_;
  absl::StatusOr<ModelSignature> signature =
      SignatureFromConfig(full, servable->model_->inputs(), servable->model_->outputs());
  if (!signature.ok()) return Annotate(signature.status(), where);
  servable->signature_ = *std::move(signature);
  servable->default_timeout_ = absl::Microseconds(
      full.dynamic_batching().default_queue_policy().default_timeout_microseconds());
  servable->stats_ = std::make_unique<ModelVersionStats>(servable->key_, options.metrics);

  const int instances = full.instance_group(0).count();
  BatchExecutor::Options executor_options;
  executor_options.model = servable->model_;
  executor_options.signature = servable->signature_;
  executor_options.batch_buckets.assign(full.optimization().batch_size_buckets().begin(),
                                        full.optimization().batch_size_buckets().end());
  executor_options.dynamic_batching = full.has_dynamic_batching();
  executor_options.instances = instances;
  executor_options.threads = full.optimization().threads();
  executor_options.stats = servable->stats_.get();
  executor_options.clock = options.clock;
  if (precision != "fp32") {
    executor_options.shadow = options.shadow;
    executor_options.shadow_fraction = full.shadow_fraction();
  }
  absl::StatusOr<std::unique_ptr<BatchExecutor>> executor = BatchExecutor::Create(executor_options);
  if (!executor.ok()) return Annotate(executor.status(), where);
  servable->executor_ = *std::move(executor);
  if (absl::Status s = servable->executor_->CompilePlans(); !s.ok()) {
    return Annotate(s, absl::StrCat(where, ": compiling the model"));
  }
  absl::StatusOr<std::vector<WarmupRequest>> warmups = WarmupRequests(
      full, servable->signature_, options.defaults.max_tensor_elements, options.config_path);
  if (!warmups.ok()) return Annotate(warmups.status(), where);
  for (const WarmupRequest& warmup : *warmups) {
    if (absl::Status s = servable->executor_->RunWarmup(warmup); !s.ok()) {
      return Annotate(s, absl::StrCat(where, ": ", warmup.label));
    }
  }

  batching::BatchSchedulerOptions scheduler_options;
  scheduler_options.max_batch_size = servable->signature_.batching() ? full.max_batch_size() : 1;
  scheduler_options.max_queue_delay =
      absl::Microseconds(full.dynamic_batching().max_queue_delay_microseconds());
  scheduler_options.preferred_batch_sizes.assign(
      full.dynamic_batching().preferred_batch_size().begin(),
      full.dynamic_batching().preferred_batch_size().end());
  scheduler_options.max_queue_size =
      full.has_dynamic_batching() ? static_cast<int>(full.dynamic_batching().max_queue_size())
                                  : options.defaults.max_queue_size;
  scheduler_options.num_batch_threads = instances;
  scheduler_options.clock = options.clock;
  scheduler_options.thread_name_prefix = "octet-batch";
  BatchExecutor* exec = servable->executor_.get();
  auto scheduler = batching::BatchScheduler<InferTask>::Create(
      scheduler_options,
      [exec](std::unique_ptr<batching::Batch<InferTask>> batch) {
        exec->ProcessBatch(std::move(batch));
      },
      [exec](std::unique_ptr<InferTask> task, absl::Status status) {
        exec->DropTask(std::move(task), status);
      });
  if (!scheduler.ok()) return Annotate(scheduler.status(), where);
  servable->scheduler_ = *std::move(scheduler);

  options.metrics->RecordModelLoad(servable->key_, absl::Now() - start);
  options.metrics->SetQueueCapacity(servable->key_, scheduler_options.max_queue_size);
  options.metrics->SetModelReady(servable->key_, true);
  return servable;
}

Servable::~Servable() { Shutdown(); }

absl::Time Servable::Deadline(absl::Time received, absl::Time client_deadline) const {
  if (default_timeout_ <= absl::ZeroDuration()) return client_deadline;
  return std::min(client_deadline, received + default_timeout_);
}

absl::Status Servable::Schedule(std::unique_ptr<InferTask>* task) {
  // Counted before it is queued: a batch thread may answer it before Schedule() returns.
  stats_->RequestQueued();
  absl::Status status = scheduler_->Schedule(task);
  if (status.ok()) return status;
  stats_->RequestUnqueued();
  return absl::Status(status.code(), absl::StrCat("model '", key_.model, "' version ", key_.version,
                                                  ": ", status.message()));
}

void Servable::Reject(std::unique_ptr<InferTask> task, const absl::Status& status) {
  executor_->Reject(std::move(task), status);
}

void Servable::RecordInvalid(absl::Time received, const absl::Status& status) {
  executor_->RecordInvalid(received, status);
}

void Servable::Shutdown() {
  if (scheduler_ == nullptr) return;  // Load() failed half way.
  scheduler_->Shutdown();
  metrics_->SetModelReady(key_, false);
}

inference::ModelStatistics Servable::Statistics() const {
  inference::ModelStatistics stats = stats_->Snapshot();
  inference::MemoryUsage* memory = stats.add_memory_usage();
  memory->set_type("CPU");
  memory->set_byte_size(
      static_cast<uint64_t>(model_->weight_bytes() + model_->packed_weight_bytes()));
  return stats;
}

}  // namespace octet::server
