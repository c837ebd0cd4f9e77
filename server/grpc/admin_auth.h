// AdminAuthorizer: guards the control-plane RPCs (model load and unload, calibration) with a
// bearer token. A call is allowed when its metadata holds `authorization: Bearer <token>`
// with the configured token; otherwise UNAUTHENTICATED, saying whether the header was missing or
// the token wrong (never what the token is). With no token configured every call is allowed.
//
//   AdminAuthorizer auth(token);  // from --admin_token_file
//   if (absl::Status s = auth.Check(*context); !s.ok()) { ... answer s ... }
//
// The comparison runs in constant time over SHA-256 digests of both tokens, so neither the
// position of the first differing byte nor the token's length leaks through timing.
// Immutable after construction; thread-safe.
#ifndef OCTET_SERVER_GRPC_ADMIN_AUTH_H_
#define OCTET_SERVER_GRPC_ADMIN_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"

namespace octet::server {

class AdminAuthorizer {
 public:
  // Empty: no protection.
  explicit AdminAuthorizer(std::string token);

  bool enabled() const { return !token_digest_.empty(); }
  absl::Status Check(const grpc::ServerContextBase& context) const;
  // The same check on the header's value (for tests and non-gRPC callers).
  absl::Status CheckHeader(absl::string_view authorization, bool present) const;

 private:
  std::string token_digest_;  // SHA-256 of the token; empty when disabled
};

// Reads a token file: its contents without surrounding whitespace. INVALID_ARGUMENT when the
// token is empty; NOT_FOUND when the file cannot be read.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace octet::server

#endif  // OCTET_SERVER_GRPC_ADMIN_AUTH_H_
