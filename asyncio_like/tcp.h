// TCP sockets on the event loop: connect, listen, accept, receive and send,
// each one io_uring operation awaited by the calling task.
//
// These are the building blocks under the asyncio-style streams
// (stream.h), which most code should use instead. A TcpSocket owns a
// connected socket; its operations suspend the task until the kernel
// completes them, and never block the loop:
//
//   Task<absl::Status> Ping() {
//     absl::StatusOr<TcpSocket> socket = co_await Connect("127.0.0.1", 7000);
//     if (!socket.ok()) co_return socket.status();   // e.g. ConnectionRefused
//     if (absl::Status s = co_await socket->SendAll("ping"); !s.ok()) co_return s;
//     char reply[64];
//     absl::StatusOr<size_t> n = co_await socket->Receive(reply);
//     if (!n.ok()) co_return n.status();
//     if (*n == 0) { /* end of stream: the peer closed its side */ }
//     co_return absl::OkStatus();
//   }
//
// Errors are statuses from OsError (tcp_errors.h): refused, reset,
// broken pipe, timed out, too many open files, each recognizable. End of
// stream is not an error: Receive returns 0. Cancelling a task suspended in
// one of these operations cancels the kernel operation (IORING_OP_ASYNC_CANCEL)
// and raises CancelledError in the task, as asyncio does.
//
// Addresses are numeric IPv4 or IPv6 addresses, or "localhost"; resolving
// other host names blocks, so do it with ToThread (to_thread.h) first.
//
// Unix-domain stream sockets (AF_UNIX) go through the same operations; only
// the address differs: ConnectUnix and TcpListener::ListenUnix take a path
// (a leading '\0' names the abstract namespace, which has no file), and a
// TcpSocket or TcpListener then holds the Unix-domain socket:
//
//   absl::StatusOr<TcpSocket> socket = co_await ConnectUnix("/run/app.sock");
//   if (IsFileNotFound(socket.status())) { /* no such socket file */ }
#ifndef ASYNCIO_LIKE_TCP_H_
#define ASYNCIO_LIKE_TCP_H_

#include <liburing.h>
#include <sys/socket.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/uring.h"

namespace asyncio_like {

class TcpSocket;
class TcpListener;

// A socket's address as Python gives it (getsockname() and getpeername()):
// the (host, port) of a TCP socket, a numeric IPv4 or IPv6 host and a port;
// or the path of a Unix-domain socket, with `host` empty and `port` 0.
struct SocketAddress {
  SocketAddress() = default;
  SocketAddress(std::string host, uint16_t port) : host(std::move(host)), port(port) {}
  // A Unix-domain socket's address.
  static SocketAddress Unix(std::string path) {
    SocketAddress address;
    address.path = std::move(path);
    return address;
  }

  std::string host;
  uint16_t port = 0;
  // A Unix-domain socket's path: empty for an unnamed socket (a client's
  // end, '' in Python), starting with '\0' in the abstract namespace.
  std::string path;

  bool is_unix() const { return host.empty(); }
  // "127.0.0.1:8888", "[::1]:8888"; a Unix-domain socket's path, with a
  // leading '\0' shown as '@' (as ss(8) shows it).
  std::string ToString() const;
  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
};

namespace internal {
class MultishotAccept;

struct ReceivePrep {
  int fd;
  char* data;
  size_t size;
  void operator()(io_uring_sqe* sqe) const { io_uring_prep_recv(sqe, fd, data, size, 0); }
};

struct SendPrep {
  int fd;
  const char* data;
  size_t size;
  void operator()(io_uring_sqe* sqe) const {
    // MSG_NOSIGNAL: a closed peer is an EPIPE status, not a SIGPIPE.
    io_uring_prep_send(sqe, fd, data, size, MSG_NOSIGNAL);
  }
};

// One receive or send, awaited without a coroutine frame of its own (these
// run once or twice per request, so they are plain awaitables rather than
// Tasks). Yields the byte count or an OsError; on a closed socket it does
// not suspend and yields EBADF.
template <typename Prep>
class TransferOp final : public KernelOp<Prep> {
 public:
  TransferOp(Prep prep, const char* operation)
      : KernelOp<Prep>(prep), operation_(operation), closed_(prep.fd < 0) {}

  bool await_ready() const noexcept { return closed_; }
  absl::StatusOr<size_t> await_resume() {
    if (closed_) return OsError(EBADF, absl::StrCat(operation_, " on a closed socket"));
    const int result = KernelOp<Prep>::await_resume();  // throws CancelledError
    if (result < 0) return OsError(-result, operation_);
    return static_cast<size_t>(result);
  }

 private:
  const char* operation_;
  bool closed_;
};

// Sends all of `data` on `socket`: after a partial send the completion
// submits the next send itself, so the task is resumed once, when the kernel
// has taken everything or a send failed. Yields OkStatus or the failed
// send's OsError (EBADF on a closed socket, without suspending, or when the
// socket is closed between two sends: its descriptor number may already
// belong to another connection). Throws CancelledError if the task is
// cancelled meanwhile; unsent() then tells what did not leave.
class SendAllOp : public KernelOpBase {
 public:
  SendAllOp(const TcpSocket& socket, absl::Span<const char> data);
  // Movable until awaited, so that CreateTask, Gather, WaitFor and Wait can
  // take it into a task (awaitable_task.h); std::logic_error after.
  SendAllOp(SendAllOp&& other)
      : KernelOpBase(), socket_(other.socket_), fd_(other.fd_), rest_(other.rest_) {
    if (other.suspended_) throw std::logic_error("a SendAllOp moved while awaited");
  }

  bool await_ready() const noexcept { return fd_ < 0 || rest_.empty(); }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    suspended_ = true;
    io_uring_sqe* sqe = Begin(awaiting, awaiting.promise().task());
    if (sqe == nullptr) return false;
    SendRest(sqe);
    return true;
  }
  absl::Status await_resume();

  absl::Span<const char> unsent() const { return rest_; }

 private:
  void SendRest(io_uring_sqe* sqe);
  void Complete(int32_t result, uint32_t flags) override;

  const TcpSocket* socket_;
  int fd_;  // the socket's descriptor when the op was made
  absl::Span<const char> rest_;
  bool suspended_ = false;
};

}  // namespace internal

// A connected TCP or Unix-domain stream socket. Move-only; closes the
// socket when destroyed.
// Use it from the loop thread, one operation of each direction at a time
// (one Receive and one Send may be in flight together).
class TcpSocket {
 public:
  TcpSocket() = default;
  // Takes ownership of a connected socket descriptor.
  explicit TcpSocket(int fd) : fd_(fd) {}
  TcpSocket(TcpSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  TcpSocket& operator=(TcpSocket&& other) noexcept;
  ~TcpSocket() { Close(); }

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // `co_await socket.Receive(buffer)`: receives at most buffer.size()
  // bytes, yields how many arrived (absl::StatusOr<size_t>); 0 means end of
  // stream (the peer shut its side down, or `buffer` is empty).
  internal::TransferOp<internal::ReceivePrep> Receive(absl::Span<char> buffer) const {
    return {{fd_, buffer.data(), buffer.size()}, "recv"};
  }
  // `co_await socket.Send(data)`: one send; yields how many bytes the kernel
  // took, which may be fewer than data.size().
  internal::TransferOp<internal::SendPrep> Send(absl::Span<const char> data) const {
    return {{fd_, data.data(), data.size()}, "send"};
  }
  // `co_await socket.SendAll(data)`: sends all of `data`, continuing after
  // partial sends and sending again after EAGAIN/EINTR; yields an
  // absl::Status. `data` must stay valid until the
  // task resumes. Like Receive and Send this is an awaitable, not a Task:
  // await it directly, or hand it to CreateTask, WaitFor, Gather or Wait
  // (awaitable_task.h).
  internal::SendAllOp SendAll(absl::string_view data) const {
    return {*this, absl::MakeConstSpan(data.data(), data.size())};
  }
  // getsockname() and getpeername(); EBADF on a closed socket.
  absl::StatusOr<SocketAddress> LocalAddress() const;
  absl::StatusOr<SocketAddress> PeerAddress() const;
  // Half-closes the connection: the peer reads end of stream (write_eof).
  absl::Status ShutdownWrite();
  // Shuts both directions down, which also ends a Receive in flight with
  // end of stream, and closes the descriptor. Idempotent.
  void Close();
  // Closes at once with a reset (RST): unsent data is dropped and the peer's
  // next operation fails with ECONNRESET (transport.abort()). No operation
  // may be in flight on the socket.
  void Abort();

 private:
  int fd_ = -1;
};

inline internal::SendAllOp::SendAllOp(const TcpSocket& socket,
                                      absl::Span<const char> data)
    : socket_(&socket), fd_(socket.fd()), rest_(data) {}

// Connects to host:port. Fails with a OsError status (ECONNREFUSED,
// ENETUNREACH, ...), or ETIMEDOUT if `timeout` passes first (the connect
// operation is then cancelled in the kernel). EAGAIN and EINTR are not
// failures: the connect is made again (or, if the interrupted one went on,
// waited for).
Task<absl::StatusOr<TcpSocket>> Connect(std::string host, uint16_t port,
                                        absl::Duration timeout = absl::InfiniteDuration());

// Connects to the Unix-domain stream socket at `path` (asyncio's
// create_unix_connection). INVALID_ARGUMENT for an empty path, a path with
// a '\0' inside (other than an abstract name's first byte), or one too long
// for sockaddr_un (107 bytes for a file, 108 with an abstract name's '\0',
// as Python's "AF_UNIX path too long"). No socket file: ENOENT
// (FileNotFoundError, IsFileNotFound); a file nobody listens on, or an
// abstract name nobody bound: ECONNREFUSED (ConnectionRefusedError).
// ETIMEDOUT after `timeout`, as Connect.
Task<absl::StatusOr<TcpSocket>> ConnectUnix(std::string path,
                                            absl::Duration timeout = absl::InfiniteDuration());

// A listening TCP or Unix-domain stream socket.
class TcpListener {
 public:
  // Binds host:port (port 0: an ephemeral port, see port()) with
  // SO_REUSEADDR and listens. Accepted sockets get TCP_NODELAY, as asyncio
  // sets on every TCP transport.
  static absl::StatusOr<TcpListener> Listen(const std::string& host, uint16_t port,
                                            int backlog = SOMAXCONN);
  // Binds the Unix-domain stream socket `path` and listens (the socket of
  // create_unix_server). A socket file already at `path` is stale and is
  // removed first, as asyncio removes it; any other file stays, and the
  // bind fails with EADDRINUSE ("bind to '<path>': Address already in
  // use"). The path's rules are ConnectUnix's. Closing the listener leaves
  // the file: StartUnixServer's Server removes it.
  static absl::StatusOr<TcpListener> ListenUnix(const std::string& path,
                                                int backlog = SOMAXCONN);

  TcpListener(TcpListener&& other) noexcept
      : fd_(other.fd_), port_(other.port_) { other.fd_ = -1; }
  TcpListener& operator=(TcpListener&& other) noexcept;
  ~TcpListener() { Close(); }

  // The bound port; 0 for a Unix-domain listener.
  uint16_t port() const { return port_; }
  bool is_open() const { return fd_ >= 0; }
  // The bound address (getsockname()); EBADF once closed.
  absl::StatusOr<SocketAddress> LocalAddress() const;

  // Waits for the next connection. Fails with a OsError status, e.g.
  // EMFILE when the process is out of descriptors; the listener stays
  // usable, and the connection waits in the kernel's backlog.
  Task<absl::StatusOr<TcpSocket>> Accept();
  void Close();

 private:
  TcpListener(int fd, uint16_t port) : fd_(fd), port_(port) {}

  friend class internal::MultishotAccept;

  int fd_ = -1;
  uint16_t port_ = 0;
};

namespace internal {

// Accepts connections with one multishot accept: armed once, the kernel
// completes it once per connection, with no submission per connection.
// Connections that arrive while the task is busy wait in a queue. An error
// (EMFILE, ...) ends the multishot accept in the kernel; the next Next()
// arms it again. On kernels before 6.0 it submits one plain accept per
// Next() instead. StartServer's accept task uses it.
//
//   MultishotAccept acceptor(listener);
//   for (;;) {
//     absl::StatusOr<TcpSocket> socket = co_await acceptor.Next();
//     ...
//   }
//
// Like a KernelOp it lives in the frame of the one task that awaits it,
// and, while it is armed, that task awaits nothing else and lets no
// exception out of the frame: the kernel may complete it at any time, so
// it must not be destroyed before its last completion. Cancelling the task
// in Next() cancels the accept in the kernel; the task resumes (throwing
// CancelledError) only when that last completion has arrived.
class MultishotAccept final : private CancellableWait, private Completion {
 public:
  explicit MultishotAccept(const TcpListener& listener) : listener_(&listener) {}
  MultishotAccept(const MultishotAccept&) = delete;
  MultishotAccept& operator=(const MultishotAccept&) = delete;
  // Closes the connections accepted but not taken.
  ~MultishotAccept();

  class NextOp {
   public:
    // Suspend decides, so that a pending cancellation is raised even while
    // results are queued.
    bool await_ready() const { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
      return acceptor_->Suspend(awaiting, awaiting.promise().task());
    }
    absl::StatusOr<TcpSocket> await_resume() { return acceptor_->TakeResult(); }

   private:
    friend class MultishotAccept;
    explicit NextOp(MultishotAccept* acceptor) : acceptor_(acceptor) {}
    MultishotAccept* acceptor_;
  };
  // `co_await acceptor.Next()`: the next connection, or accept's error as
  // an OsError status (EBADF once the listener is closed).
  NextOp Next() { return NextOp(this); }

 private:
  // await_suspend: arms the accept if needed; false if the task goes on at
  // once (a result is queued, or a cancellation is pending and nothing is
  // armed).
  bool Suspend(std::coroutine_handle<> awaiting, PromiseBase* task);
  absl::StatusOr<TcpSocket> TakeResult();
  void Complete(int32_t result, uint32_t flags) override;
  bool Cancel() override;

  const TcpListener* listener_;
  std::deque<int32_t> results_;       // accepted descriptors, or -errno
  PromiseBase* task_ = nullptr;
  std::coroutine_handle<> awaiting_;  // set while the task waits in Next()
  bool armed_ = false;                // the kernel may still complete it
  bool cancel_requested_ = false;
};

}  // namespace internal
}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TCP_H_
