#include "harness/blocking_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "harness/python_thread.h"

namespace harness {
namespace {

absl::Status Errno(absl::string_view what, int error) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(error)));
}

}  // namespace

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Socket::~Socket() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<int> Socket::Port() const {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Errno("getsockname", errno);
  }
  return ntohs(addr.sin_port);
}

absl::StatusOr<Socket> Socket::Accept() {
  int fd = -1;
  int error = 0;
  Blocking([&] {
    do {
      fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    error = errno;
  });
  if (fd < 0) return Errno("accept", error);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return Socket(fd);
}

absl::StatusOr<size_t> Socket::Recv(absl::Span<char> buffer) {
  ssize_t n = -1;
  int error = 0;
  Blocking([&] {
    do {
      n = recv(fd_, buffer.data(), buffer.size(), 0);
    } while (n < 0 && errno == EINTR);
    error = errno;
  });
  if (n < 0) return Errno("recv", error);
  return static_cast<size_t>(n);
}

absl::Status Socket::SendAll(absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = -1;
    int error = 0;
    Blocking([&] {
      do {
        n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      } while (n < 0 && errno == EINTR);
      error = errno;
    });
    if (n < 0) return Errno("send", error);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<Socket> ListenOnLoopback(int backlog) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket", errno);
  Socket listener(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Errno("bind 127.0.0.1", errno);
  }
  if (listen(fd, backlog) != 0) return Errno("listen", errno);
  return listener;
}

absl::StatusOr<Socket> ConnectToLoopback(int port, absl::Duration timeout) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket", errno);
  Socket conn(fd);
  timeval limit = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int result = -1;
  int error = 0;
  Blocking([&] {
    result = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    error = errno;
  });
  if (result != 0) {
    return Errno(absl::StrCat("connect to 127.0.0.1:", port), error);
  }
  return conn;
}

}  // namespace harness
