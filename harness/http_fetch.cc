// The server is one epoll loop. Connections wait in a FIFO once their
// request is complete: every answer is due `delay` after its request, so
// deadlines arrive in order and the queue's front is always the next one
// due; epoll_wait sleeps until then.

#include "harness/http_fetch.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "harness/workloads.h"

namespace harness {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("http server: ", what, ": ", std::strerror(errno)));
}

struct Connection {
  bool open = false;
  uint64_t id = 0;       // tells a reused descriptor from the one queued
  std::string request;   // bytes received until the blank line
  std::string response;  // what is left to send
};

const std::string& Response200() {
  static const auto* response = new std::string(absl::StrCat(
      "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\n"
      "Content-Length: ", kHttpBodyBytes, "\r\nConnection: close\r\n\r\n",
      std::string(kHttpBodyBytes, 'x')));
  return *response;
}

constexpr absl::string_view kResponse400 =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

class Server {
 public:
  explicit Server(absl::Duration delay) : delay_(delay) {}

  ~Server() {
    for (size_t fd = 0; fd < connections_.size(); ++fd) {
      if (connections_[fd].open) close(static_cast<int>(fd));
    }
    if (listener_ >= 0) close(listener_);
    if (epoll_ >= 0) close(epoll_);
  }

  absl::Status Run(const std::function<void(int)>& on_listening) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listener_ < 0) return Errno("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return Errno("bind 127.0.0.1");
    }
    // The kernel caps the backlog at net.core.somaxconn.
    if (listen(listener_, 65535) != 0) return Errno("listen");
    socklen_t len = sizeof(addr);
    if (getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return Errno("getsockname");
    }
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return Errno("epoll_create1");
    if (!Watch(listener_, EPOLLIN, EPOLL_CTL_ADD)) return Errno("epoll_ctl");
    on_listening(ntohs(addr.sin_port));
    std::vector<epoll_event> events(1024);
    while (true) {
      int timeout_ms = -1;
      if (!due_.empty()) {
        absl::Duration left = due_.front().at - absl::Now();
        timeout_ms = static_cast<int>(
            std::max<int64_t>(0, absl::ToInt64Milliseconds(left + absl::Microseconds(999))));
      }
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                         timeout_ms);
      if (n < 0 && errno != EINTR) return Errno("epoll_wait");
      for (int i = 0; i < n; ++i) {
        const epoll_event& e = events[static_cast<size_t>(i)];
        if (e.data.fd == listener_) {
          AcceptAll();
        } else if (e.events & EPOLLOUT) {
          Send(e.data.fd);
        } else {
          Receive(e.data.fd);
        }
      }
      absl::Time now = absl::Now();
      while (!due_.empty() && due_.front().at <= now) {
        Due due = due_.front();
        due_.pop_front();
        if (connections_[static_cast<size_t>(due.fd)].id == due.id) Send(due.fd);
      }
    }
  }

 private:
  struct Due {
    absl::Time at;
    int fd;
    uint64_t id;
  };

  bool Watch(int fd, uint32_t events, int op) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    return epoll_ctl(epoll_, op, fd, &event) == 0;
  }

  void AcceptAll() {
    while (true) {
      int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;  // EAGAIN: none left; EMFILE: retried on next event
      if (static_cast<size_t>(fd) >= connections_.size()) {
        connections_.resize(static_cast<size_t>(fd) + 1);
      }
      Connection& c = connections_[static_cast<size_t>(fd)];
      c = Connection{};
      c.open = true;
      c.id = ++accepted_;
      if (!Watch(fd, EPOLLIN, EPOLL_CTL_ADD)) Close(fd);
    }
  }

  void Receive(int fd) {
    Connection& c = connections_[static_cast<size_t>(fd)];
    char buffer[4096];
    while (true) {
      ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {
        Close(fd);
        return;
      }
      c.request.append(buffer, static_cast<size_t>(n));
      if (absl::StrContains(c.request, "\r\n\r\n")) break;
      if (c.request.size() > 64 * 1024) {
        Close(fd);
        return;
      }
    }
    // The request is complete: stop reading, answer when it is due.
    Watch(fd, 0, EPOLL_CTL_MOD);
    if (!absl::StartsWith(c.request, "GET ")) {
      c.response = std::string(kResponse400);
      Send(fd);
      return;
    }
    c.response = Response200();
    due_.push_back({absl::Now() + delay_, fd, c.id});
  }

  void Send(int fd) {
    Connection& c = connections_[static_cast<size_t>(fd)];
    if (!c.open) return;
    while (!c.response.empty()) {
      ssize_t n = send(fd, c.response.data(), c.response.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) {
        Watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
        return;
      }
      if (n <= 0) break;
      c.response.erase(0, static_cast<size_t>(n));
    }
    Close(fd);
  }

  void Close(int fd) {
    connections_[static_cast<size_t>(fd)] = Connection{};
    close(fd);
  }

  absl::Duration delay_;
  int listener_ = -1;
  int epoll_ = -1;
  std::vector<Connection> connections_;  // by descriptor
  std::deque<Due> due_;
  uint64_t accepted_ = 0;
};

}  // namespace

absl::Status ServeHttp(absl::Duration delay,
                       const std::function<void(int port)>& on_listening) {
  // Never outlive the harness that started it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return absl::AbortedError("http server: parent is gone");
  return Server(delay).Run(on_listening);
}

absl::Status AllFetched(const std::vector<absl::Status>& outcomes) {
  size_t failed = 0;
  const absl::Status* first = nullptr;
  for (const absl::Status& s : outcomes) {
    if (s.ok()) continue;
    ++failed;
    if (first == nullptr) first = &s;
  }
  if (failed == 0) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(failed, " of ", outcomes.size(),
                                          " fetches failed; first: ",
                                          first->message()));
}

Metrics FetchFigures(const FetchCost& cost) {
  const double n = static_cast<double>(cost.n);
  const double wall = absl::ToDoubleSeconds(cost.wall);
  const double rss = static_cast<double>(std::max<int64_t>(0, cost.rss_growth));
  return {{"wall_s", wall},
          {"fetches_per_s", n / wall},
          {"rss_bytes", rss},
          {"bytes_per_fetch",
           rss / static_cast<double>(std::max<int64_t>(1, cost.peak_in_flight))},
          {"threads", static_cast<double>(cost.threads)},
          {"cpu_us_per_fetch", absl::ToDoubleMicroseconds(cost.cpu) / n},
          {"peak_in_flight", static_cast<double>(cost.peak_in_flight)}};
}

absl::Status CheckHttpResponse(absl::string_view response) {
  if (!absl::StartsWith(response, "HTTP/1.1 200 ")) {
    return absl::DataLossError(absl::StrCat(
        "expected an HTTP/1.1 200 response, got '",
        response.substr(0, std::min<size_t>(40, response.size())), "'"));
  }
  size_t end = response.find("\r\n\r\n");
  if (end == absl::string_view::npos) {
    return absl::DataLossError("the response's headers never ended");
  }
  absl::string_view headers = response.substr(0, end);
  absl::string_view body = response.substr(end + 4);
  constexpr absl::string_view kLength = "\r\nContent-Length: ";
  size_t at = headers.find(kLength);
  size_t length = 0;
  if (at == absl::string_view::npos) {
    return absl::DataLossError("the response has no Content-Length");
  }
  absl::string_view value = headers.substr(at + kLength.size());
  value = value.substr(0, value.find("\r\n"));
  if (!absl::SimpleAtoi(value, &length) || length != body.size() ||
      length != static_cast<size_t>(kHttpBodyBytes)) {
    return absl::DataLossError(absl::StrCat(
        "body of ", body.size(), " bytes, Content-Length '", value,
        "', expected ", kHttpBodyBytes));
  }
  return absl::OkStatus();
}

}  // namespace harness
