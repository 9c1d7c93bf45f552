#include "asyncio_like/stream.h"

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

// The state a reader and a writer share. The fields every Read(span) and
// Drain look at come first, next to each other.
struct StreamConnection {
  explicit StreamConnection(TcpSocket s) : socket(std::move(s)) {}

  TcpSocket socket;
  bool eof = false;
  bool draining = false;
  bool closing = false;
  // Received bytes not yet consumed: read_buffer[read_begin, read_end).
  size_t read_begin = 0;
  size_t read_end = 0;
  absl::Status write_error;
  // Written bytes not yet sent. A Drain sends straight from here; Writes
  // that arrive while it is in flight go to written_while_draining, which
  // is appended when the drain ends.
  std::string write_buffer;
  std::string written_while_draining;
  std::vector<char> read_buffer;

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
    absl::StatusOr<size_t> n = co_await socket.Receive(
        absl::MakeSpan(read_buffer.data() + read_end, read_buffer.size() - read_end));
    if (!n.ok()) co_return n.status();
    if (*n == 0) {
      eof = true;
      co_return false;
    }
    read_end += *n;
    co_return true;
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
    if (found != absl::string_view::npos) co_return c.Take(found + separator.size());
    if (data.size() >= separator.size()) searched = data.size() - separator.size() + 1;
    if (data.size() > kDefaultLimit) {
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
  (c.draining ? c.written_while_draining : c.write_buffer).append(data.data(), data.size());
}

StreamWriter::DrainOp StreamWriter::Drain() { return DrainOp(connection_.get()); }

bool StreamWriter::DrainOp::await_ready() {
  internal::StreamConnection& c = *connection_;
  if (!c.write_error.ok()) {
    result_ = c.write_error;
    return true;
  }
  if (c.draining) {
    result_ = absl::FailedPreconditionError("Drain: another task is draining this writer");
    return true;
  }
  if (c.write_buffer.empty()) return true;
  if (!c.socket.is_open()) {
    result_ = OsError(EPIPE, "send on a closed stream");
    return true;
  }
  // Writes that arrive while this send is in flight wait for the next Drain.
  c.draining = true;
  send_.emplace(c.socket,
                absl::MakeConstSpan(c.write_buffer.data(), c.write_buffer.size()));
  return false;
}

absl::Status StreamWriter::DrainOp::await_resume() {
  if (!send_.has_value()) return std::move(result_);
  internal::StreamConnection& c = *connection_;
  absl::Status sent;
  try {
    sent = send_->await_resume();
  } catch (const CancelledError&) {
    // The unsent rest stays buffered, ahead of what was written meanwhile.
    c.write_buffer.erase(0, c.write_buffer.size() - send_->unsent().size());
    EndDrain(c);
    throw;
  }
  c.write_buffer.clear();  // keeps its allocation for the next Writes
  if (!sent.ok()) c.write_error = sent;
  EndDrain(c);
  return sent;
}

void StreamWriter::DrainOp::EndDrain(internal::StreamConnection& c) {
  c.draining = false;
  if (c.written_while_draining.empty()) return;
  if (c.write_buffer.empty()) {
    c.write_buffer.swap(c.written_while_draining);
  } else {
    c.write_buffer.append(c.written_while_draining);
  }
  c.written_while_draining.clear();
}

Task<absl::Status> StreamWriter::WriteEof() {
  absl::Status drained = co_await Drain();
  if (!drained.ok()) co_return drained;
  co_return connection_->socket.ShutdownWrite();
}

Task<absl::Status> StreamWriter::Close() {
  internal::StreamConnection& c = *connection_;
  if (c.closing) co_return absl::OkStatus();
  c.closing = true;
  absl::Status drained = absl::OkStatus();
  if (c.socket.is_open() && buffered() > 0) drained = co_await Drain();
  c.socket.Close();
  co_return drained;
}

bool StreamWriter::IsClosing() const { return connection_->closing; }

size_t StreamWriter::buffered() const {
  const internal::StreamConnection& c = *connection_;
  // During a drain, the bytes in flight are being sent.
  return c.draining ? c.written_while_draining.size() : c.write_buffer.size();
}

// ----- Stream, OpenConnection -----

Stream::Stream(TcpSocket socket)
    : reader(std::make_shared<internal::StreamConnection>(std::move(socket))),
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
