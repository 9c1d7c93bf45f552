// The echo server: every byte a client sends comes back, on asyncio-style
// streams. It serves the example binary (examples/echo_server.cc), the echo
// tests and the echo benchmark.
//
//   Task<void> Main() {
//     absl::StatusOr<Server> server = StartServer(EchoConnection, "127.0.0.1", 8888);
//     if (server.ok()) co_await server->ServeForever();
//   }
#ifndef ASYNCIO_LIKE_ECHO_SERVER_H_
#define ASYNCIO_LIKE_ECHO_SERVER_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

// What the echo benchmark (bench/echo_benchmark.cc) needs from a server; the
// baseline servers it compares with (bench/echo_baselines.h) are others.
class EchoServerUnderTest {
 public:
  virtual ~EchoServerUnderTest() = default;
  // The port it listens on (127.0.0.1).
  virtual uint16_t port() const = 0;
  // Serves on the calling thread until Stop(); then closes every connection.
  virtual absl::Status Serve() = 0;
  // Makes Serve() return soon. Callable from any thread, once.
  virtual void Stop() = 0;
  // System calls that entered the kernel while serving (io_uring_enter,
  // epoll_wait, read, write, accept). Read it after Serve() has returned.
  virtual uint64_t kernel_enters() const = 0;
};

// The most EchoConnection echoes per read: one ring buffer's worth.
inline constexpr size_t kEchoReadSize = 16 * 1024;

// Echoes one connection until end of stream or an error, then closes it.
// It holds no buffer while it waits (StreamReader::ReadSome).
Task<void> EchoConnection(StreamReader reader, StreamWriter writer);

// The coroutine echo server packaged for the echo benchmark and tests: an
// EventLoop created and run on the thread that calls Serve(). Its
// kernel_enters() are the loop's own counter (LoopStats::kernel_enters).
class CoroutineEchoServer {
 public:
  // Listens on 127.0.0.1 (ephemeral port). Fails with Unavailable if
  // io_uring cannot be used here.
  static absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> Create();
  // The same, on a loop made with `options` (LoopOptions::faults, say).
  static absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> Create(LoopOptions options);
  // The same, serving each connection with `handler` in place of
  // EchoConnection (the benchmark's variant with a timeout on every read).
  static absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> Create(LoopOptions options,
                                                                     ConnectionHandler handler);
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_ECHO_SERVER_H_
