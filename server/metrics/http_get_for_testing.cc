#include "server/metrics/http_get_for_testing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace octet::server {
namespace {

constexpr char kEndOfHeaders[] = "\r\n\r\n";
constexpr size_t kEndOfHeadersSize = sizeof(kEndOfHeaders) - 1;

class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  const int fd_;
};

std::optional<size_t> ContentLength(absl::string_view headers) {
  for (absl::string_view line : absl::StrSplit(headers, "\r\n")) {
    std::vector<absl::string_view> field = absl::StrSplit(line, absl::MaxSplits(':', 1));
    size_t length = 0;
    if (field.size() == 2 && absl::EqualsIgnoreCase(field[0], "Content-Length") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(field[1]), &length)) {
      return length;
    }
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpGetForTesting(int port, const std::string& path,
                                               absl::Duration timeout) {
  Socket socket;
  if (socket.fd() < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  const timeval receive_timeout = absl::ToTimeval(timeout);
  setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof(receive_timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to 127.0.0.1:", port, ": ", strerror(errno)));
  }
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1:", port,
                                           "\r\nAccept: text/plain\r\nConnection: close\r\n\r\n");
  if (send(socket.fd(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::UnavailableError(absl::StrCat("cannot send the request: ", strerror(errno)));
  }

  std::string received;
  std::optional<size_t> body_start;
  std::optional<size_t> content_length;
  char buffer[16384];
  while (!body_start || !content_length || received.size() < *body_start + *content_length) {
    const ssize_t n = recv(socket.fd(), buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return absl::DeadlineExceededError(absl::StrCat("no answer from 127.0.0.1:", port, path));
      }
      return absl::UnavailableError(absl::StrCat("recv: ", strerror(errno)));
    }
    received.append(buffer, static_cast<size_t>(n));
    if (!body_start) {
      const size_t end = received.find(kEndOfHeaders);
      if (end == std::string::npos) continue;
      body_start = end + kEndOfHeadersSize;
      content_length = ContentLength(absl::string_view(received).substr(0, end));
    }
  }
  if (!body_start) return absl::DataLossError("the response ended inside its headers");

  HttpResponse response;
  response.headers = received.substr(0, *body_start - kEndOfHeadersSize);
  response.body = received.substr(*body_start);
  // "HTTP/1.1 200 OK"
  const std::string status_line = response.headers.substr(0, response.headers.find("\r\n"));
  std::vector<absl::string_view> words = absl::StrSplit(status_line, ' ');
  if (words.size() < 2 || !absl::SimpleAtoi(words[1], &response.status)) {
    return absl::DataLossError(absl::StrCat("not an HTTP status line: ", status_line));
  }
  return response;
}

}  // namespace octet::server
