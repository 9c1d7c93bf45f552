// The load generator of the tcp_echo workload, the same for every model.
//
// One thread drives `connections` non-blocking client sockets with epoll in a
// closed loop: each connection sends a message, waits until the whole echo is
// back, checks every byte, records the round trip, and sends the next, until
// `requests` round trips are done across all connections. Messages carry the
// connection and sequence number, so an echo that comes back on the wrong
// connection or out of order is caught as corruption.
//
//   absl::StatusOr<EchoLoad> load = DriveEcho(port, {.connections = 100,
//                                                    .requests = 10000});
//   load->requests_per_s; load->p99_us;

#ifndef HARNESS_ECHO_LOAD_H_
#define HARNESS_ECHO_LOAD_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace harness {

struct EchoLoadOptions {
  int connections = 1;
  int64_t requests = 1000;
  int message_bytes = 64;
  absl::Duration timeout = absl::Seconds(60);
  // Called once, as soon as every connection has had its first echo: all
  // are open and the server has a handler for each (many_connections reads
  // the server's memory and threads then).
  std::function<void()> on_all_answered = nullptr;
};

struct EchoLoad {
  double requests_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  int64_t bytes_checked = 0;
  // The generator's own CPU time per round trip (it must not be the
  // bottleneck).
  double cpu_us_per_request = 0;
};

// Connects to 127.0.0.1:port and runs the load. Any corrupted byte, early
// close or timeout is an error.
absl::StatusOr<EchoLoad> DriveEcho(int port, const EchoLoadOptions& options);

}  // namespace harness

#endif  // HARNESS_ECHO_LOAD_H_
