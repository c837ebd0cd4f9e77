#include "engine/calibration/model_digest.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace octet::calibration {
namespace {

constexpr absl::string_view kPrefix = "sha256:";
constexpr size_t kSha256HexDigits = 64;
constexpr size_t kReadChunkBytes = 1 << 20;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// Incremental SHA-256; each step reports libcrypto failures as Internal.
class Sha256 {
 public:
  absl::Status Init() {
    ctx_.reset(EVP_MD_CTX_new());
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
      return absl::InternalError("libcrypto: cannot initialize SHA-256");
    }
    return absl::OkStatus();
  }
  absl::Status Update(const void* data, size_t size) {
    if (EVP_DigestUpdate(ctx_.get(), data, size) != 1) {
      return absl::InternalError("libcrypto: SHA-256 update failed");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Finish() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &size) != 1) {
      return absl::InternalError("libcrypto: SHA-256 finalization failed");
    }
    return absl::StrCat(kPrefix, absl::BytesToHexString(
                                     absl::string_view(reinterpret_cast<const char*>(md), size)));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx_;
};

}  // namespace

absl::StatusOr<std::string> ModelDigest(absl::string_view model_bytes) {
  Sha256 sha;
  OCTET_RETURN_IF_ERROR(sha.Init());
  OCTET_RETURN_IF_ERROR(sha.Update(model_bytes.data(), model_bytes.size()));
  return sha.Finish();
}

absl::StatusOr<std::string> FileDigest(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    const int error = errno;
    return absl::ErrnoToStatus(error, absl::StrCat("cannot open '", path, "' to digest it"));
  }
  Sha256 sha;
  OCTET_RETURN_IF_ERROR(sha.Init());
  std::vector<char> buffer(kReadChunkBytes);
  while (true) {
    const size_t got = std::fread(buffer.data(), 1, buffer.size(), file.get());
    OCTET_RETURN_IF_ERROR(sha.Update(buffer.data(), got));
    if (got < buffer.size()) break;
  }
  if (std::ferror(file.get())) {
    const int error = errno;
    return absl::ErrnoToStatus(error, absl::StrCat("error reading '", path, "' to digest it"));
  }
  return sha.Finish();
}

bool IsWellFormedDigest(absl::string_view digest) {
  if (!absl::ConsumePrefix(&digest, kPrefix) || digest.size() != kSha256HexDigits) return false;
  for (char c : digest) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace octet::calibration
