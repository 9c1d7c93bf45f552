// ToThread, RunInExecutor and CallSoonThreadsafe: results and exceptions
// come back to the loop thread, the loop keeps running meanwhile, and
// cancellation does not wait for the thread.
#include "asyncio_like/to_thread.h"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/executor.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/threadsafe_calls.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

Task<void> ResultComesBackOnTheLoopThread() {
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id worker_thread;
  const int answer = co_await ToThread([&worker_thread] {
    worker_thread = std::this_thread::get_id();
    return 42;
  });
  EXPECT_EQ(answer, 42);
  EXPECT_NE(worker_thread, loop_thread);
  EXPECT_EQ(std::this_thread::get_id(), loop_thread);
}

TEST(ToThreadTest, ResultComesBackOnTheLoopThread) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(ResultComesBackOnTheLoopThread());
}

Task<void> ExceptionsComeBack() {
  const std::thread::id loop_thread = std::this_thread::get_id();
  bool caught = false;
  try {
    co_await ToThread([] { throw std::runtime_error("disk on fire"); });
  } catch (const std::runtime_error& e) {
    caught = true;
    EXPECT_STREQ(e.what(), "disk on fire");
    EXPECT_EQ(std::this_thread::get_id(), loop_thread);
  }
  EXPECT_TRUE(caught);
  // Statuses are plain values.
  absl::StatusOr<int> failed =
      co_await ToThread([]() -> absl::StatusOr<int> { return absl::NotFoundError("gone"); });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
}

TEST(ToThreadTest, ExceptionsComeBack) { ASYNCIO_LIKE_RUN_LOOP_TEST(ExceptionsComeBack()); }

Task<void> Tick(int* ticks, absl::Notification* enough) {
  while (*ticks < 20) {
    co_await Sleep(absl::Milliseconds(1));
    ++*ticks;
  }
  enough->Notify();
}

Task<void> LoopRunsWhileTheThreadWorks() {
  // The thread waits until a task on the loop has ticked 20 times: it can
  // only finish if the loop keeps running while the thread is busy.
  int ticks = 0;
  auto enough = std::make_shared<absl::Notification>();
  Task<void> ticker = CreateTask(Tick(&ticks, enough.get()), "ticker");
  // Lambdas with captures are named before co_await (see to_thread.h).
  auto wait = [enough] { return enough->WaitForNotificationWithTimeout(absl::Seconds(30)); };
  const bool released = co_await ToThread(std::move(wait));
  EXPECT_TRUE(released);
  EXPECT_EQ(ticks, 20);
  co_await ticker;
}

TEST(ToThreadTest, LoopRunsWhileTheThreadWorks) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(LoopRunsWhileTheThreadWorks());
}

Task<std::unique_ptr<int>> AwaitInExecutor(Executor& executor) {
  auto make = [] { return std::make_unique<int>(7); };
  co_return co_await RunInExecutor(executor, std::move(make));
}

Task<void> RunInOwnExecutor(ThreadExecutor* executor) {
  std::unique_ptr<int> moved = co_await AwaitInExecutor(*executor);
  EXPECT_EQ(*moved, 7);
  // Many at once, all resumed with their own results.
  std::vector<Task<int>> calls;
  for (int i = 0; i < 50; ++i) {
    auto square = [i] { return i * i; };
    calls.push_back(CreateTask(RunInExecutor(*executor, std::move(square))));
  }
  for (int i = 0; i < 50; ++i) EXPECT_EQ(co_await calls[i], i * i);
}

TEST(ToThreadTest, RunInExecutorWithAnotherExecutor) {
  ThreadExecutor executor(2);
  ASYNCIO_LIKE_RUN_LOOP_TEST(RunInOwnExecutor(&executor));
}

Task<void> CancelDoesNotWaitForTheThread(std::shared_ptr<std::atomic<bool>> finished) {
  auto release = std::make_shared<absl::Notification>();
  auto work = [release, finished] {
    release->WaitForNotificationWithTimeout(absl::Seconds(30));
    finished->store(true);
  };
  Task<void> call = CreateTask(ToThread(std::move(work)));
  co_await Sleep(absl::Milliseconds(5));
  const absl::Time start = absl::Now();
  EXPECT_TRUE(call.Cancel());
  bool cancelled = false;
  try {
    co_await call;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_FALSE(finished->load());  // the thread still runs...
  release->Notify();
  for (int i = 0; i < 2000 && !finished->load(); ++i) co_await Sleep(absl::Milliseconds(1));
  EXPECT_TRUE(finished->load());  // ...to its end; its result is dropped
  co_await Sleep(absl::Milliseconds(5));
}

TEST(ToThreadTest, CancelDoesNotWaitForTheThread) {
  auto finished = std::make_shared<std::atomic<bool>>(false);
  ASYNCIO_LIKE_RUN_LOOP_TEST(CancelDoesNotWaitForTheThread(finished));
}

Task<void> CallbacksFromAnotherThread(std::vector<int>* order, std::thread* poster) {
  absl::StatusOr<LoopHandle> handle = LoopHandle::Current();
  EXPECT_TRUE(handle.ok());
  const std::thread::id loop_thread = std::this_thread::get_id();
  *poster = std::thread([handle = *handle, order, loop_thread] {
    for (int i = 0; i < 100; ++i) {
      EXPECT_TRUE(handle.CallSoonThreadsafe([order, i, loop_thread] {
        EXPECT_EQ(std::this_thread::get_id(), loop_thread);
        order->push_back(i);
      }));
    }
  });
  for (int i = 0; i < 5000 && order->size() < 100; ++i) co_await Sleep(absl::Milliseconds(1));
}

TEST(CallSoonThreadsafeTest, RunsOnTheLoopInOrder) {
  std::vector<int> order;
  std::thread poster;
  ASYNCIO_LIKE_RUN_LOOP_TEST(CallbacksFromAnotherThread(&order, &poster));
  poster.join();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

Task<absl::StatusOr<LoopHandle>> TakeHandle() { co_return LoopHandle::Current(); }

TEST(CallSoonThreadsafeTest, ClosedLoopRefusesCallbacks) {
  std::optional<LoopHandle> handle;
  {
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
    absl::StatusOr<absl::StatusOr<LoopHandle>> taken = loop->RunUntilComplete(TakeHandle());
    ASSERT_TRUE(taken.ok() && taken->ok());
    handle.emplace(**taken);
  }
  bool ran = false;
  EXPECT_FALSE(handle->CallSoonThreadsafe([&ran] { ran = true; }));
  EXPECT_FALSE(ran);
  EXPECT_FALSE(LoopHandle::Current().ok());  // no loop runs on this thread
}

}  // namespace
}  // namespace asyncio_like
