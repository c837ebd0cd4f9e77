// octet_fault_client: a client that starts a call, prints "ready" once the call is in the state
// its mode names, then waits to be killed (SIGKILL from the test), so that the server sees a
// client vanish in the middle of a call, connection and all:
//
//   octet_fault_client unary ADDRESS MODEL             8 ModelInfer requests sent, no answer read
//   octet_fault_client stream ADDRESS MODEL            a ModelStreamInfer with 8 requests written
//   octet_fault_client calibrate-upload ADDRESS MODEL  a Calibrate stream still sending samples
//   octet_fault_client calibrate-job ADDRESS MODEL     a Calibrate whose job is running on the
//                                                      server (progress past RECEIVING read)
//
// Exit status 1 (with a message on stderr) when the call fails before it is ready.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/create_channel.h"
#include "inference.grpc.pb.h"
#include "octet/v1/calibration.grpc.pb.h"
#include "tests/e2e/e2e_support.h"
#include "tests/faults/fault_support.h"

namespace octet::faults {
namespace {

constexpr int kRequests = 8;

// A channel that is connected, so that the calls made next go straight onto the wire; null when
// it cannot connect within 30 s.
std::shared_ptr<grpc::Channel> ConnectedChannel(const std::string& address);

// For the queueing modes: the test probes the queue as soon as it reads "ready", so the requests
// must be in the server's queue by then. Async calls on a connected channel reach a server on
// loopback within milliseconds; half a second leaves room for a loaded (sanitizer) machine.
void LetRequestsArrive() { usleep(500 * 1000); }

[[noreturn]] void ReadyThenWait() {
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) pause();
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "octet_fault_client: %s\n", what.c_str());
  return 1;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  args.SetMaxReceiveMessageSize(-1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::shared_ptr<grpc::Channel> ConnectedChannel(const std::string& address) {
  std::shared_ptr<grpc::Channel> channel = Channel(address);
  const gpr_timespec deadline =
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(30, GPR_TIMESPAN));
  return channel->WaitForConnected(deadline) ? channel : nullptr;
}

int Unary(const std::string& address, const std::string& model) {
  std::shared_ptr<grpc::Channel> channel = ConnectedChannel(address);
  if (channel == nullptr) return Fail("cannot connect to " + address);
  auto stub = inference::GRPCInferenceService::NewStub(channel);
  // Never freed: the process ends by SIGKILL with these calls in flight.
  for (int i = 0; i < kRequests; ++i) {
    auto* context = new grpc::ClientContext();
    auto* request = new inference::ModelInferRequest(e2e::RawRequest(model, e2e::Images(i)));
    auto* response = new inference::ModelInferResponse();
    stub->async()->ModelInfer(context, request, response, [](grpc::Status) {});
  }
  LetRequestsArrive();
  ReadyThenWait();
}

int Stream(const std::string& address, const std::string& model) {
  std::shared_ptr<grpc::Channel> channel = ConnectedChannel(address);
  if (channel == nullptr) return Fail("cannot connect to " + address);
  auto stub = inference::GRPCInferenceService::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->ModelStreamInfer(&context);
  for (int i = 0; i < kRequests; ++i) {
    if (!stream->Write(e2e::RawRequest(model, e2e::Images(i)))) return Fail("stream write failed");
  }
  LetRequestsArrive();
  ReadyThenWait();  // neither WritesDone nor Read: the client dies mid-stream
}

int Calibrate(const std::string& address, const std::string& model, bool start_job) {
  auto stub = v1::Calibration::NewStub(Channel(address));
  grpc::ClientContext context;
  auto stream = stub->Calibrate(&context);
  // Enough samples that observing and evaluating them take a while.
  v1::CalibrateRequest request;
  *request.mutable_spec() = LenetSpec(model, 4000);
  request.mutable_spec()->set_precision(v1::PRECISION_MIXED);
  request.mutable_spec()->set_tolerance(0.0);
  if (!stream->Write(request)) return Fail("spec write failed");
  for (int chunk = 0; chunk < 8; ++chunk) {
    *request.mutable_sample() = LenetSamples(
        chunk, 500,
        chunk % 2 == 0 ? v1::CalibrationSample::CALIBRATION : v1::CalibrationSample::VALIDATION);
    if (!stream->Write(request)) return Fail("sample write failed");
  }
  if (!start_job) ReadyThenWait();  // still uploading: no WritesDone
  stream->WritesDone();
  v1::CalibrateResponse response;
  while (stream->Read(&response)) {
    if (response.has_progress() &&
        response.progress().phase() > v1::CalibrationProgress::RECEIVING) {
      ReadyThenWait();
    }
  }
  const grpc::Status status = stream->Finish();
  return Fail("the calibration ended before it was seen running: " + status.error_message());
}

}  // namespace
}  // namespace octet::faults

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s unary|stream|calibrate-upload|calibrate-job ADDRESS MODEL\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argv[1], address = argv[2], model = argv[3];
  if (mode == "unary") return octet::faults::Unary(address, model);
  if (mode == "stream") return octet::faults::Stream(address, model);
  if (mode == "calibrate-upload") return octet::faults::Calibrate(address, model, false);
  if (mode == "calibrate-job") return octet::faults::Calibrate(address, model, true);
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
