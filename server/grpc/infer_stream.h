// InferStreamReactor: one ModelStreamInfer call (Triton's streaming extension). Each request read
// from the stream goes through InferenceService::Submit like a unary ModelInfer; its answer is
// written as soon as it is ready, so answers arrive in completion order (clients match them by
// `id`). A failed request is answered with error_message set and does not end the stream. The
// call ends, with OK, once the client has half-closed and every answer is written.
//
// Ownership: created by the service for gRPC, which owns it; it deletes itself in OnDone(), which
// gRPC calls only after Finish(), and Finish() waits until no request of the stream is
// outstanding, so no batch thread can touch it afterwards.
// Thread-safety: reactions come from gRPC threads; answers from batch threads; the state they
// share is guarded by mu_, and no gRPC operation is started with mu_ held.
#ifndef OCTET_SERVER_GRPC_INFER_STREAM_H_
#define OCTET_SERVER_GRPC_INFER_STREAM_H_

#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "inference.grpc.pb.h"
#include "server/grpc/inference_service.h"

namespace octet::server {

class InferStreamReactor final
    : public grpc::ServerBidiReactor<inference::ModelInferRequest,
                                     inference::ModelStreamInferResponse> {
 public:
  InferStreamReactor(grpc::CallbackServerContext* context, InferenceService* service);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override { delete this; }

  // Called by a request's responder, from any thread, exactly once per request.
  void Answer(std::unique_ptr<inference::ModelStreamInferResponse> response);
  bool IsCancelled() const { return context_->IsCancelled(); }

 private:
  // What to do once mu_ is released: write an answer, finish the call, or nothing.
  struct Next {
    const inference::ModelStreamInferResponse* write = nullptr;
    bool finish = false;
  };
  // Decides the next step and marks it taken, so that exactly one thread performs it. Every
  // state change ends with this under the same lock: a thread whose step is "nothing" never
  // touches the reactor again, so the one that finishes the call may let it be deleted.
  // REQUIRES: mu_ is held.
  Next NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Perform(const Next& next) ABSL_LOCKS_EXCLUDED(mu_);

  grpc::CallbackServerContext* const context_;
  InferenceService* const service_;
  // Filled by one read at a time; Submit() copies what it needs before the next read.
  inference::ModelInferRequest request_;

  absl::Mutex mu_;
  std::deque<std::unique_ptr<inference::ModelStreamInferResponse>> answers_ ABSL_GUARDED_BY(mu_);
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;   // submitted, not yet answered
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // answers_.front() is being written
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_GRPC_INFER_STREAM_H_
