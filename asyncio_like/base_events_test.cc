// CPython's test_asyncio/test_base_events.py, ported; see CONFORMANCE.md.
// Most of that file drives BaseEventLoop's private methods against mocked
// selectors and sockets; the ports here check the same behaviour on the real
// loop, with real sockets where CPython mocks them.
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/future.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/subprocess.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/timer_handle.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// test_utils.CLOCK_RES: how early a timer may seem to fire, measured from
// outside.
constexpr absl::Duration kClockRes = absl::Milliseconds(50);

constexpr int64_t kNanosPerSecond = 1'000'000'000;

Task<void> Nothing() { co_return; }

Task<void> IgnoreConnection(StreamReader, StreamWriter) { co_return; }

// Open descriptors of this process.
int OpenFds() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory's own
}

// ----- BaseEventLoopTests -----

Task<void> CallLaterArmed(EventLoop* loop, bool* ran) {
  const uint64_t timers_before = loop->live_timers();
  const int64_t before = EventLoop::NowNanos();
  TimerHandle handle = loop->CallLater(absl::Seconds(10), [ran] { *ran = true; });
  const int64_t after = EventLoop::NowNanos();
  // Scheduled, not ready: armed 10 s ahead ...
  EXPECT_GE(handle.When(), before + 10 * kNanosPerSecond);
  EXPECT_LE(handle.When(), after + 10 * kNanosPerSecond);
  EXPECT_FALSE(handle.Cancelled());
  EXPECT_EQ(loop->live_timers(), timers_before + 1);
  // ... and not run by the next pass.
  co_await Sleep(absl::ZeroDuration());
  EXPECT_FALSE(*ran);
  handle.Cancel();
  EXPECT_EQ(loop->live_timers(), timers_before);
}

// A non-callable does not compile; the empty callable is refused at once,
// in every mode (asyncio checks in debug mode only).
TEST(BaseEventLoopTests, test_call_soon_non_callable) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  try {
    loop->CallSoon(nullptr);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("a callable object"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(loop->RunUntilComplete([]() -> Task<void> { co_return; }()).ok());
}

TEST(BaseEventLoopTests, test_call_later) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  bool ran = false;
  ASSERT_TRUE(loop->RunUntilComplete(CallLaterArmed(loop.get(), &ran)).ok());
  EXPECT_FALSE(ran);
}

Task<std::string> NegativeDelays(EventLoop* loop) {
  std::string calls;
  Future<void> done = CreateFuture<void>();
  auto cb = [&calls](std::string arg) { calls += arg; };
  loop->CallLater(absl::Seconds(-1), std::bind_front(cb, "a"));
  loop->CallLater(absl::Seconds(-2), std::bind_front(cb, "b"));
  // Due after both: the test's run_briefly.
  loop->CallLater(absl::ZeroDuration(), [done] { done.SetResult(); });
  co_await done;
  co_return calls;
}

TEST(BaseEventLoopTests, test_call_later_negative_delays) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), NegativeDelays(loop.get()), "ba");
}

Task<absl::Duration> CallAtAfter(EventLoop* loop, absl::Duration delay) {
  Future<void> fired = CreateFuture<void>();
  const int64_t when = EventLoop::NowNanos() + absl::ToInt64Nanoseconds(delay);
  loop->CallAt(when, [fired] { fired.SetResult(); });
  const int64_t t0 = EventLoop::NowNanos();
  co_await fired;
  co_return absl::Nanoseconds(EventLoop::NowNanos() - t0);
}

TEST(BaseEventLoopTests, test_time_and_call_at) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  const absl::Duration delay = absl::Milliseconds(100);
  absl::StatusOr<absl::Duration> dt = RunTest(loop.get(), CallAtAfter(loop.get(), delay));
  ASSERT_TRUE(dt.ok()) << dt.status();
  EXPECT_GE(*dt, delay - kClockRes);
}

// A step that takes a while, so that a zero slow_callback_duration reports it.
Task<void> OneStep() {
  co_await Sleep(absl::ZeroDuration());
}

TEST(BaseEventLoopTests, test_set_debug) {
  for (bool debug : {true, false}) {
    LoopOptions options;
    options.debug = debug;
    options.slow_callback_duration = absl::ZeroDuration();
    int reports = 0;
    options.on_slow_step = [&reports](const SlowStep&) { ++reports; };
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, options);
    EXPECT_EQ(loop->options().debug, debug);
    ASSERT_TRUE(loop->RunUntilComplete(OneStep()).ok());
    // Only debug mode reports slow steps.
    if (debug) {
      EXPECT_GT(reports, 0);
    } else {
      EXPECT_EQ(reports, 0);
    }
  }
}

Task<void> CancelledTimersLeaveAtOnce(EventLoop* loop) {
  auto cb = [] {};
  const uint64_t base = loop->live_timers();
  std::vector<TimerHandle> kept;
  kept.push_back(loop->CallLater(absl::Seconds(3000), cb));
  for (int i = 0; i < 2; ++i) loop->CallLater(absl::Seconds(3600), cb).Cancel();
  for (int i = 0; i < 2; ++i) loop->CallLater(absl::Seconds(100), cb).Cancel();
  // asyncio keeps the four cancelled handles in its heap until a pass sweeps
  // the ones at its head; the wheel has dropped them already.
  EXPECT_EQ(loop->live_timers(), base + 1);
  co_await Sleep(absl::ZeroDuration());
  EXPECT_EQ(loop->live_timers(), base + 1);
  // Far more than asyncio's sweep threshold (_MIN_SCHEDULED_TIMER_HANDLES,
  // 100, at a fraction of 0.5), mixed.
  for (int i = 0; i < 300; ++i) {
    TimerHandle handle = loop->CallLater(absl::Seconds(3600), cb);
    if (i % 3 == 0) {
      kept.push_back(std::move(handle));
    } else {
      handle.Cancel();
    }
  }
  EXPECT_EQ(loop->live_timers(), base + 101);
  co_await Sleep(absl::ZeroDuration());
  EXPECT_EQ(loop->live_timers(), base + 101);
  for (TimerHandle& handle : kept) {
    EXPECT_FALSE(handle.Cancelled());
    handle.Cancel();
  }
  EXPECT_EQ(loop->live_timers(), base);
}

TEST(BaseEventLoopTests, test__run_once_cancelled_event_cleanup) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  EXPECT_TRUE(loop->RunUntilComplete(CancelledTimersLeaveAtOnce(loop.get())).ok());
}

template <typename A>
concept RunUntilCompleteAccepts =
    requires(EventLoop& loop, A arg) { loop.RunUntilComplete(std::move(arg)); };

TEST(BaseEventLoopTests, test_run_until_complete_type_error) {
  // run_until_complete('blah') is a TypeError; here it does not compile.
  static_assert(!RunUntilCompleteAccepts<const char*>);
  static_assert(!RunUntilCompleteAccepts<std::string>);
  static_assert(RunUntilCompleteAccepts<Task<int>>);
}

template <typename... A>
concept ExecAccepts = requires(A... args) { CreateSubprocessExec(std::move(args)...); };
template <typename... A>
concept ShellAccepts = requires(A... args) { CreateSubprocessShell(std::move(args)...); };

TEST(BaseEventLoopTests, test_subprocess_exec_invalid_args) {
  // Missing program parameter: no arguments at all does not compile ...
  static_assert(!ExecAccepts<>);
  // ... expected multiple arguments, not a list (or here: a list, not a
  // string); program arguments must be strings.
  static_assert(!ExecAccepts<std::string, std::string>);
  static_assert(!ExecAccepts<std::string, int>);
  static_assert(!ExecAccepts<std::string, std::vector<int>>);
  static_assert(ExecAccepts<std::string, std::vector<std::string>>);
  // ... and an empty program is refused.
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<absl::Status> { co_return (co_await CreateSubprocessExec("")).status(); };
  absl::StatusOr<absl::Status> status = RunTest(loop.get(), run());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(absl::IsInvalidArgument(*status)) << *status;
}

TEST(BaseEventLoopTests, test_subprocess_shell_invalid_args) {
  // Expected a string, not an int or a list.
  static_assert(!ShellAccepts<int>);
  static_assert(!ShellAccepts<std::vector<std::string>>);
  static_assert(ShellAccepts<std::string>);
}

Task<void> ZeroErrorCallbacks(EventLoop* loop) {
  Future<bool> soon = CreateFuture<bool>();
  loop->CallSoon([soon] {
    soon.SetResult(true);
    throw std::domain_error("zero_error: division by zero (call_soon)");
  });
  EXPECT_TRUE(co_await soon);
  Future<bool> later = CreateFuture<bool>();
  loop->CallLater(absl::Milliseconds(10), [later] {
    later.SetResult(true);
    throw std::domain_error("zero_error: division by zero (call_later)");
  });
  EXPECT_TRUE(co_await later);
}

TEST(BaseEventLoopTests, test_default_exc_handler_callback) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  testing::internal::CaptureStderr();
  absl::Status status = loop->RunUntilComplete(ZeroErrorCallbacks(loop.get()));
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_NE(err.find("Exception in callback: zero_error: division by zero (call_soon)\n"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("Exception in callback: zero_error: division by zero (call_later)\n"),
            std::string::npos)
      << err;
}

Task<void> ZeroErrorCoro() {
  co_await Sleep(absl::Milliseconds(10));
  throw std::domain_error("division by zero");
}

// Lets a failed task finish, then drops its last handle without asking for
// its result.
Task<void> FailUnretrieved() {
  Task<void> task = CreateTask(ZeroErrorCoro(), "zero_error_coro");
  Future<void> done = CreateFuture<void>();
  task.AddDoneCallback([done](TaskRef) { done.SetResult(); });
  co_await done;
}

TEST(BaseEventLoopTests, test_default_exc_handler_coro) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  testing::internal::CaptureStderr();
  absl::Status status = loop->RunUntilComplete(FailUnretrieved());
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_NE(err.find("Task exception was never retrieved: <Task name='zero_error_coro'>: "
                     "division by zero"),
            std::string::npos)
      << err;
}

TEST(BaseEventLoopTests, test_create_named_task_with_default_factory) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  Task<void> task = loop->CreateTask(Nothing(), "test_task");
  EXPECT_EQ(task.name(), "test_task");
  EXPECT_TRUE(loop->RunUntilComplete(std::move(task)).ok());
}

Task<void> RaiseKeyboardInterrupt() {
  throw std::runtime_error("KeyboardInterrupt");
  co_return;
}

TEST(BaseEventLoopTests, test_run_forever_keyboard_interrupt) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  testing::internal::CaptureStderr();
  EXPECT_THROW((void)loop->RunUntilComplete(RaiseKeyboardInterrupt()), std::runtime_error);
  loop.reset();  // loop.close(); gc
  const std::string err = testing::internal::GetCapturedStderr();
  // The exception reached its caller: nothing else reports it.
  EXPECT_EQ(err, "");
}

// ----- BaseEventLoopWithSelectorTests -----

// A connect that does not complete in time: the listener's backlog is full
// (backlog 0, nobody accepts), so the kernel drops the next SYNs.
Task<void> ConnectTimesOutAndCloses() {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0, /*backlog=*/0);
  EXPECT_TRUE(listener.ok()) << listener.status();
  if (!listener.ok()) co_return;
  std::vector<TcpSocket> queued;
  const int fds_before = OpenFds();
  absl::Status timed_out;
  for (int i = 0; i < 8 && timed_out.ok(); ++i) {
    absl::StatusOr<TcpSocket> socket =
        co_await Connect("127.0.0.1", listener->port(), absl::Milliseconds(200));
    if (socket.ok()) {
      queued.push_back(*std::move(socket));
    } else {
      timed_out = socket.status();
    }
  }
  EXPECT_TRUE(IsTimedOut(timed_out)) << timed_out;
  EXPECT_NE(timed_out.message().find("[TimeoutError]"), std::string::npos) << timed_out;
  // The socket of the connect that timed out is closed.
  EXPECT_EQ(OpenFds(), fds_before + static_cast<int>(queued.size()));
}

TEST(BaseEventLoopWithSelectorTests, test_create_connection_timeout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  EXPECT_TRUE(RunTest(loop.get(), ConnectTimesOutAndCloses()).ok());
}

Task<absl::Status> ServeOnIpv6Loopback() {
  absl::StatusOr<Server> server = StartServer(IgnoreConnection, "::1", 0);
  if (!server.ok()) co_return server.status();
  const std::vector<SocketAddress> sockets = server->sockets();
  EXPECT_GT(sockets.size(), 0u);
  if (!sockets.empty()) {
    EXPECT_EQ(sockets[0].host, "::1");
  }
  server->Close();
  co_await server->WaitClosed();
  co_return absl::OkStatus();
}

TEST(BaseEventLoopWithSelectorTests, test_create_server_ipv6) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<absl::Status> status = RunTest(loop.get(), ServeOnIpv6Loopback());
  ASSERT_TRUE(status.ok()) << status.status();
  const std::optional<int> error = ErrnoOf(*status);
  if (error == EADDRNOTAVAIL || error == EAFNOSUPPORT) GTEST_SKIP() << "failed to bind to ::1";
  EXPECT_TRUE(status->ok()) << *status;
}

// Connects to a listener on the numeric `host`; returns the connection's
// peer and local addresses, or the error.
Task<absl::StatusOr<std::pair<SocketAddress, SocketAddress>>> ConnectToNumeric(std::string host) {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen(host, 0);
  if (!listener.ok()) co_return listener.status();
  absl::StatusOr<TcpSocket> socket = co_await Connect(host, listener->port());
  if (!socket.ok()) co_return socket.status();
  absl::StatusOr<SocketAddress> peer = socket->PeerAddress();
  absl::StatusOr<SocketAddress> local = socket->LocalAddress();
  if (!peer.ok()) co_return peer.status();
  if (!local.ok()) co_return local.status();
  EXPECT_EQ(peer->port, listener->port());
  co_return std::make_pair(*peer, *local);
}

TEST(BaseEventLoopWithSelectorTests, test_create_connection_ip_addr) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto v4 = RunTest(loop.get(), ConnectToNumeric("127.0.0.1"));
  ASSERT_TRUE(v4.ok()) << v4.status();
  ASSERT_TRUE(v4->ok()) << v4->status();
  EXPECT_EQ((*v4)->first.host, "127.0.0.1");
  EXPECT_EQ((*v4)->second.host, "127.0.0.1");  // an AF_INET socket
  auto v6 = RunTest(loop.get(), ConnectToNumeric("::1"));
  ASSERT_TRUE(v6.ok()) << v6.status();
  const std::optional<int> error = ErrnoOf(v6->status());
  if (error == EADDRNOTAVAIL || error == EAFNOSUPPORT) GTEST_SKIP() << "no IPv6 support";
  ASSERT_TRUE(v6->ok()) << v6->status();
  EXPECT_EQ((*v6)->first.host, "::1");
  EXPECT_EQ((*v6)->second.host, "::1");  // an AF_INET6 socket
}

Task<std::vector<absl::Status>> BindToAForeignAddress() {
  // 192.0.2.1 (TEST-NET-1) is no interface's address here.
  std::vector<absl::Status> statuses;
  statuses.push_back(StartServer(IgnoreConnection, "192.0.2.1", 0).status());
  statuses.push_back(TcpListener::Listen("192.0.2.1", 0).status());
  co_return statuses;
}

TEST(BaseEventLoopWithSelectorTests, test_create_server_cant_bind) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto statuses = RunTest(loop.get(), BindToAForeignAddress());
  ASSERT_TRUE(statuses.ok()) << statuses.status();
  for (const absl::Status& status : *statuses) {
    EXPECT_EQ(ErrnoOf(status), EADDRNOTAVAIL) << status;
    EXPECT_NE(status.message().find("[OSError]"), std::string::npos) << status;
  }
}

// stop_loop_coro: one step, reported as slow with the task's name.
Task<void> StopLoopCoro() { co_return; }

Task<void> SlowCallbackAndTask(EventLoop* loop) {
  Future<void> ran = CreateFuture<void>();
  loop->CallSoon([ran] { ran.SetResult(); });  // stop_loop_cb
  co_await ran;
  co_await CreateTask(StopLoopCoro(), "stop_loop_coro");
}

TEST(BaseEventLoopWithSelectorTests, test_log_slow_callbacks) {
  std::vector<std::string> reported;
  {
    LoopOptions options;
    options.debug = true;
    options.slow_callback_duration = absl::ZeroDuration();
    options.on_slow_step = [&reported](const SlowStep& step) {
      EXPECT_GE(step.duration, absl::ZeroDuration());
      reported.push_back(step.task_name);
    };
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, options);
    ASSERT_TRUE(loop->RunUntilComplete(SlowCallbackAndTask(loop.get())).ok());
  }
  EXPECT_NE(std::find(reported.begin(), reported.end(), "callback"), reported.end());
  EXPECT_NE(std::find(reported.begin(), reported.end(), "stop_loop_coro"), reported.end());
  // Without a receiver, the report goes to stderr (asyncio's logger.warning).
  LoopOptions options;
  options.debug = true;
  options.slow_callback_duration = absl::ZeroDuration();
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, options);
  testing::internal::CaptureStderr();
  absl::Status status = loop->RunUntilComplete(SlowCallbackAndTask(loop.get()));
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(std::regex_search(
      err, std::regex("Executing <Task name='stop_loop_coro'> took [0-9.]+ seconds\n")))
      << err;
}

// ----- RunningLoopTests -----

Task<absl::Status> RunOtherLoop(EventLoop* other) {
  co_return other->RunUntilComplete(Nothing());
}

TEST(RunningLoopTests, test_running_loop_within_a_loop) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(outer_loop, {});
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<absl::Status> inner =
      outer_loop->RunUntilComplete(RunOtherLoop(loop.get()));
  ASSERT_TRUE(inner.ok()) << inner.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(*inner)) << *inner;
  EXPECT_NE(inner->message().find("while another loop is running"), std::string::npos) << *inner;
}

// ----- TestSelectorUtils -----

bool NoDelay(int fd) {
  int value = 0;
  socklen_t length = sizeof value;
  EXPECT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &length), 0);
  return value != 0;
}

Task<void> SocketsHaveNoDelay() {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0);
  EXPECT_TRUE(listener.ok()) << listener.status();
  if (!listener.ok()) co_return;
  Task<absl::StatusOr<TcpSocket>> accepting = CreateTask(listener->Accept());
  absl::StatusOr<TcpSocket> connected = co_await Connect("127.0.0.1", listener->port());
  absl::StatusOr<TcpSocket> accepted = co_await std::move(accepting);
  EXPECT_TRUE(connected.ok()) << connected.status();
  EXPECT_TRUE(accepted.ok()) << accepted.status();
  if (!connected.ok() || !accepted.ok()) co_return;
  // A plain TCP socket starts without it ...
  const int plain = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  EXPECT_FALSE(NoDelay(plain));
  close(plain);
  // ... and every socket the package makes has it.
  EXPECT_TRUE(NoDelay(connected->fd()));
  EXPECT_TRUE(NoDelay(accepted->fd()));
}

TEST(TestSelectorUtils, test_set_nodelay) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  EXPECT_TRUE(RunTest(loop.get(), SocketsHaveNoDelay()).ok());
}

}  // namespace
}  // namespace asyncio_like
