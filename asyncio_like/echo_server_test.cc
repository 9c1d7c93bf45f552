// The coroutine echo server under many concurrent connections, every echoed
// byte checked by the load generator.
#include "asyncio_like/echo_server.h"

#include <thread>

#include "asyncio_like/bench/echo_load_generator.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

constexpr int kConnections = kUnderSanitizer ? 200 : 1000;

TEST(EchoServerTest, ManyConcurrentConnectionsEchoEveryByte) {
  absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> server = CoroutineEchoServer::Create();
  if (absl::IsUnavailable(server.status())) {
    ASYNCIO_LIKE_SKIP_WITHOUT_IO_URING(server.status());
  }
  ASSERT_TRUE(server.ok()) << server.status();
  absl::Status served;
  std::thread thread([&] { served = (*server)->Serve(); });
  EchoLoadOptions options;
  options.connections = kConnections;
  options.warmup = absl::Milliseconds(100);
  options.measurement = absl::Milliseconds(500);
  options.min_echoes_per_connection = 2;
  absl::StatusOr<EchoLoadReport> report = RunEchoLoad((*server)->port(), options);
  (*server)->Stop();
  thread.join();
  EXPECT_TRUE(served.ok()) << served;
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->corrupted_bytes, 0u);
  // Every connection got its echoes back, not only most of them.
  EXPECT_GE(report->fewest_echoes, 2u);
  EXPECT_GE(report->checked_bytes, 2 * 64u * kConnections);
  EXPECT_GT(report->requests, 0u);
  EXPECT_GT((*server)->kernel_enters(), 0u);
}

}  // namespace
}  // namespace asyncio_like
