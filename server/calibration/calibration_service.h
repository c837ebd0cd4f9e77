// CalibrationService: the octet.v1.Calibration gRPC service. A Calibrate call streams a
// CalibrationSpec, then calibration and validation samples (or names data sets under the
// operator's --dataset-root); the server answers with progress messages and a final report,
// and the new INT8 (or mixed) version is published in the repository and served at once, the
// old versions serving throughout (calibration_job.h, version_publisher.h).
//
// Calibration runs on a thread of its own per call, never on gRPC or inference threads, and
// one at a time per model (a second call for the same model gets ABORTED). A client that
// cancels or disconnects stops the job at the next phase; a failed or cancelled calibration
// publishes nothing. Calibrate needs the admin token when one is configured.
//
// Ownership: the repository, authorizer and metrics sink are borrowed and must outlive the
// service. Thread-safe. Shutdown() (also run by the destructor) cancels running calibrations
// and waits for their threads; call it before the gRPC server is destroyed.
#ifndef OCTET_SERVER_CALIBRATION_CALIBRATION_SERVICE_H_
#define OCTET_SERVER_CALIBRATION_CALIBRATION_SERVICE_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "octet/v1/calibration.grpc.pb.h"
#include "server/grpc/admin_auth.h"
#include "server/metrics/metrics_sink.h"
#include "server/repository/model_repository.h"

namespace octet::server {

class CalibrationService final : public v1::Calibration::CallbackService {
 public:
  struct Options {
    ModelRepository* repository = nullptr;   // not owned; required
    const AdminAuthorizer* admin = nullptr;  // not owned; null: no token needed
    MetricsSink* metrics = nullptr;          // not owned; null: none
    std::string dataset_root;                // server-side data sets live here; empty: none allowed
    int threads = 1;  // OpenMP team of a calibration (it shares the cores with serving)
    int64_t max_sample_bytes = int64_t{1} << 30;  // streamed samples per call
    std::function<void(const std::string&)> log;
  };

  explicit CalibrationService(Options options);
  ~CalibrationService() override;
  CalibrationService(const CalibrationService&) = delete;
  CalibrationService& operator=(const CalibrationService&) = delete;

  grpc::ServerBidiReactor<v1::CalibrateRequest, v1::CalibrateResponse>* Calibrate(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetCalibrationReport(grpc::CallbackServerContext* context,
                                                 const v1::GetCalibrationReportRequest* request,
                                                 v1::CalibrationReport* report) override;

  void Shutdown();

  // --- For the reactor (calibration_service.cc) ---
  const Options& options() const { return options_; }
  // Reserves `model` for one calibration; false when one is running or shutting down.
  bool Reserve(const std::string& model);
  void Release(const std::string& model);
  bool shutting_down() const;

 private:
  const Options options_;
  mutable absl::Mutex mu_;
  std::set<std::string> running_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_CALIBRATION_CALIBRATION_SERVICE_H_
