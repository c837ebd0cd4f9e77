// InferTask: one inference request on its way through a model version's BatchScheduler.
//
// The transport (the gRPC unary reactor, or one request of a stream) decodes the request on its
// own thread, wraps the way to answer it in an InferResponder and hands both to an InferTask,
// which it Schedule()s. The task then owns everything the batch thread needs: the decoded input
// tensors, the deadline, the cancellation check and the responder. The batch thread fills
// responder->response() and calls Finish(); so does the dropped-task callback, with
// DEADLINE_EXCEEDED or CANCELLED.
//
//   auto task = std::make_unique<InferTask>(std::move(decoded), std::move(responder),
//                                           received, deadline);
//   absl::Status status = scheduler->Schedule(&task);
//   if (!status.ok()) task->responder().Finish(status);
//
// Thread safety: deadline(), size() and IsCancelled() may be called from any thread (the batch
// scheduler calls them under its mutex); everything else belongs to whichever thread owns the
// task.
#ifndef OCTET_SERVER_INFERENCE_INFER_TASK_H_
#define OCTET_SERVER_INFERENCE_INFER_TASK_H_

#include <cstddef>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "inference.pb.h"
#include "server/inference/tensor_codec.h"

namespace octet::server {

// How a task is answered; implemented by the transport.
class InferResponder {
 public:
  virtual ~InferResponder() = default;

  // True once the client has gone away. Thread-safe, cheap, never blocks for long.
  virtual bool IsCancelled() const = 0;
  // Where the batch thread writes the outputs before Finish(OK). Owned by the responder.
  virtual inference::ModelInferResponse* response() = 0;
  // Sends the response (status OK) or the error. Called exactly once, from any thread; must not
  // block.
  virtual void Finish(const absl::Status& status) = 0;
};

class InferTask {
 public:
  InferTask(DecodedRequest request, std::unique_ptr<InferResponder> responder, absl::Time received,
            absl::Time deadline)
      : request_(std::move(request)),
        responder_(std::move(responder)),
        received_(received),
        deadline_(deadline) {}

  InferTask(const InferTask&) = delete;
  InferTask& operator=(const InferTask&) = delete;

  // The task concept of BatchScheduler.
  size_t size() const { return static_cast<size_t>(request_.samples); }
  absl::Time deadline() const { return deadline_; }
  bool IsCancelled() const { return responder_->IsCancelled(); }

  const DecodedRequest& request() const { return request_; }
  InferResponder& responder() { return *responder_; }
  absl::Time received() const { return received_; }

  // Moves the request's data out of a task that has been answered (its inputs go to a shadow
  // run without a copy); request() holds nothing afterwards.
  DecodedRequest TakeRequest() { return std::move(request_); }

  // Takes the responder back from a task that was never queued (to offer the request to another
  // model version); the task must not be used afterwards.
  std::unique_ptr<InferResponder> ReleaseResponder() { return std::move(responder_); }

 private:
  DecodedRequest request_;
  std::unique_ptr<InferResponder> responder_;
  const absl::Time received_;
  const absl::Time deadline_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_INFERENCE_INFER_TASK_H_
