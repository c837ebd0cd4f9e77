#include "server/grpc/infer_stream.h"

#include <string>
#include <utility>

namespace octet::server {
namespace {

// Answers one request of a stream: owns its response until it is handed to the reactor.
class StreamResponder final : public InferResponder {
 public:
  explicit StreamResponder(InferStreamReactor* reactor)
      : reactor_(reactor), response_(std::make_unique<inference::ModelStreamInferResponse>()) {}

  bool IsCancelled() const override { return reactor_->IsCancelled(); }
  inference::ModelInferResponse* response() override { return response_->mutable_infer_response(); }
  void Finish(const absl::Status& status) override {
    if (!status.ok()) {
      // Keep what identifies the request (model, version, id); drop any partial outputs.
      inference::ModelInferResponse* infer = response_->mutable_infer_response();
      infer->clear_outputs();
      infer->clear_raw_output_contents();
      response_->set_error_message(std::string(status.message()));
    }
    reactor_->Answer(std::move(response_));
  }

 private:
  InferStreamReactor* const reactor_;
  std::unique_ptr<inference::ModelStreamInferResponse> response_;
};

}  // namespace

InferStreamReactor::InferStreamReactor(grpc::CallbackServerContext* context,
                                       InferenceService* service)
    : context_(context), service_(service) {
  StartRead(&request_);
}

void InferStreamReactor::OnReadDone(bool ok) {
  if (!ok) {  // The client half-closed, or the call is gone.
    Next next;
    {
      absl::MutexLock lock(&mu_);
      reads_done_ = true;
      next = NextLocked();
    }
    Perform(next);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    ++outstanding_;
  }
  // The call cannot finish during Submit(): reads are not done.
  service_->Submit(request_, ClientDeadline(*context_), std::make_unique<StreamResponder>(this));
  request_.Clear();
  StartRead(&request_);
}

void InferStreamReactor::Answer(std::unique_ptr<inference::ModelStreamInferResponse> response) {
  Next next;
  {
    absl::MutexLock lock(&mu_);
    --outstanding_;
    if (!write_failed_) answers_.push_back(std::move(response));
    next = NextLocked();
  }
  Perform(next);
}

void InferStreamReactor::OnWriteDone(bool ok) {
  Next next;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    answers_.pop_front();
    if (!ok) {  // The client is gone: nobody will read the rest.
      write_failed_ = true;
      answers_.clear();
    }
    next = NextLocked();
  }
  Perform(next);
}

InferStreamReactor::Next InferStreamReactor::NextLocked() {
  mu_.AssertHeld();
  Next next;
  if (writing_ || finished_) return next;
  if (!answers_.empty()) {
    writing_ = true;
    next.write = answers_.front().get();  // stable until OnWriteDone pops it
  } else if (reads_done_ && outstanding_ == 0) {
    finished_ = true;
    next.finish = true;
  }
  return next;
}

void InferStreamReactor::Perform(const Next& next) {
  // Nothing of `this` may be touched after Finish(): OnDone() may delete it at once.
  if (next.write != nullptr) {
    StartWrite(next.write);
  } else if (next.finish) {
    Finish(grpc::Status::OK);
  }
}

}  // namespace octet::server
