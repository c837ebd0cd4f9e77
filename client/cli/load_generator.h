// GenerateLoad: drives one phase of `octet perf` and records every request's outcome.
//
// Two ways to offer load:
//  - closed loop (LoadShape::concurrency): exactly `concurrency` requests are in flight at any
//    time; each completion lets the next request start, so the load follows the server's pace;
//  - fixed rate (LoadShape::rate > 0): requests start on a fixed schedule, t0 + i / rate, whatever
//    the server does (open loop), with at most `max_outstanding` in flight; when that cap holds the
//    schedule back, the achieved rate falls below the target and the report shows it.
// A phase stops starting requests after `duration`, or after `requests` requests when that is
// set, then waits for those in flight. Its wall time runs from the first start to the last
// completion, so throughput = completed / wall time counts every request it ran.
//
// Requests are started from the calling thread only; completions (on any thread, or inline) just
// record, so a request that completes inline cannot recurse. Latency is measured on the monotonic
// clock from the moment the request is started to its completion.
//
//   AsyncRequest send = [&](auto done) {
//     client.AsyncInfer(request, [done](auto result) { done(result.status()); });
//   };
//   LoadShape shape;
//   shape.concurrency = 4;
//   LoadResult r = GenerateLoad(send, shape);
//
// Threads: GenerateLoad blocks its caller until the phase is over; `send` must be callable from the
// calling thread and its `done` exactly once from any thread.
#ifndef OCTET_CLIENT_CLI_LOAD_GENERATOR_H_
#define OCTET_CLIENT_CLI_LOAD_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace octet::cli {

// Starts one request; calls `done` exactly once with its outcome.
using AsyncRequest = std::function<void(std::function<void(const absl::Status&)> done)>;

struct LoadShape {
  // Closed loop: requests in flight. Ignored when rate > 0.
  int concurrency = 1;
  // Open loop: requests started per second.
  double rate = 0;
  int max_outstanding = 1000;
  // Stop condition: `requests` > 0 starts exactly that many; otherwise start for `duration`.
  absl::Duration duration = absl::Seconds(5);
  int64_t requests = 0;
};

struct LoadResult {
  // One per successful request, in completion order.
  std::vector<absl::Duration> latencies;
  // Failed requests by status code, and the first failure's status.
  std::map<absl::StatusCode, int64_t> errors;
  absl::Status first_error;
  // First start to last completion.
  absl::Duration wall;

  int64_t failed() const;
};

LoadResult GenerateLoad(const AsyncRequest& send, const LoadShape& shape);

}  // namespace octet::cli

#endif  // OCTET_CLIENT_CLI_LOAD_GENERATOR_H_
