// CPython 3.13's Lib/test/test_asyncio/test_server.py, ported: each test is
// named after the original's class and method and asserts the same outcome
// (CONFORMANCE.md says where a port differs and why). After them,
// UnixStreamTest covers what the originals leave out of the Unix-domain
// streams: the path's errors, stale socket files, abstract names and the
// addresses a connection reports.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/sync_test_util.h"
#include "asyncio_like/tcp.h"
#include "asyncio_like/tcp_errors.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

bool Exists(const std::string& path) {
  struct stat file;
  return stat(path.c_str(), &file) == 0;
}

bool IsSocketFile(const std::string& path) {
  struct stat file;
  return stat(path.c_str(), &file) == 0 && S_ISSOCK(file.st_mode);
}

// socket.socket(AF_UNIX, SOCK_STREAM).bind(path), with blocking calls:
// the descriptor, or -1 (the failure reported).
int BindUnixSocket(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), std::min(path.size(), sizeof address.sun_path - 1));
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ADD_FAILURE() << "bind " << path << ": " << std::strerror(errno);
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

// The client of test_start_server_1 and test_start_unix_server_1, run in a
// thread with blocking calls as the original's is: connects, sends
// HELLO_MSG, waits for one byte back. Returns what went wrong, if anything.
std::string BlockingClient(const sockaddr* address, socklen_t length, int family) {
  const std::string hello_msg = std::string(1024 * 5, '1') + "\n";
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  // sock.settimeout(2), generously.
  const timeval timeout = {.tv_sec = 20, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string error;
  char reply = 0;
  if (connect(fd, address, length) != 0) {
    error = std::string("connect: ") + std::strerror(errno);
  } else if (send(fd, hello_msg.data(), hello_msg.size(), MSG_NOSIGNAL) !=
             static_cast<ssize_t>(hello_msg.size())) {
    error = std::string("send: ") + std::strerror(errno);
  } else if (recv(fd, &reply, 1, 0) != 1 || reply != '1') {
    error = "no '1' came back";
  }
  close(fd);
  return error;
}

// serve() of test_start_server_1: reads the line, cancels the main task,
// answers and closes.
Task<void> CancelMainAndAnswer(TaskRef* main_task, StreamReader reader, StreamWriter writer) {
  (void)co_await reader.ReadLine();
  main_task->Cancel();
  writer.Write("1");
  (void)writer.Close();
  (void)co_await writer.WaitClosed();
}

// main(): `async with srv: await srv.serve_forever()`.
Task<void> ServeForeverThenClose(Server* srv) {
  try {
    co_await srv->ServeForever();
  } catch (const CancelledError&) {
    srv->Close();
    throw;
  }
  srv->Close();
}

// The end of test_start_server_1: the main task ends cancelled, and the
// server is closed for good.
Task<void> ExpectServedUntilCancelled(Server& srv, Task<void>& main_task) {
  EXPECT_TRUE(co_await EndsCancelled(main_task));
  EXPECT_TRUE(srv.sockets().empty());
  EXPECT_FALSE(srv.IsServing());
  try {
    co_await srv.ServeForever();
    ADD_FAILURE() << "ServeForever on a closed server returned";
  } catch (const std::logic_error& e) {
    EXPECT_TRUE(absl::StrContains(e.what(), "is closed")) << e.what();
  }
}

// ------------------------------------------------------- BaseStartServer

TEST(BaseStartServer, test_start_server_1) {
  RunAsync([]() -> Task<void> {
    TaskRef main_task_ref;
    TaskRef* main = &main_task_ref;
    absl::StatusOr<Server> srv = StartServer(
        [main](StreamReader r, StreamWriter w) {
          return CancelMainAndAnswer(main, std::move(r), std::move(w));
        },
        "127.0.0.1", 0);
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;
    // No start_serving=False: a Server serves from StartServer on.
    EXPECT_TRUE(srv->IsServing());
    Task<void> main_task = CreateTask(ServeForeverThenClose(&*srv));
    main_task_ref = main_task;

    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(srv->sockets()[0].port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string client_error;
    std::thread client([&] {
      client_error =
          BlockingClient(reinterpret_cast<const sockaddr*>(&address), sizeof address, AF_INET);
    });
    co_await ExpectServedUntilCancelled(*srv, main_task);
    client.join();
    EXPECT_EQ(client_error, "");
  }());
}

// ---------------------------------------------- SelectorStartServerTests

TEST(SelectorStartServerTests, test_start_unix_server_1) {
  RunAsync([]() -> Task<void> {
    UnixSocketPath addr;
    TaskRef main_task_ref;
    TaskRef* main = &main_task_ref;
    absl::StatusOr<Server> srv = StartUnixServer(
        [main](StreamReader r, StreamWriter w) {
          return CancelMainAndAnswer(main, std::move(r), std::move(w));
        },
        addr.path());
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;
    EXPECT_TRUE(srv->IsServing());
    Task<void> main_task = CreateTask(ServeForeverThenClose(&*srv));
    main_task_ref = main_task;

    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, addr.path().data(), addr.path().size());
    std::string client_error;
    std::thread client([&] {
      client_error =
          BlockingClient(reinterpret_cast<const sockaddr*>(&address), sizeof address, AF_UNIX);
    });
    co_await ExpectServedUntilCancelled(*srv, main_task);
    client.join();
    EXPECT_EQ(client_error, "");
  }());
}

// ------------------------------------------------------------ TestServer2

// serve(): reads until end of stream, then closes. `handed_over` is set
// once the server has handed the connection over.
Task<void> ReadToEofThenClose(Event* handed_over, StreamReader rd, StreamWriter wr) {
  handed_over->Set();
  (void)co_await rd.Read();
  (void)wr.Close();
  (void)co_await wr.WaitClosed();
}

ConnectionHandler ReadToEofThenCloseHandler(Event* handed_over) {
  return [handed_over](StreamReader rd, StreamWriter wr) {
    return ReadToEofThenClose(handed_over, std::move(rd), std::move(wr));
  };
}

TEST(TestServer2, test_wait_closed_basic) {
  RunAsync([]() -> Task<void> {
    Event handed_over;
    absl::StatusOr<Server> srv = StartServer(ReadToEofThenCloseHandler(&handed_over),
                                             "127.0.0.1", 0);
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;

    // active count = 0, not closed: should block
    Task<void> task1 = CreateTask(srv->WaitClosed());
    co_await Yield();
    EXPECT_FALSE(task1.done());

    // active count != 0, not closed: should block
    const SocketAddress addr = srv->sockets()[0];
    absl::StatusOr<Stream> conn = co_await OpenConnection(addr.host, addr.port);
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) co_return;
    co_await handed_over.Wait();
    Task<void> task2 = CreateTask(srv->WaitClosed());
    co_await Yield();
    EXPECT_FALSE(task1.done());
    EXPECT_FALSE(task2.done());

    srv->Close();
    co_await Yield();
    // active count != 0, closed: should block
    Task<void> task3 = CreateTask(srv->WaitClosed());
    co_await Yield();
    EXPECT_FALSE(task1.done());
    EXPECT_FALSE(task2.done());
    EXPECT_FALSE(task3.done());

    (void)conn->writer.Close();
    (void)co_await conn->writer.WaitClosed();
    // active count == 0, closed: should unblock
    co_await task1;
    co_await task2;
    co_await task3;
    co_await srv->WaitClosed();  // Return immediately
  }());
}

TEST(TestServer2, test_wait_closed_race) {
  RunAsync([]() -> Task<void> {
    Event handed_over;
    absl::StatusOr<Server> srv = StartServer(ReadToEofThenCloseHandler(&handed_over),
                                             "127.0.0.1", 0);
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;

    Task<void> task = CreateTask(srv->WaitClosed());
    co_await Yield();
    EXPECT_FALSE(task.done());
    const SocketAddress addr = srv->sockets()[0];
    absl::StatusOr<Stream> conn = co_await OpenConnection(addr.host, addr.port);
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) co_return;
    EventLoop::Current()->CallSoon([&srv] { srv->Close(); });
    EventLoop::Current()->CallSoon([&conn] { (void)conn->writer.Close(); });
    co_await srv->WaitClosed();
    co_await task;
  }());
}

// ------------------------------------------------ UnixServerCleanupTests

// serve(*args): pass
Task<void> Serve(StreamReader, StreamWriter) { co_return; }

TEST(UnixServerCleanupTests, test_unix_server_addr_cleanup) {
  RunAsync([]() -> Task<void> {
    // Default scenario
    UnixSocketPath addr;
    absl::StatusOr<Server> srv = StartUnixServer(Serve, addr.path());
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;
    EXPECT_TRUE(IsSocketFile(addr.path()));

    srv->Close();
    EXPECT_FALSE(Exists(addr.path()));
  }());
}

TEST(UnixServerCleanupTests, test_unix_server_sock_cleanup) {
  RunAsync([]() -> Task<void> {
    // Using already bound socket
    UnixSocketPath addr;
    absl::StatusOr<TcpListener> sock = TcpListener::ListenUnix(addr.path());
    EXPECT_TRUE(sock.ok()) << sock.status();
    if (!sock.ok()) co_return;

    absl::StatusOr<Server> srv = StartUnixServer(Serve, *std::move(sock));
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;

    srv->Close();
    EXPECT_FALSE(Exists(addr.path()));
  }());
}

TEST(UnixServerCleanupTests, test_unix_server_cleanup_gone) {
  RunAsync([]() -> Task<void> {
    // Someone else has already cleaned up the socket
    UnixSocketPath addr;
    absl::StatusOr<TcpListener> sock = TcpListener::ListenUnix(addr.path());
    EXPECT_TRUE(sock.ok()) << sock.status();
    if (!sock.ok()) co_return;

    absl::StatusOr<Server> srv = StartUnixServer(Serve, *std::move(sock));
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;

    EXPECT_EQ(unlink(addr.path().c_str()), 0);

    srv->Close();
    EXPECT_FALSE(srv->IsServing());
    EXPECT_FALSE(Exists(addr.path()));
  }());
}

TEST(UnixServerCleanupTests, test_unix_server_cleanup_replaced) {
  RunAsync([]() -> Task<void> {
    // Someone else has replaced the socket with their own
    UnixSocketPath addr;
    absl::StatusOr<Server> srv = StartUnixServer(Serve, addr.path());
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;

    EXPECT_EQ(unlink(addr.path().c_str()), 0);
    const int sock = BindUnixSocket(addr.path());

    srv->Close();
    EXPECT_TRUE(Exists(addr.path()));
    if (sock >= 0) close(sock);
  }());
}

TEST(UnixServerCleanupTests, test_unix_server_cleanup_prevented) {
  RunAsync([]() -> Task<void> {
    // Automatic cleanup explicitly disabled
    UnixSocketPath addr;
    absl::StatusOr<Server> srv = StartUnixServer(Serve, addr.path(), SOMAXCONN,
                                                 StreamReader::kDefaultLimit,
                                                 /*cleanup_socket=*/false);
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;

    srv->Close();
    EXPECT_TRUE(Exists(addr.path()));
  }());
}

// --------------------------------------------------------- UnixStreamTest

TEST(UnixStreamTest, PathTooLongIsInvalidArgument) {
  RunAsync([]() -> Task<void> {
    // sun_path holds 108 bytes: a file's path needs one for its '\0', an
    // abstract name does not (Python: "AF_UNIX path too long").
    const std::string too_long = "/tmp/" + std::string(103, 'a');
    EXPECT_EQ(too_long.size(), sizeof(sockaddr_un::sun_path));
    absl::StatusOr<Stream> stream = co_await OpenUnixConnection(too_long);
    EXPECT_TRUE(absl::IsInvalidArgument(stream.status())) << stream.status();
    EXPECT_TRUE(absl::StrContains(stream.status().message(), "AF_UNIX path too long"))
        << stream.status();
    absl::StatusOr<Server> server = StartUnixServer(Serve, too_long);
    EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << server.status();
    EXPECT_TRUE(absl::StrContains(server.status().message(), "AF_UNIX path too long"))
        << server.status();

    // The longest abstract name fits.
    const std::string abstract = std::string(1, '\0') + std::string(107, 'a');
    server = StartUnixServer(Serve, abstract);
    EXPECT_TRUE(server.ok()) << server.status();
    EXPECT_TRUE(absl::IsInvalidArgument(
        (co_await OpenUnixConnection(abstract + "a")).status()));
  }());
}

TEST(UnixStreamTest, EmptyOrEmbeddedNulPathIsInvalidArgument) {
  RunAsync([]() -> Task<void> {
    EXPECT_TRUE(absl::IsInvalidArgument((co_await OpenUnixConnection("")).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(StartUnixServer(Serve, "").status()));
    const std::string embedded("/tmp/a\0b", 8);
    EXPECT_TRUE(absl::IsInvalidArgument((co_await OpenUnixConnection(embedded)).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(StartUnixServer(Serve, embedded).status()));
  }());
}

TEST(UnixStreamTest, MissingPathIsFileNotFoundAndNobodyListeningIsRefused) {
  RunAsync([]() -> Task<void> {
    UnixSocketPath addr;
    absl::StatusOr<Stream> missing = co_await OpenUnixConnection(addr.path());
    EXPECT_TRUE(IsFileNotFound(missing.status())) << missing.status();
    EXPECT_FALSE(IsConnectionRefused(missing.status()));
    EXPECT_TRUE(absl::StrContains(missing.status().message(), "[FileNotFoundError]"))
        << missing.status();
    EXPECT_TRUE(absl::StrContains(missing.status().message(), addr.path())) << missing.status();

    // A socket file nobody listens on (bound, not listening).
    const int bound = BindUnixSocket(addr.path());
    absl::StatusOr<Stream> refused = co_await OpenUnixConnection(addr.path());
    EXPECT_TRUE(IsConnectionRefused(refused.status())) << refused.status();
    EXPECT_FALSE(IsFileNotFound(refused.status()));
    if (bound >= 0) close(bound);

    // An abstract name nobody bound.
    const std::string abstract = std::string(1, '\0') + addr.path();
    EXPECT_TRUE(IsConnectionRefused((co_await OpenUnixConnection(abstract)).status()));
  }());
}

TEST(UnixStreamTest, StartUnixServerReplacesStaleSocketFile) {
  RunAsync([]() -> Task<void> {
    UnixSocketPath addr;
    // A server that went away without removing its socket file.
    const int stale = BindUnixSocket(addr.path());
    if (stale >= 0) close(stale);
    EXPECT_TRUE(IsSocketFile(addr.path()));

    absl::StatusOr<Server> srv = StartUnixServer(Serve, addr.path());
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenUnixConnection(addr.path());
    EXPECT_TRUE(stream.ok()) << stream.status();
  }());
}

TEST(UnixStreamTest, StartUnixServerLeavesOtherFiles) {
  RunAsync([]() -> Task<void> {
    UnixSocketPath addr;
    std::ofstream(addr.path()) << "not a socket";
    absl::StatusOr<Server> srv = StartUnixServer(Serve, addr.path());
    EXPECT_EQ(ErrnoOf(srv.status()), EADDRINUSE) << srv.status();
    EXPECT_TRUE(absl::StrContains(srv.status().message(), addr.path())) << srv.status();
    std::string contents;
    std::getline(std::ifstream(addr.path()), contents);
    EXPECT_EQ(contents, "not a socket");
    co_return;
  }());
}

TEST(UnixStreamTest, StartUnixServerNeedsUnixListener) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<TcpListener> tcp = TcpListener::Listen("127.0.0.1", 0);
    EXPECT_TRUE(tcp.ok()) << tcp.status();
    if (!tcp.ok()) co_return;
    absl::StatusOr<Server> srv = StartUnixServer(Serve, *std::move(tcp));
    EXPECT_TRUE(absl::IsInvalidArgument(srv.status())) << srv.status();
    EXPECT_TRUE(absl::StrContains(srv.status().message(), "A UNIX Domain Stream Socket"))
        << srv.status();
  }());
}

// The server's end of the one connection it accepts, kept for the test.
Task<void> KeepWriter(std::optional<StreamWriter>* kept, Event* accepted, StreamReader,
                      StreamWriter writer) {
  kept->emplace(std::move(writer));
  accepted->Set();
  co_return;
}

TEST(UnixStreamTest, AddressesAreThePath) {
  RunAsync([]() -> Task<void> {
    UnixSocketPath addr;
    std::optional<StreamWriter> server_end;
    Event accepted;
    auto* kept = &server_end;
    auto* accepted_ptr = &accepted;
    absl::StatusOr<Server> srv = StartUnixServer(
        [kept, accepted_ptr](StreamReader r, StreamWriter w) {
          return KeepWriter(kept, accepted_ptr, std::move(r), std::move(w));
        },
        addr.path());
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;
    EXPECT_EQ(srv->port(), 0);
    EXPECT_EQ(srv->sockets(), std::vector<SocketAddress>{SocketAddress::Unix(addr.path())});
    EXPECT_EQ(srv->sockets()[0].ToString(), addr.path());

    absl::StatusOr<Stream> stream = co_await OpenUnixConnection(addr.path());
    EXPECT_TRUE(stream.ok()) << stream.status();
    if (!stream.ok()) co_return;
    co_await accepted.Wait();
    // Python: peername is the path, sockname '' (the client is unnamed);
    // the server's end the other way round.
    EXPECT_EQ(stream->writer.GetExtraInfo("peername"), SocketAddress::Unix(addr.path()));
    EXPECT_EQ(stream->writer.GetExtraInfo("sockname"), SocketAddress{});
    EXPECT_EQ(server_end->GetExtraInfo("sockname"), SocketAddress::Unix(addr.path()));
    EXPECT_EQ(server_end->GetExtraInfo("peername"), SocketAddress{});

    // Bytes flow both ways, as on TCP.
    stream->writer.Write("ping\n");
    EXPECT_TRUE((co_await stream->writer.Drain()).ok());
    server_end->Write("pong\n");
    EXPECT_TRUE((co_await server_end->Drain()).ok());
    absl::StatusOr<std::string> line = co_await stream->reader.ReadLine();
    EXPECT_EQ(line.value_or("<error>"), "pong\n");
    (void)co_await server_end->Close();
    (void)co_await stream->writer.Close();
  }());
}

TEST(UnixStreamTest, AbstractNameHasNoFile) {
  RunAsync([]() -> Task<void> {
    UnixSocketPath unique;  // a name no other test uses
    const std::string abstract = std::string(1, '\0') + unique.path();
    absl::StatusOr<Server> srv = StartUnixServer(Serve, abstract);
    EXPECT_TRUE(srv.ok()) << srv.status();
    if (!srv.ok()) co_return;
    EXPECT_FALSE(Exists(unique.path()));
    EXPECT_EQ(srv->sockets(), std::vector<SocketAddress>{SocketAddress::Unix(abstract)});
    EXPECT_EQ(srv->sockets()[0].ToString(), "@" + unique.path());
    absl::StatusOr<Stream> stream = co_await OpenUnixConnection(abstract);
    EXPECT_TRUE(stream.ok()) << stream.status();
    srv->Close();
    co_await srv->WaitClosed();
    // The name is free again once the server is closed.
    EXPECT_TRUE(IsConnectionRefused((co_await OpenUnixConnection(abstract)).status()));
  }());
}

}  // namespace
}  // namespace asyncio_like
