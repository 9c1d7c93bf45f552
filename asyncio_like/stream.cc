#include "asyncio_like/stream.h"

#include <liburing.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/tcp_errors.h"

namespace asyncio_like {

// What the accept task and the connections of a server share. A
// connection counts as the server's until its socket closes; WaitClosed
// waits for the server to close and the count to reach zero, in either
// order (CPython's Server._attach/_detach/_wakeup).
struct Server::State {
  State(TcpListener l, ConnectionHandler h, size_t limit)
      : listener(std::move(l)), handler(std::move(h)), limit(limit) {}

  bool Closed() const { return !listener.is_open(); }
  void Detach() {
    --connections;
    WakeIfClosed();
  }
  void WakeIfClosed() {
    // While the loop is being destroyed nothing may be scheduled.
    if (Closed() && connections == 0 && EventLoop::Current() != nullptr) {
      closed_waiters.PopAndWakeAll();
    }
  }

  // Removes the socket file of a Unix-domain server made with
  // cleanup_socket, once, if the path still names the file the server
  // bound: not one that replaced it (CPython's _stop_serving).
  void RemoveSocketFile() {
    if (!socket_file.has_value()) return;
    struct stat now;
    if (stat(socket_file->path.c_str(), &now) == 0 && now.st_dev == socket_file->device &&
        now.st_ino == socket_file->inode) {
      unlink(socket_file->path.c_str());
    }
    socket_file.reset();
  }

  // The file a Unix-domain server's socket is bound to, as it was found
  // when the server started.
  struct SocketFile {
    std::string path;
    dev_t device;
    ino_t inode;
  };

  TcpListener listener;
  ConnectionHandler handler;
  size_t limit;
  std::optional<SocketFile> socket_file;
  ServerStats stats;
  size_t connections = 0;  // handed over and not yet closed
  bool serving_forever = false;
  internal::WaitList closed_waiters;
};

namespace internal {

// The state a reader and a writer share, and the connection's background
// send. The fields every Read(span) and Write look at come first.
//
// Writes go to `sending` while no send is in flight, and start one; while
// one is, they go to `pending`, which becomes the next send. The send is a
// Completion of its own, not a task's await: it outlives the Write that
// started it, and even the reader and writer. When both are dropped with a
// send in flight, the connection stays alive (`orphaned`) until the last
// send completes, then closes; if the loop shuts down first, Abandon frees
// it.
struct StreamConnection final : private Completion, public ReceiveSink {
  // The reader and writer share it through this, with Release as deleter.
  // `fed`: no socket; FeedData and FeedEof bring the bytes. `server`: the
  // server that accepted it, if any.
  static std::shared_ptr<StreamConnection> Make(TcpSocket socket, size_t limit, bool fed,
                                                std::shared_ptr<Server::State> server) {
    if (limit == 0) throw std::invalid_argument("Limit cannot be <= 0");
    return std::shared_ptr<StreamConnection>(
        new StreamConnection(std::move(socket), limit, fed, std::move(server)), &Release);
  }

  TcpSocket socket;
  // Set by end of stream, FeedEof, or the connection's closing.
  bool eof = false;
  bool send_in_flight = false;
  bool closing = false;
  bool orphaned = false;
  // Received bytes not yet consumed: read_buffer[read_begin, read_end).
  size_t read_begin = 0;
  size_t read_end = 0;
  // The bytes of the send in flight, of which the first `sent` are taken.
  std::string sending;
  size_t sent = 0;
  std::string pending;
  absl::Status write_error;
  StreamWriter::DrainOp* drain_waiters = nullptr;
  // Drain's marks, asyncio's defaults.
  size_t write_high_water = 64 * 1024;
  size_t write_low_water = 16 * 1024;
  std::vector<char> read_buffer;
  const size_t limit;
  const bool fed;
  // The reader's error (set_exception), reported by every later read.
  absl::Status exception;
  WaitList feed_waiters;   // a fed reader's read, waiting for FeedData
  WaitList close_waiters;  // WaitClosed, waiting for a Close
  std::shared_ptr<Server::State> server;
  // get_extra_info, kept from the first time they are asked for.
  mutable std::optional<SocketAddress> peername;
  mutable std::optional<SocketAddress> sockname;

  // Closes the socket; reads see end of stream from here on, as asyncio's
  // reader gets feed_eof from a closing transport.
  void CloseSocket() {
    eof = true;
    if (!socket.is_open()) return;
    socket.Close();
    if (server != nullptr) std::exchange(server, nullptr)->Detach();
  }

  size_t unsent() const { return sending.size() - sent + pending.size(); }

  // Sends `sending` from `sent` on, on the running loop. Fails the writer
  // with EPIPE if the socket is closed.
  void StartSend() {
    if (!socket.is_open()) {
      FailWrites(OsError(EPIPE, "send on a closed stream"));
      return;
    }
    send_in_flight = true;
    Uring& uring = EventLoop::Current()->uring();
    io_uring_sqe* sqe = uring.NextSqe();
    SendPrep{socket.fd(), sending.data() + sent, sending.size() - sent}(sqe);
    uring.PrepareCompletion(sqe, this);
  }

  void Complete(int32_t result, uint32_t) override {
    send_in_flight = false;
    // EINTR, EAGAIN: the kernel sent nothing; send again (uring.h).
    if ((result == -EINTR || result == -EAGAIN) && write_error.ok()) {
      StartSend();
      return;
    }
    if (result < 0) {
      FailWrites(OsError(-result, "send"));
      // The connection is lost, as asyncio's transport closes on a fatal
      // send error: shutting it down ends a receive in flight (with end of
      // stream), so a task waiting to read a reply to what was never sent
      // does not wait forever. The descriptor stays open until Close: a
      // receive resubmitted after EINTR must not meet its number reused.
      shutdown(socket.fd(), SHUT_RDWR);
    } else {
      sent += static_cast<size_t>(result);
      if (sent == sending.size()) {
        sending.clear();  // both keep their allocations
        sent = 0;
        sending.swap(pending);
      }
      if (!sending.empty()) StartSend();
    }
    if (drain_waiters != nullptr) WakeDrainWaiters();
    if (send_in_flight) return;
    if (orphaned) {
      delete this;
    } else if (closing) {
      CloseSocket();
    }
  }

  void Abandon() override {
    send_in_flight = false;
    FailWrites(OsError(ECANCELED, "send abandoned: the event loop closed"));
    if (orphaned) delete this;
  }

  // Drops what is unsent; Drain and Close report `error` from now on, and
  // later Writes are dropped.
  void FailWrites(absl::Status error) {
    if (write_error.ok()) write_error = std::move(error);
    sending.clear();
    sent = 0;
    pending.clear();
  }

  void WakeDrainWaiters() {
    StreamWriter::DrainOp** link = &drain_waiters;
    while (*link != nullptr) {
      StreamWriter::DrainOp* waiter = *link;
      if (waiter->Satisfied()) {
        *link = waiter->next_waiter_;
        waiter->Wake();
      } else {
        link = &waiter->next_waiter_;
      }
    }
  }

  size_t buffered() const { return read_end - read_begin; }
  absl::string_view buffered_view() const {
    return absl::string_view(read_buffer.data() + read_begin, buffered());
  }
  void Consume(size_t n) {
    read_begin += n;
    if (read_begin == read_end) read_begin = read_end = 0;
  }
  std::string Take(size_t n) {
    std::string taken(read_buffer.data() + read_begin, n);
    Consume(n);
    return taken;
  }

  // Room for at least `n` more bytes at the end of the buffer.
  void Reserve(size_t n) {
    if (read_begin > 0) {  // compact, so the free space is at the end
      std::memmove(read_buffer.data(), read_buffer.data() + read_begin, buffered());
      read_end -= read_begin;
      read_begin = 0;
    }
    if (read_buffer.size() - read_end < n) read_buffer.resize(read_end + n);
  }

  // Where a RingReceiveOp appends: the end of the read buffer, which grows
  // by what actually arrived (uring.h).
  absl::Span<char> Room(size_t n) override {
    Reserve(n);
    return absl::MakeSpan(read_buffer.data() + read_end, read_buffer.size() - read_end);
  }
  void Commit(size_t n) override { read_end += n; }

  // Records a RingReceiveOp's result (bytes already appended, 0 for end of
  // stream, or -errno); yields the reader's error, which a failed receive
  // becomes. A closed socket is end of stream.
  absl::Status Received(int32_t result) {
    if (result == 0) eof = true;
    if (result < 0) {
      if (!socket.is_open()) {
        eof = true;
      } else if (exception.ok()) {
        exception = OsError(-result, "recv");
      }
    }
    return exception;
  }

  // Waits for more bytes: receives once more into the buffer, or, on a fed
  // reader, waits for FeedData, FeedEof or SetException. Sets `eof` at end
  // of stream; yields the reader's error, which a failed receive becomes.
  Task<absl::Status> WaitForData() {
    if (fed) {
      co_await feed_waiters.Wait();
      co_return exception;
    }
    // While the reply is still on its way the answer cannot be here yet.
    co_return Received(co_await RingReceiveOp(socket.fd(), this, send_in_flight));
  }

 private:
  StreamConnection(TcpSocket s, size_t limit, bool fed, std::shared_ptr<Server::State> server)
      : socket(std::move(s)), limit(limit), fed(fed), server(std::move(server)) {
    if (this->server != nullptr) ++this->server->connections;
  }
  ~StreamConnection() {
    if (server != nullptr) server->Detach();
    // Drains still waiting belong to frames the loop is destroying, in no
    // particular order: they must not unlink themselves from freed memory.
    for (StreamWriter::DrainOp* w = drain_waiters; w != nullptr; w = w->next_waiter_) {
      w->waiting_ = false;
    }
  }

  // When the reader and writer are gone: a send in flight still finishes,
  // and frees the connection when it completes.
  static void Release(StreamConnection* connection) {
    if (connection->send_in_flight) {
      connection->orphaned = true;
    } else {
      delete connection;
    }
  }
};

}  // namespace internal

// ----- StreamReader -----

StreamReader::StreamReader(size_t limit)
    : connection_(internal::StreamConnection::Make(TcpSocket(), limit, /*fed=*/true, nullptr)) {}

StreamReader::ReadOp StreamReader::Read(absl::Span<char> buffer) {
  return ReadOp(connection_.get(), buffer);
}

bool StreamReader::ReadOp::await_ready() {
  internal::StreamConnection& c = *connection_;
  if (buffer_.empty() || c.buffered() > 0 || c.eof || !c.exception.ok()) return true;
  if (c.fed) {
    feed_.emplace(&c.feed_waiters);
    return false;
  }
  receive_.emplace(internal::ReceivePrep{c.socket.fd(), buffer_.data(), buffer_.size()},
                   "recv");
  // The reply is still on its way: the answer cannot be here yet.
  if (c.send_in_flight) receive_->SubmitAfterNextEnter();
  return receive_->await_ready();  // true on a closed socket (EBADF)
}

absl::StatusOr<size_t> StreamReader::ReadOp::TakeBuffered() {
  internal::StreamConnection& c = *connection_;
  if (!c.exception.ok() && !buffer_.empty()) return c.exception;
  const size_t copied = std::min(buffer_.size(), c.buffered());
  // An empty read buffer may have no storage: memcpy must not see its null.
  if (copied == 0) return copied;
  std::memcpy(buffer_.data(), c.read_buffer.data() + c.read_begin, copied);
  c.Consume(copied);
  return copied;
}

absl::StatusOr<size_t> StreamReader::ReadOp::await_resume() {
  if (feed_.has_value()) feed_->await_resume();  // throws CancelledError
  if (!receive_.has_value()) return TakeBuffered();
  internal::StreamConnection& c = *connection_;
  absl::StatusOr<size_t> n = receive_->await_resume();  // throws CancelledError
  if (n.ok() && *n == 0) c.eof = true;
  if (!n.ok()) {
    if (!c.socket.is_open()) {  // closed by its writer: end of stream
      c.eof = true;
      return size_t{0};
    }
    if (c.exception.ok()) c.exception = n.status();
  }
  return n;
}

StreamReader::ReadSomeOp StreamReader::ReadSome(size_t max_bytes) {
  return ReadSomeOp(connection_.get(), max_bytes);
}

bool StreamReader::ReadSomeOp::await_ready() {
  internal::StreamConnection& c = *connection_;
  if (max_bytes_ == 0 || c.buffered() > 0 || c.eof || !c.exception.ok()) return true;
  if (c.fed) {
    feed_.emplace(&c.feed_waiters);
    return false;
  }
  // While the reply is still on its way the answer cannot be here yet.
  receive_.emplace(c.socket.fd(), &c, c.send_in_flight);
  return receive_->await_ready();  // true on a closed socket (EBADF)
}

absl::StatusOr<absl::string_view> StreamReader::ReadSomeOp::await_resume() {
  internal::StreamConnection& c = *connection_;
  if (feed_.has_value()) feed_->await_resume();  // throws CancelledError
  if (receive_.has_value()) (void)c.Received(receive_->await_resume());  // throws CancelledError
  if (!c.exception.ok() && max_bytes_ > 0) return c.exception;
  const size_t n = std::min(max_bytes_, c.buffered());
  const absl::string_view taken = c.buffered_view().substr(0, n);
  c.Consume(n);
  return taken;
}

Task<absl::StatusOr<std::string>> StreamReader::Read(size_t max_bytes) {
  internal::StreamConnection& c = *connection_;
  if (!c.exception.ok()) co_return c.exception;
  if (max_bytes == 0) co_return std::string();
  if (c.buffered() == 0 && !c.eof) {
    absl::Status waited = co_await c.WaitForData();
    if (!waited.ok()) co_return waited;
  }
  co_return c.Take(std::min(max_bytes, c.buffered()));
}

Task<absl::StatusOr<std::string>> StreamReader::Read() {
  internal::StreamConnection& c = *connection_;
  if (!c.exception.ok()) co_return c.exception;
  while (!c.eof) {
    absl::Status waited = co_await c.WaitForData();
    if (!waited.ok()) co_return waited;
  }
  co_return c.Take(c.buffered());
}

Task<absl::StatusOr<std::string>> StreamReader::ReadExactly(size_t n) {
  internal::StreamConnection& c = *connection_;
  if (!c.exception.ok()) co_return c.exception;
  while (c.buffered() < n) {
    if (c.eof) {
      const std::string partial = c.Take(c.buffered());
      co_return IncompleteReadError(partial, n);
    }
    absl::Status waited = co_await c.WaitForData();
    if (!waited.ok()) co_return waited;
  }
  co_return c.Take(n);
}

Task<absl::StatusOr<std::string>> StreamReader::ReadLine() {
  return ReadUntilAny(UntilMode::kLine, "\n", {});
}

Task<absl::StatusOr<std::string>> StreamReader::ReadUntil(absl::string_view separator) {
  return ReadUntilAny(UntilMode::kOne, separator, {});
}

Task<absl::StatusOr<std::string>> StreamReader::ReadUntil(
    absl::Span<const absl::string_view> separators) {
  return ReadUntilAny(UntilMode::kAny, {}, separators);
}

// CPython's readuntil, step for step: look for every separator from
// `offset` on, the bytes before which are known to hold none; take the one
// that ends first. Without one, the next search starts where the longest
// separator could begin, and once that is past the limit the separator is
// "not found" (LimitOverrunError, consumed = offset). Only then is end of
// stream looked at, since the last bytes may have completed a separator.
// A separator found but starting past the limit is an overrun too
// (consumed = its start). ReadLine is readuntil("\n") with its errors
// turned: end of stream yields what is left, and an overrun drops the
// line (through its "\n" if that is buffered, else everything) and is a
// ValueError.
Task<absl::StatusOr<std::string>> StreamReader::ReadUntilAny(
    UntilMode mode, absl::string_view one, absl::Span<const absl::string_view> any) {
  internal::StreamConnection& c = *connection_;
  // `one` lives in this frame; `any` in the caller's.
  const absl::Span<const absl::string_view> separators =
      mode == UntilMode::kAny ? any : absl::MakeConstSpan(&one, 1);
  if (separators.empty()) {
    co_return absl::InvalidArgumentError("Separator should contain at least one element");
  }
  size_t min_length = separators[0].size();
  size_t max_length = separators[0].size();
  for (absl::string_view separator : separators) {
    min_length = std::min(min_length, separator.size());
    max_length = std::max(max_length, separator.size());
  }
  if (min_length == 0) {
    co_return absl::InvalidArgumentError("Separator should be at least one-byte string");
  }
  if (!c.exception.ok()) co_return c.exception;

  size_t offset = 0;
  size_t match_start = 0;
  size_t match_end = absl::string_view::npos;
  for (;;) {
    const absl::string_view data = c.buffered_view();
    if (data.size() - offset >= min_length) {
      size_t match_length = 0;
      for (absl::string_view separator : separators) {
        const size_t found = data.find(separator, offset);
        if (found == absl::string_view::npos) continue;
        const size_t end = found + separator.size();
        if (end < match_end || (end == match_end && separator.size() < match_length)) {
          match_start = found;
          match_end = end;
          match_length = separator.size();
        }
      }
      if (match_end != absl::string_view::npos) break;
      offset = data.size() + 1 > max_length ? data.size() + 1 - max_length : 0;
      if (offset > c.limit) {
        co_return Overrun(mode, "Separator is not found, and chunk exceed the limit", offset);
      }
    }
    if (c.eof) {
      std::string partial = c.Take(c.buffered());
      if (mode == UntilMode::kLine) co_return partial;
      co_return IncompleteReadError(partial, std::nullopt);
    }
    absl::Status waited = co_await c.WaitForData();
    if (!waited.ok()) co_return waited;
  }
  if (match_start > c.limit) {
    co_return Overrun(mode, "Separator is found, but chunk is longer than limit", match_start);
  }
  co_return c.Take(match_end);
}

absl::Status StreamReader::Overrun(UntilMode mode, absl::string_view message, size_t consumed) {
  internal::StreamConnection& c = *connection_;
  if (mode != UntilMode::kLine) return LimitOverrunError(message, consumed, c.limit);
  if (absl::StartsWith(c.buffered_view().substr(std::min(consumed, c.buffered())), "\n")) {
    c.Consume(consumed + 1);
  } else {
    c.Consume(c.buffered());
  }
  return absl::InvalidArgumentError(
      absl::StrCat(message, " (limit ", c.limit, ") [ValueError]"));
}

bool StreamReader::AtEof() const { return connection_->eof && connection_->buffered() == 0; }

void StreamReader::FeedData(absl::string_view data) {
  internal::StreamConnection& c = *connection_;
  if (!c.fed) throw std::logic_error("FeedData on the reader of a connection");
  if (c.eof) throw std::logic_error("FeedData after FeedEof");
  if (data.empty()) return;
  c.Reserve(data.size());
  std::memcpy(c.read_buffer.data() + c.read_end, data.data(), data.size());
  c.read_end += data.size();
  c.feed_waiters.PopAndWakeAll();
}

void StreamReader::FeedEof() {
  internal::StreamConnection& c = *connection_;
  if (!c.fed) throw std::logic_error("FeedEof on the reader of a connection");
  c.eof = true;
  c.feed_waiters.PopAndWakeAll();
}

void StreamReader::SetException(absl::Status error) {
  if (error.ok()) throw std::invalid_argument("SetException needs an error status");
  connection_->exception = std::move(error);
  connection_->feed_waiters.PopAndWakeAll();
}

const absl::Status& StreamReader::exception() const { return connection_->exception; }

size_t StreamReader::limit() const { return connection_->limit; }

absl::string_view StreamReader::PeekBuffer() const { return connection_->buffered_view(); }

// ----- StreamWriter -----

void StreamWriter::Write(absl::string_view data) {
  internal::StreamConnection& c = *connection_;
  if (data.empty() || !c.write_error.ok()) return;
  if (c.send_in_flight) {
    c.pending.append(data.data(), data.size());
    return;
  }
  c.sending.append(data.data(), data.size());
  // Outside a running loop the bytes wait for the next Drain or Close.
  if (EventLoop::Current() != nullptr) c.StartSend();
}

StreamWriter::DrainOp StreamWriter::Drain() {
  internal::StreamConnection& c = *connection_;
  return DrainOp(&c, c.write_high_water, c.write_low_water);
}

absl::Status StreamWriter::SetWriteBufferLimits(size_t high, size_t low) {
  if (low > high) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SetWriteBufferLimits: the low-water mark (", low, ") exceeds the high-water mark (",
        high, ")"));
  }
  connection_->write_high_water = high;
  connection_->write_low_water = low;
  return absl::OkStatus();
}

StreamWriter::DrainOp::~DrainOp() {
  if (waiting_) Unlink();  // a frame destroyed while it waits
}

bool StreamWriter::DrainOp::await_ready() {
  internal::StreamConnection& c = *connection_;
  // Bytes written outside a running loop start now.
  if (!c.send_in_flight && !c.sending.empty() && c.write_error.ok()) c.StartSend();
  return !c.write_error.ok() || c.unsent() <= wait_above_;
}

bool StreamWriter::DrainOp::Suspend(std::coroutine_handle<> awaiting,
                                    internal::PromiseBase* task) {
  task_ = task;
  if (!task->BeginWait(this)) return false;  // a pending cancellation
  awaiting_ = awaiting;
  waiting_ = true;
  next_waiter_ = connection_->drain_waiters;
  connection_->drain_waiters = this;
  return true;
}

bool StreamWriter::DrainOp::Satisfied() const {
  return !connection_->write_error.ok() || connection_->unsent() <= wake_at_;
}

void StreamWriter::DrainOp::Wake() {
  waiting_ = false;
  task_->EndWait();
  task_->loop()->Schedule(awaiting_, task_);
}

void StreamWriter::DrainOp::Unlink() {
  DrainOp** link = &connection_->drain_waiters;
  while (*link != this) link = &(*link)->next_waiter_;
  *link = next_waiter_;
  waiting_ = false;
}

bool StreamWriter::DrainOp::Cancel() {
  // Only the wait ends; the bytes keep going out.
  Unlink();
  cancelled_ = true;
  Wake();
  return true;
}

absl::Status StreamWriter::DrainOp::await_resume() {
  if (task_ != nullptr) task_->ThrowIfCancelled(cancelled_);
  return connection_->write_error;
}

Task<absl::Status> StreamWriter::WriteEof() {
  absl::Status sent = co_await DrainOp(connection_.get(), 0, 0);
  if (!sent.ok()) co_return sent;
  co_return connection_->socket.ShutdownWrite();
}

Task<absl::Status> StreamWriter::Close() {
  internal::StreamConnection& c = *connection_;
  // From here on the last send closes the socket, even if the Task is
  // never awaited or its task is cancelled.
  c.closing = true;
  c.close_waiters.PopAndWakeAll();
  if (!c.send_in_flight) {
    if (c.sending.empty() || !c.write_error.ok()) {
      c.CloseSocket();
    } else if (EventLoop::Current() != nullptr) {
      c.StartSend();  // bytes written outside a running loop
    }
  }
  return WaitClosed();
}

Task<absl::Status> StreamWriter::WaitClosed() {
  internal::StreamConnection& c = *connection_;
  while (!c.closing) co_await c.close_waiters.Wait();
  absl::Status sent = co_await DrainOp(&c, 0, 0);
  c.CloseSocket();
  co_return sent;
}

bool StreamWriter::IsClosing() const { return connection_->closing; }

size_t StreamWriter::buffered() const { return connection_->unsent(); }

std::optional<SocketAddress> StreamWriter::GetExtraInfo(absl::string_view name) const {
  internal::StreamConnection& c = *connection_;
  const bool peer = name == "peername";
  if (!peer && name != "sockname") return std::nullopt;
  std::optional<SocketAddress>& cached = peer ? c.peername : c.sockname;
  if (!cached.has_value()) {
    absl::StatusOr<SocketAddress> address =
        peer ? c.socket.PeerAddress() : c.socket.LocalAddress();
    if (address.ok()) cached = *std::move(address);
  }
  return cached;
}

// ----- Stream, OpenConnection -----

Stream::Stream(TcpSocket socket, size_t limit)
    : reader(internal::StreamConnection::Make(std::move(socket), limit, /*fed=*/false, nullptr)),
      writer(reader.connection_) {}

Task<absl::StatusOr<Stream>> OpenConnection(std::string host, uint16_t port,
                                            absl::Duration timeout, size_t limit) {
  if (limit == 0) co_return absl::InvalidArgumentError("Limit cannot be <= 0");
  absl::StatusOr<TcpSocket> socket = co_await Connect(std::move(host), port, timeout);
  if (!socket.ok()) co_return socket.status();
  co_return Stream(*std::move(socket), limit);
}

Task<absl::StatusOr<Stream>> OpenUnixConnection(std::string path, absl::Duration timeout,
                                                size_t limit) {
  if (limit == 0) co_return absl::InvalidArgumentError("Limit cannot be <= 0");
  absl::StatusOr<TcpSocket> socket = co_await ConnectUnix(std::move(path), timeout);
  if (!socket.ok()) co_return socket.status();
  co_return Stream(*std::move(socket), limit);
}

// ----- Server -----

namespace {

// What `error` says, for a status message.
std::string ExceptionText(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

}  // namespace

Task<void> Server::AcceptLoop(std::shared_ptr<State> state) {
  // One multishot accept for all connections. It must not be destroyed
  // while the kernel may still complete it, so the loop ends only after the
  // listener is closed, on an error, which is always the accept's last
  // completion; for the same reason it is never armed during the Sleep
  // below, and nothing throws out of the loop body.
  internal::MultishotAccept acceptor(state->listener);
  for (;;) {
    absl::StatusOr<TcpSocket> socket = co_await acceptor.Next();
    if (!state->listener.is_open()) {
      // Closed (the listener's shutdown ends the accept with an error). A
      // connection the kernel accepted just before is dropped, not served.
      if (socket.ok()) continue;
      break;
    }
    if (!socket.ok()) {
      ++state->stats.accept_errors;
      state->stats.last_accept_error = socket.status();
      const int error = ErrnoOf(socket.status()).value_or(0);
      if (error == ECONNABORTED || error == EINTR) continue;  // the peer gave up first
      // Out of descriptors or memory (the connection waits in the kernel's
      // backlog meanwhile), or an error nobody expects: try again shortly.
      co_await Sleep(absl::Milliseconds(100));
      continue;
    }
    ++state->stats.accepted;
    // Nothing may throw out of this loop while the accept is armed: a
    // handler that throws before returning its Task costs its connection.
    try {
      auto connection = internal::StreamConnection::Make(*std::move(socket), state->limit,
                                                         /*fed=*/false, state);
      StreamReader reader(connection);
      StreamWriter writer(std::move(connection));
      Task<void> handled =
          CreateTask(state->handler(std::move(reader), std::move(writer)), "connection");
      // A handler that fails is counted, as asyncio reports "Unhandled
      // exception in client_connected_cb"; its connection closes with its
      // frame. A cancelled one is not a failure.
      handled.AddDoneCallback([state](TaskRef task) {
        if (task.cancelled() || task.Exception() == nullptr) return;
        ++state->stats.handler_errors;
        state->stats.last_handler_error = absl::InternalError(absl::StrCat(
            "Unhandled exception in client_connected_cb: ", ExceptionText(task.Exception())));
      });
    } catch (...) {
      ++state->stats.handler_errors;
      state->stats.last_handler_error =
          absl::InternalError(absl::StrCat("connection handler threw: ", ExceptionText(std::current_exception())));
    }
  }
}

absl::StatusOr<Server> StartServer(ConnectionHandler handler, const std::string& host,
                                   uint16_t port, int backlog, size_t limit) {
  if (limit == 0) return absl::InvalidArgumentError("Limit cannot be <= 0");
  absl::StatusOr<TcpListener> listener = TcpListener::Listen(host, port, backlog);
  if (!listener.ok()) return listener.status();
  return StartServer(std::move(handler), *std::move(listener), limit);
}

absl::StatusOr<Server> StartServer(ConnectionHandler handler, TcpListener listener,
                                   size_t limit) {
  if (EventLoop::Current() == nullptr) {
    return absl::FailedPreconditionError("StartServer needs a running event loop");
  }
  if (limit == 0) return absl::InvalidArgumentError("Limit cannot be <= 0");
  if (!listener.is_open()) return absl::InvalidArgumentError("StartServer: closed listener");
  auto state = std::make_shared<Server::State>(std::move(listener), std::move(handler), limit);
  // The accept task shares the state; the Server owns the task (the state
  // must not, or neither would ever be freed).
  Task<void> accept_task = CreateTask(Server::AcceptLoop(state), "accept");
  return Server(std::move(state), std::move(accept_task));
}

absl::StatusOr<Server> StartUnixServer(ConnectionHandler handler, const std::string& path,
                                       int backlog, size_t limit, bool cleanup_socket) {
  // Checked before the socket file is made, which a failure would leave.
  if (EventLoop::Current() == nullptr) {
    return absl::FailedPreconditionError("StartUnixServer needs a running event loop");
  }
  if (limit == 0) return absl::InvalidArgumentError("Limit cannot be <= 0");
  absl::StatusOr<TcpListener> listener = TcpListener::ListenUnix(path, backlog);
  if (!listener.ok()) return listener.status();
  return StartUnixServer(std::move(handler), *std::move(listener), limit, cleanup_socket);
}

absl::StatusOr<Server> StartUnixServer(ConnectionHandler handler, TcpListener listener,
                                       size_t limit, bool cleanup_socket) {
  const absl::StatusOr<SocketAddress> bound = listener.LocalAddress();
  if (!bound.ok()) return absl::InvalidArgumentError("StartUnixServer: closed listener");
  if (!bound->is_unix()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "A UNIX Domain Stream Socket was expected, got one bound to ", bound->ToString()));
  }
  std::optional<Server::State::SocketFile> socket_file;
  // An abstract name or an unnamed socket has no file.
  struct stat file;
  if (cleanup_socket && !bound->path.empty() && bound->path[0] != '\0' &&
      stat(bound->path.c_str(), &file) == 0) {
    socket_file = Server::State::SocketFile{bound->path, file.st_dev, file.st_ino};
  }
  absl::StatusOr<Server> server = StartServer(std::move(handler), std::move(listener), limit);
  if (server.ok()) server->state_->socket_file = std::move(socket_file);
  return server;
}

uint16_t Server::port() const { return state_->listener.port(); }

std::vector<SocketAddress> Server::sockets() const {
  std::vector<SocketAddress> addresses;
  if (state_ == nullptr) return addresses;
  absl::StatusOr<SocketAddress> address = state_->listener.LocalAddress();
  if (address.ok()) addresses.push_back(*std::move(address));
  return addresses;
}

bool Server::IsServing() const { return state_ != nullptr && !state_->Closed(); }

const ServerStats& Server::stats() const { return state_->stats; }

void Server::Close() {
  if (state_ == nullptr) return;  // moved from
  // Without a running loop (the loop is being destroyed) the accept task
  // goes with it and must not be touched.
  if (EventLoop::Current() != nullptr) accept_task_.Cancel();
  state_->listener.Close();
  state_->RemoveSocketFile();
  state_->WakeIfClosed();
}

Task<void> Server::WaitClosed() {
  // The state, not the Server, which may be destroyed meanwhile.
  std::shared_ptr<State> state = state_;
  while (!state->Closed() || state->connections > 0) co_await state->closed_waiters.Wait();
}

Task<void> Server::ServeForever() {
  std::shared_ptr<State> state = state_;
  if (state->Closed()) throw std::logic_error("ServeForever: the server is closed");
  if (state->serving_forever) {
    throw std::logic_error("ServeForever: the server is already being awaited");
  }
  state->serving_forever = true;
  std::exception_ptr cancellation;
  try {
    co_await accept_task_;
  } catch (const CancelledError&) {
    // Either Close() cancelled the accept task (serving is over), or the
    // task waiting here was cancelled, which closes the server too, and is
    // rethrown once its connections are closed.
    if (EventLoop::Current()->current_task()->task()->cancel_requests() > 0) {
      cancellation = std::current_exception();
    }
  }
  Close();
  try {
    co_await WaitClosed();
  } catch (const CancelledError&) {
    state->serving_forever = false;
    throw;
  }
  state->serving_forever = false;
  if (cancellation) std::rethrow_exception(cancellation);
}

}  // namespace asyncio_like
