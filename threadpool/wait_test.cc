// Wait and AsCompleted.

#include "threadpool/wait.h"

#include <memory>
#include <stdexcept>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "threadpool/test_util.h"
#include "threadpool/thread_pool.h"

namespace threadpool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::threadpool::testing::Blocker;
using ::threadpool::testing::MakePool;

// Tasks that each return their index once released.
class GatedTasks {
 public:
  GatedTasks(ThreadPoolExecutor& pool, int n) : gates_(n) {
    for (int i = 0; i < n; ++i) {
      absl::Notification* gate = &gates_[i];
      futures_.push_back(*pool.Submit([gate, i]() -> absl::StatusOr<int> {
        gate->WaitForNotification();
        if (i < 0) return absl::InternalError("unreachable");
        return i;
      }));
    }
  }
  // Releases the tasks still waiting and waits for them, since they use the
  // gates.
  ~GatedTasks() {
    for (absl::Notification& gate : gates_) {
      if (!gate.HasBeenNotified()) gate.Notify();
    }
    for (const Future<int>& f : futures_) (void)f.Exception();
  }
  void Release(int i) {
    gates_[i].Notify();
    (void)futures_[i].Result();
  }
  const std::vector<Future<int>>& futures() const { return futures_; }

 private:
  std::vector<absl::Notification> gates_;
  std::vector<Future<int>> futures_;
};

std::vector<int> Values(const std::vector<Future<int>>& futures) {
  std::vector<int> values;
  for (const Future<int>& f : futures) values.push_back(*f.Result());
  return values;
}

TEST(WaitTest, FirstCompletedReturnsOnceOneIsDone) {
  auto pool = MakePool(3);
  GatedTasks tasks(*pool, 3);
  tasks.Release(1);
  absl::StatusOr<WaitResult<int>> r =
      Wait(tasks.futures(), ReturnWhen::kFirstCompleted);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Values(r->done), ElementsAre(1));
  EXPECT_EQ(r->not_done.size(), 2u);
  EXPECT_EQ(r->not_done[0], tasks.futures()[0]);
  EXPECT_EQ(r->not_done[1], tasks.futures()[2]);
}

TEST(WaitTest, FirstCompletedWakesOnALaterCompletion) {
  auto pool = MakePool(2);
  GatedTasks tasks(*pool, 2);
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(5));
    tasks.Release(0);
  });
  absl::StatusOr<WaitResult<int>> r =
      Wait(tasks.futures(), ReturnWhen::kFirstCompleted);
  releaser.join();
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Values(r->done), ElementsAre(0));
  EXPECT_EQ(r->not_done.size(), 1u);
}

TEST(WaitTest, AllCompletedWaitsForEveryFuture) {
  auto pool = MakePool(4);
  GatedTasks tasks(*pool, 4);
  std::thread releaser([&] {
    for (int i : {3, 1, 0, 2}) tasks.Release(i);
  });
  absl::StatusOr<WaitResult<int>> r = Wait(tasks.futures());
  releaser.join();
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Values(r->done), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(r->not_done, IsEmpty());
}

TEST(WaitTest, FirstExceptionReturnsOnAFailureButNotOnASuccess) {
  auto pool = MakePool(3);
  GatedTasks tasks(*pool, 2);
  absl::Notification fail;
  absl::StatusOr<Future<int>> failing = pool->Submit([&fail]() -> int {
    fail.WaitForNotification();
    throw std::runtime_error("failed");
  });
  ASSERT_TRUE(failing.ok());
  std::vector<Future<int>> all = tasks.futures();
  all.push_back(*failing);

  tasks.Release(0);  // a success does not end a FIRST_EXCEPTION wait
  absl::StatusOr<WaitResult<int>> r =
      Wait(all, ReturnWhen::kFirstException, absl::Milliseconds(20));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done.size(), 1u);
  EXPECT_EQ(r->not_done.size(), 2u);

  fail.Notify();
  r = Wait(all, ReturnWhen::kFirstException);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done.size(), 2u);
  ASSERT_EQ(r->not_done.size(), 1u);
  EXPECT_EQ(r->not_done[0], tasks.futures()[1]);
}

TEST(WaitTest, FirstExceptionWithoutFailuresWaitsForAll) {
  auto pool = MakePool(2);
  GatedTasks tasks(*pool, 2);
  std::thread releaser([&] {
    tasks.Release(0);
    tasks.Release(1);
  });
  absl::StatusOr<WaitResult<int>> r =
      Wait(tasks.futures(), ReturnWhen::kFirstException);
  releaser.join();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done.size(), 2u);
}

TEST(WaitTest, TimeoutReturnsWhatIsDone) {
  auto pool = MakePool(2);
  GatedTasks tasks(*pool, 2);
  tasks.Release(1);
  absl::StatusOr<WaitResult<int>> r =
      Wait(tasks.futures(), ReturnWhen::kAllCompleted, absl::Milliseconds(10));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Values(r->done), ElementsAre(1));
  ASSERT_EQ(r->not_done.size(), 1u);
  EXPECT_EQ(r->not_done[0], tasks.futures()[0]);
}

TEST(WaitTest, CancelledFuturesCountAsDone) {
  auto pool = MakePool(1);
  GatedTasks tasks(*pool, 2);  // the second waits behind the first
  Future<int> second = tasks.futures()[1];
  ASSERT_TRUE(second.Cancel());
  absl::StatusOr<WaitResult<int>> r =
      Wait(tasks.futures(), ReturnWhen::kFirstCompleted);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->done.size(), 1u);
  EXPECT_TRUE(r->done[0].Cancelled());
}

TEST(WaitTest, DuplicatesAreReportedOnce) {
  auto pool = MakePool(1);
  absl::StatusOr<Future<int>> f = pool->Submit([] { return 1; });
  ASSERT_TRUE(f.ok());
  std::vector<Future<int>> twice = {*f, *f};
  absl::StatusOr<WaitResult<int>> r = Wait(twice);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done.size(), 1u);
  EXPECT_THAT(r->not_done, IsEmpty());
}

TEST(WaitTest, EmptyInputReturnsAtOnce) {
  std::vector<Future<int>> none;
  for (ReturnWhen when : {ReturnWhen::kFirstCompleted,
                          ReturnWhen::kFirstException,
                          ReturnWhen::kAllCompleted}) {
    absl::StatusOr<WaitResult<int>> r = Wait(none, when);
    ASSERT_TRUE(r.ok());
    EXPECT_THAT(r->done, IsEmpty());
  }
}

TEST(WaitTest, NegativeTimeoutCountsAsZero) {
  auto pool = MakePool(1);
  Blocker blocker;
  std::vector<Future<void>> futures = {*pool->Submit(blocker.Task())};
  blocker.started.WaitForNotification();
  absl::StatusOr<WaitResult<void>> r =
      Wait(futures, ReturnWhen::kAllCompleted, absl::Seconds(-1));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->done, IsEmpty());
  EXPECT_EQ(r->not_done.size(), 1u);
  blocker.release.Notify();
  ASSERT_TRUE(futures[0].Result().ok());
  r = Wait(futures, ReturnWhen::kAllCompleted, absl::Seconds(-1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done.size(), 1u);
}

TEST(WaitTest, BadArgumentsAreInvalidArgument) {
  auto pool = MakePool(1);
  std::vector<Future<int>> futures = {*pool->Submit([] { return 1; })};
  futures.push_back(Future<int>());
  absl::StatusOr<WaitResult<int>> r = Wait(futures);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("not valid"));
}

TEST(AsCompletedTest, YieldsInCompletionOrder) {
  auto pool = MakePool(3);
  GatedTasks tasks(*pool, 3);
  // Created while all three are pending; they then complete as 2, 0, 1.
  AsCompletedRange<int> completed = AsCompleted(tasks.futures());
  std::thread releaser([&] {
    for (int i : {2, 0, 1}) tasks.Release(i);
  });
  std::vector<int> order;
  for (const absl::StatusOr<Future<int>>& f : completed) {
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_TRUE(f->Done());
    order.push_back(*f->Result());
  }
  releaser.join();
  EXPECT_THAT(order, ElementsAre(2, 0, 1));
}

TEST(AsCompletedTest, AlreadyDoneFuturesComeFirst) {
  auto pool = MakePool(2);
  GatedTasks tasks(*pool, 2);
  tasks.Release(1);
  std::vector<int> order;
  for (const absl::StatusOr<Future<int>>& f : AsCompleted(tasks.futures())) {
    ASSERT_TRUE(f.ok());
    order.push_back(*f->Result());
    if (order.size() == 1) tasks.Release(0);
  }
  EXPECT_THAT(order, ElementsAre(1, 0));
}

TEST(AsCompletedTest, TimeoutEndsTheIterationWithDeadlineExceeded) {
  auto pool = MakePool(3);
  GatedTasks tasks(*pool, 3);
  tasks.Release(0);
  tasks.Release(2);
  std::vector<absl::StatusOr<Future<int>>> seen;
  for (absl::StatusOr<Future<int>> f :
       AsCompleted(tasks.futures(), absl::Milliseconds(20))) {
    seen.push_back(f);
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].ok());
  EXPECT_TRUE(seen[1].ok());
  EXPECT_EQ(seen[2].status(),
            absl::DeadlineExceededError("1 (of 3) futures unfinished"));
}

TEST(AsCompletedTest, DuplicatesAreYieldedOnce) {
  auto pool = MakePool(1);
  absl::StatusOr<Future<int>> f = pool->Submit([] { return 4; });
  ASSERT_TRUE(f.ok());
  std::vector<Future<int>> twice = {*f, *f, *f};
  int count = 0;
  for (const absl::StatusOr<Future<int>>& done : AsCompleted(twice)) {
    ASSERT_TRUE(done.ok());
    ++count;
  }
  EXPECT_EQ(count, 1);
}

TEST(AsCompletedTest, NegativeTimeoutCountsAsZero) {
  auto pool = MakePool(2);
  GatedTasks tasks(*pool, 2);
  tasks.Release(0);
  ASSERT_EQ(*tasks.futures()[0].Result(), 0);
  std::vector<absl::StatusCode> codes;
  for (const absl::StatusOr<Future<int>>& f :
       AsCompleted(tasks.futures(), absl::Milliseconds(-1))) {
    codes.push_back(f.status().code());
  }
  EXPECT_THAT(codes, ElementsAre(absl::StatusCode::kOk,
                                 absl::StatusCode::kDeadlineExceeded));
  tasks.Release(1);
}

TEST(AsCompletedTest, BadArgumentsYieldOneInvalidArgument) {
  auto pool = MakePool(1);
  std::vector<Future<int>> futures = {*pool->Submit([] { return 1; })};
  std::vector<absl::StatusCode> codes;
  futures.push_back(Future<int>());
  for (const absl::StatusOr<Future<int>>& f : AsCompleted(futures)) {
    codes.push_back(f.status().code());
  }
  EXPECT_THAT(codes, ElementsAre(absl::StatusCode::kInvalidArgument));
}

TEST(AsCompletedTest, LeavingEarlyUnregistersFromPendingFutures) {
  auto pool = MakePool(2);
  GatedTasks tasks(*pool, 2);
  tasks.Release(0);
  {
    auto range = AsCompleted(tasks.futures());
    auto it = range.begin();
    ASSERT_TRUE((*it).ok());
    EXPECT_EQ(*(*it)->Result(), 0);
  }  // range gone while future 1 is still pending
  tasks.Release(1);
  EXPECT_EQ(*tasks.futures()[1].Result(), 1);
}

}  // namespace
}  // namespace threadpool
