// CPython 3.13's Lib/test/test_asyncio/test_transports.py, where its
// behaviour exists here: the transport of a connection is its StreamWriter
// (stream.h), so get_extra_info and writelines are checked on a connected
// stream pair. The base classes' NotImplementedError stubs have no
// counterpart; see CONFORMANCE.md.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/sync_test_util.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// Both ends of a loopback connection, as stream pairs.
struct Connection {
  Stream client;
  Stream server;
};

Task<absl::StatusOr<Connection>> ConnectPair() {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0);
  if (!listener.ok()) co_return listener.status();
  Task<absl::StatusOr<TcpSocket>> accepted = listener->Accept();
  absl::StatusOr<TcpSocket> client = co_await Connect("127.0.0.1", listener->port());
  if (!client.ok()) co_return client.status();
  absl::StatusOr<TcpSocket> server = co_await std::move(accepted);
  if (!server.ok()) co_return server.status();
  co_return Connection{Stream(*std::move(client)), Stream(*std::move(server))};
}

TEST(TransportTests, test_get_extra_info) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Connection> connection = co_await ConnectPair();
    EXPECT_TRUE(connection.ok()) << connection.status();
    if (!connection.ok()) co_return;
    StreamWriter& transport = connection->client.writer;
    std::optional<SocketAddress> server_name = connection->server.writer.GetExtraInfo("sockname");
    EXPECT_TRUE(server_name.has_value());
    // A name the transport knows gives its value...
    EXPECT_EQ(transport.GetExtraInfo("peername"), server_name);
    // ...and one it does not know gives None.
    EXPECT_EQ(transport.GetExtraInfo("unknown"), std::nullopt);
    (void)co_await transport.Close();
  }());
}

TEST(TransportTests, test_writelines) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Connection> connection = co_await ConnectPair();
    EXPECT_TRUE(connection.ok()) << connection.status();
    if (!connection.ok()) co_return;
    // bytes, bytearray and memoryview in CPython: three kinds of string here.
    const std::string line1 = "line1";
    const std::vector<char> line2 = {'l', 'i', 'n', 'e', '2'};
    std::vector<absl::string_view> lines = {line1, absl::string_view(line2.data(), line2.size()),
                                            "line3"};
    connection->client.writer.WriteLines(lines);
    (void)co_await connection->client.writer.Close();
    absl::StatusOr<std::string> received = co_await connection->server.reader.Read();
    EXPECT_TRUE(received.ok()) << received.status();
    EXPECT_EQ(received.value_or(""), "line1line2line3");
  }());
}

}  // namespace
}  // namespace asyncio_like
