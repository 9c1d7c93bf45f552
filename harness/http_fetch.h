// The http_fetch workload's two ends that every model shares: the local
// HTTP/1.1 server the fetches go to, and what a fetch sends and checks.
//
// The server runs in a process of its own (compare starts it as
// `compare --child_http_server --http_delay_ms=50`), so that it never
// competes with a model's threads inside one process. It listens on
// 127.0.0.1, prints {"port": N}, and answers every `GET` with a 200 and a
// body of kHttpBodyBytes bytes `delay` after the request arrived (a remote
// site's latency), then closes the connection, as an HTTP/1.1 server does
// for `Connection: close`. One epoll thread serves any number of
// connections; it runs until it is killed, or its parent dies.
//
//   ServeHttp(absl::Milliseconds(50), [](int port) { announce(port); });
//
// A fetch (each model writes its own, in its own idiom):
//
//   send kHttpRequest; read until end of stream;
//   absl::Status ok = CheckHttpResponse(received);   // 200 and the whole body

#ifndef HARNESS_HTTP_FETCH_H_
#define HARNESS_HTTP_FETCH_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "harness/model.h"

namespace harness {

// What requests.get sends, minus the headers the server ignores.
inline constexpr absl::string_view kHttpRequest =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

// Serves until killed; returns only on a setup error (socket, bind, epoll).
absl::Status ServeHttp(absl::Duration delay,
                       const std::function<void(int port)>& on_listening);

// OK if `response` is a complete "HTTP/1.1 200" response whose body has the
// Content-Length it announces, kHttpBodyBytes; DataLoss saying what is wrong
// otherwise.
absl::Status CheckHttpResponse(absl::string_view response);

// The outcome of a run's fetches: OK if all succeeded, otherwise DataLoss
// "K of N fetches failed; first: ...", so that a figure is never the
// throughput of failures.
absl::Status AllFetched(const std::vector<absl::Status>& outcomes);

// The http_fetch figures of `n` fetches.
struct FetchCost {
  int64_t n = 0;
  int64_t peak_in_flight = 0;  // most fetches under way at once
  absl::Duration wall;
  int64_t rss_growth = 0;  // peak RSS growth over the run
  int threads = 0;         // OS threads with the fetches under way
  absl::Duration cpu;      // process CPU time over the run
};
Metrics FetchFigures(const FetchCost& cost);

}  // namespace harness

#endif  // HARNESS_HTTP_FETCH_H_
