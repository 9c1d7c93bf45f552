#include "asyncio_like/echo_server.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "asyncio_like/event_loop.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/uring.h"

namespace asyncio_like {

Task<void> EchoConnection(StreamReader reader, StreamWriter writer) {
  // No buffer of its own: a connection waiting for its client holds no
  // receive memory (ReadSome reads through the loop's buffer ring).
  for (;;) {
    absl::StatusOr<absl::string_view> data = co_await reader.ReadSome(kEchoReadSize);
    if (!data.ok() || data->empty()) break;
    writer.Write(*data);
    if (!(co_await writer.Drain()).ok()) break;
  }
  (void)co_await writer.Close();
}

namespace {

class LoopEchoServer final : public EchoServerUnderTest {
 public:
  LoopEchoServer(TcpListener listener, int stop_fd, LoopOptions options, ConnectionHandler handler)
      : listener_(std::move(listener)),
        port_(listener_.port()),
        stop_fd_(stop_fd),
        options_(std::move(options)),
        handler_(std::move(handler)) {}
  ~LoopEchoServer() override { close(stop_fd_); }

  uint16_t port() const override { return port_; }
  uint64_t kernel_enters() const override { return kernel_enters_; }
  void Stop() override {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
  }

  absl::Status Serve() override {
    absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create(options_);
    if (!loop.ok()) return loop.status();
    absl::StatusOr<absl::Status> ran = (*loop)->RunUntilComplete(Main());
    absl::Status status = ran.ok() ? *ran : ran.status();
    // Connection handlers still running are cancelled, as asyncio.run does.
    if (absl::Status drained = (*loop)->CancelAllAndDrain(); status.ok()) status = drained;
    kernel_enters_ = (*loop)->stats().kernel_enters;
    return status;
  }

 private:
  Task<absl::Status> Main() {
    absl::StatusOr<Server> server = StartServer(handler_, std::move(listener_));
    if (!server.ok()) co_return server.status();
    uint64_t value = 0;
    const int stop_fd = stop_fd_;
    const int result = co_await KernelOp(
        [&](io_uring_sqe* sqe) { io_uring_prep_read(sqe, stop_fd, &value, sizeof value, 0); });
    if (result < 0) co_return OsError(-result, "read of the stop eventfd");
    server->Close();
    co_return absl::OkStatus();
  }

  TcpListener listener_;
  const uint16_t port_;
  const int stop_fd_;
  const LoopOptions options_;
  const ConnectionHandler handler_;
  uint64_t kernel_enters_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> CoroutineEchoServer::Create() {
  return Create(LoopOptions{});
}

absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> CoroutineEchoServer::Create(
    LoopOptions options) {
  return Create(std::move(options), EchoConnection);
}

absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> CoroutineEchoServer::Create(
    LoopOptions options, ConnectionHandler handler) {
  // Fail here, not in Serve(), if io_uring is unavailable.
  if (absl::StatusOr<std::unique_ptr<EventLoop>> probe = EventLoop::Create(); !probe.ok()) {
    return probe.status();
  }
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0);
  if (!listener.ok()) return listener.status();
  const int stop_fd = eventfd(0, EFD_CLOEXEC);
  if (stop_fd < 0) return OsError(errno, "eventfd");
  return std::make_unique<LoopEchoServer>(*std::move(listener), stop_fd, std::move(options),
                                          std::move(handler));
}

}  // namespace asyncio_like
