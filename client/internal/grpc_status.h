// The one place where a grpc::Status from a call becomes an absl::Status (STYLE.md, rule 2).
//
// The code and message are kept as the server sent them; gRPC's and Abseil's status codes are the
// same canonical codes. A failure that happened because the channel never reached the server
// (UNAVAILABLE, or DEADLINE_EXCEEDED while still connecting) is rewritten to say so:
//
//   UNAVAILABLE: cannot reach localhost:8001: failed to connect to all addresses; ...
//
// A status without a message (gRPC's own UNIMPLEMENTED for a service the server lacks, say) gets
// one naming the call: "the server does not implement octet.v1.Calibration/Calibrate".
// Messages are flattened to one line so that the CLI can print them as one.
//
// Stateless; thread-safe.
#ifndef OCTET_CLIENT_INTERNAL_GRPC_STATUS_H_
#define OCTET_CLIENT_INTERNAL_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace octet::client::internal {

// `target` is the address the channel dials (ClientOptions::url); `channel_connected` is whether
// the channel was READY when the call failed (grpc::Channel::GetState(false)), which tells a
// server that answered UNAVAILABLE (e.g. while draining) from one that could not be reached.
// `rpc` is the full method name, "package.Service/Method".
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view target,
                            bool channel_connected, absl::string_view rpc);

}  // namespace octet::client::internal

#endif  // OCTET_CLIENT_INTERNAL_GRPC_STATUS_H_
