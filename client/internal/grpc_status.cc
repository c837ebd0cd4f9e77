#include "client/internal/grpc_status.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace octet::client::internal {
namespace {

// grpc::StatusCode and absl::StatusCode both number the canonical codes 0..16.
absl::StatusCode ToAbslCode(grpc::StatusCode code) {
  const int value = static_cast<int>(code);
  if (value < 0 || value > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::StatusCode::kUnknown;
  }
  return static_cast<absl::StatusCode>(value);
}

std::string OneLine(absl::string_view message) {
  std::string line = absl::StrReplaceAll(absl::StripTrailingAsciiWhitespace(message),
                                         {{"\r\n", "; "}, {"\n", "; "}, {"\r", "; "}});
  return line;
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view target,
                            bool channel_connected, absl::string_view rpc) {
  if (status.ok()) return absl::OkStatus();
  const absl::StatusCode code = ToAbslCode(status.error_code());
  std::string message = OneLine(status.error_message());
  if (!channel_connected) {
    if (code == absl::StatusCode::kUnavailable) {
      // What gRPC says when the TLS handshake fails is only that the socket closed.
      const bool tls_hint = absl::StrContains(message, "Socket closed") ||
                            absl::StrContains(message, "andshake") ||
                            absl::StrContains(message, "SSL");
      return absl::UnavailableError(
          absl::StrCat("cannot reach ", target, ": ", message,
                       tls_hint ? " (TLS settings or a client certificate that the server does "
                                  "not accept end a connection like this)"
                                : ""));
    }
    if (code == absl::StatusCode::kDeadlineExceeded) {
      return absl::DeadlineExceededError(absl::StrCat(
          "cannot reach ", target, ": no connection before the deadline (", message, ")"));
    }
  }
  if (message.empty()) {
    message = code == absl::StatusCode::kUnimplemented
                  ? absl::StrCat("the server does not implement ", rpc)
                  : absl::StrCat(rpc, " failed without a message");
  }
  return absl::Status(code, message);
}

}  // namespace octet::client::internal
