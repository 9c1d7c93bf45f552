// The two baseline echo servers the echo benchmark compares the coroutine
// server with, written the way one would write them by hand:
//
// - `EpollEchoServer`: the classic readiness loop. Non-blocking sockets,
//   level-triggered `epoll_wait`, then `read` and `write` per ready socket.
//   Every read and write is a system call of its own.
// - `RawUringEchoServer`: a completion loop on io_uring with no coroutines
//   and no abstraction: one multishot accept, then per connection a `recv`
//   into the connection's own buffer, a `send` of what arrived, and the next
//   `recv`. All submissions of one pass go to the kernel in the same
//   `io_uring_submit_and_wait` that waits for the next completions.
//
// Both listen on 127.0.0.1 on an ephemeral port, serve on the thread that
// calls `Serve()` until another thread calls `Stop()`, and count the times
// they entered the kernel. Each connection owns its buffer: no buffer is ever
// shared between connections (sharing them is how echo servers corrupt data).
//
//   absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> server =
//       RawUringEchoServer::Create();
//   std::thread thread([&] { (*server)->Serve().IgnoreError(); });
//   ... RunEchoLoad((*server)->port(), options) ...
//   (*server)->Stop();
//   thread.join();
#ifndef ASYNCIO_LIKE_BENCH_ECHO_BASELINES_H_
#define ASYNCIO_LIKE_BENCH_ECHO_BASELINES_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/echo_server.h"

namespace asyncio_like {

class EpollEchoServer {
 public:
  static absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> Create();
};

class RawUringEchoServer {
 public:
  static absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> Create();
};

// A listening TCP socket on 127.0.0.1 with an ephemeral port, TCP_NODELAY
// (inherited by accepted sockets) and the largest backlog the kernel allows.
// Returns the descriptor and stores the port.
absl::StatusOr<int> ListenOnLoopback(uint16_t& port, bool non_blocking);

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_BENCH_ECHO_BASELINES_H_
