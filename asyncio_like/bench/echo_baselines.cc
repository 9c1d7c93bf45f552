#include "asyncio_like/bench/echo_baselines.h"

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace asyncio_like {
namespace {

constexpr size_t kBufferSize = 4096;

absl::Status Errno(int error, absl::string_view what) {
  return absl::ErrnoToStatus(error, what);
}

// Grows a by-descriptor table so that `fd` indexes it.
template <typename T>
T& SlotFor(std::vector<T>& table, int fd) {
  if (static_cast<size_t>(fd) >= table.size()) table.resize(fd + 1);
  return table[fd];
}

// ----- epoll -----

class EpollServer final : public EchoServerUnderTest {
 public:
  EpollServer(int listen_fd, uint16_t port, int epoll_fd, int stop_fd)
      : listen_fd_(listen_fd), port_(port), epoll_fd_(epoll_fd), stop_fd_(stop_fd) {}
  ~EpollServer() override {
    CloseConnections();
    close(listen_fd_);
    close(epoll_fd_);
    close(stop_fd_);
  }

  uint16_t port() const override { return port_; }
  uint64_t kernel_enters() const override { return kernel_enters_; }
  void Stop() override {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
  }

  absl::Status Serve() override {
    std::vector<epoll_event> events(1024);
    for (;;) {
      ++kernel_enters_;
      const int ready = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), -1);
      if (ready < 0) {
        if (errno == EINTR) continue;
        return Errno(errno, "epoll_wait");
      }
      for (int i = 0; i < ready; ++i) {
        const int fd = events[i].data.fd;
        if (fd == stop_fd_) {
          CloseConnections();
          return absl::OkStatus();
        }
        if (fd == listen_fd_) {
          AcceptAll();
        } else {
          OnConnectionReady(fd, events[i].events);
        }
      }
    }
  }

 private:
  struct Connection {
    size_t pending_offset = 0;  // unsent part of the last echo
    size_t pending_size = 0;
    char buffer[kBufferSize];
  };

  void AcceptAll() {
    for (;;) {
      ++kernel_enters_;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or out of descriptors: retried on the next readiness
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.fd = fd;
      ++kernel_enters_;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
        close(fd);
        continue;
      }
      SlotFor(connections_, fd) = std::make_unique<Connection>();
    }
  }

  void OnConnectionReady(int fd, uint32_t events) {
    Connection& c = *connections_[fd];
    if (c.pending_size > 0) {
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) Flush(fd, c);
      return;
    }
    ++kernel_enters_;
    const ssize_t n = read(fd, c.buffer, sizeof c.buffer);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      CloseConnection(fd);
      return;
    }
    if (n < 0) return;
    c.pending_offset = 0;
    c.pending_size = static_cast<size_t>(n);
    Flush(fd, c);
  }

  // Writes the pending echo; waits for EPOLLOUT when the socket is full.
  void Flush(int fd, Connection& c) {
    const bool was_waiting = c.pending_offset > 0;
    while (c.pending_size > 0) {
      ++kernel_enters_;
      const ssize_t n = write(fd, c.buffer + c.pending_offset, c.pending_size);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
          CloseConnection(fd);
          return;
        }
        if (!was_waiting) WatchFor(fd, EPOLLOUT);
        return;
      }
      c.pending_offset += static_cast<size_t>(n);
      c.pending_size -= static_cast<size_t>(n);
    }
    if (was_waiting) WatchFor(fd, EPOLLIN);
    c.pending_offset = 0;
  }

  void WatchFor(int fd, uint32_t what) {
    epoll_event event{};
    event.events = what;
    event.data.fd = fd;
    ++kernel_enters_;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
  }

  void CloseConnection(int fd) {
    close(fd);  // also removes it from the epoll set
    connections_[fd].reset();
  }

  void CloseConnections() {
    for (size_t fd = 0; fd < connections_.size(); ++fd) {
      if (connections_[fd]) CloseConnection(static_cast<int>(fd));
    }
  }

  const int listen_fd_;
  const uint16_t port_;
  const int epoll_fd_;
  const int stop_fd_;
  uint64_t kernel_enters_ = 0;
  std::vector<std::unique_ptr<Connection>> connections_;  // by descriptor
};

// ----- raw io_uring -----

class RawUringServer final : public EchoServerUnderTest {
 public:
  RawUringServer(int listen_fd, uint16_t port, int stop_fd)
      : listen_fd_(listen_fd), port_(port), stop_fd_(stop_fd) {}
  ~RawUringServer() override {
    if (ring_ready_) io_uring_queue_exit(&ring_);
    for (auto& c : connections_) {
      if (c) close(c->fd);
    }
    close(listen_fd_);
    close(stop_fd_);
  }

  // Creates the ring disabled: with IORING_SETUP_SINGLE_ISSUER the thread
  // that enables it (in Serve) becomes its only submitter.
  absl::Status Init() {
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                   IORING_SETUP_COOP_TASKRUN | IORING_SETUP_R_DISABLED;
    int rc = io_uring_queue_init_params(kRingEntries, &ring_, &params);
    if (rc == -EINVAL) {  // a kernel older than 6.1
      params = io_uring_params{};
      params.flags = IORING_SETUP_R_DISABLED;
      rc = io_uring_queue_init_params(kRingEntries, &ring_, &params);
    }
    if (rc < 0) return Errno(-rc, "io_uring_queue_init_params");
    ring_ready_ = true;
    return absl::OkStatus();
  }

  uint16_t port() const override { return port_; }
  uint64_t kernel_enters() const override { return kernel_enters_; }
  void Stop() override {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
  }

  absl::Status Serve() override {
    if (const int rc = io_uring_enable_rings(&ring_); rc < 0) {
      return Errno(-rc, "io_uring_enable_rings");
    }
    ArmAccept();
    io_uring_sqe* stop_read = NextSqe();
    io_uring_prep_read(stop_read, stop_fd_, &stop_value_, sizeof stop_value_, 0);
    io_uring_sqe_set_data64(stop_read, kStopTag);
    in_flight_ = 2;
    bool stopping = false;
    while (in_flight_ > 0) {
      ++kernel_enters_;
      const int rc = io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0 && rc != -EINTR) return Errno(-rc, "io_uring_submit_and_wait");
      unsigned head;
      unsigned seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        const uint64_t tag = io_uring_cqe_get_data64(cqe);
        if (tag == kStopTag) {
          --in_flight_;
          stopping = true;
          // Cancel everything still in flight; their completions drain the loop.
          io_uring_sqe* cancel = NextSqe();
          io_uring_prep_cancel64(cancel, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
          io_uring_sqe_set_data64(cancel, kCancelTag);
          ++in_flight_;
        } else if (tag == kCancelTag) {
          --in_flight_;
        } else if (tag == kAcceptTag) {
          OnAccept(cqe->res, cqe->flags, stopping);
        } else {
          OnConnectionCompletion(*reinterpret_cast<Connection*>(tag), cqe->res, stopping);
        }
      }
      io_uring_cq_advance(&ring_, seen);
    }
    return absl::OkStatus();
  }

 private:
  static constexpr unsigned kRingEntries = 4096;
  // user_data of the non-connection operations; connections use their
  // address, which is never this small.
  static constexpr uint64_t kAcceptTag = 1;
  static constexpr uint64_t kStopTag = 2;
  static constexpr uint64_t kCancelTag = 3;

  struct Connection {
    int fd;
    bool sending = false;
    uint32_t sent = 0;
    uint32_t size = 0;
    char buffer[kBufferSize];
  };

  io_uring_sqe* NextSqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {  // the submission queue is full: hand it over
      ++kernel_enters_;
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void ArmAccept() {
    io_uring_sqe* sqe = NextSqe();
    io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, kAcceptTag);
  }

  void OnAccept(int result, unsigned flags, bool stopping) {
    const bool more = flags & IORING_CQE_F_MORE;
    if (!more) --in_flight_;
    if (result >= 0) {
      if (stopping) {
        close(result);
      } else {
        auto& slot = SlotFor(connections_, result);
        slot = std::make_unique<Connection>();
        slot->fd = result;
        ++in_flight_;
        Receive(*slot);
      }
    }
    // On an error such as EMFILE the multishot accept ends; arm it again.
    if (!more && !stopping) {
      ++in_flight_;
      ArmAccept();
    }
  }

  void Receive(Connection& c) {
    c.sending = false;
    io_uring_sqe* sqe = NextSqe();
    io_uring_prep_recv(sqe, c.fd, c.buffer, sizeof c.buffer, 0);
    io_uring_sqe_set_data(sqe, &c);
  }

  void SendRest(Connection& c) {
    c.sending = true;
    io_uring_sqe* sqe = NextSqe();
    io_uring_prep_send(sqe, c.fd, c.buffer + c.sent, c.size - c.sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, &c);
  }

  void OnConnectionCompletion(Connection& c, int result, bool stopping) {
    if (result <= 0 || stopping) {  // end of stream, error, or cancelled
      --in_flight_;
      const int fd = c.fd;
      close(fd);
      connections_[fd].reset();
      return;
    }
    if (!c.sending) {
      c.size = static_cast<uint32_t>(result);
      c.sent = 0;
      SendRest(c);
      return;
    }
    c.sent += static_cast<uint32_t>(result);
    if (c.sent < c.size) {
      SendRest(c);
    } else {
      Receive(c);
    }
  }

  io_uring ring_;
  bool ring_ready_ = false;
  const int listen_fd_;
  const uint16_t port_;
  const int stop_fd_;
  uint64_t stop_value_ = 0;
  uint64_t kernel_enters_ = 0;
  int in_flight_ = 0;  // operations whose last completion has not arrived
  std::vector<std::unique_ptr<Connection>> connections_;  // by descriptor
};

}  // namespace

absl::StatusOr<int> ListenOnLoopback(uint16_t& port, bool non_blocking) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (non_blocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return Errno(errno, "socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd, SOMAXCONN) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    close(fd);
    return Errno(error, "listen on 127.0.0.1");
  }
  port = ntohs(address.sin_port);
  return fd;
}

absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> EpollEchoServer::Create() {
  uint16_t port = 0;
  absl::StatusOr<int> listen_fd = ListenOnLoopback(port, /*non_blocking=*/true);
  if (!listen_fd.ok()) return listen_fd.status();
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  const int stop_fd = eventfd(0, EFD_CLOEXEC);
  auto server = std::make_unique<EpollServer>(*listen_fd, port, epoll_fd, stop_fd);
  if (epoll_fd < 0 || stop_fd < 0) return Errno(errno, "epoll_create1/eventfd");
  for (int fd : {*listen_fd, stop_fd}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) return Errno(errno, "epoll_ctl");
  }
  return server;
}

absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> RawUringEchoServer::Create() {
  uint16_t port = 0;
  absl::StatusOr<int> listen_fd = ListenOnLoopback(port, /*non_blocking=*/false);
  if (!listen_fd.ok()) return listen_fd.status();
  const int stop_fd = eventfd(0, EFD_CLOEXEC);
  auto server = std::make_unique<RawUringServer>(*listen_fd, port, stop_fd);
  if (stop_fd < 0) return Errno(errno, "eventfd");
  if (absl::Status s = server->Init(); !s.ok()) return s;
  return server;
}

}  // namespace asyncio_like
