#include "harness/echo_load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace harness {
namespace {

using ::testing::HasSubstr;

// A blocking echo server on a thread: serves `connections` connections, one
// thread each, and optionally flips one byte of every echo.
class EchoServer {
 public:
  EchoServer(int connections, bool corrupt) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listener_, 128);
    socklen_t len = sizeof(addr);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this, connections, corrupt] {
      for (int i = 0; i < connections; ++i) {
        int fd = accept(listener_, nullptr, nullptr);
        if (fd < 0) return;
        ++open_;
        handlers_.emplace_back([this, fd, corrupt] {
          char buffer[4096];
          ssize_t n;
          while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
            if (corrupt) buffer[n - 1] ^= 1;
            if (write(fd, buffer, static_cast<size_t>(n)) != n) break;
          }
          close(fd);
          --open_;
        });
      }
    });
  }
  ~EchoServer() {
    acceptor_.join();
    for (std::thread& t : handlers_) t.join();
    close(listener_);
  }
  int port() const { return port_; }
  // Connections accepted and not yet closed by their handler.
  int open() const { return open_.load(); }

 private:
  std::atomic<int> open_ = 0;
  int listener_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> handlers_;
};

TEST(EchoLoadTest, DrivesEveryRoundTripAndChecksEveryByte) {
  EchoServer server(4, /*corrupt=*/false);
  absl::StatusOr<EchoLoad> load =
      DriveEcho(server.port(), {.connections = 4, .requests = 402, .message_bytes = 64});
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->bytes_checked, 402 * 64);
  EXPECT_GT(load->requests_per_s, 0);
  EXPECT_GT(load->p50_us, 0);
  EXPECT_GE(load->p99_us, load->p50_us);
}

// many_connections reads the server's threads when every connection has had
// its first echo: none may have closed by then, even one whose round trips
// are all done (here each connection has one).
TEST(EchoLoadTest, EveryConnectionIsStillOpenWhenAllHaveAnswered) {
  constexpr int kConnections = 20;
  EchoServer server(kConnections, /*corrupt=*/false);
  int open_when_answered = -1;
  absl::StatusOr<EchoLoad> load = DriveEcho(
      server.port(), {.connections = kConnections,
                      .requests = kConnections,
                      .message_bytes = 64,
                      .on_all_answered = [&] {
                        // Time for a handler to see an early end of stream.
                        absl::SleepFor(absl::Milliseconds(100));
                        open_when_answered = server.open();
                      }});
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(open_when_answered, kConnections);
}

TEST(EchoLoadTest, CorruptedEchoIsDataLoss) {
  EchoServer server(2, /*corrupt=*/true);
  absl::StatusOr<EchoLoad> load =
      DriveEcho(server.port(), {.connections = 2, .requests = 10, .message_bytes = 64});
  ASSERT_FALSE(load.ok());
  EXPECT_EQ(load.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(load.status().message()), HasSubstr("corrupted echo"));
}

TEST(EchoLoadTest, RefusedConnectionAndBadOptionsAreClearErrors) {
  EchoServer server(0, /*corrupt=*/false);  // listens, then closes at exit
  absl::StatusOr<EchoLoad> bad =
      DriveEcho(server.port(), {.connections = 3, .requests = 2, .message_bytes = 64});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  // Port 1 on loopback has no listener.
  absl::StatusOr<EchoLoad> refused =
      DriveEcho(1, {.connections = 1, .requests = 1, .message_bytes = 64});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("connect to 127.0.0.1:1"));
}

}  // namespace
}  // namespace harness
