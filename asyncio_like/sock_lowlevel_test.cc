// CPython 3.13's Lib/test/test_asyncio/test_sock_lowlevel.py, ported: each
// test is named after the original and asserts the same outcome. The
// loop's socket operations are TcpSocket's (tcp.h): sock_connect is
// Connect (which makes the socket itself), sock_sendall is SendAll,
// sock_recv and sock_recv_into are Receive into a buffer, sock_accept is
// TcpListener::Accept. test_utils.run_test_server is an HTTP server on this
// loop answering as CPython's WSGI server does, including its /loop echo of
// a request body.
//
// TestSSL.test_connect_accepted_socket (test_ssl.py) is here too: without
// its TLS arguments it is loop.connect_accepted_socket over a plain socket,
// which is a Stream made from an accepted TcpSocket. See CONFORMANCE.md for
// what is not ported and why.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/sync_test_util.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/timeout.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

constexpr absl::string_view kGet = "GET / HTTP/1.0\r\n\r\n";
constexpr absl::string_view kResponseHead = "HTTP/1.0 200 OK\r\nContent-type: text/plain\r\n\r\n";

// test_utils.run_test_server's WSGI app: "Test message" for any path but
// /loop, whose request body (Content-Length bytes) is sent back as the
// response body. The connection closes after the response, as HTTP/1.0's.
Task<void> ServeHttp(StreamReader reader, StreamWriter writer) {
  absl::StatusOr<std::string> head = co_await reader.ReadUntil("\r\n\r\n");
  if (!head.ok()) {
    (void)co_await writer.Close();
    co_return;
  }
  writer.Write(kResponseHead);
  if (!absl::StartsWith(*head, "POST /loop ")) {
    writer.Write("Test message");
    (void)co_await writer.Close();
    co_return;
  }
  size_t size = 0;
  const std::string kLength = "Content-Length: ";
  if (size_t at = head->find(kLength); at != std::string::npos) {
    absl::string_view value = absl::string_view(*head).substr(at + kLength.size());
    value = value.substr(0, value.find("\r\n"));
    if (!absl::SimpleAtoi(value, &size)) size = 0;
  }
  while (size > 0) {
    absl::StatusOr<absl::string_view> data = co_await reader.ReadSome(std::min<size_t>(size, 0x10000));
    if (!data.ok() || data->empty()) break;
    size -= data->size();
    writer.Write(*data);
    if (!(co_await writer.Drain()).ok()) break;
  }
  (void)co_await writer.Close();
}

absl::StatusOr<Server> RunTestServer() { return StartServer(ServeHttp, "127.0.0.1", 0); }

// The text a receive of `n` bytes into `buffer` gave, or "" (with a
// failure) for an error.
std::string Received(const absl::StatusOr<size_t>& n, const char* buffer) {
  EXPECT_TRUE(n.ok()) << n.status();
  return n.ok() ? std::string(buffer, *n) : std::string();
}

// An ephemeral port nothing listens on: bound, then closed.
uint16_t UnusedPort() {
  absl::StatusOr<TcpListener> s = TcpListener::Listen("127.0.0.1", 0);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? s->port() : 0;
}

// The parts of test_sock_client_ops after the blocking-socket checks.
Task<void> BasetestSockClientOps(uint16_t port) {
  absl::StatusOr<TcpSocket> sock = co_await Connect("127.0.0.1", port);
  EXPECT_TRUE(sock.ok()) << sock.status();
  if (!sock.ok()) co_return;
  EXPECT_TRUE((co_await sock->SendAll(kGet)).ok());
  char buffer[1024];
  const std::string data = Received(co_await sock->Receive(buffer), buffer);
  // consume data
  char rest[1024];
  (void)co_await sock->Receive(rest);
  sock->Close();
  EXPECT_TRUE(absl::StartsWith(data, "HTTP/1.0 200 OK")) << data;
}

Task<void> BasetestSockRecvInto(uint16_t port) {
  absl::StatusOr<TcpSocket> sock = co_await Connect("127.0.0.1", port);
  EXPECT_TRUE(sock.ok()) << sock.status();
  if (!sock.ok()) co_return;
  EXPECT_TRUE((co_await sock->SendAll(kGet)).ok());
  std::vector<char> data(1024);
  absl::Span<char> buf = absl::MakeSpan(data);
  absl::StatusOr<size_t> nbytes = co_await sock->Receive(buf.subspan(0, 1024));
  EXPECT_TRUE(nbytes.ok()) << nbytes.status();
  if (!nbytes.ok()) co_return;
  // consume data
  (void)co_await sock->Receive(buf.subspan(*nbytes));
  sock->Close();
  EXPECT_TRUE(absl::StartsWith(absl::string_view(data.data(), data.size()), "HTTP/1.0 200 OK"));
}

TEST(BaseSockTestsMixin, test_sock_client_ops) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    co_await BasetestSockClientOps(httpd->port());
    co_await BasetestSockRecvInto(httpd->port());
  }());
}

// loop.sock_recv_into(sock, buffer) as a coroutine of its own, so that a
// task can run it (a Receive awaitable is not movable into one).
Task<absl::StatusOr<size_t>> ReceiveInto(const TcpSocket& sock, absl::Span<char> buffer) {
  co_return co_await sock.Receive(buffer);
}

// A receive cancelled before any data came leaves the socket usable. The
// cancelled task is awaited before the next receive: TcpSocket takes one
// receive at a time (tcp.h).
Task<void> BasetestSockRecvRacing(uint16_t port) {
  absl::StatusOr<TcpSocket> sock = co_await Connect("127.0.0.1", port);
  EXPECT_TRUE(sock.ok()) << sock.status();
  if (!sock.ok()) co_return;

  char first[1024];
  Task<absl::StatusOr<size_t>> task = CreateTask(ReceiveInto(*sock, first));
  co_await Yield();
  task.Cancel();
  EXPECT_TRUE(co_await EndsCancelled(task));

  Task<absl::Status> send = CreateTask(sock->SendAll(kGet));
  char buffer[1024];
  const std::string data = Received(co_await sock->Receive(buffer), buffer);
  // consume data
  char rest[1024];
  (void)co_await sock->Receive(rest);

  EXPECT_TRUE(absl::StartsWith(data, "HTTP/1.0 200 OK")) << data;
  EXPECT_TRUE((co_await send).ok());
}

Task<void> BasetestSockRecvIntoRacing(uint16_t port) {
  absl::StatusOr<TcpSocket> sock = co_await Connect("127.0.0.1", port);
  EXPECT_TRUE(sock.ok()) << sock.status();
  if (!sock.ok()) co_return;

  std::vector<char> data(1024);
  absl::Span<char> buf = absl::MakeSpan(data);
  Task<absl::StatusOr<size_t>> task = CreateTask(ReceiveInto(*sock, buf.subspan(0, 1024)));
  co_await Yield();
  task.Cancel();
  EXPECT_TRUE(co_await EndsCancelled(task));

  Task<absl::Status> send = CreateTask(sock->SendAll(kGet));
  absl::StatusOr<size_t> nbytes = co_await sock->Receive(buf.subspan(0, 1024));
  EXPECT_TRUE(nbytes.ok()) << nbytes.status();
  if (nbytes.ok()) {
    // consume data
    (void)co_await sock->Receive(buf.subspan(*nbytes));
  }
  EXPECT_TRUE(absl::StartsWith(absl::string_view(data.data(), data.size()), "HTTP/1.0 200 OK"));
  EXPECT_TRUE((co_await send).ok());
}

// Everything the server receives until end of stream, with the spaces
// around each chunk stripped.
Task<std::string> RecvAll(const TcpSocket& server) {
  std::string rv;
  std::vector<char> buffer(8192);
  for (;;) {
    absl::StatusOr<size_t> n = co_await server.Receive(absl::MakeSpan(buffer));
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok() || *n == 0) co_return rv;
    absl::StrAppend(&rv, absl::StripAsciiWhitespace(absl::string_view(buffer.data(), *n)));
  }
}

// A send blocked on a full socket buffer and then cancelled leaves the
// socket usable: the next send's bytes arrive last.
Task<void> BasetestSockSendRacing() {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0, /*backlog=*/1);
  EXPECT_TRUE(listener.ok()) << listener.status();
  if (!listener.ok()) co_return;

  // make connection
  Task<absl::StatusOr<TcpSocket>> connect = CreateTask(Connect("127.0.0.1", listener->port()));
  co_await Yield();
  absl::StatusOr<TcpSocket> server = co_await listener->Accept();
  EXPECT_TRUE(server.ok()) << server.status();
  absl::StatusOr<TcpSocket> sock = co_await std::move(connect);
  EXPECT_TRUE(sock.ok()) << sock.status();
  if (!server.ok() || !sock.ok()) co_return;
  const int sndbuf = 1024;
  EXPECT_EQ(setsockopt(sock->fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);

  // fill the buffer until sending 5 chars would block
  for (size_t size = 8192; size >= 4; size /= 2) {
    const std::string spaces(size, ' ');
    while (send(sock->fd(), spaces.data(), spaces.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
    }
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << errno;  // BlockingIOError
  }

  // cancel a blocked SendAll; awaited before the next send, as TcpSocket
  // takes one send at a time. If the peer's kernel made room meanwhile,
  // "hello" went out before the cancel, as CPython's proactor allows.
  Task<absl::Status> blocked = CreateTask(sock->SendAll("hello"));
  co_await Yield();
  blocked.Cancel();
  try {
    absl::Status sent = co_await blocked;
    EXPECT_TRUE(sent.ok()) << sent;
  } catch (const CancelledError&) {
  }

  // receive everything that is not a space
  Task<std::string> received = CreateTask(RecvAll(*server));

  // immediately make another SendAll
  EXPECT_TRUE((co_await sock->SendAll("world")).ok());
  EXPECT_TRUE(sock->ShutdownWrite().ok());
  const std::string data = co_await received;
  // "hello" may be there (see above), so only the end is certain.
  EXPECT_TRUE(absl::EndsWith(data, "world")) << data;
}

TEST(BaseSockTestsMixin, test_sock_client_racing) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    co_await WaitFor(BasetestSockRecvRacing(httpd->port()), absl::Seconds(10));
    co_await WaitFor(BasetestSockRecvIntoRacing(httpd->port()), absl::Seconds(10));
    co_await WaitFor(BasetestSockSendRacing(), absl::Seconds(10));
  }());
}

// A connect cancelled while the address is bound but not listening does
// not stop a later connect once it listens.
Task<void> BasetestSockConnectRacing() {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const uint16_t port = ntohs(address.sin_port);

  Task<absl::StatusOr<TcpSocket>> task = CreateTask(Connect("127.0.0.1", port));
  co_await Yield();
  task.Cancel();
  // Cancelled, or refused first (nothing listens yet): never connected.
  bool cancelled = false;
  absl::Status outcome;
  try {
    outcome = (co_await task).status();
  } catch (const CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled || IsConnectionRefused(outcome)) << outcome;

  EXPECT_EQ(listen(listener, 1), 0);

  absl::Status last = absl::UnknownError("Max retries reached");
  for (int i = 0; i < 128; ++i) {
    absl::StatusOr<TcpSocket> sock = co_await Connect("127.0.0.1", port);
    if (sock.ok()) {
      last = absl::OkStatus();
      break;
    }
    last = sock.status();
    if (!IsConnectionRefused(last)) break;
  }
  EXPECT_TRUE(last.ok()) << last;
  close(listener);
}

TEST(BaseSockTestsMixin, test_sock_client_connect_racing) {
  RunAsync([]() -> Task<void> {
    co_await WaitFor(BasetestSockConnectRacing(), absl::Seconds(10));
  }());
}

constexpr size_t kDataSize = 10'000'00;

// "0123456789" repeated: what the /loop body is made of.
std::string Chunk() {
  std::string chunk;
  chunk.reserve(kDataSize);
  for (size_t i = 0; i < kDataSize / 10; ++i) chunk += "0123456789";
  return chunk;
}

// Checks that `data` continues the cycle of digits after `*offset` bytes,
// and advances the offset.
void ExpectCycle(absl::string_view data, size_t* offset) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != static_cast<char>('0' + (*offset + i) % 10)) {
      ADD_FAILURE() << "byte " << *offset + i << " is '" << data[i] << "'";
      break;
    }
  }
  *offset += data.size();
}

// test_huge_content (into_buffer false) and test_huge_content_recvinto
// (into_buffer true: every receive reuses one buffer, as recv_into into a
// memoryview does).
Task<void> BasetestHugeContent(uint16_t port, bool into_buffer) {
  absl::StatusOr<TcpSocket> sock = co_await Connect("127.0.0.1", port);
  EXPECT_TRUE(sock.ok()) << sock.status();
  if (!sock.ok()) co_return;
  const std::string chunk = Chunk();
  EXPECT_TRUE((co_await sock->SendAll(absl::StrCat(
                   "POST /loop HTTP/1.0\r\n", "Content-Length: ", kDataSize, "\r\n", "\r\n")))
                  .ok());

  Task<absl::Status> task = CreateTask(sock->SendAll(chunk));

  std::vector<char> array(kDataSize);
  // A receive of at most kDataSize bytes; with into_buffer, into `array`
  // itself, otherwise into a new buffer each time (sock_recv).
  auto receive = [&sock, &array, into_buffer]() -> Task<std::string> {
    std::vector<char> fresh;
    absl::Span<char> buffer = absl::MakeSpan(array);
    if (!into_buffer) {
      fresh.resize(kDataSize);
      buffer = absl::MakeSpan(fresh);
    }
    absl::StatusOr<size_t> n = co_await sock->Receive(buffer);
    co_return Received(n, buffer.data());
  };

  std::string data = co_await receive();
  // HTTP headers size is less than MTU,
  // they are sent by the first packet always
  EXPECT_TRUE(absl::StartsWith(data, "HTTP/1.0 200 OK")) << data.substr(0, 64);
  while (data.find("\r\n\r\n") == std::string::npos) {
    const std::string more = co_await receive();
    if (more.empty()) break;
    data += more;
  }
  // Strip headers
  const size_t headers = data.find("\r\n\r\n") + 4;
  data = data.substr(std::min(headers, data.size()));

  size_t size = kDataSize;
  size_t offset = 0;
  ExpectCycle(data, &offset);
  size -= data.size();

  for (;;) {
    data = co_await receive();
    if (data.empty()) break;
    ExpectCycle(data, &offset);
    size -= data.size();
  }
  EXPECT_EQ(size, 0u);

  EXPECT_TRUE((co_await task).ok());
  sock->Close();
}

TEST(BaseSockTestsMixin, test_huge_content) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    co_await BasetestHugeContent(httpd->port(), /*into_buffer=*/false);
  }());
}

TEST(BaseSockTestsMixin, test_huge_content_recvinto) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    co_await BasetestHugeContent(httpd->port(), /*into_buffer=*/true);
  }());
}

TEST(BaseSockTestsMixin, test_sock_client_fail) {
  RunAsync([]() -> Task<void> {
    // Make sure that we will get an unused port
    const uint16_t port = UnusedPort();
    absl::StatusOr<TcpSocket> sock = co_await Connect("127.0.0.1", port);
    EXPECT_TRUE(IsConnectionRefused(sock.status())) << sock.status();  // ConnectionRefusedError
  }());
}

TEST(BaseSockTestsMixin, test_sock_accept) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0, /*backlog=*/1);
    EXPECT_TRUE(listener.ok()) << listener.status();
    if (!listener.ok()) co_return;
    // client.connect(): a blocking connect, which the backlog completes.
    TcpSocket client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(listener->port());
    EXPECT_EQ(connect(client.fd(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);

    absl::StatusOr<TcpSocket> conn = co_await listener->Accept();
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) co_return;
    // addr == client.getsockname()
    absl::StatusOr<SocketAddress> addr = conn->PeerAddress();
    absl::StatusOr<SocketAddress> client_name = client.LocalAddress();
    EXPECT_TRUE(addr.ok() && client_name.ok());
    if (addr.ok() && client_name.ok()) {
      EXPECT_EQ(*addr, *client_name);
    }
    // client.getpeername() == listener.getsockname()
    absl::StatusOr<SocketAddress> client_peer = client.PeerAddress();
    absl::StatusOr<SocketAddress> listener_name = listener->LocalAddress();
    EXPECT_TRUE(client_peer.ok() && listener_name.ok());
    if (client_peer.ok() && listener_name.ok()) {
      EXPECT_EQ(*client_peer, *listener_name);
    }
    client.Close();
    conn->Close();
    listener->Close();
  }());
}

TEST(BaseSockTestsMixin, test_cancel_sock_accept) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0, /*backlog=*/1);
    EXPECT_TRUE(listener.ok()) << listener.status();
    if (!listener.ok()) co_return;
    const uint16_t port = listener->port();
    bool timed_out = false;
    try {
      (void)co_await WaitFor(listener->Accept(), absl::Milliseconds(100));
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);

    listener->Close();
    absl::StatusOr<TcpSocket> client = co_await Connect("127.0.0.1", port);
    EXPECT_TRUE(IsConnectionRefused(client.status())) << client.status();
  }());
}

TEST(BaseSockTestsMixin, test_create_connection_sock) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    absl::StatusOr<TcpSocket> sock = co_await Connect("127.0.0.1", httpd->port());
    EXPECT_TRUE(sock.ok()) << sock.status();
    if (!sock.ok()) co_return;

    // create_connection(MyProto, sock=sock): the connected socket becomes
    // a stream pair; MyProto writes its request on connection_made and
    // counts what arrives until the connection is lost.
    Stream stream(*std::move(sock));
    stream.writer.Write("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n");
    absl::StatusOr<std::string> received = co_await stream.reader.Read();
    EXPECT_TRUE(received.ok()) << received.status();
    EXPECT_GT(received.ok() ? received->size() : 0u, 0u);
    EXPECT_TRUE(stream.reader.AtEof());
    (void)co_await stream.writer.Close();
  }());
}

// test_ssl.py's TestSSL.test_connect_accepted_socket with its default
// arguments (no TLS on either side): a client thread with a blocking
// socket sends "test data"; the accepted socket becomes a stream, which
// answers every chunk with "roger" and reads to end of stream.
TEST(TestSSL, test_connect_accepted_socket) {
  constexpr absl::string_view kMessage = "test data";
  constexpr absl::string_view kExpectedResponse = "roger";
  absl::StatusOr<TcpListener> lsock = TcpListener::Listen("127.0.0.1", 0, /*backlog=*/1);
  ASSERT_TRUE(lsock.ok()) << lsock.status();

  std::string response;
  std::thread client([port = lsock->port(), &response, kMessage] {
    const int csock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    if (connect(csock, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
        send(csock, kMessage.data(), kMessage.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(kMessage.size())) {
      char buffer[99];
      const ssize_t n = recv(csock, buffer, sizeof(buffer), 0);
      if (n > 0) response.assign(buffer, n);
    }
    close(csock);
  });

  size_t nbytes = 0;
  bool closed = false;
  RunAsync([](TcpListener* lsock, size_t* nbytes, bool* closed,
              absl::string_view reply) -> Task<void> {
    absl::StatusOr<TcpSocket> conn = co_await lsock->Accept();
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) co_return;
    Stream stream(*std::move(conn));  // connect_accepted_socket
    for (;;) {
      absl::StatusOr<absl::string_view> data = co_await stream.reader.ReadSome(4096);
      EXPECT_TRUE(data.ok()) << data.status();
      if (!data.ok()) break;
      if (data->empty()) {  // connection_lost
        *closed = true;
        break;
      }
      *nbytes += data->size();  // data_received
      stream.writer.Write(reply);
    }
    (void)co_await stream.writer.Close();
  }(&*lsock, &nbytes, &closed, kExpectedResponse));
  // Closing the listener also resets a connection still in its backlog, so
  // the client ends even where the loop could not run (a skip).
  lsock->Close();
  client.join();

  EXPECT_TRUE(closed);
  EXPECT_EQ(nbytes, kMessage.size());
  EXPECT_EQ(response, kExpectedResponse);
}

}  // namespace
}  // namespace asyncio_like
