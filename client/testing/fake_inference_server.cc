#include "client/testing/fake_inference_server.h"

#include <grpcpp/alarm.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace octet::client::testing {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;
using State = FakeInferenceServer::State;

grpc::Status NotFound(const std::string& model) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("unknown model '", model, "'"));
}

int64_t DatatypeBytes(const std::string& datatype) {
  if (datatype == "UINT8" || datatype == "INT8" || datatype == "BOOL") return 1;
  if (datatype == "INT64" || datatype == "FP64" || datatype == "UINT64") return 8;
  if (datatype == "INT16" || datatype == "UINT16" || datatype == "FP16") return 2;
  return 4;
}

// The checks a real server makes before running a request.
grpc::Status CheckAgainstMetadata(const ModelInferRequest& request,
                                  const inference::ModelMetadataResponse& metadata) {
  auto invalid = [](std::string message) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
  };
  if (request.raw_input_contents_size() != request.inputs_size()) {
    return invalid("raw_input_contents must have one entry per input");
  }
  for (int i = 0; i < request.inputs_size(); ++i) {
    const auto& input = request.inputs(i);
    const inference::ModelMetadataResponse::TensorMetadata* expected = nullptr;
    for (const auto& m : metadata.inputs()) {
      if (m.name() == input.name()) expected = &m;
    }
    if (expected == nullptr) {
      return invalid(
          absl::StrCat("model '", metadata.name(), "' has no input '", input.name(), "'"));
    }
    if (input.datatype() != expected->datatype()) {
      return invalid(absl::StrCat("input '", input.name(), "' must be ", expected->datatype(),
                                  ", got ", input.datatype()));
    }
    bool shape_ok = input.shape_size() == expected->shape_size();
    int64_t count = 1;
    for (int d = 0; shape_ok && d < input.shape_size(); ++d) {
      shape_ok = expected->shape(d) < 0 || expected->shape(d) == input.shape(d);
      count *= input.shape(d);
    }
    if (!shape_ok) {
      return invalid(absl::StrCat("input '", input.name(), "' has shape [",
                                  absl::StrJoin(input.shape(), ","), "], model expects [",
                                  absl::StrJoin(expected->shape(), ","), "]"));
    }
    if (static_cast<int64_t>(request.raw_input_contents(i).size()) !=
        count * DatatypeBytes(input.datatype())) {
      return invalid(absl::StrCat("input '", input.name(), "' has the wrong number of bytes"));
    }
  }
  return grpc::Status::OK;
}

void AddDuration(inference::StatisticDuration* d, absl::Duration t) {
  d->set_count(d->count() + 1);
  d->set_ns(d->ns() + absl::ToInt64Nanoseconds(t));
}

// Finishes a ModelInfer after the model's latency, from a gRPC alarm. A cancelled call (client
// deadline, server shutdown) fires the alarm at once, so that shutdown never waits for it.
class DelayedInferReactor : public grpc::ServerUnaryReactor {
 public:
  DelayedInferReactor(absl::Duration delay, grpc::Status status) : status_(std::move(status)) {
    alarm_.Set(absl::ToChronoTime(absl::Now() + delay), [this](bool fired) {
      Finish(fired ? status_ : grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    });
  }
  void OnCancel() override { alarm_.Cancel(); }
  void OnDone() override { delete this; }

 private:
  const grpc::Status status_;
  grpc::Alarm alarm_;
};

class FakeInference final : public inference::GRPCInferenceService::CallbackService {
 public:
  explicit FakeInference(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, grpc::Status status) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(std::move(status));
    return reactor;
  }

  // The model `name` (a copy), or why not.
  grpc::Status FindModel(const std::string& name, const std::string& version, FakeModel* model) {
    absl::MutexLock lock(&state_->mutex);
    auto it = state_->models.find(name);
    if (it == state_->models.end()) return NotFound(name);
    if (!version.empty()) {
      bool known = false;
      for (const std::string& v : it->second.metadata.versions()) known |= v == version;
      if (!known) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
                            absl::StrCat("model '", name, "' has no version ", version));
      }
    }
    *model = it->second;
    return grpc::Status::OK;
  }

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* response) override {
    response->set_live(true);
    return Done(context, state_->CheckToken(context));
  }

  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* response) override {
    grpc::Status status = state_->CheckToken(context);
    absl::MutexLock lock(&state_->mutex);
    response->set_ready(state_->server_ready);
    return Done(context, status);
  }

  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override {
    grpc::Status status = state_->CheckToken(context);
    if (!status.ok()) return Done(context, status);
    FakeModel model;
    status = FindModel(request->name(), request->version(), &model);
    response->set_ready(status.ok() && model.loaded);
    // Like Triton: an unknown model is simply not ready.
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest*,
                                           inference::ServerMetadataResponse* response) override {
    response->set_name("fake-octet");
    response->set_version("0.0-test");
    response->add_extensions("model_repository");
    response->add_extensions("statistics");
    return Done(context, state_->CheckToken(context));
  }

  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override {
    grpc::Status status = state_->CheckToken(context);
    if (!status.ok()) return Done(context, status);
    FakeModel model;
    status = FindModel(request->name(), request->version(), &model);
    if (status.ok()) *response = model.metadata;
    return Done(context, status);
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const ModelInferRequest* request,
                                       ModelInferResponse* response) override {
    grpc::Status status = state_->CheckToken(context);
    if (!status.ok()) return Done(context, status);
    {
      absl::MutexLock lock(&state_->mutex);
      state_->infer_requests.push_back(*request);
    }
    FakeModel model;
    status = FindModel(request->model_name(), request->model_version(), &model);
    if (status.ok() && !model.loaded) {
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            absl::StrCat("model '", request->model_name(), "' is not loaded"));
    }
    if (status.ok()) status = CheckAgainstMetadata(*request, model.metadata);
    if (status.ok()) {
      status = model.infer
                   ? model.infer(*request, response)
                   : grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "fake model has no infer");
    }
    if (status.ok()) {
      response->set_model_name(request->model_name());
      response->set_model_version(model.metadata.versions_size() ? model.metadata.versions(0)
                                                                 : "1");
      response->set_id(request->id());
    }
    Record(request->model_name(), *request, status.ok(), model);
    if (status.ok() && model.latency > absl::ZeroDuration()) {
      return new DelayedInferReactor(model.latency, status);
    }
    return Done(context, status);
  }

  void Record(const std::string& name, const ModelInferRequest& request, bool ok,
              const FakeModel& model) {
    absl::MutexLock lock(&state_->mutex);
    if (state_->models.count(name) == 0) return;
    inference::ModelStatistics& s = state_->stats[name];
    s.set_name(name);
    s.set_version(model.metadata.versions_size() ? model.metadata.versions(0) : "1");
    if (!ok) {
      AddDuration(s.mutable_inference_stats()->mutable_fail(), model.latency);
      return;
    }
    const int64_t batch =
        request.inputs_size() && request.inputs(0).shape_size() ? request.inputs(0).shape(0) : 1;
    s.set_inference_count(s.inference_count() + batch);
    s.set_execution_count(s.execution_count() + 1);
    s.set_last_inference(absl::ToUnixMillis(absl::Now()));
    AddDuration(s.mutable_inference_stats()->mutable_success(), model.queue_time + model.latency);
    AddDuration(s.mutable_inference_stats()->mutable_queue(), model.queue_time);
    AddDuration(s.mutable_inference_stats()->mutable_compute_infer(), model.latency);
  }

  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override {
    grpc::Status status = state_->CheckToken(context);
    if (!status.ok()) return Done(context, status);
    absl::MutexLock lock(&state_->mutex);
    for (const auto& [name, model] : state_->models) {
      if (!request->name().empty() && request->name() != name) continue;
      auto it = state_->stats.find(name);
      if (it != state_->stats.end()) {
        *response->add_model_stats() = it->second;
      } else {
        inference::ModelStatistics* s = response->add_model_stats();
        s->set_name(name);
        s->set_version(model.metadata.versions_size() ? model.metadata.versions(0) : "1");
      }
    }
    if (!request->name().empty() && response->model_stats_size() == 0) {
      return Done(context, NotFound(request->name()));
    }
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* context,
                                            const inference::RepositoryIndexRequest* request,
                                            inference::RepositoryIndexResponse* response) override {
    grpc::Status status = state_->CheckToken(context);
    if (!status.ok()) return Done(context, status);
    absl::MutexLock lock(&state_->mutex);
    for (const auto& [name, model] : state_->models) {
      if (request->ready() && !model.loaded) continue;
      auto* index = response->add_models();
      index->set_name(name);
      index->set_version(model.metadata.versions_size() ? model.metadata.versions(0) : "");
      index->set_state(model.loaded ? "READY" : "UNAVAILABLE");
      if (!model.loaded) index->set_reason("unloaded");
    }
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* SetLoaded(grpc::CallbackServerContext* context, const std::string& name,
                                      bool loaded) {
    grpc::Status status = state_->CheckToken(context);
    if (!status.ok()) return Done(context, status);
    absl::MutexLock lock(&state_->mutex);
    auto it = state_->models.find(name);
    if (it == state_->models.end()) {
      return Done(context, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                        absl::StrCat("no model '", name, "' in the repository")));
    }
    it->second.loaded = loaded;
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* RepositoryModelLoad(
      grpc::CallbackServerContext* context, const inference::RepositoryModelLoadRequest* request,
      inference::RepositoryModelLoadResponse*) override {
    return SetLoaded(context, request->model_name(), true);
  }

  grpc::ServerUnaryReactor* RepositoryModelUnload(
      grpc::CallbackServerContext* context, const inference::RepositoryModelUnloadRequest* request,
      inference::RepositoryModelUnloadResponse*) override {
    return SetLoaded(context, request->model_name(), false);
  }

  const std::shared_ptr<State> state_;
};

// One Calibrate call: reads the spec and the samples, then writes the canned responses.
class FakeCalibrateReactor
    : public grpc::ServerBidiReactor<octet::v1::CalibrateRequest, octet::v1::CalibrateResponse> {
 public:
  FakeCalibrateReactor(std::shared_ptr<State> state, grpc::CallbackServerContext* context)
      : state_(std::move(state)) {
    grpc::Status status = state_->CheckToken(context);
    if (!status.ok()) {
      Finish(status);
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  void OnReadDone(bool ok) override {
    if (!ok) {
      Respond();
      return;
    }
    {
      absl::MutexLock lock(&state_->mutex);
      state_->calibrate_requests.push_back(request_);
    }
    if (spec_.model_name().empty()) {
      if (!request_.has_spec()) {
        Finish(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be a spec"));
        return;
      }
      spec_ = request_.spec();
      absl::MutexLock lock(&state_->mutex);
      if (state_->models.count(spec_.model_name()) == 0) {
        Finish(NotFound(spec_.model_name()));
        return;
      }
    } else if (request_.has_sample()) {
      const octet::v1::CalibrationSample& s = request_.sample();
      const int64_t n = s.shape_size() ? s.shape(0) : 0;
      if (s.role() == octet::v1::CalibrationSample::VALIDATION) {
        validation_ += n;
      } else {
        calibration_ += n;
      }
      labelled_ |= s.labels_size() > 0;
    } else {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a second spec"));
      return;
    }
    StartRead(&request_);
  }

  void Respond() {
    grpc::Status error;
    {
      absl::MutexLock lock(&state_->mutex);
      error = state_->calibration_error;
    }
    if (!error.ok()) {
      Finish(error);
      return;
    }
    auto progress = [&](octet::v1::CalibrationProgress::Phase phase, std::string message) {
      octet::v1::CalibrateResponse r;
      r.mutable_progress()->set_phase(phase);
      r.mutable_progress()->set_samples_seen(calibration_);
      r.mutable_progress()->set_samples_total(calibration_);
      r.mutable_progress()->set_message(std::move(message));
      responses_.push_back(std::move(r));
    };
    progress(octet::v1::CalibrationProgress::RECEIVING, "received");
    progress(octet::v1::CalibrationProgress::OBSERVING, "observed");
    octet::v1::CalibrationReport& report = *responses_.emplace_back().mutable_report();
    report.set_model_name(spec_.model_name());
    report.set_source_version(spec_.source_version().empty() ? "1" : spec_.source_version());
    report.set_published_version("2");
    report.set_method(spec_.method());
    report.set_percentile(spec_.percentile());
    report.set_precision(spec_.precision() == octet::v1::PRECISION_INT8
                             ? octet::v1::PRECISION_INT8
                             : octet::v1::PRECISION_MIXED);
    report.set_num_calibration_samples(calibration_);
    report.set_num_validation_samples(validation_ ? validation_ : calibration_);
    report.set_accuracy_from_labels(labelled_);
    report.set_fp32_accuracy(labelled_ ? 80.0 : 100.0);
    report.set_initial_accuracy(labelled_ ? 78.0 : 97.0);
    report.set_accuracy(labelled_ ? 79.5 : 99.0);
    report.set_top1_agreement(99.0);
    report.set_tolerance(spec_.tolerance());
    report.set_tolerance_mode(spec_.tolerance_mode());
    auto* layer = report.add_layers();
    layer->set_node_name("conv1");
    layer->set_op_type("Conv");
    layer->set_precision("int8");
    layer->set_sqnr_db(31.5);
    layer = report.add_layers();
    layer->set_node_name("fc");
    layer->set_op_type("Gemm");
    layer->set_precision("fp32");
    layer->set_sqnr_db(12.25);
    (*report.mutable_plan())["conv1"] = "int8";
    (*report.mutable_plan())["fc"] = "fp32";
    report.set_isa("avx2");
    report.set_weight_scheme("s8 per-channel");
    report.set_weight_bytes_fp32(4000);
    report.set_weight_bytes(1100);
    report.set_duration_seconds(1.5);
    {
      absl::MutexLock lock(&state_->mutex);
      state_->reports[spec_.model_name()] = report;
    }
    StartWrite(&responses_[0]);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    if (++next_response_ < responses_.size()) {
      StartWrite(&responses_[next_response_]);
    } else {
      Finish(grpc::Status::OK);
    }
  }

  const std::shared_ptr<State> state_;
  octet::v1::CalibrateRequest request_;
  octet::v1::CalibrationSpec spec_;
  int64_t calibration_ = 0;
  int64_t validation_ = 0;
  bool labelled_ = false;
  std::vector<octet::v1::CalibrateResponse> responses_;
  size_t next_response_ = 0;
};

class FakeCalibration final : public octet::v1::Calibration::CallbackService {
 public:
  explicit FakeCalibration(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  grpc::ServerBidiReactor<octet::v1::CalibrateRequest, octet::v1::CalibrateResponse>* Calibrate(
      grpc::CallbackServerContext* context) override {
    return new FakeCalibrateReactor(state_, context);
  }

  grpc::ServerUnaryReactor* GetCalibrationReport(
      grpc::CallbackServerContext* context, const octet::v1::GetCalibrationReportRequest* request,
      octet::v1::CalibrationReport* response) override {
    grpc::Status status = state_->CheckToken(context);
    if (status.ok()) {
      absl::MutexLock lock(&state_->mutex);
      auto it = state_->reports.find(request->model_name());
      if (it == state_->reports.end()) {
        status = grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            absl::StrCat("model '", request->model_name(), "' has no calibration report"));
      } else {
        *response = it->second;
      }
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  const std::shared_ptr<State> state_;
};

}  // namespace

grpc::Status State::CheckToken(const grpc::CallbackServerContext* context) {
  std::string header;
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) header.assign(it->second.data(), it->second.size());
  absl::MutexLock lock(&mutex);
  authorization_headers.push_back(header);
  if (!required_token.empty() && header != absl::StrCat("Bearer ", required_token)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong bearer token");
  }
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<FakeInferenceServer>> FakeInferenceServer::Start(Options options) {
  std::unique_ptr<FakeInferenceServer> server(new FakeInferenceServer);
  server->state_->required_token = options.required_token;
  server->inference_service_ = std::make_unique<FakeInference>(server->state_);
  server->calibration_service_ = std::make_unique<FakeCalibration>(server->state_);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(
      "127.0.0.1:0", options.credentials ? options.credentials : grpc::InsecureServerCredentials(),
      &port);
  builder.RegisterService(server->inference_service_.get());
  builder.RegisterService(server->calibration_service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    return absl::InternalError("the fake inference server could not start on 127.0.0.1");
  }
  server->address_ = absl::StrCat("127.0.0.1:", port);
  return server;
}

FakeInferenceServer::~FakeInferenceServer() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

void FakeInferenceServer::AddModel(FakeModel model) {
  absl::MutexLock lock(&state_->mutex);
  const std::string name = model.metadata.name();
  state_->models[name] = std::move(model);
}

FakeModel FakeInferenceServer::Classifier(const std::string& name, std::vector<int64_t> input_dims,
                                          int classes, bool uint8_input) {
  FakeModel model;
  model.metadata.set_name(name);
  model.metadata.add_versions("1");
  model.metadata.set_platform("onnx");
  auto* input = model.metadata.add_inputs();
  input->set_name("input");
  input->set_datatype(uint8_input ? "UINT8" : "FP32");
  input->add_shape(-1);
  for (int64_t d : input_dims) input->add_shape(d);
  auto* output = model.metadata.add_outputs();
  output->set_name("scores");
  output->set_datatype("FP32");
  output->add_shape(-1);
  output->add_shape(classes);
  model.infer = [classes, uint8_input](const ModelInferRequest& request,
                                       ModelInferResponse* response) {
    const std::string& raw = request.raw_input_contents(0);
    const int64_t batch = request.inputs(0).shape(0);
    const int64_t element = uint8_input ? 1 : 4;
    const int64_t row = batch ? static_cast<int64_t>(raw.size()) / element / batch : 0;
    std::vector<float> scores(batch * classes, 0.0f);
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t c = 0; c < classes && c < row; ++c) {
        const char* p = raw.data() + (b * row + c) * element;
        float v;
        if (uint8_input) {
          v = static_cast<uint8_t>(*p);
        } else {
          std::memcpy(&v, p, sizeof(v));
        }
        scores[b * classes + c] = v;
      }
    }
    auto* out = response->add_outputs();
    out->set_name("scores");
    out->set_datatype("FP32");
    out->add_shape(batch);
    out->add_shape(classes);
    response->add_raw_output_contents(
        std::string(reinterpret_cast<const char*>(scores.data()), scores.size() * sizeof(float)));
    return grpc::Status::OK;
  };
  return model;
}

void FakeInferenceServer::SetServerReady(bool ready) {
  absl::MutexLock lock(&state_->mutex);
  state_->server_ready = ready;
}

void FakeInferenceServer::FailCalibration(grpc::Status status) {
  absl::MutexLock lock(&state_->mutex);
  state_->calibration_error = std::move(status);
}

std::vector<inference::ModelInferRequest> FakeInferenceServer::infer_requests() const {
  absl::MutexLock lock(&state_->mutex);
  return state_->infer_requests;
}

std::vector<octet::v1::CalibrateRequest> FakeInferenceServer::calibrate_requests() const {
  absl::MutexLock lock(&state_->mutex);
  return state_->calibrate_requests;
}

std::vector<std::string> FakeInferenceServer::authorization_headers() const {
  absl::MutexLock lock(&state_->mutex);
  return state_->authorization_headers;
}

}  // namespace octet::client::testing
