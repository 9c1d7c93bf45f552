// A closed-loop load generator for TCP echo servers, used by the echo
// benchmark and the echo tests.
//
// It opens `connections` TCP connections to 127.0.0.1:port and keeps exactly
// one request outstanding on each: send a message, wait until the whole echo
// has come back, check it, send the next one. The throughput a server reaches
// under this load is therefore bounded by its latency, as for real clients
// that wait for each answer (a "closed loop"), instead of by how fast the
// generator can push bytes into socket buffers.
//
// Every message is different (its bytes are derived from the connection and
// the message number), and every echoed byte is compared with what was sent,
// so a server that mixes up buffers between connections or returns stale data
// is caught and counted in `corrupted_bytes`.
//
// The generator is a plain epoll loop on the calling thread: non-blocking
// sockets, `epoll_wait`, `read`, `write`. Latencies (from just before `write`
// to the moment the last byte of the echo is read) go into a log-linear
// histogram with about 3% resolution.
//
//   EchoLoadOptions options;
//   options.connections = 100;
//   absl::StatusOr<EchoLoadReport> report = RunEchoLoad(port, options);
//   if (report.ok()) {
//     std::cout << report->RequestsPerSecond() << " req/s, p99 "
//               << report->latency.Percentile(0.99) << "\n";
//   }
#ifndef ASYNCIO_LIKE_BENCH_ECHO_LOAD_GENERATOR_H_
#define ASYNCIO_LIKE_BENCH_ECHO_LOAD_GENERATOR_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace asyncio_like {

// Counts durations in buckets whose width is 1/32 of their lower bound (and
// 1 ns below 64 ns), so percentiles are accurate to about 3% at any scale.
class LatencyHistogram {
 public:
  void Record(absl::Duration latency);
  uint64_t count() const { return count_; }
  // The smallest recorded duration d such that a fraction `quantile` of the
  // samples is <= d (to the histogram's resolution). Zero when empty.
  absl::Duration Percentile(double quantile) const;

 private:
  static constexpr int kSubBucketBits = 5;
  static constexpr int kBuckets = 64 << kSubBucketBits;
  static int BucketOf(uint64_t nanos);
  static uint64_t UpperBoundOf(int bucket);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
};

struct EchoLoadOptions {
  int connections = 1;
  size_t message_size = 64;
  // Requests in the warm-up are checked but not counted in the report.
  absl::Duration warmup = absl::Milliseconds(200);
  absl::Duration measurement = absl::Seconds(1);
  // The run goes on past the window until every connection has completed
  // this many echoes, so that a test on a loaded machine checks every
  // connection instead of however many fit in the window.
  uint64_t min_echoes_per_connection = 0;
  // Called on the generator's thread exactly when the measurement window
  // opens and closes, so a caller can sample the server's CPU time and
  // counters over the same window.
  std::function<void()> on_measurement_start;
  std::function<void()> on_measurement_end;
};

struct EchoLoadReport {
  uint64_t requests = 0;         // echoes completed inside the window
  absl::Duration window;         // measured length of the window
  uint64_t checked_bytes = 0;    // echoed bytes compared, warm-up included
  uint64_t corrupted_bytes = 0;  // of those, bytes that differed from the sent ones
  // Echoes completed by the connection that completed the fewest, warm-up
  // included: 0 if any connection never got an echo back.
  uint64_t fewest_echoes = 0;
  LatencyHistogram latency;      // of the requests inside the window

  double RequestsPerSecond() const;
};

// Runs the load against 127.0.0.1:port. Fails with a clear status when a
// connection cannot be made, the server closes or resets a connection, or no
// echo arrives for 10 seconds; corrupted bytes are counted, not treated as
// failures, so that a report can show them.
absl::StatusOr<EchoLoadReport> RunEchoLoad(uint16_t port,
                                           const EchoLoadOptions& options);

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_BENCH_ECHO_LOAD_GENERATOR_H_
