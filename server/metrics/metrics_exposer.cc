#include "server/metrics/metrics_exposer.h"

#include <arpa/inet.h>

#include <exception>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace octet::server {
namespace {

constexpr int kMaxPort = 65535;

bool IsPort(absl::string_view text) {
  int port = 0;
  // Digits only: civetweb reads suffixes such as "s" (TLS) or "r" (redirect) and lists separated
  // by commas out of the same option, none of which this flag should turn on by accident.
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return !text.empty() && text.size() <= 5 && absl::SimpleAtoi(text, &port) && port <= kMaxPort;
}

bool IsAddress(int family, absl::string_view host) {
  const std::string text(host);
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(family, text.c_str(), buffer) == 1;
}

}  // namespace

absl::Status ValidateMetricsAddress(absl::string_view address) {
  bool valid = false;
  if (absl::StartsWith(address, "[")) {
    const size_t end = address.find("]:");
    valid = end != absl::string_view::npos && IsAddress(AF_INET6, address.substr(1, end - 1)) &&
            IsPort(address.substr(end + 2));
  } else {
    const size_t colon = address.rfind(':');
    valid = colon != absl::string_view::npos && IsAddress(AF_INET, address.substr(0, colon)) &&
            IsPort(address.substr(colon + 1));
  }
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("metrics address \"", address,
                   "\" is not HOST:PORT with a numeric IPv4 or [IPv6] host and a port in "
                   "[0, 65535], such as 0.0.0.0:8002 or [::1]:8002"));
}

absl::StatusOr<std::unique_ptr<MetricsExposer>> MetricsExposer::Create(
    const MetricsExposerOptions& options, std::shared_ptr<prometheus::Collectable> collectable) {
  OCTET_RETURN_IF_ERROR(ValidateMetricsAddress(options.address));
  if (options.num_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics num_threads must be >= 1, got ", options.num_threads));
  }
  if (collectable == nullptr) return absl::InvalidArgumentError("nothing to expose: null");

  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(options.address,
                                                    static_cast<size_t>(options.num_threads));
  } catch (const std::exception& e) {
    // CivetServer throws when it cannot bind, and says little more than that.
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", options.address,
                                               " (is the port in use?): ", e.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", options.address, ": no listening port"));
  }

  std::vector<std::shared_ptr<prometheus::Collectable>> collectables = {std::move(collectable)};
  if (options.process_metrics) {
    collectables.push_back(std::make_shared<ProcessCollector>(options.process));
  }
  for (const std::shared_ptr<prometheus::Collectable>& served : collectables) {
    exposer->RegisterCollectable(served);
  }
  return std::unique_ptr<MetricsExposer>(
      new MetricsExposer(std::move(exposer), std::move(collectables), ports.front()));
}

MetricsExposer::MetricsExposer(std::unique_ptr<prometheus::Exposer> exposer,
                               std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
                               int port)
    : collectables_(std::move(collectables)), exposer_(std::move(exposer)), port_(port) {}

MetricsExposer::~MetricsExposer() = default;

}  // namespace octet::server
