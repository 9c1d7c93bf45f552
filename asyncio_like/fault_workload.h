// Byte-checked workloads for running the package under injected faults
// (fault_injector.h): the fault tests and the soak binary drive them.
//
// Each workload checks every byte it gets back against what it sent (a
// pattern derived from a seed, so a wrong, missing, duplicated or reordered
// byte is a mismatch), and counts what happened. An operation may fail,
// but only with a clear error: an OsError status (tcp_errors.h) or
// OUT_OF_RANGE [IncompleteReadError] once the peer gave up; anything else,
// and any wrong byte, is recorded as a violation.
//
//   WorkloadCounts counts;
//   co_await CheckedEchoClient(server.port(), /*seed=*/7, {}, &counts);
//   EXPECT_EQ(counts.violations, 0) << counts.first_violation;
#ifndef ASYNCIO_LIKE_FAULT_WORKLOAD_H_
#define ASYNCIO_LIKE_FAULT_WORKLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

struct WorkloadCounts {
  uint64_t succeeded = 0;   // workloads that ran to the end
  uint64_t failed = 0;      // workloads ended by a clear error
  uint64_t bytes_checked = 0;
  uint64_t violations = 0;  // wrong bytes or unclear errors
  std::string first_violation;
  absl::Status last_error;  // of the failed ones

  void Fail(const absl::Status& error);
  void Violation(std::string what);
  void Add(const WorkloadCounts& other);
  std::string ToString() const;
};

// Whether `status` is a failure the caller can act on: an OsError, or an
// IncompleteReadError because the peer closed early.
bool IsClearFailure(const absl::Status& status);

// The pattern byte at `offset` of the stream seeded with `seed`.
char PatternByte(uint64_t seed, uint64_t offset);

struct EchoClientOptions {
  int messages = 4;
  size_t max_message = 8 * 1024;  // message sizes are 1..max_message
};

// Connects to 127.0.0.1:port, sends messages of random sizes, and reads each
// echo back with ReadExactly, checking every byte.
Task<void> CheckedEchoClient(uint16_t port, uint64_t seed, EchoClientOptions options,
                             WorkloadCounts* counts);

// Framing: a server handler that writes `frames` frames, each a line
// "frame <k> <size>\n" followed by <size> pattern bytes, in writes that cut
// across frame boundaries; and the client that reads them back with
// ReadUntil and ReadExactly.
Task<void> FramingServerHandler(StreamReader reader, StreamWriter writer, uint64_t seed,
                                int frames);
Task<void> CheckedFramingClient(uint16_t port, uint64_t seed, int frames,
                                WorkloadCounts* counts);

// Flow control: writes `total` pattern bytes to an echo server in 4 KiB
// writes with Drain after each, under marks of 16 KiB / 4 KiB, checking that
// Drain holds the unsent bytes under the high mark, while a second task
// reads the echo back and checks it.
Task<void> CheckedDrainClient(uint16_t port, uint64_t seed, size_t total, WorkloadCounts* counts);

// Files: writes `total` pattern bytes to `path` in blocks at shuffled
// offsets, syncs, reads them back at offsets (short reads continue), checks
// them, and removes the file.
Task<void> CheckedFileRoundTrip(std::string path, uint64_t seed, size_t total,
                                WorkloadCounts* counts);

// Open descriptors of this process (entries of /proc/self/fd).
int CountOpenFds();

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_FAULT_WORKLOAD_H_
