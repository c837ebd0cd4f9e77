// The one place where an absl::Status becomes a grpc::Status (STYLE.md, house convention 2).
// Both use the canonical gRPC code numbering, so the code carries over unchanged and the message
// is kept as it is. Stateless; thread-safe.
#ifndef OCTET_SERVER_GRPC_STATUS_CONVERSION_H_
#define OCTET_SERVER_GRPC_STATUS_CONVERSION_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace octet::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace octet::server

#endif  // OCTET_SERVER_GRPC_STATUS_CONVERSION_H_
