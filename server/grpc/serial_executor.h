// SerialExecutor: runs closures one at a time, in the order given, on a thread of its own. The
// gRPC services hand it control-plane work that blocks (loading, unloading, draining a model),
// since a gRPC reaction must never block; the closure finishes the RPC when done.
//
//   SerialExecutor control("octet-control");
//   if (!control.Schedule([=] { reactor->Finish(ToGrpcStatus(repository->Load(name))); })) {
//     reactor->Finish(...UNAVAILABLE...);
//   }
//
// Thread-safe. Shutdown() (also run by the destructor) refuses new closures, runs the queued
// ones and joins the thread; it must not be called from a closure.
#ifndef OCTET_SERVER_GRPC_SERIAL_EXECUTOR_H_
#define OCTET_SERVER_GRPC_SERIAL_EXECUTOR_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace octet::server {

class SerialExecutor {
 public:
  SerialExecutor();
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  // Queues `work`; false (and `work` is dropped unrun) once Shutdown() has begun.
  bool Schedule(std::function<void()> work);
  // Idempotent; returns when every queued closure has run.
  void Shutdown();

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Started by the constructor; joined once, by Shutdown().
  std::thread thread_;
  absl::Mutex join_mu_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_GRPC_SERIAL_EXECUTOR_H_
