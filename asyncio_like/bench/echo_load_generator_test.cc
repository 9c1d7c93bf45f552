// The load generator and the two baseline servers: the generator checks every
// echoed byte (and does catch a server that corrupts them), and both baselines
// echo correctly for many concurrent connections.
#include "asyncio_like/bench/echo_load_generator.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "asyncio_like/bench/echo_baselines.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kManyConnections = 200;
#else
constexpr int kManyConnections = 1000;
#endif

TEST(LatencyHistogramTest, PercentilesWithinResolution) {
  LatencyHistogram histogram;
  for (int micros = 1; micros <= 1000; ++micros) {
    histogram.Record(absl::Microseconds(micros));
  }
  EXPECT_EQ(histogram.count(), 1000u);
  const double p50 = absl::ToDoubleMicroseconds(histogram.Percentile(0.50));
  const double p99 = absl::ToDoubleMicroseconds(histogram.Percentile(0.99));
  EXPECT_NEAR(p50, 501, 501 * 0.04);
  EXPECT_NEAR(p99, 991, 991 * 0.04);
  EXPECT_EQ(histogram.Percentile(1.0), histogram.Percentile(0.9999));
  EXPECT_GE(absl::ToDoubleMicroseconds(histogram.Percentile(1.0)), 1000);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (int nanos = 0; nanos < 64; ++nanos) histogram.Record(absl::Nanoseconds(nanos));
  EXPECT_EQ(histogram.Percentile(0.5), absl::Nanoseconds(32));
  EXPECT_EQ(LatencyHistogram().Percentile(0.5), absl::ZeroDuration());
}

EchoLoadOptions ShortRun(int connections) {
  EchoLoadOptions options;
  options.connections = connections;
  options.warmup = absl::Milliseconds(50);
  options.measurement = absl::Milliseconds(300);
  options.min_echoes_per_connection = 1;
  return options;
}

// Serves one connection with blocking calls and flips one byte of every
// message it echoes.
void ServeCorruptingEcho(int listen_fd) {
  const int fd = accept(listen_fd, nullptr, nullptr);
  if (fd < 0) return;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    buffer[0] ^= 0x5A;
    if (write(fd, buffer, n) != n) break;
  }
  close(fd);
}

TEST(EchoLoadGeneratorTest, CountsCorruptedBytes) {
  uint16_t port = 0;
  absl::StatusOr<int> listen_fd = ListenOnLoopback(port, /*non_blocking=*/false);
  ASSERT_TRUE(listen_fd.ok()) << listen_fd.status();
  std::thread server(ServeCorruptingEcho, *listen_fd);
  absl::StatusOr<EchoLoadReport> report = RunEchoLoad(port, ShortRun(1));
  server.join();
  close(*listen_fd);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->checked_bytes, 0u);
  // At least one flipped byte per 64-byte message (two when the echo of a
  // message arrives in two reads).
  EXPECT_GE(report->corrupted_bytes, report->checked_bytes / 64);
}

TEST(EchoLoadGeneratorTest, ServerThatClosesIsAnError) {
  uint16_t port = 0;
  absl::StatusOr<int> listen_fd = ListenOnLoopback(port, /*non_blocking=*/false);
  ASSERT_TRUE(listen_fd.ok()) << listen_fd.status();
  // Reads the first message (so that closing sends FIN, not RST) and closes.
  std::thread server([fd = *listen_fd] {
    const int connection = accept(fd, nullptr, nullptr);
    char buffer[64];
    size_t received = 0;
    while (received < sizeof buffer) {
      const ssize_t n = read(connection, buffer + received, sizeof buffer - received);
      if (n <= 0) break;
      received += static_cast<size_t>(n);
    }
    close(connection);
  });
  absl::StatusOr<EchoLoadReport> report = RunEchoLoad(port, ShortRun(1));
  server.join();
  close(*listen_fd);
  EXPECT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("closed connection 0"), std::string::npos)
      << report.status();
}

TEST(EchoLoadGeneratorTest, RefusedConnectionIsAnError) {
  uint16_t port = 0;
  absl::StatusOr<int> listen_fd = ListenOnLoopback(port, /*non_blocking=*/false);
  ASSERT_TRUE(listen_fd.ok()) << listen_fd.status();
  close(*listen_fd);  // nobody listens on `port` any more
  absl::StatusOr<EchoLoadReport> report = RunEchoLoad(port, ShortRun(1));
  EXPECT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("Connection refused"), std::string::npos)
      << report.status();
}

void ExpectCleanEcho(absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> server) {
  if (!server.ok() && (absl::IsUnimplemented(server.status()) ||
                       absl::IsPermissionDenied(server.status()))) {
    // CI sets REQUIRE_IO_URING: there, a missing io_uring is a failure.
    if (std::getenv("REQUIRE_IO_URING") != nullptr) {
      FAIL() << "io_uring is required (REQUIRE_IO_URING is set) but unavailable: "
             << server.status();
    }
    GTEST_SKIP() << "io_uring is unavailable here: " << server.status();
  }
  ASSERT_TRUE(server.ok()) << server.status();
  absl::Status served;
  std::thread thread([&] { served = (*server)->Serve(); });
  absl::StatusOr<EchoLoadReport> report =
      RunEchoLoad((*server)->port(), ShortRun(kManyConnections));
  (*server)->Stop();
  thread.join();
  EXPECT_TRUE(served.ok()) << served;
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->corrupted_bytes, 0u);
  // Every connection completed its first echo at least.
  EXPECT_GE(report->fewest_echoes, 1u);
  EXPECT_GE(report->checked_bytes, 64u * kManyConnections);
  EXPECT_GT(report->requests, 0u);
  EXPECT_GT((*server)->kernel_enters(), 0u);
}

TEST(EchoBaselinesTest, EpollServerEchoesEveryByte) {
  ExpectCleanEcho(EpollEchoServer::Create());
}

TEST(EchoBaselinesTest, RawUringServerEchoesEveryByte) {
  ExpectCleanEcho(RawUringEchoServer::Create());
}

}  // namespace
}  // namespace asyncio_like
