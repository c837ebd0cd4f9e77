// Status propagation macros shared by every Octet module.
//
// absl::Status / absl::StatusOr<T> are the one error currency inside Octet (STYLE.md). These
// macros replace nested `if (!status.ok())` chains with early returns:
//
//   absl::StatusOr<Plan> Build(const Graph& g) {
//     OCTET_RETURN_IF_ERROR(Validate(g));
//     OCTET_ASSIGN_OR_RETURN(Shapes shapes, InferShapes(g));
//     ...
//   }
//
// Header-only; no state; thread-safe.
#ifndef OCTET_COMMON_STATUS_MACROS_H_
#define OCTET_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define OCTET_STATUS_CONCAT_INNER_(a, b) a##b
#define OCTET_STATUS_CONCAT_(a, b) OCTET_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define OCTET_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status octet_status_ = (expr);         \
    if (!octet_status_.ok()) return octet_status_; \
  } while (false)

// `lhs` is a declaration or an assignable expression; `rexpr` yields absl::StatusOr<T>.
#define OCTET_ASSIGN_OR_RETURN(lhs, rexpr) \
  OCTET_ASSIGN_OR_RETURN_IMPL_(OCTET_STATUS_CONCAT_(octet_statusor_, __LINE__), lhs, rexpr)

#define OCTET_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // OCTET_COMMON_STATUS_MACROS_H_
