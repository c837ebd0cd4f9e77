#include "server/metrics/metrics_sink.h"

namespace octet::server {

const char* RequestOutcomeName(RequestOutcome outcome) {
  switch (outcome) {
    case RequestOutcome::kSuccess:
      return "success";
    case RequestOutcome::kInvalid:
      return "invalid";
    case RequestOutcome::kRejected:
      return "rejected";
    case RequestOutcome::kTimeout:
      return "timeout";
    case RequestOutcome::kCancelled:
      return "cancelled";
    case RequestOutcome::kError:
      return "error";
  }
  return "error";
}

}  // namespace octet::server
