// One Calibrate call (octet.v1.Calibration, a bidirectional stream) driven by gRPC's callback API:
// writes the spec, then each sample, then half-closes, while reading progress messages and the
// final report as they come. Reading and writing proceed independently, so neither side can stall
// the other however the server interleaves its progress messages with its reads.
//
// Used by Client::Calibrate only. Ownership: `samples` and `on_progress` are borrowed for the call;
// the function blocks until the call is over (bounded by the context's deadline).
#ifndef OCTET_CLIENT_INTERNAL_CALIBRATE_CALL_H_
#define OCTET_CLIENT_INTERNAL_CALIBRATE_CALL_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <vector>

#include "octet/v1/calibration.grpc.pb.h"
#include "octet/v1/calibration.pb.h"

namespace octet::client::internal {

// Returns the call's final status; `report` is set when the server sent one (the last one wins).
// `*got_report` says whether it did.
grpc::Status RunCalibrateCall(
    octet::v1::Calibration::Stub& stub, grpc::ClientContext& context,
    const octet::v1::CalibrationSpec& spec,
    const std::vector<octet::v1::CalibrationSample>& samples,
    const std::function<void(const octet::v1::CalibrationProgress&)>& on_progress,
    octet::v1::CalibrationReport* report, bool* got_report);

}  // namespace octet::client::internal

#endif  // OCTET_CLIENT_INTERNAL_CALIBRATE_CALL_H_
