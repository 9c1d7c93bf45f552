#include "asyncio_like/stream.h"

#include <liburing.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/tcp_errors.h"

namespace asyncio_like {
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
struct StreamConnection final : private Completion {
  // The reader and writer share it through this, with Release as deleter.
  static std::shared_ptr<StreamConnection> Make(TcpSocket socket) {
    return std::shared_ptr<StreamConnection>(new StreamConnection(std::move(socket)), &Release);
  }

  TcpSocket socket;
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
    if (result < 0) {
      FailWrites(OsError(-result, "send"));
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
      socket.Close();
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

  // Receives once more into the buffer; returns false at end of stream.
  Task<absl::StatusOr<bool>> Fill() {
    constexpr size_t kChunk = 16 * 1024;
    if (read_begin > 0) {  // compact, so the free space is at the end
      std::memmove(read_buffer.data(), read_buffer.data() + read_begin, buffered());
      read_end -= read_begin;
      read_begin = 0;
    }
    if (read_buffer.size() - read_end < kChunk) read_buffer.resize(read_end + kChunk);
    TransferOp<ReceivePrep> receive = socket.Receive(
        absl::MakeSpan(read_buffer.data() + read_end, read_buffer.size() - read_end));
    // The reply is still on its way: the answer cannot be here yet.
    if (send_in_flight) receive.SubmitAfterNextEnter();
    absl::StatusOr<size_t> n = co_await receive;
    if (!n.ok()) co_return n.status();
    if (*n == 0) {
      eof = true;
      co_return false;
    }
    read_end += *n;
    co_return true;
  }

 private:
  explicit StreamConnection(TcpSocket s) : socket(std::move(s)) {}
  ~StreamConnection() {
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

namespace {

absl::Status IncompleteRead(size_t got, absl::string_view expected) {
  return absl::OutOfRangeError(absl::StrCat("end of stream after ", got, " bytes, expected ",
                                            expected, " [IncompleteReadError]"));
}

}  // namespace

// ----- StreamReader -----

StreamReader::ReadOp StreamReader::Read(absl::Span<char> buffer) {
  return ReadOp(connection_.get(), buffer);
}

bool StreamReader::ReadOp::await_ready() {
  internal::StreamConnection& c = *connection_;
  if (buffer_.empty()) return true;
  if (c.buffered() > 0) {
    copied_ = std::min(buffer_.size(), c.buffered());
    std::memcpy(buffer_.data(), c.read_buffer.data() + c.read_begin, copied_);
    c.Consume(copied_);
    return true;
  }
  if (c.eof) return true;
  receive_.emplace(internal::ReceivePrep{c.socket.fd(), buffer_.data(), buffer_.size()},
                   "recv");
  // The reply is still on its way: the answer cannot be here yet.
  if (c.send_in_flight) receive_->SubmitAfterNextEnter();
  return receive_->await_ready();  // true on a closed socket (EBADF)
}

absl::StatusOr<size_t> StreamReader::ReadOp::await_resume() {
  if (!receive_.has_value()) return copied_;
  absl::StatusOr<size_t> n = receive_->await_resume();  // throws CancelledError
  if (n.ok() && *n == 0) connection_->eof = true;
  return n;
}

Task<absl::StatusOr<std::string>> StreamReader::Read(size_t max_bytes) {
  internal::StreamConnection& c = *connection_;
  if (max_bytes == 0) co_return std::string();
  if (c.buffered() == 0 && !c.eof) {
    absl::StatusOr<bool> filled = co_await c.Fill();
    if (!filled.ok()) co_return filled.status();
  }
  co_return c.Take(std::min(max_bytes, c.buffered()));
}

Task<absl::StatusOr<std::string>> StreamReader::ReadExactly(size_t n) {
  internal::StreamConnection& c = *connection_;
  while (c.buffered() < n) {
    if (c.eof) {
      const size_t got = c.buffered();
      c.Consume(got);
      co_return IncompleteRead(got, absl::StrCat(n));
    }
    absl::StatusOr<bool> filled = co_await c.Fill();
    if (!filled.ok()) co_return filled.status();
  }
  co_return c.Take(n);
}

Task<absl::StatusOr<std::string>> StreamReader::ReadUntil(absl::string_view separator) {
  internal::StreamConnection& c = *connection_;
  if (separator.empty()) co_return absl::InvalidArgumentError("ReadUntil: empty separator");
  size_t searched = 0;  // bytes already known not to start a separator
  for (;;) {
    const absl::string_view data = c.buffered_view();
    const size_t found = data.find(separator, searched);
    // As asyncio: a separator starting past the limit is an overrun too,
    // however the bytes arrived.
    if (found != absl::string_view::npos && found <= kDefaultLimit) {
      co_return c.Take(found + separator.size());
    }
    if (data.size() >= separator.size()) searched = data.size() - separator.size() + 1;
    if (found != absl::string_view::npos || searched > kDefaultLimit) {
      co_return absl::ResourceExhaustedError(
          absl::StrCat("separator not found in the first ", kDefaultLimit,
                       " bytes [LimitOverrunError]"));
    }
    if (c.eof) {
      const size_t got = c.buffered();
      c.Consume(got);
      co_return IncompleteRead(got, "a separator");
    }
    absl::StatusOr<bool> filled = co_await c.Fill();
    if (!filled.ok()) co_return filled.status();
  }
}

bool StreamReader::AtEof() const { return connection_->eof && connection_->buffered() == 0; }

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
  // From here on the last send closes the socket, even if this wait is
  // cancelled.
  c.closing = true;
  absl::Status sent = co_await DrainOp(&c, 0, 0);
  c.socket.Close();
  co_return sent;
}

bool StreamWriter::IsClosing() const { return connection_->closing; }

size_t StreamWriter::buffered() const { return connection_->unsent(); }

// ----- Stream, OpenConnection -----

Stream::Stream(TcpSocket socket)
    : reader(internal::StreamConnection::Make(std::move(socket))),
      writer(reader.connection_) {}

Task<absl::StatusOr<Stream>> OpenConnection(std::string host, uint16_t port,
                                            absl::Duration timeout) {
  absl::StatusOr<TcpSocket> socket = co_await Connect(std::move(host), port, timeout);
  if (!socket.ok()) co_return socket.status();
  co_return Stream(*std::move(socket));
}

// ----- Server -----

struct Server::State {
  State(TcpListener l, ConnectionHandler h) : listener(std::move(l)), handler(std::move(h)) {}

  TcpListener listener;
  ConnectionHandler handler;
  ServerStats stats;
};

namespace {

// What the exception being handled says, for a status message.
std::string CurrentExceptionText() {
  try {
    throw;
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
      Stream stream(*std::move(socket));
      CreateTask(state->handler(std::move(stream.reader), std::move(stream.writer)),
                 "connection");
    } catch (...) {
      ++state->stats.handler_errors;
      state->stats.last_handler_error =
          absl::InternalError(absl::StrCat("connection handler threw: ", CurrentExceptionText()));
    }
  }
}

absl::StatusOr<Server> StartServer(ConnectionHandler handler, const std::string& host,
                                   uint16_t port, int backlog) {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen(host, port, backlog);
  if (!listener.ok()) return listener.status();
  return StartServer(std::move(handler), *std::move(listener));
}

absl::StatusOr<Server> StartServer(ConnectionHandler handler, TcpListener listener) {
  if (EventLoop::Current() == nullptr) {
    return absl::FailedPreconditionError("StartServer needs a running event loop");
  }
  if (!listener.is_open()) return absl::InvalidArgumentError("StartServer: closed listener");
  auto state = std::make_shared<Server::State>(std::move(listener), std::move(handler));
  // The accept task shares the state; the Server owns the task (the state
  // must not, or neither would ever be freed).
  Task<void> accept_task = CreateTask(Server::AcceptLoop(state), "accept");
  return Server(std::move(state), std::move(accept_task));
}

uint16_t Server::port() const { return state_->listener.port(); }

const ServerStats& Server::stats() const { return state_->stats; }

void Server::Close() {
  if (state_ == nullptr) return;  // moved from
  // Without a running loop (the loop is being destroyed) the accept task
  // goes with it and must not be touched.
  if (EventLoop::Current() != nullptr) accept_task_.Cancel();
  state_->listener.Close();
}

Task<void> Server::ServeForever() {
  std::shared_ptr<State> state = state_;
  try {
    co_await accept_task_;
  } catch (const CancelledError&) {
    // Either Close() cancelled the accept task (serving is over), or the
    // task waiting here was cancelled, which closes the server too.
    state->listener.Close();
    if (EventLoop::Current()->current_task()->task()->cancel_requests() > 0) throw;
  }
}

}  // namespace asyncio_like
