// CPython's test_asyncio/test_events.py, ported; see CONFORMANCE.md.
// EventLoopTestsMixin and SubprocessTestsMixin run in CPython once per
// selector (and on Windows per proactor); there is one loop here, so each
// method is one test. CPython's tests end `run_forever()` with
// `loop.stop()` from a callback; the ports await a Future that the callback
// completes instead.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/executor.h"
#include "asyncio_like/future.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/subprocess.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/threadsafe_calls.h"
#include "asyncio_like/timer_handle.h"
#include "asyncio_like/to_thread.h"
#include "asyncio_like/uring.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// test_utils.CLOCK_RES.
constexpr absl::Duration kClockRes = absl::Milliseconds(50);

// The signals these tests send are blocked in every thread, from before
// main (and so before gtest's and the watchdogs' threads): a signal sent to
// the process then stays pending for the loop's signalfd (signals.h).
const bool kTestSignalsBlocked = [] {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGALRM);
  return pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0;
}();

bool BlockedHere(int signo) {
  sigset_t current;
  pthread_sigmask(SIG_BLOCK, nullptr, &current);
  return sigismember(&current, signo) == 1;
}

// A blocking TCP socket bound to 127.0.0.1 on an ephemeral port, listening;
// closed by its destructor.
class BlockingListener {
 public:
  explicit BlockingListener(int backlog = 1) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), length), 0);
    EXPECT_EQ(listen(fd_, backlog), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
  }
  ~BlockingListener() { close(fd_); }
  BlockingListener(const BlockingListener&) = delete;
  BlockingListener& operator=(const BlockingListener&) = delete;

  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_ = 0;
};

// A blocking client connected to 127.0.0.1:port, or -1.
int BlockingConnect(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// ----- EventLoopTestsMixin -----

Task<void> Coro1() { co_await Sleep(absl::ZeroDuration()); }

Task<absl::Status> Coro2(EventLoop* loop) {
  EXPECT_EQ(EventLoop::Current(), loop);  // self.loop.is_running()
  co_return loop->RunUntilComplete(Coro1());
}

TEST(EventLoopTestsMixin, test_run_until_complete_nesting) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<absl::Status> nested = loop->RunUntilComplete(Coro2(loop.get()));
  ASSERT_TRUE(nested.ok()) << nested.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(*nested)) << *nested;
  EXPECT_EQ(nested->message(),
            "cannot run an event loop while another loop is running on this thread");
  // Where asyncio warns that coro1() was never awaited, the refused call has
  // scheduled it as a task of the loop, which is still pending.
  EXPECT_EQ(loop->pending_tasks(), 1u);
  EXPECT_TRUE(loop->CancelAllAndDrain().ok());
  EXPECT_EQ(loop->pending_tasks(), 0u);
}

TEST(EventLoopTestsMixin, test_run_until_complete) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  const absl::Duration delay = absl::Milliseconds(100);
  const int64_t t0 = EventLoop::NowNanos();
  ASSERT_TRUE(loop->RunUntilComplete([](absl::Duration d) -> Task<void> {
                    co_await Sleep(d);
                  }(delay))
                  .ok());
  const absl::Duration dt = absl::Nanoseconds(EventLoop::NowNanos() - t0);
  EXPECT_GE(dt, delay - kClockRes);
}

// Calls `schedule` with a callback that records its arguments and ends the
// wait; returns what was recorded.
Task<std::vector<std::string>> RecordedBy(
    std::function<void(absl::AnyInvocable<void(std::string, std::string)>)> schedule) {
  std::vector<std::string> results;
  Future<void> stopped = CreateFuture<void>();
  schedule([&results, stopped](std::string arg1, std::string arg2) {
    results.push_back(arg1 + arg2);
    stopped.SetResult();  // self.loop.stop()
  });
  co_await stopped;
  co_return results;
}

TEST(EventLoopTestsMixin, test_call_later) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  EventLoop* l = loop.get();
  auto schedule = [l](absl::AnyInvocable<void(std::string, std::string)> callback) {
    l->CallLater(absl::Milliseconds(100), std::bind_front(std::move(callback), "hello world", ""));
  };
  absl::StatusOr<std::vector<std::string>> results = RunTest(l, RecordedBy(schedule));
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(*results, std::vector<std::string>{"hello world"});
}

TEST(EventLoopTestsMixin, test_call_soon) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  EventLoop* l = loop.get();
  auto schedule = [l](absl::AnyInvocable<void(std::string, std::string)> callback) {
    l->CallSoon(std::bind_front(std::move(callback), "hello", " world"));
  };
  absl::StatusOr<std::vector<std::string>> results = RunTest(l, RecordedBy(schedule));
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(*results, std::vector<std::string>{"hello world"});
}

TEST(EventLoopTestsMixin, test_call_soon_threadsafe_same_thread) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto results = RunTest(loop.get(), []() -> Task<std::vector<std::string>> {
    std::vector<std::string> results;
    Future<void> stopped = CreateFuture<void>();
    auto callback = [&results, stopped](std::string arg) mutable {
      results.push_back(std::move(arg));
      if (results.size() >= 2) stopped.SetResult();  // self.loop.stop()
    };
    absl::StatusOr<LoopHandle> handle = LoopHandle::Current();
    if (!handle.ok()) co_return std::vector<std::string>{std::string(handle.status().message())};
    handle->CallSoonThreadsafe([callback]() mutable { callback("hello"); });
    EventLoop::Current()->CallSoon([callback]() mutable { callback("world"); });
    co_await stopped;
    co_return results;
  }());
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(*results, (std::vector<std::string>{"hello", "world"}));
}

std::pair<std::string, std::thread::id> RunYo() {
  return {"yo", std::this_thread::get_id()};
}

TEST(EventLoopTestsMixin, test_run_in_executor) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = RunTest(loop.get(), ToThread(RunYo));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->first, "yo");
  EXPECT_NE(result->second, std::this_thread::get_id());
}

// An executor that keeps the work it is given, for the test to run later.
class HeldExecutor final : public Executor {
 public:
  void Execute(absl::AnyInvocable<void() &&> work) override { held_ = std::move(work); }
  absl::AnyInvocable<void() &&> Take() { return std::move(held_); }
  bool holds() const { return static_cast<bool>(held_); }

 private:
  absl::AnyInvocable<void() &&> held_;
};

Task<bool> CancelRunInExecutor(HeldExecutor* executor, bool* ran) {
  auto run = [ran] { *ran = true; };
  Task<void> call = CreateTask(RunInExecutor(*executor, std::move(run)));
  co_await Sleep(absl::ZeroDuration());  // the work is handed over
  EXPECT_TRUE(executor->holds());
  call.Cancel();
  try {
    co_await call;
  } catch (const CancelledError&) {
    co_return true;
  }
  co_return false;
}

TEST(EventLoopTestsMixin, test_run_in_executor_cancel) {
  HeldExecutor executor;
  bool ran = false;
  {
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
    absl::StatusOr<bool> cancelled = RunTest(loop.get(), CancelRunInExecutor(&executor, &ran));
    ASSERT_TRUE(cancelled.ok()) << cancelled.status();
    EXPECT_TRUE(*cancelled);  // without waiting for the function
    EXPECT_FALSE(ran);
  }  // loop.close()
  // The function runs to its end on its thread; its hand-back finds the loop
  // closed and is dropped.
  std::thread worker(executor.Take());
  worker.join();
  EXPECT_TRUE(ran);
}

// add_reader's counterpart: the task waits for readability with a poll
// operation on the ring, then reads without blocking, until end of stream
// (where CPython's reader calls remove_reader).
Task<std::string> ReadWhenReadable(int r) {
  std::string bytes_read;
  for (;;) {
    const int revents = co_await KernelOp([r](io_uring_sqe* sqe) {
      io_uring_prep_poll_add(sqe, r, POLLIN);
    });
    EXPECT_GT(revents, 0);
    if (revents <= 0) co_return bytes_read;
    char data[1024];
    const ssize_t n = recv(r, data, sizeof data, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;  // spurious readiness
    if (n <= 0) co_return bytes_read;
    bytes_read.append(data, static_cast<size_t>(n));
  }
}

Task<std::string> ReaderCallback(int r, int w) {
  Task<std::string> reader = CreateTask(ReadWhenReadable(r));
  EXPECT_EQ(send(w, "abc", 3, MSG_NOSIGNAL), 3);
  EXPECT_EQ(send(w, "def", 3, MSG_NOSIGNAL), 3);
  close(w);
  co_return co_await std::move(reader);
}

TEST(EventLoopTestsMixin, test_reader_callback) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  ExpectRunsTo(loop.get(), ReaderCallback(fds[0], fds[1]), "abcdef");
  close(fds[0]);
}

// add_writer's counterpart: wait for writability, then send.
Task<ssize_t> WriteWhenWritable(int w, std::string data) {
  const int revents = co_await KernelOp([w](io_uring_sqe* sqe) {
    io_uring_prep_poll_add(sqe, w, POLLOUT);
  });
  EXPECT_GT(revents, 0);
  co_return send(w, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

TEST(EventLoopTestsMixin, test_writer_callback) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const std::string data(1024, 'x');
  absl::StatusOr<ssize_t> sent = RunTest(loop.get(), WriteWhenWritable(fds[1], data));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 1024);
  close(fds[1]);
  std::string read(2048, '\0');
  const ssize_t n = recv(fds[0], read.data(), read.size(), 0);
  ASSERT_GE(n, 0);
  read.resize(static_cast<size_t>(n));
  EXPECT_EQ(read, data);
  close(fds[0]);
}

// Sends `signo` to the process, then waits until `got` is set.
Task<void> SendAndWait(int signo, Event& got) {
  kill(getpid(), signo);
  co_await got.Wait();
}

TEST(EventLoopTestsMixin, test_add_signal_handler) {
  ASSERT_TRUE(kTestSignalsBlocked);
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  int caught = 0;
  Event got;
  auto my_handler = [&caught, &got] {
    ++caught;
    got.Set();
  };
  // Check error behaviour first. ('boom', a string, does not compile.)
  for (int signo : {NSIG + 1, 0, -1}) {
    EXPECT_TRUE(absl::IsInvalidArgument(loop->AddSignalHandler(signo, my_handler))) << signo;
    EXPECT_TRUE(absl::IsInvalidArgument(loop->RemoveSignalHandler(signo).status())) << signo;
  }
  EXPECT_TRUE(absl::IsFailedPrecondition(loop->AddSignalHandler(SIGKILL, my_handler)));
  // Removing SIGKILL is no error: it has no handler.
  absl::StatusOr<bool> removed = loop->RemoveSignalHandler(SIGKILL);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(*removed);
  // Now set a handler and handle it.
  const bool blocked_before = BlockedHere(SIGINT);
  ASSERT_TRUE(loop->AddSignalHandler(SIGINT, my_handler).ok());
  ASSERT_TRUE(RunTest(loop.get(), SendAndWait(SIGINT, got)).ok());
  EXPECT_EQ(caught, 1);
  // Removing it restores the signal's state in this thread.
  removed = loop->RemoveSignalHandler(SIGINT);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(*removed);
  EXPECT_EQ(BlockedHere(SIGINT), blocked_before);
  // Removing again returns false.
  removed = loop->RemoveSignalHandler(SIGINT);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(*removed);
}

// Arms a one-shot SIGALRM `delay` from now.
void AlarmIn(absl::Duration delay) {
  itimerval timer{};
  timer.it_value = absl::ToTimeval(delay);
  ASSERT_EQ(setitimer(ITIMER_REAL, &timer, nullptr), 0);
}

TEST(EventLoopTestsMixin, test_signal_handling_while_selecting) {
  ASSERT_TRUE(kTestSignalsBlocked);
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  int caught = 0;
  Event got;
  ASSERT_TRUE(loop->AddSignalHandler(SIGALRM, [&caught, &got] {
                    ++caught;
                    got.Set();
                  }).ok());
  AlarmIn(absl::Milliseconds(10));  // arrives while the loop waits in the kernel
  ASSERT_TRUE(RunTest(loop.get(), got.Wait()).ok());
  EXPECT_EQ(caught, 1);
  EXPECT_TRUE(*loop->RemoveSignalHandler(SIGALRM));
}

TEST(EventLoopTestsMixin, test_signal_handling_args) {
  ASSERT_TRUE(kTestSignalsBlocked);
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  int caught = 0;
  std::vector<int> args_seen;
  Event got;
  auto my_handler = [&caught, &args_seen, &got](int arg) {
    ++caught;
    args_seen.push_back(arg);
    got.Set();
  };
  ASSERT_TRUE(loop->AddSignalHandler(SIGALRM, std::bind_front(my_handler, 42)).ok());
  AlarmIn(absl::Milliseconds(100));
  ASSERT_TRUE(RunTest(loop.get(), got.Wait()).ok());
  EXPECT_EQ(caught, 1);
  EXPECT_EQ(args_seen, std::vector<int>{42});
  EXPECT_TRUE(*loop->RemoveSignalHandler(SIGALRM));
}

// test_utils.run_test_server: answers one HTTP request on a thread.
class TestHttpServer {
 public:
  TestHttpServer()
      : thread_([this] {
          const int connection = accept(listener_.fd(), nullptr, nullptr);
          if (connection < 0) return;
          std::string request;
          char buffer[1024];
          while (request.find("\r\n\r\n") == std::string::npos) {
            const ssize_t n = recv(connection, buffer, sizeof buffer, 0);
            if (n <= 0) break;
            request.append(buffer, static_cast<size_t>(n));
          }
          const std::string response = "HTTP/1.0 200 OK\r\nContent-type: text/plain\r\n\r\nTest message";
          (void)send(connection, response.data(), response.size(), MSG_NOSIGNAL);
          close(connection);
        }) {}
  ~TestHttpServer() { thread_.join(); }

  uint16_t port() const { return listener_.port(); }

 private:
  BlockingListener listener_;
  std::thread thread_;  // last: starts once the listener exists
};

// MyProto over a connected socket: sends the request at once, counts the
// response's bytes until the server closes.
Task<size_t> CreateConnection(uint16_t port) {
  absl::StatusOr<TcpSocket> socket = co_await Connect("127.0.0.1", port);
  EXPECT_TRUE(socket.ok()) << socket.status();
  if (!socket.ok()) co_return 0;
  absl::StatusOr<SocketAddress> sockname = socket->LocalAddress();
  EXPECT_TRUE(sockname.ok()) << sockname.status();
  EXPECT_TRUE((co_await socket->SendAll("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n")).ok());
  size_t nbytes = 0;
  char buffer[1024];
  for (;;) {
    absl::StatusOr<size_t> n = co_await socket->Receive(absl::MakeSpan(buffer));
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok() || *n == 0) break;
    nbytes += *n;
  }
  co_return nbytes;
}

TEST(EventLoopTestsMixin, test_create_connection) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  TestHttpServer httpd;
  absl::StatusOr<size_t> nbytes = RunTest(loop.get(), CreateConnection(httpd.port()));
  ASSERT_TRUE(nbytes.ok()) << nbytes.status();
  EXPECT_GT(*nbytes, 0u);
}

// connect_accepted_socket's protocol: answers the message, then sees the
// client close.
Task<size_t> ServeAccepted(int connection) {
  Stream stream{TcpSocket(connection)};
  absl::StatusOr<std::string> message = co_await stream.reader.ReadExactly(9);
  EXPECT_EQ(message.value_or(message.status().ToString()), "test data");
  stream.writer.Write("roger");
  EXPECT_TRUE((co_await stream.writer.Drain()).ok());
  absl::StatusOr<std::string> rest = co_await stream.reader.Read();  // to end of stream
  EXPECT_EQ(rest.value_or(rest.status().ToString()), "");
  EXPECT_TRUE(stream.reader.AtEof());
  (void)co_await stream.writer.Close();
  co_return message.ok() ? message->size() : 0;
}

TEST(EventLoopTestsMixin, test_connect_accepted_socket) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  BlockingListener lsock;
  std::string response;
  std::thread client([&response, port = lsock.port()] {
    const int csock = BlockingConnect(port);
    if (csock < 0) return;
    const std::string message = "test data";
    (void)send(csock, message.data(), message.size(), MSG_NOSIGNAL);
    char buffer[99];
    const ssize_t n = recv(csock, buffer, sizeof buffer, 0);
    if (n > 0) response.assign(buffer, static_cast<size_t>(n));
    close(csock);
  });
  const int conn = accept(lsock.fd(), nullptr, nullptr);
  ASSERT_GE(conn, 0);
  absl::StatusOr<size_t> nbytes = RunTest(loop.get(), ServeAccepted(conn));
  client.join();
  ASSERT_TRUE(nbytes.ok()) << nbytes.status();
  EXPECT_EQ(*nbytes, 9u);
  EXPECT_EQ(response, "roger");
}

// MyProto as a server's connection handler.
struct ServerProto {
  std::string state = "INITIAL";
  size_t nbytes = 0;
  Future<void> connected;
  Future<void> done;
};

Task<void> ServeProto(StreamReader reader, StreamWriter writer, ServerProto* proto) {
  EXPECT_EQ(proto->state, "INITIAL");
  proto->state = "CONNECTED";
  proto->connected.SetResult();
  absl::StatusOr<std::string> data = co_await reader.ReadExactly(3);
  EXPECT_TRUE(data.ok()) << data.status();
  if (data.ok()) proto->nbytes += data->size();
  (void)co_await writer.Close();  // proto.transport.close()
  proto->state = "CLOSED";
  proto->done.SetResult();
}

ConnectionHandler HandlerFor(ServerProto* proto) {
  return [proto](StreamReader reader, StreamWriter writer) {
    return ServeProto(std::move(reader), std::move(writer), proto);
  };
}

Task<void> CreateServer() {
  ServerProto proto{"INITIAL", 0, CreateFuture<void>(), CreateFuture<void>()};
  absl::StatusOr<Server> server = StartServer(HandlerFor(&proto), "0.0.0.0", 0);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) co_return;
  const std::vector<SocketAddress> sockets = server->sockets();
  EXPECT_EQ(sockets.size(), 1u);
  EXPECT_EQ(sockets.at(0).host, "0.0.0.0");
  absl::StatusOr<TcpSocket> client = co_await Connect("127.0.0.1", sockets.at(0).port);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) co_return;
  EXPECT_TRUE((co_await client->SendAll("xxx")).ok());
  co_await proto.connected;
  EXPECT_EQ(proto.state, "CONNECTED");
  co_await proto.done;
  EXPECT_EQ(proto.nbytes, 3u);
  EXPECT_EQ(proto.state, "CLOSED");
  // The server's peer is 127.0.0.1 (seen from the client's side).
  absl::StatusOr<SocketAddress> peername = client->LocalAddress();
  EXPECT_EQ(peername.ok() ? peername->host : peername.status().ToString(), "127.0.0.1");
  client->Close();
  server->Close();
}

TEST(EventLoopTestsMixin, test_create_server) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  EXPECT_TRUE(RunTest(loop.get(), CreateServer()).ok());
}

Task<void> CreateServerSock() {
  ServerProto proto{"INITIAL", 0, CreateFuture<void>(), CreateFuture<void>()};
  absl::StatusOr<TcpListener> sock_ob = TcpListener::Listen("0.0.0.0", 0);
  EXPECT_TRUE(sock_ob.ok()) << sock_ob.status();
  if (!sock_ob.ok()) co_return;
  const uint16_t port = sock_ob->port();
  absl::StatusOr<Server> server = StartServer(HandlerFor(&proto), *std::move(sock_ob));
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) co_return;
  const std::vector<SocketAddress> sockets = server->sockets();
  EXPECT_EQ(sockets.size(), 1u);
  EXPECT_EQ(sockets.at(0), (SocketAddress{"0.0.0.0", port}));
  absl::StatusOr<TcpSocket> client = co_await Connect("127.0.0.1", port);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) co_return;
  EXPECT_TRUE((co_await client->SendAll("xxx")).ok());
  co_await proto.connected;  // TestMyProto.connection_made
  co_await proto.done;
  client->Close();
  server->Close();
}

TEST(EventLoopTestsMixin, test_create_server_sock) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  EXPECT_TRUE(RunTest(loop.get(), CreateServerSock()).ok());
}

Task<void> IgnoreConnection(StreamReader, StreamWriter) { co_return; }

Task<absl::Status> ServerAddrInUse() {
  absl::StatusOr<TcpListener> sock_ob = TcpListener::Listen("0.0.0.0", 0);
  EXPECT_TRUE(sock_ob.ok()) << sock_ob.status();
  if (!sock_ob.ok()) co_return sock_ob.status();
  absl::StatusOr<Server> server = StartServer(IgnoreConnection, *std::move(sock_ob));
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) co_return server.status();
  const SocketAddress address = server->sockets().at(0);
  absl::StatusOr<Server> second = StartServer(IgnoreConnection, address.host, address.port);
  EXPECT_FALSE(second.ok());
  server->Close();
  co_return second.status();
}

TEST(EventLoopTestsMixin, test_create_server_addr_in_use) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<absl::Status> status = RunTest(loop.get(), ServerAddrInUse());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(ErrnoOf(*status), EADDRINUSE) << *status;
}

Task<absl::Status> ServerClose() {
  absl::StatusOr<Server> server = StartServer(IgnoreConnection, "0.0.0.0", 0);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) co_return server.status();
  const uint16_t port = server->port();
  {
    absl::StatusOr<TcpSocket> client = co_await Connect("127.0.0.1", port);
    EXPECT_TRUE(client.ok()) << client.status();
    if (client.ok()) {
      EXPECT_TRUE((co_await client->SendAll("xxx")).ok());
    }
  }
  server->Close();
  co_return (co_await Connect("127.0.0.1", port)).status();
}

TEST(EventLoopTestsMixin, test_server_close) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<absl::Status> refused = RunTest(loop.get(), ServerClose());
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_TRUE(IsConnectionRefused(*refused)) << *refused;
  EXPECT_NE(refused->message().find("[ConnectionRefusedError]"), std::string::npos) << *refused;
}

Task<absl::StatusOr<size_t>> ReceiveOne(const TcpSocket& socket) {
  char byte;
  co_return co_await socket.Receive(absl::MakeSpan(&byte, 1));
}

Task<std::string> PromptCancellation(EventLoop* loop, const TcpSocket& r) {
  Task<absl::StatusOr<size_t>> f = CreateTask(ReceiveOne(r));
  TaskRef ref = f;
  std::string res = "none";
  try {
    loop->CallSoon([ref]() mutable { ref.Cancel(); });
    (void)co_await f;
  } catch (const CancelledError&) {
    res = "cancelled";
  }
  EXPECT_TRUE(f.cancelled());
  co_return res;
}

TEST(EventLoopTestsMixin, test_prompt_cancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  TcpSocket r(fds[0]);
  TcpSocket w(fds[1]);
  absl::StatusOr<std::string> res = RunTest(loop.get(), PromptCancellation(loop.get(), r));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(*res, "cancelled");
}

Task<void> SleepsOfEveryScale() {
  for (double seconds : {1e-2, 1e-4, 1e-6, 1e-8, 1e-10}) {
    co_await Sleep(absl::Seconds(seconds));
  }
}

TEST(EventLoopTestsMixin, test_timeout_rounding) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  const uint64_t before = loop->stats().iterations;
  ASSERT_TRUE(loop->RunUntilComplete(SleepsOfEveryScale()).ok());
  // The ideal number is about 12; a wait that returns a little early costs
  // a pass more, not a spin.
  EXPECT_LE(loop->stats().iterations - before, 20u);
}

// ----- SubprocessTestsMixin -----

SubprocessOptions AllPipes() {
  SubprocessOptions options;
  options.stdin_mode = Stdio::kPipe;
  options.stdout_mode = Stdio::kPipe;
  options.stderr_mode = Stdio::kPipe;
  return options;
}

// echo.py: copies its input to its output.
Task<std::string> Interact(std::vector<std::string> inputs) {
  absl::StatusOr<Process> proc = co_await CreateSubprocessExec("cat", {}, AllPipes());
  EXPECT_TRUE(proc.ok()) << proc.status();
  if (!proc.ok()) co_return "";
  std::string data;  // proto.data[1]
  for (const std::string& input : inputs) {
    proc->stdin_pipe()->Write(input);
    EXPECT_TRUE((co_await proc->stdin_pipe()->Drain()).ok());
    absl::StatusOr<std::string> got = co_await proc->stdout_pipe()->ReadExactly(input.size());
    EXPECT_TRUE(got.ok()) << got.status();
    data += got.value_or("");
    EXPECT_EQ(data.size() >= input.size() ? data.substr(data.size() - input.size()) : data, input);
  }
  // transp.close() kills a child that still runs.
  EXPECT_TRUE(proc->Kill().ok());
  const int returncode = co_await proc->Wait();
  co_return absl::StrCat(returncode, " ", data);
}

TEST(SubprocessTestsMixin, test_subprocess_exec) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result =
      RunTest(loop.get(), Interact(std::vector<std::string>{"Python The Winner"}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, absl::StrCat(-SIGKILL, " Python The Winner"));
}

TEST(SubprocessTestsMixin, test_subprocess_interactive) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result =
      RunTest(loop.get(), Interact(std::vector<std::string>{"Python ", "The Winner"}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, absl::StrCat(-SIGKILL, " Python The Winner"));
}

Task<std::string> ShellEcho() {
  absl::StatusOr<Process> proc = co_await CreateSubprocessShell("echo Python", AllPipes());
  EXPECT_TRUE(proc.ok()) << proc.status();
  if (!proc.ok()) co_return "";
  // Closes stdin, reads stdout and stderr to their ends, waits for the exit.
  absl::StatusOr<CommunicateResult> out = co_await proc->Communicate();
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) co_return "";
  co_return absl::StrCat(*proc->returncode(), " '", out->out.value_or("None"), "' '",
                         out->err.value_or("None"), "'");
}

TEST(SubprocessTestsMixin, test_subprocess_shell) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result = RunTest(loop.get(), ShellEcho());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 'Python\n' ''");
}

// 'exit 7' with stdin, stdout and stderr inherited (None).
Task<int> ExitSeven(bool check_pipes) {
  absl::StatusOr<Process> proc = co_await CreateSubprocessShell("exit 7");
  EXPECT_TRUE(proc.ok()) << proc.status();
  if (!proc.ok()) co_return -1;
  if (check_pipes) {
    EXPECT_EQ(proc->stdin_pipe(), nullptr);
    EXPECT_EQ(proc->stdout_pipe(), nullptr);
    EXPECT_EQ(proc->stderr_pipe(), nullptr);
  }
  co_return co_await proc->Wait();
}

TEST(SubprocessTestsMixin, test_subprocess_exitcode) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<int> code = RunTest(loop.get(), ExitSeven(/*check_pipes=*/false));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 7);
}

TEST(SubprocessTestsMixin, test_subprocess_close_after_finish) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<int> code = RunTest(loop.get(), ExitSeven(/*check_pipes=*/true));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 7);
}

// echo2.py: writes its input to stdout after "OUT:" and to stderr after
// "ERR:".
constexpr char kEcho2[] =
    "data=$(cat); printf 'OUT:%s' \"$data\"; printf 'ERR:%s' \"$data\" >&2";

Task<std::string> Echo2(Stdio stderr_mode) {
  SubprocessOptions options = AllPipes();
  options.stderr_mode = stderr_mode;
  absl::StatusOr<Process> proc = co_await CreateSubprocessShell(kEcho2, options);
  EXPECT_TRUE(proc.ok()) << proc.status();
  if (!proc.ok()) co_return "";
  EXPECT_NE(proc->stdout_pipe(), nullptr);
  EXPECT_EQ(proc->stderr_pipe() != nullptr, stderr_mode == Stdio::kPipe);
  absl::StatusOr<CommunicateResult> out = co_await proc->Communicate("test");
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) co_return "";
  co_return absl::StrCat(*proc->returncode(), " ", out->out.value_or("None"), " ",
                         out->err.value_or("None"));
}

TEST(SubprocessTestsMixin, test_subprocess_stderr) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result = RunTest(loop.get(), Echo2(Stdio::kPipe));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 OUT:test ERR:test");
}

TEST(SubprocessTestsMixin, test_subprocess_stderr_redirect_to_stdout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result = RunTest(loop.get(), Echo2(Stdio::kStdout));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 OUT:testERR:test None");
}

// ----- HandleTests -----

TEST(HandleTests, test_callback_with_exception) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  testing::internal::CaptureStderr();
  absl::Status status = loop->RunUntilComplete([](EventLoop* loop) -> Task<void> {
    Future<void> ran = CreateFuture<void>();
    loop->CallSoon([ran] {
      ran.SetResult();
      throw std::invalid_argument("ValueError");
    });
    co_await ran;
  }(loop.get()));
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_NE(err.find("Exception in callback: ValueError\n"), std::string::npos) << err;
}

// ----- TimerTests -----

TEST(TimerTests, test_when) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  const int64_t when = EventLoop::NowNanos();
  TimerHandle h = loop->CallAt(when, [] {});
  EXPECT_EQ(h.When(), when);
  h.Cancel();
}

TEST(TimerTests, test_timer) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto args = std::make_shared<int>(123);
  TimerHandle h = loop->CallAt(EventLoop::NowNanos(), [args] { (void)args; });
  EXPECT_EQ(args.use_count(), 2);  // the callback holds its arguments
  EXPECT_FALSE(h.Cancelled());
  // cancel
  h.Cancel();
  EXPECT_TRUE(h.Cancelled());
  EXPECT_EQ(args.use_count(), 1);  // _callback and _args are dropped
}

}  // namespace
}  // namespace asyncio_like
