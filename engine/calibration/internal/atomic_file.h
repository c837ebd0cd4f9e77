// Atomic replacement of a small file: readers see either the old contents or the new, never a
// mix, even across a crash or power loss. Implementation detail of calibration_table.cc; not
// part of octet_calibration's API.
//
// Protocol: create a unique temporary file in the target's directory (rename is atomic only
// within one file system), write everything, fsync it, rename it over the target, then fsync the
// directory so that the rename itself is durable. On any error the temporary file is removed and
// the target is left untouched.
//
// Stateless; thread-safe as long as two writers do not race on the same path (the last rename
// wins, each file whole).
#ifndef OCTET_ENGINE_CALIBRATION_INTERNAL_ATOMIC_FILE_H_
#define OCTET_ENGINE_CALIBRATION_INTERNAL_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace octet::calibration::internal {

// Errors carry the path and the system's reason: ResourceExhausted for a full disk (ENOSPC,
// EDQUOT) or a file size limit (EFBIG), PermissionDenied for EACCES/EPERM/EROFS, NotFound for a
// missing directory, and absl::ErrnoToStatus's mapping otherwise.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

}  // namespace octet::calibration::internal

#endif  // OCTET_ENGINE_CALIBRATION_INTERNAL_ATOMIC_FILE_H_
