// Content digests that tie a calibration table to the exact model bytes it was computed for:
// "sha256:<64 lower-case hex digits>", computed with OpenSSL's libcrypto (EVP API).
//
//   OCTET_ASSIGN_OR_RETURN(std::string digest, FileDigest(model_path));
//   OCTET_RETURN_IF_ERROR(CheckMatchesModel(table, digest));
//
// Stateless; thread-safe.
#ifndef OCTET_ENGINE_CALIBRATION_MODEL_DIGEST_H_
#define OCTET_ENGINE_CALIBRATION_MODEL_DIGEST_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace octet::calibration {

// Digest of bytes held in memory. Fails (Internal) only if libcrypto does.
absl::StatusOr<std::string> ModelDigest(absl::string_view model_bytes);

// Digest of a file's contents, read in chunks (models can be large). NotFound, PermissionDenied
// etc. name the path.
absl::StatusOr<std::string> FileDigest(const std::string& path);

// True for "sha256:" followed by exactly 64 lower-case hex digits.
bool IsWellFormedDigest(absl::string_view digest);

}  // namespace octet::calibration

#endif  // OCTET_ENGINE_CALIBRATION_MODEL_DIGEST_H_
