// CPython's test_wait.py (ThreadPoolWaitTests) and test_as_completed.py
// (the thread pool variant of AsCompletedTests), ported. Python's sleeping
// tasks become tasks held at a gate, so the tests do not depend on timing.
// See CONFORMANCE.md.

#include <algorithm>
#include <memory>
#include <stdexcept>
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
#include "threadpool/wait.h"

namespace threadpool {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;
using ::threadpool::testing::MakePool;
using ::threadpool::testing::PreparedFuture;
using ::threadpool::testing::PreparedState;

constexpr int kWorkerCount = 5;

// A task standing in for time.sleep(t): it runs until the test (or its
// destructor) releases it. The task shares the notification, so the
// Sleeper may go before its task has finished waking up.
class Sleeper {
 public:
  ~Sleeper() { Release(); }
  auto Task() {
    return [release = release_] {
      release->WaitForNotification();
      return 0;
    };
  }
  void Release() {
    if (!release_->HasBeenNotified()) release_->Notify();
  }

 private:
  std::shared_ptr<absl::Notification> release_ =
      std::make_shared<absl::Notification>();
};

int Mul(int x, int y) { return x * y; }
int DivideByZero(int x) {
  if (x >= 0) throw std::domain_error("integer division or modulo by zero");
  return 0;
}

// ---- test_wait.py ----

TEST(ThreadPoolWaitTests, test_20369) {
  auto executor = MakePool(kWorkerCount);
  absl::StatusOr<Future<void>> future =
      executor->Submit([] { absl::SleepFor(absl::Milliseconds(15)); });
  ASSERT_TRUE(future.ok());
  absl::StatusOr<WaitResult<void>> r =
      Wait(std::vector<Future<void>>{*future, *future}, ReturnWhen::kAllCompleted);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->done, UnorderedElementsAre(*future));
  EXPECT_THAT(r->not_done, IsEmpty());
}

// Python reports a CANCELLED future (cancelled, its executor not yet told)
// as not done; here cancelling is final at once, so it is done.
TEST(ThreadPoolWaitTests, test_first_completed) {
  auto executor = MakePool(kWorkerCount);
  Sleeper sleeper;
  Future<int> future1 = *executor->Submit(Mul, 21, 2);
  Future<int> future2 = *executor->Submit(sleeper.Task());
  ASSERT_EQ(future1.ResultOrThrow(), 42);
  Future<int> cancelled = PreparedFuture(PreparedState::kCancelled);
  absl::StatusOr<WaitResult<int>> r =
      Wait(std::vector<Future<int>>{cancelled, future1, future2},
           ReturnWhen::kFirstCompleted);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->done, UnorderedElementsAre(cancelled, future1));
  EXPECT_THAT(r->not_done, UnorderedElementsAre(future2));
}

TEST(ThreadPoolWaitTests, test_first_completed_some_already_completed) {
  auto executor = MakePool(kWorkerCount);
  Sleeper sleeper;
  Future<int> future1 = *executor->Submit(sleeper.Task());
  Future<int> cancelled = PreparedFuture(PreparedState::kCancelledAndNotified);
  Future<int> successful = PreparedFuture(PreparedState::kSuccessful);
  absl::StatusOr<WaitResult<int>> r =
      Wait(std::vector<Future<int>>{cancelled, successful, future1},
           ReturnWhen::kFirstCompleted);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->done, UnorderedElementsAre(cancelled, successful));
  EXPECT_THAT(r->not_done, UnorderedElementsAre(future1));
}

TEST(ThreadPoolWaitTests, test_first_exception) {
  auto executor = MakePool(kWorkerCount);
  Sleeper sleeper;
  Future<int> future1 = *executor->Submit(Mul, 2, 21);
  Future<int> future2 = *executor->Submit([]() -> int {
    absl::SleepFor(absl::Milliseconds(15));
    throw std::runtime_error("this is an exception");
  });
  Future<int> future3 = *executor->Submit(sleeper.Task());
  absl::StatusOr<WaitResult<int>> r =
      Wait(std::vector<Future<int>>{future1, future2, future3},
           ReturnWhen::kFirstException);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->done, UnorderedElementsAre(future1, future2));
  EXPECT_THAT(r->not_done, UnorderedElementsAre(future3));
}

// As test_first_completed: the CANCELLED future counts as done here.
TEST(ThreadPoolWaitTests, test_first_exception_some_already_complete) {
  auto executor = MakePool(kWorkerCount);
  Sleeper sleeper;
  Future<int> future1 = *executor->Submit(DivideByZero, 21);
  Future<int> future2 = *executor->Submit(sleeper.Task());
  Future<int> successful = PreparedFuture(PreparedState::kSuccessful);
  Future<int> cancelled = PreparedFuture(PreparedState::kCancelled);
  Future<int> notified = PreparedFuture(PreparedState::kCancelledAndNotified);
  absl::StatusOr<WaitResult<int>> r = Wait(
      std::vector<Future<int>>{successful, cancelled, notified, future1, future2},
      ReturnWhen::kFirstException);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->done,
              UnorderedElementsAre(successful, cancelled, notified, future1));
  EXPECT_THAT(r->not_done, UnorderedElementsAre(future2));
}

TEST(ThreadPoolWaitTests, test_first_exception_one_already_failed) {
  auto executor = MakePool(kWorkerCount);
  Sleeper sleeper;
  Future<int> future1 = *executor->Submit(sleeper.Task());
  Future<int> failed = PreparedFuture(PreparedState::kException);
  absl::StatusOr<WaitResult<int>> r = Wait(
      std::vector<Future<int>>{failed, future1}, ReturnWhen::kFirstException);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->done, UnorderedElementsAre(failed));
  EXPECT_THAT(r->not_done, UnorderedElementsAre(future1));
}

TEST(ThreadPoolWaitTests, test_all_completed) {
  auto executor = MakePool(kWorkerCount);
  Future<int> future1 = *executor->Submit(DivideByZero, 2);
  Future<int> future2 = *executor->Submit(Mul, 2, 21);
  std::vector<Future<int>> fs = {PreparedFuture(PreparedState::kSuccessful),
                                 PreparedFuture(PreparedState::kCancelledAndNotified),
                                 PreparedFuture(PreparedState::kException),
                                 future1, future2};
  absl::StatusOr<WaitResult<int>> r = Wait(fs, ReturnWhen::kAllCompleted);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->done, UnorderedElementsAreArray(fs));
  EXPECT_THAT(r->not_done, IsEmpty());
}

TEST(ThreadPoolWaitTests, test_timeout) {
  auto executor = MakePool(kWorkerCount);
  Sleeper sleeper;
  Future<int> future = *executor->Submit(sleeper.Task());
  Future<int> notified = PreparedFuture(PreparedState::kCancelledAndNotified);
  Future<int> failed = PreparedFuture(PreparedState::kException);
  Future<int> successful = PreparedFuture(PreparedState::kSuccessful);
  absl::StatusOr<WaitResult<int>> r =
      Wait(std::vector<Future<int>>{notified, failed, successful, future},
           ReturnWhen::kAllCompleted, absl::Milliseconds(50));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->done, UnorderedElementsAre(notified, failed, successful));
  EXPECT_THAT(r->not_done, UnorderedElementsAre(future));
}

TEST(ThreadPoolWaitTests, test_pending_calls_race) {
  auto executor = MakePool(kWorkerCount);
  absl::Notification event;
  std::vector<Future<void>> fs;
  for (int i = 0; i < 100; ++i) {
    fs.push_back(*executor->Submit([&event] { event.WaitForNotification(); }));
  }
  event.Notify();
  absl::StatusOr<WaitResult<void>> r = Wait(fs, ReturnWhen::kAllCompleted);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done.size(), 100u);
}

// ---- test_as_completed.py ----

TEST(ThreadPoolAsCompletedTests, test_no_timeout) {
  auto executor = MakePool(kWorkerCount);
  std::vector<Future<int>> fs = {PreparedFuture(PreparedState::kCancelledAndNotified),
                                 PreparedFuture(PreparedState::kException),
                                 PreparedFuture(PreparedState::kSuccessful),
                                 *executor->Submit(Mul, 2, 21),
                                 *executor->Submit(Mul, 7, 6)};
  std::vector<Future<int>> completed;
  for (absl::StatusOr<Future<int>> f : AsCompleted(fs)) {
    ASSERT_TRUE(f.ok()) << f.status();
    completed.push_back(*f);
  }
  EXPECT_THAT(completed, UnorderedElementsAreArray(fs));
}

TEST(ThreadPoolAsCompletedTests, test_future_times_out) {
  auto executor = MakePool(kWorkerCount);
  std::vector<Future<int>> already_completed = {
      PreparedFuture(PreparedState::kCancelledAndNotified),
      PreparedFuture(PreparedState::kException),
      PreparedFuture(PreparedState::kSuccessful)};
  for (absl::Duration timeout : {absl::ZeroDuration(), absl::Milliseconds(100)}) {
    SCOPED_TRACE(absl::FormatDuration(timeout));
    Sleeper sleeper;
    std::vector<Future<int>> fs = already_completed;
    fs.push_back(*executor->Submit(sleeper.Task()));
    std::vector<Future<int>> completed_futures;
    bool timed_out = false;
    for (absl::StatusOr<Future<int>> f : AsCompleted(fs, timeout)) {
      if (!f.ok()) {
        EXPECT_EQ(f.status().code(), absl::StatusCode::kDeadlineExceeded);
        timed_out = true;
        break;
      }
      completed_futures.push_back(*f);
    }
    EXPECT_TRUE(timed_out);
    EXPECT_THAT(completed_futures, UnorderedElementsAreArray(already_completed));
  }
}

TEST(ThreadPoolAsCompletedTests, test_duplicate_futures) {
  auto executor = MakePool(kWorkerCount);
  Future<void> future1 =
      *executor->Submit([] { absl::SleepFor(absl::Milliseconds(20)); });
  int completed = 0;
  for (absl::StatusOr<Future<void>> f :
       AsCompleted(std::vector<Future<void>>{future1, future1, future1})) {
    ASSERT_TRUE(f.ok());
    ++completed;
  }
  EXPECT_EQ(completed, 1);
}

TEST(ThreadPoolAsCompletedTests, test_correct_timeout_exception_msg) {
  std::vector<Future<int>> futures_list = {
      PreparedFuture(PreparedState::kCancelledAndNotified),
      PreparedFuture(PreparedState::kPending),
      PreparedFuture(PreparedState::kRunning),
      PreparedFuture(PreparedState::kSuccessful)};
  absl::Status last;
  for (absl::StatusOr<Future<int>> f :
       AsCompleted(futures_list, absl::ZeroDuration())) {
    last = f.status();
  }
  EXPECT_EQ(last, absl::DeadlineExceededError("2 (of 4) futures unfinished"));
}

}  // namespace
}  // namespace threadpool
