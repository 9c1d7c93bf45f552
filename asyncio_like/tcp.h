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
#ifndef ASYNCIO_LIKE_TCP_H_
#define ASYNCIO_LIKE_TCP_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

// A connected TCP socket. Move-only; closes the socket when destroyed.
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

  // Receives at most buffer.size() bytes. Returns how many arrived; 0 means
  // end of stream (the peer shut its side down, or `buffer` is empty).
  Task<absl::StatusOr<size_t>> Receive(absl::Span<char> buffer);
  // Sends all of `data`, continuing after partial sends. With `data` owned
  // by the caller until the task resumes.
  Task<absl::Status> SendAll(absl::Span<const char> data);
  Task<absl::Status> SendAll(absl::string_view data) {
    return SendAll(absl::Span<const char>(data.data(), data.size()));
  }
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

// Connects to host:port. Fails with a OsError status (ECONNREFUSED,
// ENETUNREACH, ...), or ETIMEDOUT if `timeout` passes first (the connect
// operation is then cancelled in the kernel).
Task<absl::StatusOr<TcpSocket>> Connect(std::string host, uint16_t port,
                                        absl::Duration timeout = absl::InfiniteDuration());

// A listening TCP socket.
class TcpListener {
 public:
  // Binds host:port (port 0: an ephemeral port, see port()) with
  // SO_REUSEADDR and listens. Accepted sockets get TCP_NODELAY, as asyncio
  // sets on every TCP transport.
  static absl::StatusOr<TcpListener> Listen(const std::string& host, uint16_t port,
                                            int backlog = SOMAXCONN);

  TcpListener(TcpListener&& other) noexcept
      : fd_(other.fd_), port_(other.port_) { other.fd_ = -1; }
  TcpListener& operator=(TcpListener&& other) noexcept;
  ~TcpListener() { Close(); }

  uint16_t port() const { return port_; }
  bool is_open() const { return fd_ >= 0; }

  // Waits for the next connection. Fails with a OsError status, e.g.
  // EMFILE when the process is out of descriptors; the listener stays
  // usable, and the connection waits in the kernel's backlog.
  Task<absl::StatusOr<TcpSocket>> Accept();
  void Close();

 private:
  TcpListener(int fd, uint16_t port) : fd_(fd), port_(port) {}

  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TCP_H_
