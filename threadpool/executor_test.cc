// The Executor interface, exceptions kept with their type, lazy Map, and
// the errors of user-created futures and broken or shut-down pools.

#include "threadpool/executor.h"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "threadpool/errors.h"
#include "threadpool/test_util.h"
#include "threadpool/thread_pool.h"
#include "threadpool/wait.h"

namespace threadpool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::threadpool::testing::Blocker;
using ::threadpool::testing::MakePool;

// An error type of the user's, not derived from anything in the package.
struct RowError : std::runtime_error {
  RowError(int row) : std::runtime_error("bad row"), row(row) {}
  int row;
};

TEST(ExceptionTest, ResultOrThrowRethrowsTheTasksOwnException) {
  auto pool = MakePool(2);
  absl::StatusOr<Future<int>> f =
      pool->Submit([]() -> int { throw RowError(17); });
  ASSERT_TRUE(f.ok());
  try {
    f->ResultOrThrow();
    FAIL() << "no exception";
  } catch (const RowError& e) {
    EXPECT_EQ(e.row, 17);
  }
  // The status view is unchanged.
  EXPECT_EQ(f->Result().status(), absl::UnknownError("bad row"));
  EXPECT_EQ(f->Exception(), absl::UnknownError("bad row"));
}

TEST(ExceptionTest, ExceptionPtrIsTheOriginalObject) {
  auto pool = MakePool(1);
  auto thrown = std::make_exception_ptr(RowError(3));
  absl::StatusOr<Future<void>> f =
      pool->Submit([thrown] { std::rethrow_exception(thrown); });
  ASSERT_TRUE(f.ok());
  absl::StatusOr<std::exception_ptr> e = f->ExceptionPtr();
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, thrown);
  absl::StatusOr<Future<int>> ok = pool->Submit([] { return 1; });
  EXPECT_EQ(*ok->ExceptionPtr(), nullptr);
}

TEST(ExceptionTest, ReturnedStatusesStayStatuses) {
  auto pool = MakePool(1);
  absl::StatusOr<Future<int>> f = pool->Submit(
      []() -> absl::StatusOr<int> { return absl::NotFoundError("no row"); });
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->Result().status(), absl::NotFoundError("no row"));
  try {
    f->ResultOrThrow();
    FAIL() << "no exception";
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status(), absl::NotFoundError("no row"));
  }
  // A StatusError thrown by a task is its status.
  absl::StatusOr<Future<void>> g = pool->Submit(
      [] { throw StatusError(absl::DataLossError("torn page")); });
  EXPECT_EQ(g->Result(), absl::DataLossError("torn page"));
}

TEST(ExceptionTest, CallbacksAndWaitSeeTheException) {
  auto pool = MakePool(2);
  Blocker blocker;
  absl::StatusOr<Future<void>> slow = pool->Submit(blocker.Task());
  absl::StatusOr<Future<void>> bad =
      pool->Submit([] { throw RowError(9); });
  ASSERT_TRUE(slow.ok() && bad.ok());
  absl::StatusOr<WaitResult<void>> r = Wait(std::vector<Future<void>>{*slow, *bad},
                                            ReturnWhen::kFirstException);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->done, ElementsAre(*bad));
  int row = 0;
  ASSERT_TRUE(bad->AddDoneCallback([&row](const Future<void>& done) {
                 try {
                   std::rethrow_exception(*done.ExceptionPtr());
                 } catch (const RowError& e) {
                   row = e.row;
                 }
               }).ok());
  EXPECT_EQ(row, 9);
  blocker.release.Notify();
}

TEST(ExceptionTest, CancelledAndShutDownFuturesThrowCancelledError) {
  auto pool = MakePool(1);
  Blocker blocker;
  absl::StatusOr<Future<void>> running = pool->Submit(blocker.Task());
  absl::StatusOr<Future<int>> queued = pool->Submit([] { return 1; });
  blocker.started.WaitForNotification();
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(10));
    blocker.release.Notify();
  });
  pool->Shutdown(/*wait=*/true, /*cancel_futures=*/true);
  releaser.join();
  EXPECT_THROW(queued->ResultOrThrow(), CancelledError);
  EXPECT_EQ(queued->Result().status().code(), absl::StatusCode::kCancelled);
  EXPECT_NO_THROW(running->ResultOrThrow());
}

TEST(ExceptionTest, BrokenThreadPoolIsDistinguishable) {
  auto pool = MakePool(ThreadPoolOptions{
      .max_workers = 1,
      .initializer = [] { return absl::UnavailableError("no database"); }});
  ::testing::internal::CaptureStderr();
  absl::StatusOr<Future<int>> f = pool->Submit([] { return 1; });
  absl::Status s = f.ok() ? f->Result().status() : f.status();
  pool->Shutdown();
  ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(IsBrokenThreadPool(s)) << s;
  EXPECT_FALSE(IsInvalidState(s));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(IsBrokenThreadPool(absl::FailedPreconditionError(
      "cannot schedule new futures after shutdown")));
}

TEST(UserFutureTest, SettersFollowPythonsStateRules) {
  Future<std::string> f = Future<std::string>::Create();
  EXPECT_FALSE(f.Done());
  EXPECT_TRUE(*f.SetRunningOrNotifyCancel());
  EXPECT_TRUE(f.Running());
  EXPECT_FALSE(f.Cancel());  // running futures cannot be cancelled
  EXPECT_EQ(f.SetRunningOrNotifyCancel().status(),
            absl::FailedPreconditionError("Future in unexpected state"));
  ASSERT_TRUE(f.SetResult("done").ok());
  EXPECT_TRUE(IsInvalidState(f.SetResult("again")));
  EXPECT_TRUE(IsInvalidState(f.SetException(absl::InternalError("late"))));
  EXPECT_EQ(f.ResultOrThrow(), "done");

  Future<void> cancelled = Future<void>::Create();
  EXPECT_TRUE(cancelled.Cancel());
  absl::Status s = cancelled.SetResult();
  EXPECT_TRUE(IsInvalidState(s));
  EXPECT_THAT(s.message(), HasSubstr("CANCELLED"));

  EXPECT_EQ(Future<int>::Create().SetException(absl::OkStatus()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Future<int>::Create().SetException(std::exception_ptr()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(UserFutureTest, ConcurrentSettersSetOnce) {
  for (int round = 0; round < 50; ++round) {
    Future<int> f = Future<int>::Create();
    std::atomic<int> won{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([f, i, &won]() mutable {
        absl::Status s = i == 3 ? (f.Cancel() ? absl::OkStatus()
                                              : InvalidStateStatus("lost"))
                                : f.SetResult(i);
        if (s.ok()) ++won;
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(won, 1);
    EXPECT_TRUE(f.Done());
  }
}

TEST(UserFutureTest, ExecutorFuturesCannotBeSetByHand) {
  auto pool = MakePool(1);
  Blocker blocker;
  absl::StatusOr<Future<void>> f = pool->Submit(blocker.Task());
  blocker.started.WaitForNotification();
  EXPECT_TRUE(IsInvalidState(f->SetResult()));
  EXPECT_EQ(f->SetRunningOrNotifyCancel().status().code(),
            absl::StatusCode::kFailedPrecondition);
  blocker.release.Notify();
  EXPECT_TRUE(f->Result().ok());
}

TEST(MapTest, DeliversEarlierItemsBeforeLaterOnesFinish) {
  auto pool = MakePool(2);
  absl::Notification release_last;
  absl::StatusOr<MapResults<int>> results = pool->Map(
      [&release_last](int x) {
        if (x == 2) release_last.WaitForNotification();
        return x * 10;
      },
      std::vector<int>{0, 1, 2});
  ASSERT_TRUE(results.ok());
  auto it = results->begin();
  EXPECT_EQ(**it, 0);
  ++it;
  // Item 1 is delivered while item 2 is still blocked.
  EXPECT_EQ(**it, 10);
  release_last.Notify();
  ++it;
  EXPECT_EQ(**it, 20);
  ++it;
  EXPECT_TRUE(it == results->end());
}

TEST(MapTest, TheFailingItemComesAfterTheEarlierOnesAndCancelsTheRest) {
  auto pool = MakePool(1);
  std::atomic<int> ran{0};
  absl::StatusOr<MapResults<int>> results = pool->Map(
      [&ran](int x) -> int {
        ++ran;
        if (x == 1) throw RowError(x);
        absl::SleepFor(absl::Milliseconds(2));
        return x;
      },
      std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
  ASSERT_TRUE(results.ok());
  std::vector<absl::StatusOr<int>> seen;
  for (absl::StatusOr<int>& r : *results) seen.push_back(r);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(*seen[0], 0);
  EXPECT_EQ(seen[1].status(), absl::UnknownError("bad row"));
  EXPECT_THROW(std::rethrow_exception(results->exception()), RowError);
  pool->Shutdown();
  EXPECT_LT(ran, 8);  // later items were cancelled
}

TEST(MapTest, StoppingEarlyCancelsTheItemsNotStarted) {
  auto pool = MakePool(1);
  std::atomic<int> ran{0};
  {
    absl::StatusOr<MapResults<int>> results = pool->Map(
        [&ran](int x) {
          ++ran;
          absl::SleepFor(absl::Milliseconds(2));
          return x;
        },
        std::vector<int>(20, 1));
    ASSERT_TRUE(results.ok());
    EXPECT_EQ(**results->begin(), 1);
  }  // the consumer stops after one item
  pool->Shutdown();
  EXPECT_LT(ran, 20);
}

TEST(MapTest, TimeoutBoundsTheWholeIteration) {
  auto pool = MakePool(4);
  // Each item takes 30 ms and alone fits in the 100 ms timeout; the
  // sequence (one worker's worth, four items each) does not.
  absl::StatusOr<MapResults<int>> results =
      pool->Map(MapOptions{.timeout = absl::Milliseconds(100)},
                [](int x) {
                  absl::SleepFor(absl::Milliseconds(30));
                  return x;
                },
                std::vector<int>(16, 1));
  ASSERT_TRUE(results.ok());
  const absl::Time start = absl::Now();
  int delivered = 0;
  absl::Status last;
  for (absl::StatusOr<int>& r : *results) {
    if (r.ok()) ++delivered;
    last = r.status();
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(delivered, 16);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(MapTest, ZipsRangesToTheShortest) {
  auto pool = MakePool(2);
  std::vector<std::string> words = {"a", "bb", "ccc"};
  std::vector<int> counts = {3, 2};
  absl::StatusOr<MapResults<std::string>> results = pool->Map(
      [](const std::string& w, int n) {
        std::string out;
        for (int i = 0; i < n; ++i) out += w;
        return out;
      },
      words, counts);
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results->size(), 2u);
  EXPECT_THAT(*std::move(*results).Collect(), ElementsAre("aaa", "bbbb"));
}

// An input range whose iteration throws part way.
struct ThrowingRange {
  struct Iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    int i = 0;
    int operator*() const {
      if (i == 3) throw std::out_of_range("input exhausted badly");
      return i;
    }
    Iterator& operator++() {
      ++i;
      return *this;
    }
    void operator++(int) { ++i; }
    bool operator==(const Iterator& other) const { return i == other.i; }
  };
  Iterator begin() const { return {0}; }
  Iterator end() const { return {10}; }
};

TEST(MapTest, AnInputRangeThatThrowsLeavesMapAndLosesNoTask) {
  auto pool = MakePool(2);
  std::atomic<int> ran{0};
  EXPECT_THROW((void)pool->Map([&ran](int) { ++ran; }, ThrowingRange()),
               std::out_of_range);
  pool->Shutdown();
  EXPECT_EQ(ran, 3);  // the three submitted before the throw all ran
}

TEST(MapTest, MapAfterShutdownIsAnError) {
  auto pool = MakePool(1);
  pool->Shutdown();
  EXPECT_EQ(pool->Map([](int x) { return x; }, std::vector<int>{1}).status(),
            absl::FailedPreconditionError(
                "cannot schedule new futures after shutdown"));
}

// A custom executor: runs each task in the submitting thread.
class InlineExecutor final : public Executor {
 public:
  void Shutdown(bool, bool) override { shut_down_ = true; }

 protected:
  absl::Status Enqueue(Work&& work) override {
    if (shut_down_) return absl::FailedPreconditionError("shut down");
    std::move(work).Run();
    return absl::OkStatus();
  }

 private:
  bool shut_down_ = false;
};

TEST(CustomExecutorTest, SubmitMapAndShutdownComeFromTheInterface) {
  InlineExecutor inline_executor;
  Executor& executor = inline_executor;
  absl::StatusOr<Future<int>> f = executor.Submit([](int x) { return x + 1; }, 41);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Done());
  EXPECT_EQ(f->ResultOrThrow(), 42);
  absl::StatusOr<Future<void>> g = executor.Submit([] { throw RowError(1); });
  EXPECT_THROW(g->ResultOrThrow(), RowError);
  absl::StatusOr<MapResults<int>> squares =
      executor.Map([](int x) { return x * x; }, std::vector<int>{1, 2, 3});
  ASSERT_TRUE(squares.ok());
  EXPECT_THAT(*std::move(*squares).Collect(), ElementsAre(1, 4, 9));
  executor.Shutdown();
  EXPECT_FALSE(executor.Submit([] {}).ok());
}

}  // namespace
}  // namespace threadpool
