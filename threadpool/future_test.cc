// Future<T>: results, errors, cancellation, timeouts and done callbacks.

#include "threadpool/future.h"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "threadpool/test_util.h"
#include "threadpool/thread_pool.h"

namespace threadpool {
namespace {

using ::testing::HasSubstr;
using ::threadpool::testing::Blocker;
using ::threadpool::testing::MakePool;

TEST(FutureTest, ResultIsTheTaskValue) {
  auto pool = MakePool(2);
  absl::StatusOr<Future<int>> f = pool->Submit([](int x) { return x * 2; }, 21);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->Result(), 42);
  // Python's result() can be read again; so can an lvalue future.
  EXPECT_EQ(*f->Result(), 42);
  EXPECT_TRUE(f->Done());
  EXPECT_FALSE(f->Cancelled());
  EXPECT_FALSE(f->Running());
}

TEST(FutureTest, VoidTaskGivesOkStatus) {
  auto pool = MakePool(1);
  std::atomic<bool> ran{false};
  absl::StatusOr<Future<void>> f = pool->Submit([&ran] { ran = true; });
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Result().ok());
  EXPECT_TRUE(ran);
}

TEST(FutureTest, MoveOnlyResultIsMovedOutOnce) {
  auto pool = MakePool(1);
  absl::StatusOr<Future<std::unique_ptr<int>>> f =
      pool->Submit([](std::unique_ptr<int> p) { return p; },
                   std::make_unique<int>(7));
  ASSERT_TRUE(f.ok());
  Future<std::unique_ptr<int>> copy = *f;
  absl::StatusOr<std::unique_ptr<int>> value = std::move(*f).Result();
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(**value, 7);
  absl::StatusOr<std::unique_ptr<int>> again = std::move(copy).Result();
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("already moved out"));
}

TEST(FutureTest, ReturnedErrorStatusSurfacesIntact) {
  auto pool = MakePool(2);
  absl::StatusOr<Future<void>> status_task = pool->Submit(
      [] { return absl::NotFoundError("no such file: /etc/missing"); });
  absl::StatusOr<Future<int>> statusor_task = pool->Submit(
      []() -> absl::StatusOr<int> { return absl::DataLossError("torn"); });
  absl::StatusOr<Future<int>> statusor_ok =
      pool->Submit([]() -> absl::StatusOr<int> { return 5; });
  ASSERT_TRUE(status_task.ok() && statusor_task.ok() && statusor_ok.ok());
  EXPECT_EQ(status_task->Result(),
            absl::NotFoundError("no such file: /etc/missing"));
  EXPECT_EQ(statusor_task->Result().status(), absl::DataLossError("torn"));
  EXPECT_EQ(*statusor_ok->Result(), 5);
}

TEST(FutureTest, ThrownExceptionBecomesUnknownErrorWithItsMessage) {
  auto pool = MakePool(2);
  absl::StatusOr<Future<int>> f = pool->Submit([]() -> int {
    throw std::runtime_error("division by zero in row 17");
  });
  absl::StatusOr<Future<void>> g = pool->Submit([] { throw 42; });
  ASSERT_TRUE(f.ok() && g.ok());
  EXPECT_EQ(f->Result().status(),
            absl::UnknownError("division by zero in row 17"));
  EXPECT_EQ(g->Result().code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(g->Result().message(), HasSubstr("not derived from std::exception"));
  EXPECT_TRUE(f->Done());
  EXPECT_FALSE(f->Cancelled());
}

TEST(FutureTest, ExceptionIsTheTaskErrorOrOk) {
  auto pool = MakePool(2);
  absl::StatusOr<Future<int>> ok = pool->Submit([] { return 1; });
  absl::StatusOr<Future<int>> bad =
      pool->Submit([]() -> int { throw std::invalid_argument("bad row"); });
  ASSERT_TRUE(ok.ok() && bad.ok());
  EXPECT_TRUE(ok->Exception().ok());
  EXPECT_EQ(bad->Exception(), absl::UnknownError("bad row"));
}

TEST(FutureTest, ResultTimesOutAndTheTaskStillCompletes) {
  auto pool = MakePool(1);
  absl::Notification release;
  std::atomic<bool> finished{false};
  absl::StatusOr<Future<int>> f = pool->Submit([&] {
    release.WaitForNotification();
    finished = true;
    return 3;
  });
  ASSERT_TRUE(f.ok());
  absl::StatusOr<int> early = f->Result(absl::Milliseconds(20));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(early.status().message(), HasSubstr("20ms"));
  EXPECT_EQ(f->Exception(absl::Milliseconds(1)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(f->Done());
  release.Notify();
  EXPECT_EQ(*f->Result(), 3);
  EXPECT_TRUE(finished);
}

TEST(FutureTest, ZeroTimeoutPollsWithoutWaiting) {
  auto pool = MakePool(1);
  Blocker blocker;
  absl::StatusOr<Future<void>> f = pool->Submit(blocker.Task());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->Result(absl::ZeroDuration()).code(),
            absl::StatusCode::kDeadlineExceeded);
  blocker.release.Notify();
  EXPECT_TRUE(f->Result().ok());
  EXPECT_TRUE(f->Result(absl::ZeroDuration()).ok());
}

TEST(FutureTest, NegativeTimeoutCountsAsZero) {
  auto pool = MakePool(1);
  Blocker blocker;
  absl::StatusOr<Future<void>> pending = pool->Submit(blocker.Task());
  absl::StatusOr<Future<int>> f = pool->Submit([] { return 1; });
  ASSERT_TRUE(pending.ok() && f.ok());
  // Not done: a negative timeout polls, as zero does, and reports a timeout.
  EXPECT_EQ(f->Result(absl::Milliseconds(-1)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(f->Exception(absl::Seconds(-5)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_THROW(f->ResultOrThrow(absl::Seconds(-1)), TimeoutError);
  blocker.release.Notify();
  ASSERT_TRUE(f->Result().ok());
  // Done: a negative timeout reads the outcome.
  EXPECT_EQ(*f->Result(absl::Milliseconds(-1)), 1);
  EXPECT_TRUE(f->Exception(-absl::InfiniteDuration()).ok());
}

TEST(FutureTest, CancelSucceedsOnlyWhilePending) {
  auto pool = MakePool(1);
  Blocker blocker;
  absl::StatusOr<Future<void>> running = pool->Submit(blocker.Task());
  ASSERT_TRUE(running.ok());
  blocker.started.WaitForNotification();
  std::atomic<bool> pending_ran{false};
  absl::StatusOr<Future<void>> pending =
      pool->Submit([&pending_ran] { pending_ran = true; });
  ASSERT_TRUE(pending.ok());

  EXPECT_TRUE(running->Running());
  EXPECT_FALSE(running->Cancel());
  EXPECT_FALSE(running->Cancelled());

  EXPECT_FALSE(pending->Running());
  EXPECT_TRUE(pending->Cancel());
  EXPECT_TRUE(pending->Cancel());  // already cancelled: still true
  EXPECT_TRUE(pending->Cancelled());
  EXPECT_TRUE(pending->Done());
  EXPECT_EQ(pending->Result().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(pending->Exception().code(), absl::StatusCode::kCancelled);

  blocker.release.Notify();
  EXPECT_TRUE(running->Result().ok());
  EXPECT_FALSE(running->Cancel());  // finished
  pool->Shutdown(/*wait=*/true);
  EXPECT_FALSE(pending_ran);
  EXPECT_EQ(pool->stats().tasks_run, 1);
}

TEST(FutureTest, DoneCallbacksRunExactlyOnce) {
  auto pool = MakePool(1);
  Blocker blocker;
  absl::StatusOr<Future<int>> f = pool->Submit([&blocker] {
    blocker.Task()();
    return 9;
  });
  ASSERT_TRUE(f.ok());
  std::atomic<int> before{0};
  std::atomic<int> seen_value{0};
  ASSERT_TRUE(f->AddDoneCallback([&](const Future<int>& done) {
                 ++before;
                 seen_value = *done.Result(absl::ZeroDuration());
               }).ok());
  blocker.release.Notify();
  ASSERT_TRUE(f->Result().ok());
  pool->Shutdown(/*wait=*/true);  // the callback has run in the worker
  EXPECT_EQ(before, 1);
  EXPECT_EQ(seen_value, 9);

  // Added after completion: runs at once, in this thread.
  int after = 0;
  std::thread::id ran_on;
  ASSERT_TRUE(f->AddDoneCallback([&](const Future<int>&) {
                 ++after;
                 ran_on = std::this_thread::get_id();
               }).ok());
  EXPECT_EQ(after, 1);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(before, 1);
}

TEST(FutureTest, CallbackOfCancelledFutureRuns) {
  auto pool = MakePool(1);
  Blocker blocker;
  ASSERT_TRUE(pool->Submit(blocker.Task()).ok());
  blocker.started.WaitForNotification();
  absl::StatusOr<Future<void>> f = pool->Submit([] {});
  ASSERT_TRUE(f.ok());
  int calls = 0;
  bool saw_cancelled = false;
  ASSERT_TRUE(f->AddDoneCallback([&](const Future<void>& done) {
                 ++calls;
                 saw_cancelled = done.Cancelled();
               }).ok());
  EXPECT_TRUE(f->Cancel());  // runs the callback here, in this thread
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(saw_cancelled);
  blocker.release.Notify();
  pool->Shutdown(/*wait=*/true);
  EXPECT_EQ(calls, 1);
}

TEST(FutureTest, ThrowingCallbackDoesNotBreakThePool) {
  auto pool = MakePool(1);
  Blocker blocker;
  absl::StatusOr<Future<void>> f = pool->Submit(blocker.Task());
  ASSERT_TRUE(f.ok());
  std::atomic<int> second_ran{0};
  ASSERT_TRUE(f->AddDoneCallback([](const Future<void>&) {
                 throw std::runtime_error("callback failure");
               }).ok());
  ASSERT_TRUE(
      f->AddDoneCallback([&](const Future<void>&) { ++second_ran; }).ok());
  blocker.release.Notify();
  EXPECT_TRUE(f->Result().ok());
  // The same worker keeps serving tasks.
  absl::StatusOr<Future<int>> next = pool->Submit([] { return 5; });
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next->Result(), 5);
  EXPECT_EQ(second_ran, 1);
  // Thrown from a callback that runs at once: caught as well.
  EXPECT_TRUE(next->AddDoneCallback([](const Future<int>&) {
                    throw std::logic_error("late callback failure");
                  }).ok());
  EXPECT_EQ(pool->stats().threads_started, 1);
}

TEST(FutureTest, EmptyCallbackAndInvalidFutureAreErrors) {
  auto pool = MakePool(1);
  absl::StatusOr<Future<int>> f = pool->Submit([] { return 1; });
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->AddDoneCallback(nullptr).code(),
            absl::StatusCode::kInvalidArgument);

  Future<int> invalid;
  EXPECT_FALSE(invalid.valid());
  EXPECT_FALSE(invalid.Cancel());
  EXPECT_FALSE(invalid.Done());
  EXPECT_EQ(invalid.Result().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(invalid.Exception().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(invalid.AddDoneCallback([](const Future<int>&) {}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(FutureTest, ManyThreadsWaitOnOneFuture) {
  auto pool = MakePool(1);
  absl::Notification release;
  absl::StatusOr<Future<int>> f = pool->Submit([&release] {
    release.WaitForNotification();
    return 11;
  });
  ASSERT_TRUE(f.ok());
  std::vector<std::thread> readers;
  std::atomic<int> waited{0};
  std::atomic<int> correct{0};
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] {
      // A wait that times out proves the reader waited on the pending
      // future; the result is released only after all eight did.
      EXPECT_EQ(f->Result(absl::Milliseconds(1)).status().code(),
                absl::StatusCode::kDeadlineExceeded);
      ++waited;
      if (absl::StatusOr<int> v = f->Result(); v.ok() && *v == 11) ++correct;
    });
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (waited.load() < 8 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(waited.load(), 8);
  EXPECT_FALSE(f->Done());
  release.Notify();
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(correct, 8);
}

}  // namespace
}  // namespace threadpool
