// HttpGetForTesting: a blocking HTTP/1.0 GET to 127.0.0.1 over a plain socket, enough to scrape
// a MetricsExposer the way Prometheus does, without a client library. For tests and test tools;
// not for production (no TLS, no redirects, no chunked bodies).
//
//   absl::StatusOr<HttpResponse> response = HttpGetForTesting(exposer->port(), "/metrics");
//
// Thread-safety: stateless; safe to call from any thread.
#ifndef OCTET_SERVER_METRICS_HTTP_GET_FOR_TESTING_H_
#define OCTET_SERVER_METRICS_HTTP_GET_FOR_TESTING_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace octet::server {

struct HttpResponse {
  int status = 0;       // 200, 404, ...
  std::string headers;  // the status line and headers, as received
  std::string body;
};

// Reads the body up to its Content-Length when the server sends one (civetweb keeps the
// connection open after it), else until the server closes the connection. UNAVAILABLE when it
// cannot connect; DEADLINE_EXCEEDED when the server is silent for `timeout`.
absl::StatusOr<HttpResponse> HttpGetForTesting(int port, const std::string& path,
                                               absl::Duration timeout = absl::Seconds(10));

}  // namespace octet::server

#endif  // OCTET_SERVER_METRICS_HTTP_GET_FOR_TESTING_H_
