#include "server/calibration/calibration_service.h"

#include <atomic>
#include <deque>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/calibration/calibration_inputs.h"
#include "server/calibration/calibration_job.h"
#include "server/calibration/version_publisher.h"
#include "server/grpc/status_conversion.h"
#include "server/repository/repository_layout.h"
#include "server/repository/servable.h"

namespace octet::server {
namespace {

// One Calibrate call: reads the spec and samples on gRPC threads, then runs the job on a
// thread of its own and writes progress and the report from there. Writes are queued so that
// at most one is in flight; Finish follows the last write.
class CalibrateReactor final
    : public grpc::ServerBidiReactor<v1::CalibrateRequest, v1::CalibrateResponse> {
 public:
  CalibrateReactor(CalibrationService* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context) {
    const CalibrationService::Options& options = service_->options();
    if (options.admin != nullptr) {
      if (absl::Status auth = options.admin->Check(*context_); !auth.ok()) {
        FinishWith(auth);
        return;
      }
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client is done sending (or gone)
      if (cancelled_) return FinishWith(absl::CancelledError("the client cancelled"));
      if (!have_spec_) {
        return FinishWith(absl::InvalidArgumentError("no CalibrationSpec was sent"));
      }
      return StartJob();
    }
    absl::Status status =
        request_.has_spec() ? HandleSpec(request_.spec()) : HandleSample(request_.sample());
    if (!status.ok()) return FinishWith(status);
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    const v1::CalibrateResponse* next = nullptr;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      writes_.pop_front();
      if (!ok) writes_.clear();  // the stream is broken: drop what is left
      if (!writes_.empty()) {
        next = &writes_.front();
      } else {
        writing_ = false;
        finish = finish_;
      }
    }
    if (next != nullptr) {
      StartWrite(next);
    } else if (finish) {
      Finish(*finish);
    }
  }

  void OnCancel() override { cancelled_ = true; }

  void OnDone() override {
    ReleaseReservation();  // a call that never reached FinishWith()
    delete this;
  }

 private:
  absl::Status HandleSpec(const v1::CalibrationSpec& spec) {
    if (have_spec_) return absl::InvalidArgumentError("the CalibrationSpec was sent twice");
    if (spec.model_name().empty()) return absl::InvalidArgumentError("the spec names no model");
    OCTET_RETURN_IF_ERROR(CheckModelName(spec.model_name()));
    if (spec.precision() != v1::PRECISION_UNSPECIFIED && spec.precision() != v1::PRECISION_INT8 &&
        spec.precision() != v1::PRECISION_MIXED) {
      return absl::InvalidArgumentError("precision must be PRECISION_INT8 or PRECISION_MIXED");
    }
    if (spec.optional_tolerance_case() == v1::CalibrationSpec::kTolerance &&
        !(spec.tolerance() >= 0)) {
      return absl::InvalidArgumentError("tolerance must be >= 0");
    }
    if (spec.percentile() != 0 && !(spec.percentile() >= 50 && spec.percentile() <= 100)) {
      return absl::InvalidArgumentError("percentile must be in [50, 100]");
    }
    std::shared_ptr<Servable> source;
    if (spec.source_version().empty()) {
      OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> versions,
                             repository().ServingVersions(spec.model_name()));
      for (auto it = versions.rbegin(); it != versions.rend() && source == nullptr; ++it) {
        auto candidate = repository().Find(spec.model_name(), absl::StrCat(*it));
        if (candidate.ok() && (*candidate)->precision() == "fp32") source = *candidate;
      }
      if (source == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("model '", spec.model_name(), "' serves no FP32 version to calibrate"));
      }
    } else {
      OCTET_ASSIGN_OR_RETURN(source, repository().Find(spec.model_name(), spec.source_version()));
      if (source->precision() != "fp32") {
        return absl::FailedPreconditionError(
            absl::StrCat("version ", spec.source_version(), " of '", spec.model_name(), "' is ",
                         source->precision(), "; calibrate an FP32 version"));
      }
    }
    OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model,
                           Model::Load(absl::StrCat(repository().root(), "/", spec.model_name(),
                                                    "/", source->version(), "/", kModelFileName)));
    if (model->inputs().size() != 1) {
      return absl::FailedPreconditionError("calibration needs a model with exactly one input");
    }
    if (!service_->Reserve(spec.model_name())) {
      return absl::AbortedError(absl::StrCat("a calibration of '", spec.model_name(),
                                             "' is already running (or the server is stopping)"));
    }
    {
      absl::MutexLock lock(&mu_);
      reserved_ = true;
    }
    model_ = spec.model_name();
    source_version_ = source->version();
    input_ = model->inputs()[0];
    spec_ = spec;
    have_spec_ = true;
    return absl::OkStatus();
  }

  absl::Status HandleSample(const v1::CalibrationSample& sample) {
    if (!have_spec_) return absl::InvalidArgumentError("the first message must be the spec");
    bytes_ += static_cast<int64_t>(sample.raw_contents().size());
    if (bytes_ > service_->options().max_sample_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "calibration samples exceed ", service_->options().max_sample_bytes, " bytes"));
    }
    OCTET_ASSIGN_OR_RETURN(Tensor tensor, DecodeCalibrationSample(sample, input_));
    if (sample.role() == v1::CalibrationSample::VALIDATION) {
      const bool labelled = sample.labels_size() > 0;
      if (!inputs_.validation.empty() && labelled != !inputs_.validation_labels.empty()) {
        return absl::InvalidArgumentError(
            "either every validation sample carries labels or none does");
      }
      inputs_.validation_labels.insert(inputs_.validation_labels.end(), sample.labels().begin(),
                                       sample.labels().end());
      inputs_.validation.push_back(std::move(tensor));
    } else {
      inputs_.calibration.push_back(std::move(tensor));
    }
    return absl::OkStatus();
  }

  void StartJob() {
    // The worker is detached: it finishes the call as its last use of `this`, and the
    // service's reservation (released in OnDone) keeps Shutdown() waiting for it.
    std::thread([this] { RunJob(); }).detach();
  }

  void RunJob() {
    absl::StatusOr<v1::CalibrationReport> report = CalibrateAndPublish();
    if (!report.ok()) return FinishWith(report.status());
    v1::CalibrateResponse response;
    *response.mutable_report() = *std::move(report);
    Send(std::move(response));
    FinishWith(absl::OkStatus());
  }

  absl::StatusOr<v1::CalibrationReport> CalibrateAndPublish() {
    const CalibrationService::Options& options = service_->options();
    const int64_t count = spec_.num_samples() > 0 ? spec_.num_samples() : 500;
    if (!spec_.server_dataset().empty()) {
      OCTET_ASSIGN_OR_RETURN(DatasetSamples samples,
                             LoadServerDataset(options.dataset_root, spec_.server_dataset(),
                                               spec_.preprocessing(), count, input_));
      for (Tensor& t : samples.batches) inputs_.calibration.push_back(std::move(t));
    }
    if (!spec_.validation_dataset().empty()) {
      OCTET_ASSIGN_OR_RETURN(DatasetSamples samples,
                             LoadServerDataset(options.dataset_root, spec_.validation_dataset(),
                                               spec_.preprocessing(), -1, input_));
      inputs_.validation = std::move(samples.batches);
      inputs_.validation_labels = std::move(samples.labels);
    }
    ProgressMessage(v1::CalibrationProgress::RECEIVING, CountSamples(inputs_.calibration),
                    CountSamples(inputs_.calibration), "samples received");
    CalibrationJob job;
    job.model_name = model_;
    job.model_dir = absl::StrCat(repository().root(), "/", model_);
    job.source_version = source_version_;
    job.spec = spec_;
    job.inputs = std::move(inputs_);
    job.threads = options.threads;
    job.progress = [this](const v1::CalibrationProgress& p) {
      v1::CalibrateResponse response;
      *response.mutable_progress() = p;
      Send(std::move(response));
    };
    job.cancelled = [this] { return cancelled_.load() || service_->shutting_down(); };
    (void)RemoveAbandonedPublications(job.model_dir);
    OCTET_ASSIGN_OR_RETURN(CalibrationOutcome outcome, RunCalibration(job));
    Log(absl::StrCat("calibration of '", model_, "' published version ", outcome.published_version,
                     " (", outcome.report.accuracy(), "% vs FP32 ", outcome.report.fp32_accuracy(),
                     "%)"));
    if (absl::Status loaded = repository().Load(model_); !loaded.ok()) {
      return absl::Status(loaded.code(),
                          absl::StrCat("version ", outcome.published_version,
                                       " was published but does not load: ", loaded.message()));
    }
    RecordMetrics(outcome);
    return outcome.report;
  }

  void RecordMetrics(const CalibrationOutcome& outcome) {
    MetricsSink* metrics = service_->options().metrics;
    if (metrics == nullptr) return;
    CalibrationEvent event;
    event.key.model = model_;
    event.key.version = absl::StrCat(outcome.published_version);
    event.key.precision = outcome.report.precision() == v1::PRECISION_MIXED ? "mixed" : "int8";
    event.fp32_accuracy = outcome.report.fp32_accuracy();
    event.accuracy = outcome.report.accuracy();
    event.top1_agreement = outcome.report.top1_agreement();
    for (const v1::LayerReport& layer : outcome.report.layers()) {
      event.layers.push_back({layer.node_name(), layer.sqnr_db()});
    }
    metrics->RecordCalibration(event);
  }

  void ProgressMessage(v1::CalibrationProgress::Phase phase, int64_t done, int64_t total,
                       const std::string& message) {
    v1::CalibrateResponse response;
    v1::CalibrationProgress* p = response.mutable_progress();
    p->set_phase(phase);
    p->set_samples_seen(done);
    p->set_samples_total(total);
    p->set_message(message);
    Send(std::move(response));
  }

  void Send(v1::CalibrateResponse response) {
    const v1::CalibrateResponse* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finish_) return;
      writes_.push_back(std::move(response));
      if (!writing_) {
        writing_ = true;
        start = &writes_.front();
      }
    }
    if (start != nullptr) StartWrite(start);
  }

  // Gives the model back for the next calibration; idempotent.
  void ReleaseReservation() {
    absl::MutexLock lock(&mu_);
    if (!reserved_) return;
    reserved_ = false;
    service_->Release(model_);
  }

  // Finishes once the queued writes are out. Nothing may touch `this` afterwards.
  void FinishWith(const absl::Status& status) {
    const grpc::Status grpc_status = ToGrpcStatus(status);
    // Before the client can see the outcome: a client that starts the next calibration of the
    // model as soon as this one ends must not find it still reserved (OnDone runs only after the
    // client has the status).
    ReleaseReservation();
    {
      absl::MutexLock lock(&mu_);
      if (finish_) return;
      finish_ = grpc_status;
      if (writing_) return;  // OnWriteDone finishes after the last write
    }
    Finish(grpc_status);
  }

  void Log(const std::string& line) {
    if (service_->options().log) service_->options().log(line);
  }

  ModelRepository& repository() { return *service_->options().repository; }

  CalibrationService* const service_;
  grpc::CallbackServerContext* const context_;
  v1::CalibrateRequest request_;
  std::atomic<bool> cancelled_{false};

  // Read side (gRPC reads are sequential), then handed to the worker.
  bool have_spec_ = false;
  v1::CalibrationSpec spec_;
  std::string model_;
  int64_t source_version_ = 0;
  TensorInfo input_;
  CalibrationInputs inputs_;
  int64_t bytes_ = 0;

  absl::Mutex mu_;
  std::deque<v1::CalibrateResponse> writes_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
  // Whether this call holds the model's calibration slot (CalibrationService::Reserve).
  bool reserved_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

CalibrationService::CalibrationService(Options options) : options_(std::move(options)) {}

CalibrationService::~CalibrationService() { Shutdown(); }

grpc::ServerBidiReactor<v1::CalibrateRequest, v1::CalibrateResponse>* CalibrationService::Calibrate(
    grpc::CallbackServerContext* context) {
  return new CalibrateReactor(this, context);
}

grpc::ServerUnaryReactor* CalibrationService::GetCalibrationReport(
    grpc::CallbackServerContext* context, const v1::GetCalibrationReportRequest* request,
    v1::CalibrationReport* report) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = [&]() -> absl::Status {
    OCTET_RETURN_IF_ERROR(CheckModelName(request->model_name()));
    // Reports are read only from inside the repository, as model files are.
    OCTET_RETURN_IF_ERROR(CheckInsideRepository(
        options_.repository->root(),
        absl::StrCat(options_.repository->root(), "/", request->model_name())));
    int64_t version = 0;
    if (request->version().empty()) {
      // The newest calibrated version present on disk.
      OCTET_ASSIGN_OR_RETURN(
          std::vector<int64_t> versions,
          ListVersions(absl::StrCat(options_.repository->root(), "/", request->model_name())));
      for (int64_t v : versions) {
        const std::string dir =
            absl::StrCat(options_.repository->root(), "/", request->model_name(), "/", v);
        if (CheckVersionInsideRepository(options_.repository->root(), dir).ok() &&
            ReadCalibrationReport(dir).ok()) {
          version = v;
        }
      }
      if (version == 0) {
        return absl::NotFoundError(
            absl::StrCat("model '", request->model_name(), "' has no calibrated version"));
      }
    } else if (!absl::SimpleAtoi(request->version(), &version) || version <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("version '", request->version(), "' is not a positive integer"));
    }
    const std::string version_dir =
        absl::StrCat(options_.repository->root(), "/", request->model_name(), "/", version);
    OCTET_RETURN_IF_ERROR(CheckVersionInsideRepository(options_.repository->root(), version_dir));
    OCTET_ASSIGN_OR_RETURN(*report, ReadCalibrationReport(version_dir));
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

bool CalibrationService::Reserve(const std::string& model) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return false;
  return running_.insert(model).second;
}

void CalibrationService::Release(const std::string& model) {
  absl::MutexLock lock(&mu_);
  running_.erase(model);
}

bool CalibrationService::shutting_down() const {
  absl::MutexLock lock(&mu_);
  return shutting_down_;
}

void CalibrationService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  // Running jobs see shutting_down() and stop at their next phase; each call releases its
  // model when gRPC is done with it.
  mu_.Await(absl::Condition(
      +[](std::set<std::string>* running) { return running->empty(); }, &running_));
}

}  // namespace octet::server
