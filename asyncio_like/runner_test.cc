// CPython's test_asyncio/test_runners.py (asyncio.run and asyncio.Runner),
// ported; see CONFORMANCE.md.
#include "asyncio_like/runner.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/signals.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// SIGINT is blocked in every thread from before main, so that the SIGINT
// these tests send (CPython's interrupt_self) stays pending for the loop's
// signalfd instead of reaching a thread with the default disposition;
// the disposition itself stays the default, so Run handles Ctrl-C.
const bool kSigintBlocked = [] {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  return pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0;
}();

bool SigintPending() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGINT) == 1;
}

// Sends SIGINT to the process after `delay` (CPython: call_later(0.1,
// interrupt_self)).
Task<void> InterruptSelfAfter(absl::Duration delay) {
  co_await Sleep(delay);
  kill(getpid(), SIGINT);
}

LoopOptions DebugOptions(bool debug) {
  LoopOptions options;
  options.debug = debug;
  return options;
}

#define SKIP_WITHOUT_IO_URING_STATUS(status)                                  \
  if (absl::IsUnavailable(status)) ASYNCIO_LIKE_SKIP_WITHOUT_IO_URING(status)

TEST(RunTests, test_asyncio_run_return) {
  absl::StatusOr<int> result = asyncio_like::Run([]() -> Task<int> {
    co_await Sleep(absl::ZeroDuration());
    co_return 42;
  }());
  SKIP_WITHOUT_IO_URING_STATUS(result.status());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 42);
}

TEST(RunTests, test_asyncio_run_raises) {
  bool ran = false;
  EXPECT_THROW((void)asyncio_like::Run([](bool* ran) -> Task<void> {
                 co_await Sleep(absl::ZeroDuration());
                 *ran = true;
                 throw std::invalid_argument("spam");
               }(&ran)),
               std::invalid_argument);
  if (!ran) GTEST_SKIP() << "io_uring is unavailable here";
}

template <typename A>
concept RunAccepts = requires(A a) { asyncio_like::Run(std::move(a)); };

// asyncio.run(123): ValueError "a coroutine was expected"; here anything but
// a Task does not compile.
TEST(RunTests, test_asyncio_run_only_coro) {
  static_assert(!RunAccepts<int>);
  static_assert(RunAccepts<Task<int>>);
}

TEST(RunTests, test_asyncio_run_debug) {
  for (bool debug : {false, true}) {
    absl::StatusOr<bool> seen = asyncio_like::Run(
        []() -> Task<bool> { co_return EventLoop::Current()->options().debug; }(),
        DebugOptions(debug));
    SKIP_WITHOUT_IO_URING_STATUS(seen.status());
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_EQ(*seen, debug);
  }
}

TEST(RunTests, test_asyncio_run_from_running_loop) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<absl::Status> inner = loop->RunUntilComplete([]() -> Task<absl::Status> {
    co_return asyncio_like::Run([]() -> Task<void> { co_return; }());
  }());
  ASSERT_TRUE(inner.ok()) << inner.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(*inner)) << *inner;
  EXPECT_EQ(inner->message(), "Run() cannot be called from a running event loop");
}

TEST(RunTests, test_asyncio_run_cancels_hanging_tasks) {
  std::string how;
  Task<void> leftover;
  absl::StatusOr<int> result = asyncio_like::Run([](std::string* how, Task<void>* leftover) -> Task<int> {
    *leftover = CreateTask(SleepRecording(how));
    co_return 123;
  }(&how, &leftover));
  SKIP_WITHOUT_IO_URING_STATUS(result.status());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 123);
  // Cancelled before its first step, as in asyncio: its body never ran.
  EXPECT_TRUE(leftover.done());
  EXPECT_TRUE(leftover.cancelled());
  EXPECT_EQ(how, "");
}

// A leftover task that fails while being cancelled at shutdown is reported
// (asyncio: to the loop's exception handler, "asyncio.run() shutdown"; here
// on stderr, as every unretrieved task exception) and Run still returns
// main's result.
TEST(RunTests, test_asyncio_run_reports_hanging_tasks_errors) {
  Task<void> leftover;
  ::testing::internal::CaptureStderr();
  absl::StatusOr<int> result = asyncio_like::Run([](Task<void>* leftover) -> Task<int> {
    *leftover = CreateTask([]() -> Task<void> {
      bool cancelled = false;
      try {
        co_await Sleep(absl::Seconds(10));
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) throw std::domain_error("1 / 0");
    }(), "leftover");
    co_await Sleep(absl::ZeroDuration());  // the leftover task starts
    co_return 123;
  }(&leftover));
  leftover = Task<void>();  // nobody retrieves its exception
  const std::string reported = ::testing::internal::GetCapturedStderr();
  SKIP_WITHOUT_IO_URING_STATUS(result.status());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 123);
  EXPECT_NE(reported.find("Task exception was never retrieved: <Task name='leftover'>: 1 / 0"),
            std::string::npos)
      << reported;
}

// Run's Ctrl-C handling does not keep it from reporting a deadlock.
TEST(RunTests, RunReportsADeadlockDespiteItsSigintHandling) {
  absl::Status status = asyncio_like::Run([]() -> Task<void> {
    Event never;
    co_await never.Wait();
  }());
  SKIP_WITHOUT_IO_URING_STATUS(status);
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
}

TEST(RunTests, CtrlCCancelsMainAndRunReturnsKeyboardInterrupt) {
  ASSERT_TRUE(kSigintBlocked);
  std::string how;
  absl::Status status = asyncio_like::Run([](std::string* how) -> Task<void> {
    CreateTask(InterruptSelfAfter(absl::Milliseconds(10)));
    co_await SleepRecording(how);
  }(&how));
  SKIP_WITHOUT_IO_URING_STATUS(status);
  EXPECT_TRUE(IsKeyboardInterrupt(status)) << status;
  EXPECT_EQ(how, "cancelled");
  EXPECT_FALSE(SigintPending());
}

TEST(RunnerTests, test_non_debug) {
  LoopOptions options;
  options.debug = false;
  Runner runner(options);
  absl::StatusOr<EventLoop*> loop = runner.GetLoop();
  SKIP_WITHOUT_IO_URING_STATUS(loop.status());
  ASSERT_TRUE(loop.ok()) << loop.status();
  EXPECT_FALSE((*loop)->options().debug);
}

TEST(RunnerTests, test_debug) {
  LoopOptions options;
  options.debug = true;
  Runner runner(options);
  absl::StatusOr<EventLoop*> loop = runner.GetLoop();
  SKIP_WITHOUT_IO_URING_STATUS(loop.status());
  ASSERT_TRUE(loop.ok()) << loop.status();
  EXPECT_TRUE((*loop)->options().debug);
}

TEST(RunnerTests, test_run) {
  Runner runner;
  absl::StatusOr<std::string> done = runner.Run([]() -> Task<std::string> {
    co_await Sleep(absl::ZeroDuration());
    co_return "done";
  }());
  SKIP_WITHOUT_IO_URING_STATUS(done.status());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(*done, "done");
  EXPECT_TRUE(runner.Close().ok());
  absl::StatusOr<EventLoop*> loop = runner.GetLoop();
  EXPECT_TRUE(absl::IsFailedPrecondition(loop.status())) << loop.status();
  EXPECT_EQ(loop.status().message(), "Runner is closed");
}

// Several top-level coroutines share the loop: a task the first run leaves
// pending keeps running in the second, and Close() cancels what is left.
TEST(RunnerTests, RunsShareTheLoopAndCloseCancelsLeftovers) {
  std::string how;
  Event started;
  Task<void> leftover;
  EventLoop* first_loop = nullptr;
  {
    Runner runner;
    absl::Status first = runner.Run([](std::string* how, Event* started, Task<void>* leftover,
                                       EventLoop** loop) -> Task<void> {
      *loop = EventLoop::Current();
      *leftover = CreateTask([](std::string* how, Event* started) -> Task<void> {
        started->Set();
        co_await SleepRecording(how);
      }(how, started));
      co_return;
    }(&how, &started, &leftover, &first_loop));
    SKIP_WITHOUT_IO_URING_STATUS(first);
    ASSERT_TRUE(first.ok()) << first;
    EXPECT_FALSE(leftover.done());
    absl::StatusOr<bool> second = runner.Run([](Event* started, EventLoop* first) -> Task<bool> {
      co_await started->Wait();
      co_return EventLoop::Current() == first;
    }(&started, first_loop));
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_TRUE(*second);
    EXPECT_EQ(how, "");
  }  // ~Runner closes
  EXPECT_EQ(how, "cancelled");
}

template <typename A>
concept RunnerAccepts = requires(Runner& runner, A a) { runner.Run(std::move(a)); };

// runner.run(123): ValueError "a coroutine was expected"; here it does not
// compile.
TEST(RunnerTests, test_run_non_coro) {
  static_assert(!RunnerAccepts<int>);
  static_assert(!RunnerAccepts<std::string>);
  static_assert(RunnerAccepts<Task<int>>);
}

TEST(RunnerTests, test_explicit_close) {
  Runner runner;
  absl::StatusOr<EventLoop*> loop = runner.GetLoop();
  SKIP_WITHOUT_IO_URING_STATUS(loop.status());
  ASSERT_TRUE(loop.ok());
  EXPECT_TRUE(runner.Close().ok());
  EXPECT_EQ(runner.GetLoop().status().message(), "Runner is closed");
}

TEST(RunnerTests, test_double_close) {
  Runner runner;
  absl::StatusOr<EventLoop*> loop = runner.GetLoop();
  SKIP_WITHOUT_IO_URING_STATUS(loop.status());
  EXPECT_TRUE(runner.Close().ok());
  EXPECT_TRUE(runner.Close().ok());  // the second call does nothing
  EXPECT_TRUE(absl::IsFailedPrecondition(runner.GetLoop().status()));
}

// asyncio: a second `with runner:` raises "Runner is closed" and runs
// nothing; here Run() after Close() (the with-block's exit).
TEST(RunnerTests, test_second_with_block_raises) {
  std::vector<int> ret;
  auto f = [](std::vector<int>* ret, int arg) -> Task<void> {
    ret->push_back(arg);
    co_return;
  };
  Runner runner;
  absl::Status first = runner.Run(f(&ret, 1));
  SKIP_WITHOUT_IO_URING_STATUS(first);
  ASSERT_TRUE(first.ok()) << first;
  ASSERT_TRUE(runner.Close().ok());
  absl::Status second = runner.Run(f(&ret, 2));
  EXPECT_TRUE(absl::IsFailedPrecondition(second)) << second;
  EXPECT_EQ(second.message(), "Runner is closed");
  EXPECT_EQ(ret, std::vector<int>{1});
}

TEST(RunnerTests, test_recursive_run) {
  Runner runner;
  absl::StatusOr<absl::Status> inner = runner.Run([](Runner* runner) -> Task<absl::Status> {
    co_return runner->Run([]() -> Task<void> { co_return; }());
  }(&runner));
  SKIP_WITHOUT_IO_URING_STATUS(inner.status());
  ASSERT_TRUE(inner.ok()) << inner.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(*inner)) << *inner;
  EXPECT_EQ(inner->message(), "Runner.run() cannot be called from a running event loop");
  // Closing the runner from its own running loop is refused as well.
  absl::StatusOr<absl::Status> close = runner.Run([](Runner* runner) -> Task<absl::Status> {
    co_return runner->Close();
  }(&runner));
  ASSERT_TRUE(close.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(*close)) << *close;
}

// The main task never suspends on anything but sleep(0): Ctrl-C still
// cancels it at its next await.
TEST(RunnerTests, test_interrupt_call_soon) {
  ASSERT_TRUE(kSigintBlocked);
  Runner runner;
  bool cancelled = false;
  absl::Status status = runner.Run([](bool* cancelled) -> Task<void> {
    CreateTask(InterruptSelfAfter(absl::Milliseconds(10)));
    try {
      for (;;) co_await Sleep(absl::ZeroDuration());
    } catch (const CancelledError&) {
      *cancelled = true;
    }
    throw CancelledError();
  }(&cancelled));
  SKIP_WITHOUT_IO_URING_STATUS(status);
  EXPECT_TRUE(IsKeyboardInterrupt(status)) << status;
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(SigintPending());
}

// Interrupting main while it awaits another task cancels both.
TEST(RunnerTests, test_interrupt_wait) {
  ASSERT_TRUE(kSigintBlocked);
  Runner runner;
  std::string how;
  Task<void> fut;
  absl::Status status = runner.Run([](std::string* how, Task<void>* fut) -> Task<void> {
    *fut = CreateTask(SleepRecording(how));
    CreateTask(InterruptSelfAfter(absl::Milliseconds(10)));
    bool cancelled = false;
    try {
      co_await *fut;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    throw CancelledError();
  }(&how, &fut));
  SKIP_WITHOUT_IO_URING_STATUS(status);
  EXPECT_TRUE(IsKeyboardInterrupt(status)) << status;
  EXPECT_TRUE(fut.cancelled());
  EXPECT_EQ(how, "cancelled");
}

// A main task cancelled by someone else, then interrupted, ends with its
// CancelledError, not KeyboardInterrupt: the interrupt's cancellation is
// not the only one outstanding.
TEST(RunnerTests, test_interrupt_cancelled_task) {
  ASSERT_TRUE(kSigintBlocked);
  Runner runner;
  bool interrupt_arrived = false;
  auto main = [](bool* interrupt_arrived) -> Task<void> {
    TaskRef self = CurrentTask();
    CreateTask([](TaskRef main) -> Task<void> {
      co_await Sleep(absl::ZeroDuration());
      main.Cancel();
      kill(getpid(), SIGINT);
    }(self));
    bool cancelled = false;
    try {
      co_await Sleep(absl::Seconds(10));
    } catch (const CancelledError&) {
      cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    // Wait, still cancelled, for the interrupt's own cancellation.
    for (int i = 0; i < 1000 && !*interrupt_arrived; ++i) {
      try {
        co_await Sleep(absl::Milliseconds(1));
      } catch (const CancelledError&) {
        *interrupt_arrived = true;
      }
    }
    throw CancelledError();
  };
  absl::Status status;
  bool threw = false;
  try {
    status = runner.Run(main(&interrupt_arrived));
  } catch (const CancelledError&) {
    threw = true;
  }
  SKIP_WITHOUT_IO_URING_STATUS(status);
  EXPECT_TRUE(threw) << status;
  EXPECT_TRUE(interrupt_arrived);
  EXPECT_FALSE(SigintPending());
}

// Where Run cannot take SIGINT (asyncio: signal.signal fails off the main
// interpreter), it runs the coroutine all the same, without Ctrl-C
// handling: here, on a thread other than the main thread.
TEST(RunnerTests, test_signal_install_not_supported_ok) {
  absl::StatusOr<bool> installed = absl::UnknownError("not run");
  std::thread other([&] {
    Runner runner;
    installed = runner.Run([]() -> Task<bool> {
      co_return *EventLoop::Current()->RemoveSignalHandler(SIGINT);
    }());
  });
  other.join();
  SKIP_WITHOUT_IO_URING_STATUS(installed.status());
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_FALSE(*installed);
}

// A SIGINT handler the program added to the loop keeps the signal: a later
// Run() does not take it over (asyncio.Runner installs its own only over
// the default handler).
TEST(RunnerTests, RunLeavesTheLoopsOwnSigintHandlerAlone) {
  ASSERT_TRUE(kSigintBlocked);
  Runner runner;
  Event interrupted;
  absl::Status added = runner.Run([](Event* interrupted) -> Task<absl::Status> {
    co_return EventLoop::Current()->AddSignalHandler(SIGINT, [interrupted] { interrupted->Set(); });
  }(&interrupted)).value_or(absl::UnknownError("not run"));
  SKIP_WITHOUT_IO_URING_STATUS(added);
  ASSERT_TRUE(added.ok()) << added;
  absl::Status second = runner.Run([](Event* interrupted) -> Task<void> {
    kill(getpid(), SIGINT);
    co_await interrupted->Wait();
  }(&interrupted));
  EXPECT_TRUE(second.ok()) << second;
  EXPECT_TRUE(interrupted.is_set());
  absl::StatusOr<bool> removed = runner.Run([]() -> Task<bool> {
    co_return *EventLoop::Current()->RemoveSignalHandler(SIGINT);
  }());
  EXPECT_TRUE(removed.value_or(false));
}

// A program that handles SIGINT itself (or ignores it) keeps its handling:
// Run does not take SIGINT over (asyncio installs its handler only over
// the default one).
TEST(RunnerTests, RunLeavesAProgramsOwnSigintHandlingAlone) {
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction before;
  ASSERT_EQ(sigaction(SIGINT, &ignore, &before), 0);
  // Whether Run installed its SIGINT handler on the loop.
  auto run_handles_sigint = []() -> Task<bool> {
    co_return *EventLoop::Current()->RemoveSignalHandler(SIGINT);
  };
  Runner runner;
  absl::StatusOr<bool> ignored_case = runner.Run(run_handles_sigint());
  sigaction(SIGINT, &before, nullptr);
  SKIP_WITHOUT_IO_URING_STATUS(ignored_case.status());
  ASSERT_TRUE(ignored_case.ok()) << ignored_case.status();
  EXPECT_FALSE(*ignored_case);
  absl::StatusOr<bool> default_case = runner.Run(run_handles_sigint());
  ASSERT_TRUE(default_case.ok()) << default_case.status();
  EXPECT_TRUE(*default_case);
}

}  // namespace
}  // namespace asyncio_like
