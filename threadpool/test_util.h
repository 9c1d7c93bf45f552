// Helpers shared by the package's tests.

#ifndef THREADPOOL_TEST_UTIL_H_
#define THREADPOOL_TEST_UTIL_H_

#include <exception>
#include <memory>
#include <system_error>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "threadpool/thread_pool.h"

namespace threadpool::testing {

// The prepared futures of CPython's test_concurrent_futures/util.py, built
// the way create_future() builds them: a user-created future driven into
// each state. EXCEPTION_FUTURE holds an OSError (std::system_error here),
// SUCCESSFUL_FUTURE the result 42.
enum class PreparedState {
  kPending,
  kRunning,
  kCancelled,
  kCancelledAndNotified,
  kException,
  kSuccessful,
};

inline Future<int> PreparedFuture(PreparedState state) {
  Future<int> f = Future<int>::Create();
  switch (state) {
    case PreparedState::kPending:
      break;
    case PreparedState::kRunning:
      EXPECT_TRUE(*f.SetRunningOrNotifyCancel());
      break;
    case PreparedState::kCancelled:
      EXPECT_TRUE(f.Cancel());
      break;
    case PreparedState::kCancelledAndNotified:
      EXPECT_TRUE(f.Cancel());
      EXPECT_FALSE(*f.SetRunningOrNotifyCancel());
      break;
    case PreparedState::kException:
      EXPECT_TRUE(f.SetException(std::make_exception_ptr(std::system_error(
                                     std::make_error_code(std::errc::io_error))))
                      .ok());
      break;
    case PreparedState::kSuccessful:
      EXPECT_TRUE(f.SetResult(42).ok());
      break;
  }
  return f;
}

// A pool that must be creatable; fails the test otherwise.
inline std::unique_ptr<ThreadPoolExecutor> MakePool(ThreadPoolOptions options) {
  absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> pool =
      ThreadPoolExecutor::Create(std::move(options));
  EXPECT_TRUE(pool.ok()) << pool.status();
  return pool.ok() ? *std::move(pool) : nullptr;
}

inline std::unique_ptr<ThreadPoolExecutor> MakePool(int max_workers) {
  return MakePool(ThreadPoolOptions{.max_workers = max_workers});
}

// Occupies a worker until release is notified; started is notified once it
// runs. The task shares the notifications, so a Blocker may go out of scope
// while its task is still waking up.
struct Blocker {
  std::shared_ptr<absl::Notification> started_state =
      std::make_shared<absl::Notification>();
  std::shared_ptr<absl::Notification> release_state =
      std::make_shared<absl::Notification>();
  absl::Notification& started = *started_state;
  absl::Notification& release = *release_state;

  auto Task() {
    return [started = started_state, release = release_state] {
      started->Notify();
      release->WaitForNotification();
    };
  }
};

}  // namespace threadpool::testing

#endif  // THREADPOOL_TEST_UTIL_H_
