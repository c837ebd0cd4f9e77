#include "client/internal/calibrate_call.h"

#include <cstddef>

#include "absl/synchronization/notification.h"

namespace octet::client::internal {
namespace {

using octet::v1::CalibrateRequest;
using octet::v1::CalibrateResponse;

// Writes are chained through OnWriteDone and reads through OnReadDone; each chain touches only
// its own members, so the two may run concurrently on different gRPC threads. OnDone runs after
// both chains have stopped.
class CalibrateReactor : public grpc::ClientBidiReactor<CalibrateRequest, CalibrateResponse> {
 public:
  CalibrateReactor(const std::vector<octet::v1::CalibrationSample>& samples,
                   const std::function<void(const octet::v1::CalibrationProgress&)>& on_progress,
                   octet::v1::CalibrationReport* report)
      : samples_(samples), on_progress_(on_progress), report_(report) {}

  void Start(octet::v1::Calibration::Stub& stub, grpc::ClientContext& context,
             const octet::v1::CalibrationSpec& spec) {
    stub.async()->Calibrate(&context, this);
    *request_.mutable_spec() = spec;
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }

  grpc::Status Await(bool* got_report) {
    done_.WaitForNotification();
    *got_report = got_report_;
    return status_;
  }

 private:
  void OnWriteDone(bool ok) override {
    // Not ok: the call is over (the server failed or finished); OnDone will say why.
    if (!ok) return;
    if (next_sample_ < samples_.size()) {
      *request_.mutable_sample() = samples_[next_sample_++];
      StartWrite(&request_);
    } else {
      StartWritesDone();
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (response_.has_progress()) {
      if (on_progress_) on_progress_(response_.progress());
    } else if (response_.has_report()) {
      *report_ = std::move(*response_.mutable_report());
      got_report_ = true;
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    status_ = status;
    done_.Notify();
  }

  // Borrowed for the call.
  const std::vector<octet::v1::CalibrationSample>& samples_;
  const std::function<void(const octet::v1::CalibrationProgress&)>& on_progress_;
  octet::v1::CalibrationReport* const report_;

  // The write chain's state.
  CalibrateRequest request_;
  size_t next_sample_ = 0;
  // The read chain's state.
  CalibrateResponse response_;
  bool got_report_ = false;
  // Set by OnDone; read after done_ is notified.
  grpc::Status status_;
  absl::Notification done_;
};

}  // namespace

grpc::Status RunCalibrateCall(
    octet::v1::Calibration::Stub& stub, grpc::ClientContext& context,
    const octet::v1::CalibrationSpec& spec,
    const std::vector<octet::v1::CalibrationSample>& samples,
    const std::function<void(const octet::v1::CalibrationProgress&)>& on_progress,
    octet::v1::CalibrationReport* report, bool* got_report) {
  CalibrateReactor reactor(samples, on_progress, report);
  reactor.Start(stub, context, spec);
  return reactor.Await(got_report);
}

}  // namespace octet::client::internal
