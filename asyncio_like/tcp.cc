#include "asyncio_like/tcp.h"

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/timeout.h"
#include "asyncio_like/uring.h"

namespace asyncio_like {
namespace {

// An IPv4, IPv6 or Unix-domain socket address.
struct Sockaddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

absl::StatusOr<Sockaddr> ParseAddress(const std::string& host, uint16_t port) {
  Sockaddr address;
  const std::string& numeric = host == "localhost" ? std::string("127.0.0.1") : host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  if (inet_pton(AF_INET, numeric.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    address.length = sizeof *v4;
  } else if (inet_pton(AF_INET6, numeric.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    address.length = sizeof *v6;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", host, "' is not a numeric IPv4 or IPv6 address (resolve names with ToThread)"));
  }
  return address;
}

// The sockaddr_un of the Unix-domain socket `path`: a file's path, which
// the kernel reads up to its terminating '\0', or an abstract name (a
// leading '\0'), whose every byte counts and which has no terminator.
absl::StatusOr<Sockaddr> ParseUnixPath(const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError("an empty Unix socket path (an abstract name starts "
                                      "with '\\0' and has at least one more byte)");
  }
  Sockaddr address;
  auto* un = reinterpret_cast<sockaddr_un*>(&address.storage);
  const bool abstract = path[0] == '\0';
  if (path.find('\0', abstract ? 1 : 0) != std::string::npos) {
    return absl::InvalidArgumentError(
        "a Unix socket path with an embedded '\\0' (ValueError: embedded null byte)");
  }
  // A file's path keeps a byte for its terminator, as Python's does.
  const size_t room = sizeof un->sun_path - (abstract ? 0 : 1);
  if (path.size() > room) {
    return absl::InvalidArgumentError(absl::StrCat("AF_UNIX path too long: ", path.size(),
                                                   " bytes, at most ", room, " fit"));
  }
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  address.length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return address;
}

// The numeric host and port of `address`, or a Unix-domain socket's path.
SocketAddress ToSocketAddress(const Sockaddr& address) {
  if (address.family() == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&address.storage);
    const size_t offset = offsetof(sockaddr_un, sun_path);
    // An unnamed socket's address has no path bytes at all.
    size_t size = address.length > offset ? address.length - offset : 0;
    // A file's path may come with its terminator (and garbage after it).
    if (size > 0 && un->sun_path[0] != '\0') size = strnlen(un->sun_path, size);
    return SocketAddress::Unix(std::string(un->sun_path, size));
  }
  char host[INET6_ADDRSTRLEN] = "";
  if (address.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
    return SocketAddress{host, ntohs(v4->sin_port)};
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
  inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
  return SocketAddress{host, ntohs(v6->sin6_port)};
}

// getsockname() or getpeername() of `fd`, as `what`.
absl::StatusOr<SocketAddress> AddressOf(int fd, int (*get)(int, sockaddr*, socklen_t*),
                                        const char* what) {
  if (fd < 0) return OsError(EBADF, absl::StrCat(what, " of a closed socket"));
  Sockaddr address;
  address.length = sizeof address.storage;
  if (get(fd, reinterpret_cast<sockaddr*>(&address.storage), &address.length) != 0) {
    return OsError(errno, what);
  }
  return ToSocketAddress(address);
}

void SetNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Connects `fd`; returns 0 or -errno. EINTR or EAGAIN: the connect is made
// again, as a blocking connect() interrupted by a signal would be. POSIX
// lets the interrupted attempt go on in the background, so the repeated
// one may find it finished (EISCONN: connected) or still under way
// (EALREADY: wait until the socket is writable, then read its outcome from
// SO_ERROR).
Task<int> ConnectOnce(int fd, const Sockaddr* address) {
  auto connect = [&] {
    return KernelOp([&](io_uring_sqe* sqe) {
      io_uring_prep_connect(sqe, fd, address->get(), address->length);
    });
  };
  int result = co_await connect();
  bool repeated = false;
  while (result == -EINTR || result == -EAGAIN) {
    repeated = true;
    result = co_await connect();
  }
  if (!repeated) co_return result;
  if (result == -EISCONN) co_return 0;
  if (result != -EALREADY) co_return result;
  const int polled = co_await KernelOp([&](io_uring_sqe* sqe) {
    io_uring_prep_poll_add(sqe, fd, POLLOUT);
  });
  if (polled < 0) co_return polled;
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) co_return -errno;
  co_return -error;
}

// Connects `fd` to `address` as ConnectOnce does, cancelling the connect in
// the kernel once `timeout` passes (-ETIMEDOUT).
Task<int> ConnectWithin(int fd, const Sockaddr* address, absl::Duration timeout) {
  try {
    Timeout deadline(timeout);
    co_return co_await deadline.Run(ConnectOnce(fd, address));
  } catch (const TimeoutError&) {
    co_return -ETIMEDOUT;
  }
}

}  // namespace

// ----- SendAllOp -----

namespace internal {

void SendAllOp::SendRest(io_uring_sqe* sqe) {
  SendPrep{fd_, rest_.data(), rest_.size()}(sqe);
  Submit(sqe);
}

void SendAllOp::Complete(int32_t result, uint32_t flags) {
  if (result > 0) rest_.remove_prefix(static_cast<size_t>(result));
  // A partial send, or EAGAIN/EINTR (nothing was sent): what is left goes
  // out with another send, as a blocking send() retried in a loop would.
  const bool again = result == -EAGAIN || result == -EINTR || (result >= 0 && !rest_.empty());
  if (again && !cancel_requested()) {
    // The task sleeps on, unless the socket was closed meanwhile (its
    // number may now be another connection's).
    if (socket_->fd() == fd_) {
      SendRest(NextSqe());
      return;
    }
    result = -EBADF;
  }
  KernelOpBase::Complete(result, flags);
}

absl::Status SendAllOp::await_resume() {
  if (!suspended_) {
    if (fd_ < 0) return OsError(EBADF, "send on a closed socket");
    return absl::OkStatus();
  }
  const int result = KernelOpBase::await_resume();  // throws CancelledError
  if (result < 0) return OsError(-result, "send");
  return absl::OkStatus();
}

}  // namespace internal

// ----- TcpSocket -----

TcpSocket& TcpSocket::operator=(TcpSocket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}


std::string SocketAddress::ToString() const {
  if (is_unix()) {
    return path.empty() || path[0] != '\0' ? path : absl::StrCat("@", path.substr(1));
  }
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<SocketAddress> TcpSocket::LocalAddress() const {
  return AddressOf(fd_, getsockname, "getsockname");
}

absl::StatusOr<SocketAddress> TcpSocket::PeerAddress() const {
  return AddressOf(fd_, getpeername, "getpeername");
}

absl::Status TcpSocket::ShutdownWrite() {
  if (fd_ < 0) return OsError(EBADF, "shutdown on a closed socket");
  if (shutdown(fd_, SHUT_WR) != 0) return OsError(errno, "shutdown");
  return absl::OkStatus();
}

void TcpSocket::Close() {
  if (fd_ < 0) return;
  EventLoop::SubmitQueuedBeforeClose(fd_);
  // A receive in flight holds its own reference to the socket, so closing
  // the descriptor alone would leave it waiting; shutting down ends it.
  shutdown(fd_, SHUT_RDWR);
  close(fd_);
  fd_ = -1;
}

void TcpSocket::Abort() {
  if (fd_ < 0) return;
  const linger reset_on_close = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof reset_on_close);
  EventLoop::SubmitQueuedBeforeClose(fd_);
  close(fd_);
  fd_ = -1;
}

// ----- Connect -----

Task<absl::StatusOr<TcpSocket>> Connect(std::string host, uint16_t port,
                                        absl::Duration timeout) {
  const absl::StatusOr<Sockaddr> address = ParseAddress(host, port);
  if (!address.ok()) co_return address.status();
  const std::string what = absl::StrCat("connect to ", host, ":", port);
  TcpSocket socket(::socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.is_open()) co_return OsError(errno, what);
  SetNoDelay(socket.fd());
  const int result = co_await ConnectWithin(socket.fd(), &*address, timeout);
  if (result < 0) co_return OsError(-result, what);
  co_return socket;
}

Task<absl::StatusOr<TcpSocket>> ConnectUnix(std::string path, absl::Duration timeout) {
  const absl::StatusOr<Sockaddr> address = ParseUnixPath(path);
  if (!address.ok()) co_return address.status();
  const std::string what =
      absl::StrCat("connect to '", SocketAddress::Unix(path).ToString(), "'");
  TcpSocket socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.is_open()) co_return OsError(errno, what);
  const int result = co_await ConnectWithin(socket.fd(), &*address, timeout);
  if (result < 0) co_return OsError(-result, what);
  co_return socket;
}

// ----- TcpListener -----

absl::StatusOr<TcpListener> TcpListener::Listen(const std::string& host, uint16_t port,
                                                int backlog) {
  const absl::StatusOr<Sockaddr> address = ParseAddress(host, port);
  if (!address.ok()) return address.status();
  const std::string what = absl::StrCat("listen on ", host, ":", port);
  const int fd = socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return OsError(errno, what);
  TcpListener listener(fd, port);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Accepted sockets inherit TCP_NODELAY from the listener.
  SetNoDelay(fd);
  if (bind(fd, address->get(), address->length) != 0 || listen(fd, backlog) != 0) {
    return OsError(errno, what);
  }
  Sockaddr bound;
  bound.length = sizeof bound.storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound.storage), &bound.length) != 0) {
    return OsError(errno, what);
  }
  listener.port_ = ntohs(bound.family() == AF_INET
                             ? reinterpret_cast<sockaddr_in*>(&bound.storage)->sin_port
                             : reinterpret_cast<sockaddr_in6*>(&bound.storage)->sin6_port);
  return listener;
}

absl::StatusOr<TcpListener> TcpListener::ListenUnix(const std::string& path, int backlog) {
  const absl::StatusOr<Sockaddr> address = ParseUnixPath(path);
  if (!address.ok()) return address.status();
  const std::string shown = SocketAddress::Unix(path).ToString();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return OsError(errno, absl::StrCat("listen on '", shown, "'"));
  TcpListener listener(fd, 0);
  // A socket file at the path is taken for one a server left behind, which
  // would make the bind fail, and removed, as asyncio removes it (a server
  // still listening on it keeps its connections and gets no new ones).
  // Other files are not ours to remove. An error here (no permission to
  // look) is left for the bind to report.
  struct stat existing;
  if (path[0] != '\0' && stat(path.c_str(), &existing) == 0 && S_ISSOCK(existing.st_mode)) {
    unlink(path.c_str());
  }
  if (bind(fd, address->get(), address->length) != 0) {
    return OsError(errno, absl::StrCat("bind to '", shown, "'"));
  }
  if (listen(fd, backlog) != 0) return OsError(errno, absl::StrCat("listen on '", shown, "'"));
  return listener;
}

absl::StatusOr<SocketAddress> TcpListener::LocalAddress() const {
  return AddressOf(fd_, getsockname, "getsockname");
}

TcpListener& TcpListener::operator=(TcpListener&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
  }
  return *this;
}

Task<absl::StatusOr<TcpSocket>> TcpListener::Accept() {
  if (fd_ < 0) co_return OsError(EBADF, "accept on a closed listener");
  const int fd = fd_;
  const int result = co_await KernelOp([&](io_uring_sqe* sqe) {
    io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC);
  });
  if (result < 0) co_return OsError(-result, "accept");
  co_return TcpSocket(result);
}

void TcpListener::Close() {
  if (fd_ < 0) return;
  EventLoop::SubmitQueuedBeforeClose(fd_);
  shutdown(fd_, SHUT_RDWR);  // ends an accept in flight
  close(fd_);
  fd_ = -1;
}

namespace internal {

MultishotAccept::~MultishotAccept() {
  for (int32_t result : results_) {
    if (result >= 0) close(result);
  }
}

bool MultishotAccept::Suspend(std::coroutine_handle<> awaiting, PromiseBase* task) {
  task_ = task;
  if (!task->BeginWait(this)) {
    // A cancellation is pending: TakeResult throws. Unless the kernel may
    // still complete the accept, the task goes on at once; otherwise it
    // waits for the accept's last completion.
    if (!armed_) {
      cancel_requested_ = true;
      return false;
    }
    Cancel();
    awaiting_ = awaiting;
    return true;
  }
  if (!results_.empty()) {
    task->EndWait();
    return false;
  }
  if (!armed_) {
    if (!listener_->is_open()) {
      task->EndWait();
      results_.push_back(-EBADF);
      return false;
    }
    Uring& uring = task->loop()->uring();
    io_uring_sqe* sqe = uring.NextSqe();
    // Multishot accept came with Linux 5.19; a ring set up without the 6.0
    // flags may be on an older kernel, so it accepts once per Next() (that
    // completion carries no IORING_CQE_F_MORE, which disarms it).
    if (uring.setup_flags() & IORING_SETUP_SINGLE_ISSUER) {
      io_uring_prep_multishot_accept(sqe, listener_->fd_, nullptr, nullptr, SOCK_CLOEXEC);
    } else {
      io_uring_prep_accept(sqe, listener_->fd_, nullptr, nullptr, SOCK_CLOEXEC);
    }
    uring.PrepareCompletion(sqe, this);
    armed_ = true;
  }
  awaiting_ = awaiting;
  return true;
}

absl::StatusOr<TcpSocket> MultishotAccept::TakeResult() {
  if (cancel_requested_) {
    cancel_requested_ = false;
    task_->ThrowIfCancelled(true);
  }
  if (results_.empty()) return absl::InternalError("accept: resumed without a result");
  const int32_t result = results_.front();
  results_.pop_front();
  if (result < 0) return OsError(-result, "accept");
  return TcpSocket(result);
}

void MultishotAccept::Complete(int32_t result, uint32_t flags) {
  if (!(flags & IORING_CQE_F_MORE)) armed_ = false;
  // After a cancellation the task waits for the last completion only; a
  // connection accepted meanwhile stays queued and is closed with the queue.
  if (!cancel_requested_ || result >= 0) results_.push_back(result);
  if (!awaiting_ || (cancel_requested_ && armed_)) return;
  task_->EndWait();
  task_->loop()->Schedule(std::exchange(awaiting_, nullptr), task_);
}

bool MultishotAccept::Cancel() {
  if (!cancel_requested_) {
    cancel_requested_ = true;
    task_->loop()->uring().CancelOperation(this);
  }
  return true;
}

}  // namespace internal
}  // namespace asyncio_like
