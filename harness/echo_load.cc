#include "harness/echo_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "harness/measure.h"

namespace harness {
namespace {

struct Connection {
  int fd = -1;
  int64_t sequence = 0;       // messages completed on this connection
  int64_t quota = 0;          // messages this connection must complete
  std::string message;        // the one in flight
  size_t sent = 0;
  size_t received = 0;
  std::string echo;
  absl::Time sent_at;
};

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("echo load: ", what, ": ", std::strerror(errno)));
}

// A message names its connection and sequence number, padded to size.
std::string MakeMessage(int connection, int64_t sequence, int bytes) {
  std::string text = absl::StrFormat("c%d s%d ", connection, sequence);
  text.resize(static_cast<size_t>(bytes), '.');
  return text;
}

class Driver {
 public:
  Driver(int port, const EchoLoadOptions& options)
      : port_(port), options_(options) {}

  ~Driver() {
    for (Connection& c : connections_) {
      if (c.fd >= 0) close(c.fd);
    }
    if (epoll_ >= 0) close(epoll_);
  }

  absl::StatusOr<EchoLoad> Run() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return Errno("epoll_create1");
    connections_.resize(static_cast<size_t>(options_.connections));
    int64_t each = options_.requests / options_.connections;
    int64_t extra = options_.requests % options_.connections;
    for (int i = 0; i < options_.connections; ++i) {
      Connection& c = connections_[static_cast<size_t>(i)];
      c.quota = each + (i < extra ? 1 : 0);
      if (absl::Status s = Connect(i); !s.ok()) return s;
    }
    absl::Time start = absl::Now();
    absl::Duration cpu_start = ThreadCpuTime();
    absl::Time deadline = start + options_.timeout;
    for (int i = 0; i < options_.connections; ++i) {
      if (absl::Status s = Send(i); !s.ok()) return s;
    }
    std::vector<epoll_event> events(256);
    while (completed_ < options_.requests) {
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "echo load: only ", completed_, " of ", options_.requests,
            " round trips done before the timeout"));
      }
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                         100);
      if (n < 0 && errno != EINTR) return Errno("epoll_wait");
      for (int e = 0; e < n; ++e) {
        int index = static_cast<int>(events[static_cast<size_t>(e)].data.u32);
        if (absl::Status s = OnReadable(index); !s.ok()) return s;
      }
    }
    absl::Duration wall = absl::Now() - start;
    EchoLoad load;
    load.requests_per_s =
        static_cast<double>(completed_) / absl::ToDoubleSeconds(wall);
    load.p50_us = Percentile(latencies_us_, 0.50);
    load.p99_us = Percentile(latencies_us_, 0.99);
    load.bytes_checked = bytes_checked_;
    load.cpu_us_per_request =
        absl::ToDoubleMicroseconds(ThreadCpuTime() - cpu_start) /
        static_cast<double>(completed_);
    return load;
  }

 private:
  absl::Status Connect(int index) {
    Connection& c = connections_[static_cast<size_t>(index)];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return Errno("socket");
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // A blocking connect: the backlog of every model's server is large
    // enough, and a refused connection should fail here, clearly.
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return Errno(absl::StrCat("connect to 127.0.0.1:", port_));
    }
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = static_cast<uint32_t>(index);
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &event) != 0) {
      return Errno("epoll_ctl");
    }
    return absl::OkStatus();
  }

  absl::Status Send(int index) {
    Connection& c = connections_[static_cast<size_t>(index)];
    if (c.sequence >= c.quota) {
      // Done: the server sees end of stream, but not before every
      // connection has been answered once, so that all are open together.
      if (answered_ < options_.connections) {
        finished_early_.push_back(c.fd);
      } else {
        shutdown(c.fd, SHUT_WR);
      }
      return absl::OkStatus();
    }
    c.message = MakeMessage(index, c.sequence, options_.message_bytes);
    c.sent = 0;
    c.received = 0;
    c.echo.clear();
    c.sent_at = absl::Now();
    // 64-byte messages fit the socket buffer: a short write means trouble.
    ssize_t n = write(c.fd, c.message.data(), c.message.size());
    if (n != static_cast<ssize_t>(c.message.size())) return Errno("write");
    c.sent = c.message.size();
    return absl::OkStatus();
  }

  absl::Status OnReadable(int index) {
    Connection& c = connections_[static_cast<size_t>(index)];
    char buffer[4096];
    while (true) {
      ssize_t n = read(c.fd, buffer, sizeof(buffer));
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return absl::OkStatus();
      if (n < 0) return Errno("read");
      if (n == 0) {
        if (c.sequence >= c.quota) return absl::OkStatus();
        return absl::DataLossError(absl::StrCat(
            "echo load: connection ", index, " closed by the server after ",
            c.sequence, " of ", c.quota, " round trips"));
      }
      c.echo.append(buffer, static_cast<size_t>(n));
      if (c.echo.size() > c.message.size() ||
          c.message.compare(0, c.echo.size(), c.echo) != 0) {
        return absl::DataLossError(absl::StrCat(
            "echo load: corrupted echo on connection ", index, ": sent '",
            c.message, "', got '", c.echo, "'"));
      }
      if (c.echo.size() == c.message.size()) {
        latencies_us_.push_back(
            absl::ToDoubleMicroseconds(absl::Now() - c.sent_at));
        bytes_checked_ += static_cast<int64_t>(c.echo.size());
        ++c.sequence;
        ++completed_;
        if (c.sequence == 1 && ++answered_ == options_.connections) {
          if (options_.on_all_answered) options_.on_all_answered();
          for (int fd : finished_early_) shutdown(fd, SHUT_WR);
        }
        return Send(index);
      }
    }
  }

  int port_;
  EchoLoadOptions options_;
  int epoll_ = -1;
  std::vector<Connection> connections_;
  std::vector<double> latencies_us_;
  int64_t completed_ = 0;
  int answered_ = 0;  // connections with at least one echo back
  std::vector<int> finished_early_;  // done before the last first echo
  int64_t bytes_checked_ = 0;
};

}  // namespace

absl::StatusOr<EchoLoad> DriveEcho(int port, const EchoLoadOptions& options) {
  if (options.connections < 1 || options.requests < options.connections ||
      options.message_bytes < 16) {
    return absl::InvalidArgumentError(
        "echo load: need connections >= 1, requests >= connections and "
        "message_bytes >= 16");
  }
  return Driver(port, options).Run();
}

}  // namespace harness
