// WrapFuture and RunInExecutor: pool results and exceptions reach the
// awaiting task on its loop thread, cancellation crosses in both
// directions, and shut-down or destroyed pools give Python's errors.

#include "futures_bridge/wrap_future.h"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timeout.h"
#include "gtest/gtest.h"
#include "threadpool/errors.h"
#include "threadpool/thread_pool.h"

namespace futures_bridge {
namespace {

using asyncio_like::CancelledError;
using asyncio_like::CreateTask;
using asyncio_like::Sleep;
using asyncio_like::Task;
using threadpool::Future;
using threadpool::ThreadPoolExecutor;

std::unique_ptr<ThreadPoolExecutor> MakePool(int workers) {
  absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> pool =
      ThreadPoolExecutor::Create({.max_workers = workers});
  EXPECT_TRUE(pool.ok()) << pool.status();
  return *std::move(pool);
}

// Runs `body` on a new loop with a deadline, so that a lost wakeup fails
// the test instead of hanging it.
void RunOnLoop(Task<void> body) {
  absl::Status s =
      asyncio_like::Run(asyncio_like::WaitFor(std::move(body), absl::Seconds(30)));
  if (absl::IsUnavailable(s)) GTEST_SKIP() << "no io_uring here: " << s;
  EXPECT_TRUE(s.ok()) << s;
}

// An exception type of the user's.
struct RowError : std::runtime_error {
  explicit RowError(int row) : std::runtime_error("bad row"), row(row) {}
  int row;
};

Task<void> ResumesOnTheLoopThreadWithTheValue(ThreadPoolExecutor& pool) {
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id worker_thread;
  auto work = [&worker_thread] {
    worker_thread = std::this_thread::get_id();
    return 42;
  };
  int value = co_await WrapFuture(pool.Submit(work));
  EXPECT_EQ(value, 42);
  EXPECT_NE(worker_thread, loop_thread);
  EXPECT_EQ(std::this_thread::get_id(), loop_thread);
}

TEST(WrapFutureTest, ResumesOnTheLoopThreadWithTheValue) {
  auto pool = MakePool(2);
  RunOnLoop(ResumesOnTheLoopThreadWithTheValue(*pool));
}

Task<void> RethrowsTheTasksOwnException(ThreadPoolExecutor& pool) {
  int row = 0;
  try {
    co_await WrapFuture(pool.Submit([]() -> int { throw RowError(7); }));
  } catch (const RowError& e) {
    row = e.row;
  }
  EXPECT_EQ(row, 7);
  absl::Status status;
  try {
    co_await WrapFuture(pool.Submit(
        []() -> absl::StatusOr<int> { return absl::NotFoundError("gone"); }));
  } catch (const threadpool::StatusError& e) {
    status = e.status();
  }
  EXPECT_EQ(status, absl::NotFoundError("gone"));
}

TEST(WrapFutureTest, RethrowsTheTasksOwnException) {
  auto pool = MakePool(2);
  RunOnLoop(RethrowsTheTasksOwnException(*pool));
}

Task<void> RunInExecutorReturnsStatusesAsValues(ThreadPoolExecutor& pool) {
  auto lookup = []() -> absl::StatusOr<int> { return absl::NotFoundError("gone"); };
  absl::StatusOr<int> r = co_await RunInExecutor(pool, lookup);
  EXPECT_EQ(r.status(), absl::NotFoundError("gone"));
  auto ok = [] { return absl::OkStatus(); };
  EXPECT_TRUE((co_await RunInExecutor(pool, ok)).ok());
  int ran = 0;
  auto side_effect = [&ran] { ++ran; };
  co_await RunInExecutor(pool, side_effect);
  EXPECT_EQ(ran, 1);
}

TEST(WrapFutureTest, RunInExecutorReturnsStatusesAsValues) {
  auto pool = MakePool(1);
  RunOnLoop(RunInExecutorReturnsStatusesAsValues(*pool));
}

Task<int> AwaitFuture(Future<int> f) { co_return co_await WrapFuture(std::move(f)); }

Task<void> LoopRunsWhileTheTaskWaits(ThreadPoolExecutor& pool) {
  // The pool's task finishes only after the loop has ticked: no thread is
  // blocked waiting for it, the loop keeps running.
  auto ticks = std::make_shared<std::atomic<int>>(0);
  auto work = [ticks] {
    while (*ticks < 5) absl::SleepFor(absl::Microseconds(200));
    return 5;
  };
  Task<int> waiter = CreateTask(AwaitFuture(*pool.Submit(std::move(work))));
  while (!waiter.done()) {
    co_await Sleep(absl::Milliseconds(1));
    ++*ticks;
  }
  EXPECT_EQ(co_await waiter, 5);
}

TEST(WrapFutureTest, LoopRunsWhileTheTaskWaits) {
  auto pool = MakePool(1);
  RunOnLoop(LoopRunsWhileTheTaskWaits(*pool));
}

Task<void> CancellingTheTaskCancelsAFutureNotStarted(ThreadPoolExecutor& pool) {
  auto release = std::make_shared<absl::Notification>();
  auto ran_queued = std::make_shared<std::atomic<bool>>(false);
  auto block = [release] { release->WaitForNotification(); };
  Future<void> running = *pool.Submit(block);
  auto queued_work = [ran_queued] {
    *ran_queued = true;
    return 1;
  };
  Future<int> queued = *pool.Submit(queued_work);
  Task<int> waiter = CreateTask(AwaitFuture(queued));
  co_await Sleep(absl::Milliseconds(1));
  EXPECT_TRUE(waiter.Cancel());
  bool cancelled = false;
  try {
    co_await waiter;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(queued.Cancelled());
  release->Notify();
  EXPECT_TRUE(running.Result().ok());
  pool.Shutdown();
  EXPECT_FALSE(*ran_queued);
}

TEST(WrapFutureTest, CancellingTheTaskCancelsAFutureNotStarted) {
  auto pool = MakePool(1);
  RunOnLoop(CancellingTheTaskCancelsAFutureNotStarted(*pool));
}

Task<void> CancellingTheTaskLeavesRunningWorkRunning(ThreadPoolExecutor& pool) {
  auto started = std::make_shared<absl::Notification>();
  auto release = std::make_shared<absl::Notification>();
  auto work = [started, release] {
    started->Notify();
    release->WaitForNotification();
    return 3;
  };
  Future<int> f = *pool.Submit(work);
  Task<int> waiter = CreateTask(AwaitFuture(f));
  started->WaitForNotification();
  co_await Sleep(absl::ZeroDuration());
  waiter.Cancel();
  bool cancelled = false;
  try {
    co_await waiter;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(f.Cancelled());
  release->Notify();
  EXPECT_EQ(*f.Result(), 3);
}

TEST(WrapFutureTest, CancellingTheTaskLeavesRunningWorkRunning) {
  auto pool = MakePool(1);
  RunOnLoop(CancellingTheTaskLeavesRunningWorkRunning(*pool));
}

Task<void> ShutdownWithCancelFuturesRaisesCancelledError(
    ThreadPoolExecutor& pool) {
  auto started = std::make_shared<absl::Notification>();
  auto release = std::make_shared<absl::Notification>();
  auto block = [started, release] {
    started->Notify();
    release->WaitForNotification();
  };
  Future<void> running = *pool.Submit(block);
  Task<int> waiter = CreateTask(AwaitFuture(*pool.Submit([] { return 1; })));
  started->WaitForNotification();
  co_await Sleep(absl::ZeroDuration());
  pool.Shutdown(/*wait=*/false, /*cancel_futures=*/true);
  bool cancelled = false;
  try {
    co_await waiter;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  release->Notify();
  // After shutdown, RunInExecutor raises Python's RuntimeError.
  absl::Status refused;
  try {
    co_await RunInExecutor(pool, [] { return 1; });
  } catch (const threadpool::StatusError& e) {
    refused = e.status();
  }
  EXPECT_EQ(refused, absl::FailedPreconditionError(
                         "cannot schedule new futures after shutdown"));
}

TEST(WrapFutureTest, ShutdownWithCancelFuturesRaisesCancelledError) {
  auto pool = MakePool(1);
  RunOnLoop(ShutdownWithCancelFuturesRaisesCancelledError(*pool));
}

Task<void> PoolDestroyedBeforeTheFutureCompletes(
    std::unique_ptr<ThreadPoolExecutor> pool) {
  auto release = std::make_shared<absl::Notification>();
  auto work = [release] {
    release->WaitForNotification();
    return std::string("done");
  };
  Future<std::string> f = *pool->Submit(work);
  // The destructor runs the queued work first, in a thread of its own so
  // that the loop stays free.
  std::thread destroyer([pool = std::move(pool)]() mutable { pool.reset(); });
  release->Notify();
  std::string value = co_await WrapFuture(std::move(f));
  EXPECT_EQ(value, "done");
  destroyer.join();
}

TEST(WrapFutureTest, PoolDestroyedBeforeTheFutureCompletes) {
  RunOnLoop(PoolDestroyedBeforeTheFutureCompletes(MakePool(1)));
}

Task<void> UserFuturesResolvedByAnotherThread() {
  Future<int> f = Future<int>::Create();
  std::thread setter([f]() mutable {
    absl::SleepFor(absl::Milliseconds(5));
    EXPECT_TRUE(f.SetResult(11).ok());
  });
  EXPECT_EQ(co_await WrapFuture(f), 11);
  setter.join();

  Future<int> failing = Future<int>::Create();
  std::thread failer([failing]() mutable {
    EXPECT_TRUE(failing.SetException(std::make_exception_ptr(RowError(2))).ok());
  });
  int row = 0;
  try {
    co_await WrapFuture(failing);
  } catch (const RowError& e) {
    row = e.row;
  }
  failer.join();
  EXPECT_EQ(row, 2);

  // An invalid future is an error at the await, not a hang.
  bool refused = false;
  try {
    co_await WrapFuture(Future<int>());
  } catch (const threadpool::StatusError&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
}

TEST(WrapFutureTest, UserFuturesResolvedByAnotherThread) {
  RunOnLoop(UserFuturesResolvedByAnotherThread());
}

}  // namespace
}  // namespace futures_bridge
