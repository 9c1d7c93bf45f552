// asyncio streams on io_uring: OpenConnection, StartServer, StreamReader and
// StreamWriter.
//
// As in Python, a TCP connection is a pair: a reader with Read, ReadExactly
// and ReadUntil, and a writer with Write, Drain and Close. A server calls a
// handler with such a pair for every connection it accepts, each in a task
// of its own, so one slow or failing connection never holds up the others:
//
//   Task<void> Echo(StreamReader reader, StreamWriter writer) {
//     char buffer[4096];
//     for (;;) {
//       absl::StatusOr<size_t> n = co_await reader.Read(absl::MakeSpan(buffer));
//       if (!n.ok() || *n == 0) break;              // error, or end of stream
//       writer.Write(absl::string_view(buffer, *n));
//       if (!(co_await writer.Drain()).ok()) break;
//     }
//     co_await writer.Close();
//   }
//   Task<void> Main() {
//     absl::StatusOr<Server> server = StartServer(Echo, "127.0.0.1", 8888);
//     if (server.ok()) co_await server->ServeForever();
//   }
//
//   // A client (asyncio.open_connection):
//   absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", 8888);
//   stream->writer.Write("hello\n");
//   co_await stream->writer.Drain();
//   absl::StatusOr<std::string> line = co_await stream->reader.ReadUntil("\n");
//
// Partial reads and writes are handled inside: ReadExactly and ReadUntil
// collect as many receives as they need, and the connection continues
// after partial sends. End of stream is not an error: Read returns 0
// bytes, AtEof() turns true; ReadExactly and ReadUntil report
// OUT_OF_RANGE [IncompleteReadError] if the stream ends first. Socket
// failures are OsError statuses (tcp_errors.h): IsConnectionReset(),
// IsBrokenPipe(), ...
//
// Writing works as in asyncio: Write hands the bytes to the kernel at once
// (a send submitted with the loop's next kernel entry) and returns without
// waiting; bytes written while a send is in flight follow in the next one.
// Drain is flow control, with asyncio's marks: it returns at once unless
// more than 64 KiB are unsent, and then waits until at most 16 KiB are
// (SetWriteBufferLimits changes them, as transport.set_write_buffer_limits
// does). Close and WriteEof wait until everything is sent. A writer dropped
// without Close still sends what it holds, then closes the connection.
//
// A receive issued while the connection's send is in flight (a server
// reading the next request right after writing its reply) reaches the
// kernel one loop pass later: the peer cannot have answered yet, and a
// receive submitted together with the reply would only arm a poll on an
// empty socket (uring.h, KernelOp::SubmitAfterNextEnter).
//
// Read(span) and Drain(), which run once per request in a server, are
// awaitables rather than Tasks (ReadOp, DrainOp): they complete without a
// coroutine frame of their own, and without suspending at all when the
// data is already buffered. Await them directly, like every other stream
// call, or hand them to CreateTask, WaitFor, Gather or Wait, which move them
// into a task of their own (awaitable_task.h).
//
// A reader and its writer share the connection; it closes when the writer
// is closed or both are destroyed. Use them on the loop thread, with at most
// one task reading and one task writing at a time, and keep the reader or
// writer alive while one of its operations is awaited.
#ifndef ASYNCIO_LIKE_STREAM_H_
#define ASYNCIO_LIKE_STREAM_H_

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp.h"

namespace asyncio_like {

namespace internal {
struct StreamConnection;
}  // namespace internal

// The reading half of a connection (asyncio.StreamReader).
class StreamReader {
 public:
  class ReadOp;

  // asyncio's default limit: the longest line ReadUntil accepts.
  static constexpr size_t kDefaultLimit = 64 * 1024;

  // `co_await reader.Read(buffer)`: copies up to buffer.size() bytes into
  // `buffer`, waiting until at least one is available; yields how many
  // (absl::StatusOr<size_t>), 0 at end of stream. Without buffered data it
  // receives straight into `buffer`. The stream's state is looked at when
  // the ReadOp is awaited, not when Read is called.
  ReadOp Read(absl::Span<char> buffer);
  // Up to `max_bytes` bytes (asyncio's read(n)); empty at end of stream.
  Task<absl::StatusOr<std::string>> Read(size_t max_bytes = kDefaultLimit);
  // Exactly `n` bytes (readexactly). If the stream ends first: OUT_OF_RANGE
  // [IncompleteReadError], and the partial data is consumed.
  Task<absl::StatusOr<std::string>> ReadExactly(size_t n);
  // Up to and including `separator` (readuntil). OUT_OF_RANGE
  // [IncompleteReadError] if the stream ends first; RESOURCE_EXHAUSTED
  // [LimitOverrunError] if more than the limit arrives without it (the
  // data stays buffered).
  Task<absl::StatusOr<std::string>> ReadUntil(absl::string_view separator = "\n");
  // True once end of stream was seen and the buffer is empty (at_eof).
  bool AtEof() const;

 private:
  friend struct Stream;
  friend class Server;
  explicit StreamReader(std::shared_ptr<internal::StreamConnection> connection)
      : connection_(std::move(connection)) {}

  std::shared_ptr<internal::StreamConnection> connection_;
};

// The awaitable StreamReader::Read(span) returns.
class StreamReader::ReadOp {
 public:
  ReadOp(const ReadOp&) = delete;
  ReadOp& operator=(const ReadOp&) = delete;
  // Movable until awaited, so that CreateTask, Gather, WaitFor and Wait can
  // take it into a task (awaitable_task.h); std::logic_error after.
  ReadOp(ReadOp&& other)
      : connection_(other.connection_), buffer_(other.buffer_), copied_(other.copied_) {
    if (other.receive_.has_value()) throw std::logic_error("a ReadOp moved while awaited");
  }

  bool await_ready();
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    return receive_->await_suspend(awaiting);
  }
  absl::StatusOr<size_t> await_resume();

 private:
  friend class StreamReader;
  ReadOp(internal::StreamConnection* connection, absl::Span<char> buffer)
      : connection_(connection), buffer_(buffer) {}

  internal::StreamConnection* connection_;
  absl::Span<char> buffer_;
  size_t copied_ = 0;  // from the buffer, when no receive was needed
  std::optional<internal::TransferOp<internal::ReceivePrep>> receive_;
};

// The writing half of a connection (asyncio.StreamWriter).
class StreamWriter {
 public:
  class DrainOp;

  // Starts sending `data` (or queues it behind the send in flight) and
  // returns at once; the bytes are copied. After a send failed, written
  // bytes are dropped and Drain reports the failure, as asyncio does once
  // a connection is lost.
  void Write(absl::string_view data);
  // `co_await writer.Drain()`: yields an absl::Status once the unsent bytes
  // are at most the low-water mark, without suspending if they are at most
  // the high-water mark. Fails with the connection's error (reset, broken
  // pipe, ...), which every later Drain reports too. Cancelling the waiting
  // task stops only the wait: the bytes are still sent, in order.
  DrainOp Drain();
  // Sets the marks Drain uses (transport.set_write_buffer_limits); the
  // defaults are asyncio's, 64 KiB and 16 KiB. With (0, 0), Drain returns
  // once the kernel has taken everything. InvalidArgument if low > high.
  absl::Status SetWriteBufferLimits(size_t high, size_t low);
  // Waits until everything written is sent, then half-closes: the peer
  // reads end of stream (write_eof).
  Task<absl::Status> WriteEof();
  // Closes the connection once everything written is sent, and waits for
  // that (close() followed by wait_closed()). A Read waiting on the same
  // connection ends with end of stream. If the waiting task is cancelled,
  // the connection still closes after the last send. Returns the
  // connection's write error, if a send failed.
  Task<absl::Status> Close();
  bool IsClosing() const;
  // Bytes written but not yet taken by the kernel
  // (transport.get_write_buffer_size()).
  size_t buffered() const;

 private:
  friend struct Stream;
  friend class Server;
  explicit StreamWriter(std::shared_ptr<internal::StreamConnection> connection)
      : connection_(std::move(connection)) {}

  std::shared_ptr<internal::StreamConnection> connection_;
};

// The awaitable StreamWriter::Drain() returns; Close and WriteEof use it to
// wait for the last send.
class StreamWriter::DrainOp : private internal::CancellableWait {
 public:
  DrainOp(const DrainOp&) = delete;
  DrainOp& operator=(const DrainOp&) = delete;
  // Movable until awaited, as ReadOp.
  DrainOp(DrainOp&& other)
      : CancellableWait(), connection_(other.connection_), wait_above_(other.wait_above_), wake_at_(other.wake_at_) {
    if (other.task_ != nullptr) throw std::logic_error("a DrainOp moved while awaited");
  }
  ~DrainOp();

  bool await_ready();
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    return Suspend(awaiting, awaiting.promise().task());
  }
  absl::Status await_resume();

 private:
  friend class StreamWriter;
  friend struct internal::StreamConnection;
  // Waits if more than `wait_above` bytes are unsent, until at most
  // `wake_at` are.
  DrainOp(internal::StreamConnection* connection, size_t wait_above, size_t wake_at)
      : connection_(connection), wait_above_(wait_above), wake_at_(wake_at) {}
  bool Suspend(std::coroutine_handle<> awaiting, internal::PromiseBase* task);
  bool Cancel() override;
  // Called by the connection when its sends have progressed or failed.
  bool Satisfied() const;
  // Puts the waiting task back on the ready queue (the connection has
  // unlinked this wait, or Cancel has).
  void Wake();
  void Unlink();

  internal::StreamConnection* connection_;
  size_t wait_above_;
  size_t wake_at_;
  internal::PromiseBase* task_ = nullptr;
  std::coroutine_handle<> awaiting_;
  DrainOp* next_waiter_ = nullptr;  // the connection's list of waiters
  bool waiting_ = false;
  bool cancelled_ = false;
};

// Both halves of a connection.
struct Stream {
  // Wraps a connected socket.
  explicit Stream(TcpSocket socket);

  StreamReader reader;
  StreamWriter writer;
};

// asyncio.open_connection: connects and returns the stream pair. Errors as
// Connect (tcp.h): refused, unreachable, ETIMEDOUT after `timeout`.
Task<absl::StatusOr<Stream>> OpenConnection(
    std::string host, uint16_t port, absl::Duration timeout = absl::InfiniteDuration());

// Receives every connection of a Server, as its own task.
using ConnectionHandler = std::function<Task<void>(StreamReader, StreamWriter)>;

// What a server has seen.
struct ServerStats {
  uint64_t accepted = 0;
  uint64_t accept_errors = 0;
  absl::Status last_accept_error;
  // Connections whose handler threw before returning its Task; each such
  // connection is closed and the server carries on (asyncio logs it).
  uint64_t handler_errors = 0;
  absl::Status last_handler_error;
};

// A listening server (asyncio.Server). Accepting runs in a task of its own
// from StartServer on; destroying the Server (or Close) stops it.
class Server {
 public:
  Server(Server&&) noexcept = default;
  Server& operator=(Server&&) noexcept = default;
  ~Server() { Close(); }

  uint16_t port() const;
  // Stops accepting and closes the listening socket. Connections already
  // handed to the handler carry on (asyncio's Server.close()); ones the
  // kernel had accepted but the server had not yet handed over are closed.
  void Close();
  // Waits until the server is closed (serve_forever). Cancelling the task
  // that waits closes the server. The Server must outlive the wait.
  Task<void> ServeForever();
  const ServerStats& stats() const;

 private:
  struct State;
  friend absl::StatusOr<Server> StartServer(ConnectionHandler, TcpListener);
  static Task<void> AcceptLoop(std::shared_ptr<State> state);
  Server(std::shared_ptr<State> state, Task<void> accept_task)
      : state_(std::move(state)), accept_task_(std::move(accept_task)) {}

  std::shared_ptr<State> state_;
  Task<void> accept_task_;
};

// asyncio.start_server: listens on host:port (port 0: an ephemeral port,
// see Server::port()) and starts accepting; `handler` runs in a new task
// for every connection. Must be called on a running loop (from a task).
// One multishot accept serves every connection: the kernel reports each new
// connection without a submission per connection.
//
// When accept fails for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM)
// the server counts the error, waits 100 ms while the connection waits in
// the kernel's backlog, and tries again, as asyncio does (with 1 s); it does
// the same after any other unexpected accept error, so that the server
// keeps accepting without spinning.
absl::StatusOr<Server> StartServer(ConnectionHandler handler, const std::string& host,
                                   uint16_t port, int backlog = SOMAXCONN);
// The same on a socket that already listens (start_server(sock=...)).
absl::StatusOr<Server> StartServer(ConnectionHandler handler, TcpListener listener);

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_STREAM_H_
