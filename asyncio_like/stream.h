// asyncio streams on io_uring: OpenConnection, StartServer, StreamReader and
// StreamWriter.
//
// As in Python, a TCP connection is a pair: a reader with Read, ReadLine,
// ReadExactly and ReadUntil, and a writer with Write, Drain and Close. A server calls a
// handler with such a pair for every connection it accepts, each in a task
// of its own, so one slow or failing connection never holds up the others:
//
//   Task<void> Echo(StreamReader reader, StreamWriter writer) {
//     for (;;) {
//       absl::StatusOr<absl::string_view> data = co_await reader.ReadSome(4096);
//       if (!data.ok() || data->empty()) break;     // error, or end of stream
//       writer.Write(*data);
//       if (!(co_await writer.Drain()).ok()) break;
//     }
//     (void)co_await writer.Close();
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
//   absl::StatusOr<std::string> line = co_await stream->reader.ReadLine();
//
// Unix-domain stream sockets work the same way, with a path instead of a
// host and port (asyncio.start_unix_server, asyncio.open_unix_connection):
//
//   absl::StatusOr<Server> server = StartUnixServer(Echo, "/tmp/echo.sock");
//   absl::StatusOr<Stream> stream = co_await OpenUnixConnection("/tmp/echo.sock");
//
// Partial reads and writes are handled inside: ReadExactly, ReadUntil and
// ReadLine collect as many receives as they need, and the connection
// continues after partial sends. End of stream is not an error: Read
// returns 0 bytes, AtEof() turns true; ReadExactly and ReadUntil report
// IncompleteReadError (OUT_OF_RANGE, carrying the partial bytes) if the
// stream ends first. ReadUntil and ReadLine look for their separator within
// the reader's limit (64 KiB unless `limit` says otherwise): past it,
// ReadUntil reports LimitOverrunError and leaves the bytes buffered, and
// ReadLine drops the line and reports INVALID_ARGUMENT (ValueError), as
// asyncio does; tcp_errors.h reads both errors' details. Socket failures
// are OsError statuses (tcp_errors.h): IsConnectionReset(),
// IsBrokenPipe(), ...; once one happened, every later read reports it, as
// asyncio's reader keeps the exception of a lost connection.
//
// A StreamReader constructed on its own has no connection: FeedData and
// FeedEof give it its bytes, as asyncio.StreamReader is fed by its
// protocol, so a parser built on it can be tested without a socket:
//
//   StreamReader reader;
//   reader.FeedData("GET / HTTP/1.0\r\n");
//   reader.FeedEof();
//   absl::StatusOr<std::string> line = co_await reader.ReadLine();
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
// Memory while waiting: the buffered reads (ReadSome, Read(n), ReadLine,
// ReadExactly, ReadUntil, Read()) receive through the loop's provided-buffer
// ring (uring.h): a connection waiting for its peer holds no receive buffer,
// and its read buffer grows only by what arrives, as CPython's does. A
// server that keeps thousands of idle connections reads with ReadSome, as
// Echo above does: it hands out a view of the read buffer without copying.
// Read(span) receives straight into the caller's span, which is then held
// by the waiting receive: use it where that buffer exists anyway.
//
// Read(span), ReadSome and Drain(), which run once per request in a server, are
// awaitables rather than Tasks (ReadOp, ReadSomeOp, DrainOp): they complete without a
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
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "asyncio_like/sync.h"
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
  class ReadSomeOp;

  // asyncio's default limit: the longest line ReadUntil and ReadLine
  // accept.
  static constexpr size_t kDefaultLimit = 64 * 1024;

  // A reader without a connection, fed by FeedData and FeedEof
  // (asyncio.StreamReader(limit=limit)). Throws std::invalid_argument if
  // `limit` is 0 (ValueError).
  explicit StreamReader(size_t limit = kDefaultLimit);

  // `co_await reader.Read(buffer)`: copies up to buffer.size() bytes into
  // `buffer`, waiting until at least one is available; yields how many
  // (absl::StatusOr<size_t>), 0 at end of stream. Without buffered data it
  // receives straight into `buffer`. The stream's state is looked at when
  // the ReadOp is awaited, not when Read is called.
  ReadOp Read(absl::Span<char> buffer);
  // `co_await reader.ReadSome(max_bytes)`: asyncio's read(n) without a
  // copy or a frame: waits until at least one byte is buffered, then
  // yields a view of up to `max_bytes` of them (absl::StatusOr<
  // absl::string_view>), consumed, and valid until the next read or
  // FeedData; empty at end of stream or for max_bytes 0. Bytes that arrive
  // while the waiting task is cancelled stay buffered for the next read.
  ReadSomeOp ReadSome(size_t max_bytes);
  // Up to `max_bytes` bytes (asyncio's read(n)); empty at end of stream.
  Task<absl::StatusOr<std::string>> Read(size_t max_bytes);
  // Everything until end of stream (read() and read(-1)).
  Task<absl::StatusOr<std::string>> Read();
  // Exactly `n` bytes (readexactly). If the stream ends first:
  // IncompleteReadError with the partial bytes, which are consumed.
  Task<absl::StatusOr<std::string>> ReadExactly(size_t n);
  // One line, up to and including "\n" (readline). At end of stream, what
  // is left, without "\n" (empty once nothing is). A line longer than the
  // limit is dropped (up to and including its "\n", or all that is
  // buffered if none came) and reported as INVALID_ARGUMENT [ValueError].
  Task<absl::StatusOr<std::string>> ReadLine();
  // Up to and including `separator` (readuntil). IncompleteReadError (the
  // buffer consumed) if the stream ends first; LimitOverrunError if more
  // than the limit arrives without it, or it is found further than the
  // limit (the data stays buffered). INVALID_ARGUMENT if it is empty.
  Task<absl::StatusOr<std::string>> ReadUntil(absl::string_view separator = "\n");
  // Up to and including whichever of `separators` ends first in the stream
  // (readuntil with a tuple, 3.13); the shorter one if two end at the same
  // byte. INVALID_ARGUMENT if the list or one separator is empty. The
  // separators must stay valid until the read completes:
  //   const absl::string_view cr_or_lf[] = {"\r", "\n"};
  //   co_await reader.ReadUntil(cr_or_lf);
  // (GCC 12 rejects a braced list of literals inside a co_await.)
  Task<absl::StatusOr<std::string>> ReadUntil(absl::Span<const absl::string_view> separators);
  // True once end of stream was seen and the buffer is empty (at_eof).
  bool AtEof() const;

  // Appends bytes to the buffer and wakes a waiting read (feed_data).
  // Throws std::logic_error on a connection's reader (its bytes come from
  // the socket) or after FeedEof (Python asserts).
  void FeedData(absl::string_view data);
  // Marks end of stream and wakes a waiting read (feed_eof). Throws
  // std::logic_error on a connection's reader.
  void FeedEof();
  // Makes every later read report `error`, and wakes a waiting read with
  // it (set_exception). A read waiting on a connection's socket sees it
  // once its receive completes. Throws std::invalid_argument for an OK
  // status.
  void SetException(absl::Status error);
  // The error SetException or a failed receive left; OK if none
  // (exception()).
  const absl::Status& exception() const;

  size_t limit() const;
  // The bytes received and not yet read (Python's `_buffer`), valid until
  // the next read or FeedData.
  absl::string_view PeekBuffer() const;

 private:
  friend struct Stream;
  friend class Server;
  explicit StreamReader(std::shared_ptr<internal::StreamConnection> connection)
      : connection_(std::move(connection)) {}
  // ReadUntil with `one` separator or `any` of several, or ReadLine, which
  // differs in what end of stream and the limit do.
  enum class UntilMode { kOne, kAny, kLine };
  Task<absl::StatusOr<std::string>> ReadUntilAny(UntilMode mode, absl::string_view one,
                                                 absl::Span<const absl::string_view> any);
  // The error for a separator past the limit, after consuming what ReadLine
  // drops.
  absl::Status Overrun(UntilMode mode, absl::string_view message, size_t consumed);

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
      : connection_(other.connection_), buffer_(other.buffer_) {
    if (other.receive_.has_value() || other.feed_.has_value()) {
      throw std::logic_error("a ReadOp moved while awaited");
    }
  }

  bool await_ready();
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    if (feed_.has_value()) return feed_->await_suspend(awaiting);
    return receive_->await_suspend(awaiting);
  }
  absl::StatusOr<size_t> await_resume();

 private:
  friend class StreamReader;
  ReadOp(internal::StreamConnection* connection, absl::Span<char> buffer)
      : connection_(connection), buffer_(buffer) {}
  // Copies from the buffer, or reports the reader's error.
  absl::StatusOr<size_t> TakeBuffered();

  internal::StreamConnection* connection_;
  absl::Span<char> buffer_;
  // At most one of them: the socket's receive, or a fed reader's wait for
  // FeedData, FeedEof or SetException.
  std::optional<internal::TransferOp<internal::ReceivePrep>> receive_;
  std::optional<internal::WaitList::Waiter> feed_;
};

// The awaitable StreamReader::ReadSome returns.
class StreamReader::ReadSomeOp {
 public:
  ReadSomeOp(const ReadSomeOp&) = delete;
  ReadSomeOp& operator=(const ReadSomeOp&) = delete;
  // Movable until awaited, as ReadOp.
  ReadSomeOp(ReadSomeOp&& other)
      : connection_(other.connection_), max_bytes_(other.max_bytes_) {
    if (other.receive_.has_value() || other.feed_.has_value()) {
      throw std::logic_error("a ReadSomeOp moved while awaited");
    }
  }

  bool await_ready();
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    if (feed_.has_value()) return feed_->await_suspend(awaiting);
    return receive_->await_suspend(awaiting);
  }
  absl::StatusOr<absl::string_view> await_resume();

 private:
  friend class StreamReader;
  ReadSomeOp(internal::StreamConnection* connection, size_t max_bytes)
      : connection_(connection), max_bytes_(max_bytes) {}

  internal::StreamConnection* connection_;
  size_t max_bytes_;
  // At most one of them, as in ReadOp: the socket's receive (into the read
  // buffer), or a fed reader's wait.
  std::optional<internal::RingReceiveOp> receive_;
  std::optional<internal::WaitList::Waiter> feed_;
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
  // Writes each of `lines` in turn, adding nothing between them
  // (writelines): any range of strings or string_views.
  template <typename Lines>
  void WriteLines(const Lines& lines) {
    for (const auto& line : lines) Write(line);
  }
  void WriteLines(std::initializer_list<absl::string_view> lines) {
    for (absl::string_view line : lines) Write(line);
  }
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
  // True: a TCP connection can be half-closed (can_write_eof).
  bool CanWriteEof() const { return true; }
  // Waits until everything written is sent, then half-closes: the peer
  // reads end of stream (write_eof).
  Task<absl::Status> WriteEof();
  // Starts closing at once (close()): IsClosing() turns true, and the
  // connection closes once everything written is sent, even if the Task is
  // never awaited. Awaiting the Task waits for that (wait_closed()) and
  // yields the connection's write error, if a send failed. Reads on the
  // same connection then see end of stream (and what was buffered).
  Task<absl::Status> Close();
  // Waits until the connection is closed: until some task calls Close()
  // and the last send is done (wait_closed()). Yields what Close yields.
  Task<absl::Status> WaitClosed();
  bool IsClosing() const;
  // "peername" or "sockname": the connection's remote or local address
  // (get_extra_info). std::nullopt for other names, and once the
  // connection is closed unless it was asked for before.
  std::optional<SocketAddress> GetExtraInfo(absl::string_view name) const;
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
  // Wraps a connected socket; `limit` is the reader's (ReadUntil,
  // ReadLine). Throws std::invalid_argument if `limit` is 0.
  explicit Stream(TcpSocket socket, size_t limit = StreamReader::kDefaultLimit);

  StreamReader reader;
  StreamWriter writer;
};

// asyncio.open_connection: connects and returns the stream pair, whose
// reader has the given `limit`. Errors as Connect (tcp.h): refused,
// unreachable, ETIMEDOUT after `timeout`; INVALID_ARGUMENT for a limit of 0.
Task<absl::StatusOr<Stream>> OpenConnection(
    std::string host, uint16_t port, absl::Duration timeout = absl::InfiniteDuration(),
    size_t limit = StreamReader::kDefaultLimit);

// asyncio.open_unix_connection: connects to the Unix-domain stream socket
// at `path` and returns the stream pair. Errors as ConnectUnix (tcp.h): an
// INVALID_ARGUMENT path (empty, too long for sockaddr_un), no such socket
// file (ENOENT, FileNotFoundError), nobody listening (ECONNREFUSED);
// INVALID_ARGUMENT for a limit of 0.
Task<absl::StatusOr<Stream>> OpenUnixConnection(
    std::string path, absl::Duration timeout = absl::InfiniteDuration(),
    size_t limit = StreamReader::kDefaultLimit);

// Receives every connection of a Server, as its own task.
using ConnectionHandler = std::function<Task<void>(StreamReader, StreamWriter)>;

// What a server has seen.
struct ServerStats {
  uint64_t accepted = 0;
  uint64_t accept_errors = 0;
  absl::Status last_accept_error;
  // Connections whose handler threw, before returning its Task or from
  // its task ("Unhandled exception in client_connected_cb"); each such
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

  // The listening port; 0 for a Unix-domain server.
  uint16_t port() const;
  // The listening socket's address, as Python's server.sockets[i]
  // .getsockname() (a Unix-domain server's: its path); empty once the
  // server is closed.
  std::vector<SocketAddress> sockets() const;
  // True from StartServer until Close (is_serving).
  bool IsServing() const;
  // Stops accepting and closes the listening socket. Connections already
  // handed to the handler carry on (asyncio's Server.close()); ones the
  // kernel had accepted but the server had not yet handed over are closed.
  // A Unix-domain server made with cleanup_socket removes its socket file,
  // unless that is gone or is no longer its socket (another file, or
  // another server's socket, took the path meanwhile).
  void Close();
  // Waits until the server is closed and every connection it handed over
  // is closed, in either order (wait_closed, 3.12.1 on). The Server may be
  // destroyed meanwhile (which closes it).
  Task<void> WaitClosed();
  // Waits until the server is closed, then for its connections as
  // WaitClosed does (serve_forever). Cancelling the task that waits closes
  // the server, waits likewise, and rethrows the CancelledError. Throws
  // std::logic_error (RuntimeError) on a closed server or if another task
  // is already in ServeForever. The Server must outlive the wait.
  Task<void> ServeForever();
  const ServerStats& stats() const;

 private:
  struct State;
  friend struct internal::StreamConnection;
  friend absl::StatusOr<Server> StartServer(ConnectionHandler, TcpListener, size_t);
  friend absl::StatusOr<Server> StartUnixServer(ConnectionHandler, TcpListener, size_t, bool);
  static Task<void> AcceptLoop(std::shared_ptr<State> state);
  Server(std::shared_ptr<State> state, Task<void> accept_task)
      : state_(std::move(state)), accept_task_(std::move(accept_task)) {}

  std::shared_ptr<State> state_;
  Task<void> accept_task_;
};

// asyncio.start_server: listens on host:port (port 0: an ephemeral port,
// see Server::port()) and starts accepting; `handler` runs in a new task
// for every connection, whose reader has the given `limit` (0 is
// INVALID_ARGUMENT). Must be called on a running loop (from a task).
// One multishot accept serves every connection: the kernel reports each new
// connection without a submission per connection.
//
// When accept fails for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM)
// the server counts the error, waits 100 ms while the connection waits in
// the kernel's backlog, and tries again, as asyncio does (with 1 s); it does
// the same after any other unexpected accept error, so that the server
// keeps accepting without spinning.
absl::StatusOr<Server> StartServer(ConnectionHandler handler, const std::string& host,
                                   uint16_t port, int backlog = SOMAXCONN,
                                   size_t limit = StreamReader::kDefaultLimit);
// The same on a socket that already listens (start_server(sock=...)).
absl::StatusOr<Server> StartServer(ConnectionHandler handler, TcpListener listener,
                                   size_t limit = StreamReader::kDefaultLimit);

// asyncio.start_unix_server: listens on the Unix-domain stream socket at
// `path` (TcpListener::ListenUnix: a stale socket file there is removed
// first; the path's errors are ConnectUnix's) and serves as StartServer
// does. With `cleanup_socket` (3.13's default) Server::Close removes the
// socket file, if it is still the one this server bound (asyncio compares
// the inode). An abstract name (a leading '\0') has no file to remove.
absl::StatusOr<Server> StartUnixServer(ConnectionHandler handler, const std::string& path,
                                       int backlog = SOMAXCONN,
                                       size_t limit = StreamReader::kDefaultLimit,
                                       bool cleanup_socket = true);
// The same on a Unix-domain socket that already listens
// (start_unix_server(sock=...)); INVALID_ARGUMENT for another kind of
// socket ("A UNIX Domain Stream Socket was expected"). With
// `cleanup_socket` the file the socket is bound to is removed on Close, as
// above, if it exists now.
absl::StatusOr<Server> StartUnixServer(ConnectionHandler handler, TcpListener listener,
                                       size_t limit = StreamReader::kDefaultLimit,
                                       bool cleanup_socket = true);

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_STREAM_H_
