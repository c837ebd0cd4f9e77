#include "server/grpc/admin_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace octet::server {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

std::string Sha256(absl::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

}  // namespace

AdminAuthorizer::AdminAuthorizer(std::string token)
    : token_digest_(token.empty() ? std::string() : Sha256(token)) {}

absl::Status AdminAuthorizer::Check(const grpc::ServerContextBase& context) const {
  if (!enabled()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return CheckHeader("", /*present=*/false);
  return CheckHeader(absl::string_view(it->second.data(), it->second.size()), /*present=*/true);
}

absl::Status AdminAuthorizer::CheckHeader(absl::string_view authorization, bool present) const {
  if (!enabled()) return absl::OkStatus();
  if (!present) {
    return absl::UnauthenticatedError(
        "this call needs the admin token: send metadata 'authorization: Bearer <token>'");
  }
  if (!absl::StartsWith(authorization, kBearer)) {
    return absl::UnauthenticatedError("the authorization metadata is not 'Bearer <token>'");
  }
  const std::string digest = Sha256(authorization.substr(kBearer.size()));
  if (CRYPTO_memcmp(digest.data(), token_digest_.data(), digest.size()) != 0) {
    return absl::UnauthenticatedError("wrong admin token");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the admin token file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the admin token file ", path, " is empty"));
  }
  return token;
}

}  // namespace octet::server
