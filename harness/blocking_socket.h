// Blocking loopback TCP for the thread models' echo server, the way Python's
// socket module does it: each call blocks, and releases the GIL while it
// does (see Blocking in python_thread.h).
//
//   absl::StatusOr<Socket> listener = ListenOnLoopback();
//   absl::StatusOr<Socket> conn = listener->Accept();
//   absl::StatusOr<size_t> n = conn->Recv(buffer);   // 0 at end of stream
//   absl::Status sent = conn->SendAll(data);
//   absl::StatusOr<Socket> client = ConnectToLoopback(port);

#ifndef HARNESS_BLOCKING_SOCKET_H_
#define HARNESS_BLOCKING_SOCKET_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace harness {

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  int fd() const { return fd_; }
  // The local port (for a listener).
  absl::StatusOr<int> Port() const;

  absl::StatusOr<Socket> Accept();
  // Reads what is available, at most buffer.size() bytes; 0 at end of stream.
  absl::StatusOr<size_t> Recv(absl::Span<char> buffer);
  absl::Status SendAll(absl::string_view data);

 private:
  int fd_;
};

// A listening socket on 127.0.0.1 with a kernel-chosen port.
absl::StatusOr<Socket> ListenOnLoopback(int backlog = 4096);

// A connection to 127.0.0.1:port (socket.create_connection), whose sends and
// receives give up with an error after `timeout` without progress.
absl::StatusOr<Socket> ConnectToLoopback(int port,
                                         absl::Duration timeout = absl::Seconds(30));

}  // namespace harness

#endif  // HARNESS_BLOCKING_SOCKET_H_
