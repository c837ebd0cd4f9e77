// Early-return helpers for absl::Status / absl::StatusOr, private to the datasets module.
//
// Only .cc files of this module include this header (never a public header), so the
// short macro names cannot collide with another module's. If the project gains a
// shared status-macros header, switch to it and delete this one.
#ifndef OCTET_DATASETS_INTERNAL_STATUS_MACROS_H_
#define OCTET_DATASETS_INTERNAL_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define OCTET_DATASETS_CONCAT_INNER(a, b) a##b
#define OCTET_DATASETS_CONCAT(a, b) OCTET_DATASETS_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    absl::Status octet_status_ = (expr);           \
    if (!octet_status_.ok()) return octet_status_; \
  } while (0)

// `lhs = value of expr` (an absl::StatusOr), or returns its status from the enclosing
// function. `lhs` may be a declaration: ASSIGN_OR_RETURN(int64_t n, ParseCount(text));
#define ASSIGN_OR_RETURN(lhs, expr) \
  OCTET_DATASETS_ASSIGN_OR_RETURN_IMPL(OCTET_DATASETS_CONCAT(octet_statusor_, __LINE__), lhs, expr)

#define OCTET_DATASETS_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                         \
  if (!statusor.ok()) return std::move(statusor).status();        \
  lhs = std::move(statusor).value()

#endif  // OCTET_DATASETS_INTERNAL_STATUS_MACROS_H_
