// CPython's add_signal_handler tests (test_unix_events.py,
// SelectorEventLoopSignalTests), ported against real signals: CPython's
// versions replace the signal module with a mock, these send signals to the
// process and read them through the loop's signalfd.
#include "asyncio_like/signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// The signals these tests send are blocked in every thread, from before
// main (and so before gtest's and the watchdogs' threads): a signal sent to
// the process then stays pending for the loop's signalfd, as signals.h
// asks of programs with threads.
const bool kTestSignalsBlocked = [] {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : {SIGHUP, SIGUSR1, SIGUSR2, SIGALRM}) sigaddset(&set, signo);
  return pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0;
}();

bool BlockedHere(int signo) {
  sigset_t current;
  pthread_sigmask(SIG_BLOCK, nullptr, &current);
  return sigismember(&current, signo) == 1;
}

// Sends `signo` to the process, then waits until `event` is set.
Task<void> SendAndWait(int signo, Event& event) {
  kill(getpid(), signo);
  co_await event.Wait();
}

TEST(SelectorEventLoopSignalTests, test_check_signal) {
  ASSERT_TRUE(kTestSignalsBlocked);
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  for (int signo : {0, -1, NSIG, NSIG + 1, 32, 33}) {
    absl::Status added = loop->AddSignalHandler(signo, [] {});
    EXPECT_TRUE(absl::IsInvalidArgument(added)) << signo << ": " << added;
    EXPECT_EQ(added.message(), "invalid signal number " + std::to_string(signo));
    absl::StatusOr<bool> removed = loop->RemoveSignalHandler(signo);
    EXPECT_TRUE(absl::IsInvalidArgument(removed.status())) << signo << ": " << removed.status();
  }
  // Nothing was registered: a valid signal can still be added.
  EXPECT_TRUE(loop->AddSignalHandler(SIGUSR1, [] {}).ok());
}

TEST(SelectorEventLoopSignalTests, test_add_signal_handler) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  Event got;
  int calls = 0;
  ASSERT_TRUE(loop->AddSignalHandler(SIGHUP, [&] {
                    ++calls;
                    got.Set();
                  }).ok());
  ASSERT_TRUE(RunTest(loop.get(), SendAndWait(SIGHUP, got)).ok());
  EXPECT_EQ(calls, 1);
  // Again: the read is re-armed after each delivery.
  got.Clear();
  ASSERT_TRUE(RunTest(loop.get(), SendAndWait(SIGHUP, got)).ok());
  EXPECT_EQ(calls, 2);
  // A second handler for the signal replaces the first.
  int replaced = 0;
  ASSERT_TRUE(loop->AddSignalHandler(SIGHUP, [&] {
                    ++replaced;
                    got.Set();
                  }).ok());
  got.Clear();
  ASSERT_TRUE(RunTest(loop.get(), SendAndWait(SIGHUP, got)).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(replaced, 1);
}

// The callback runs on the loop between steps, so it may start a task.
TEST(SelectorEventLoopSignalTests, AHandlerMayStartATask) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  Event got;
  ASSERT_TRUE(loop->AddSignalHandler(SIGUSR2, [&] {
                    CreateTask([](Event& e) -> Task<void> {
                      co_await Sleep(absl::ZeroDuration());
                      e.Set();
                    }(got));
                  }).ok());
  ASSERT_TRUE(RunTest(loop.get(), SendAndWait(SIGUSR2, got)).ok());
  EXPECT_TRUE(got.is_set());
}

// The callback of a handler removed after its signal was read but before
// the callback ran does not run (asyncio cancels its handle).
TEST(SelectorEventLoopSignalTests, test_handle_signal_cancelled_handler) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> calls;
  // Both signals are pending before the loop reads: one read returns both,
  // lowest number first, and queues both callbacks.
  ASSERT_TRUE(loop->AddSignalHandler(SIGUSR1, [&] {
                    calls.push_back("usr1");
                    EXPECT_EQ(*loop->RemoveSignalHandler(SIGUSR2), true);
                  }).ok());
  ASSERT_TRUE(loop->AddSignalHandler(SIGUSR2, [&] { calls.push_back("usr2"); }).ok());
  kill(getpid(), SIGUSR1);
  kill(getpid(), SIGUSR2);
  ASSERT_TRUE(RunTest(loop.get(), []() -> Task<void> {
                co_await Sleep(absl::Milliseconds(50));
              }()).ok());
  EXPECT_EQ(calls, std::vector<std::string>{"usr1"});
}

// asyncio raises RuntimeError when the signal machinery cannot be set up
// (set_wakeup_fd outside the main thread); here, off the loop's thread.
TEST(SelectorEventLoopSignalTests, test_add_signal_handler_setup_error) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status added;
  absl::StatusOr<bool> removed;
  std::thread other([&] {
    added = loop->AddSignalHandler(SIGUSR1, [] {});
    removed = loop->RemoveSignalHandler(SIGUSR1);
  });
  other.join();
  EXPECT_TRUE(absl::IsFailedPrecondition(added)) << added;
  EXPECT_TRUE(absl::IsFailedPrecondition(removed.status())) << removed.status();
}

template <typename F>
concept AcceptedAsSignalHandler = requires(EventLoop& loop, F f) {
  loop.AddSignalHandler(SIGUSR1, f);
};

// asyncio: TypeError "coroutines cannot be used with add_signal_handler()";
// here a callback returning a Task does not compile.
TEST(SelectorEventLoopSignalTests, test_add_signal_handler_coroutine_error) {
  auto coroutine = []() -> Task<void> { co_return; };
  auto callback = [] {};
  static_assert(!AcceptedAsSignalHandler<decltype(coroutine)>);
  static_assert(AcceptedAsSignalHandler<decltype(callback)>);
}

// SIGKILL and SIGSTOP: RuntimeError "sig 9 cannot be caught".
TEST(SelectorEventLoopSignalTests, test_add_signal_handler_install_error3) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  for (int signo : {SIGKILL, SIGSTOP}) {
    absl::Status added = loop->AddSignalHandler(signo, [] {});
    EXPECT_TRUE(absl::IsFailedPrecondition(added)) << added;
    EXPECT_EQ(added.message(), "sig " + std::to_string(signo) + " cannot be caught");
    EXPECT_FALSE(*loop->RemoveSignalHandler(signo));
  }
}

// A failed add leaves the handlers already there working.
TEST(SelectorEventLoopSignalTests, test_add_signal_handler_install_error2) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  Event got;
  ASSERT_TRUE(loop->AddSignalHandler(SIGHUP, [&] { got.Set(); }).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(loop->AddSignalHandler(SIGKILL, [] {})));
  EXPECT_TRUE(absl::IsInvalidArgument(loop->AddSignalHandler(0, [] {})));
  ASSERT_TRUE(RunTest(loop.get(), SendAndWait(SIGHUP, got)).ok());
  EXPECT_TRUE(got.is_set());
}

TEST(SelectorEventLoopSignalTests, test_remove_signal_handler) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  int calls = 0;
  ASSERT_TRUE(loop->AddSignalHandler(SIGALRM, [&] { ++calls; }).ok());
  EXPECT_TRUE(*loop->RemoveSignalHandler(SIGALRM));
  EXPECT_FALSE(*loop->RemoveSignalHandler(SIGALRM));
  // The read was cancelled with the last handler: nothing keeps the loop
  // from seeing that a task waits for nothing.
  absl::Status deadlock = loop->RunUntilComplete([]() -> Task<void> {
    Event never;
    co_await never.Wait();
  }());
  EXPECT_TRUE(absl::IsFailedPrecondition(deadlock)) << deadlock;
  // A signal sent now stays pending (blocked in every thread here): no call.
  kill(getpid(), SIGALRM);
  ASSERT_TRUE(RunTest(loop.get(), []() -> Task<void> {
                co_await Sleep(absl::Milliseconds(30));
              }()).ok());
  EXPECT_EQ(calls, 0);
  // It is read by the next handler.
  Event got;
  ASSERT_TRUE(loop->AddSignalHandler(SIGALRM, [&] { got.Set(); }).ok());
  ASSERT_TRUE(RunTest(loop.get(), [](Event& e) -> Task<void> { co_await e.Wait(); }(got)).ok());
  EXPECT_TRUE(*loop->RemoveSignalHandler(SIGALRM));
}

// Removing a handler restores the signal's state in the loop's thread: a
// signal that was not blocked before AddSignalHandler is unblocked again
// (asyncio restores SIGINT's default_int_handler, others' SIG_DFL).
TEST(SelectorEventLoopSignalTests, test_remove_signal_handler_2) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ASSERT_FALSE(BlockedHere(SIGWINCH));
  ASSERT_TRUE(loop->AddSignalHandler(SIGWINCH, [] {}).ok());
  EXPECT_TRUE(BlockedHere(SIGWINCH));
  EXPECT_TRUE(*loop->RemoveSignalHandler(SIGWINCH));
  EXPECT_FALSE(BlockedHere(SIGWINCH));
  // One blocked before stays blocked.
  ASSERT_TRUE(BlockedHere(SIGUSR1));
  ASSERT_TRUE(loop->AddSignalHandler(SIGUSR1, [] {}).ok());
  EXPECT_TRUE(*loop->RemoveSignalHandler(SIGUSR1));
  EXPECT_TRUE(BlockedHere(SIGUSR1));
}

// Closing the loop removes its handlers: another loop may take the signals.
TEST(SelectorEventLoopSignalTests, test_close) {
  {
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
    ASSERT_TRUE(loop->AddSignalHandler(SIGWINCH, [] {}).ok());
    ASSERT_TRUE(loop->AddSignalHandler(SIGUSR1, [] {}).ok());
    ASYNCIO_LIKE_LOOP_OR_SKIP(other, {});
    absl::Status taken = other->AddSignalHandler(SIGUSR1, [] {});
    EXPECT_TRUE(absl::IsFailedPrecondition(taken)) << taken;
    EXPECT_EQ(taken.message(), "signal " + std::to_string(SIGUSR1) +
                                   " (USR1) is already handled by another event loop");
  }
  EXPECT_FALSE(BlockedHere(SIGWINCH));
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  Event got;
  ASSERT_TRUE(loop->AddSignalHandler(SIGUSR1, [&] { got.Set(); }).ok());
  ASSERT_TRUE(RunTest(loop.get(), SendAndWait(SIGUSR1, got)).ok());
}

// A handler added with AddSignalHandler can wake the loop, so a task
// waiting for it is not a deadlock.
TEST(SelectorEventLoopSignalTests, WaitingForASignalIsNotADeadlock) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  Event got;
  ASSERT_TRUE(loop->AddSignalHandler(SIGUSR2, [&] { got.Set(); }).ok());
  std::thread sender([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    kill(getpid(), SIGUSR2);
  });
  absl::Status status = RunTest(loop.get(), [](Event& e) -> Task<void> { co_await e.Wait(); }(got));
  sender.join();
  EXPECT_TRUE(status.ok()) << status;
}

}  // namespace
}  // namespace asyncio_like
