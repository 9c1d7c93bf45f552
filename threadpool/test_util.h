// Helpers shared by the package's tests.

#ifndef THREADPOOL_TEST_UTIL_H_
#define THREADPOOL_TEST_UTIL_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "threadpool/thread_pool.h"

namespace threadpool::testing {

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

// Occupies a worker until Release(); Started() is notified once it runs.
struct Blocker {
  absl::Notification started;
  absl::Notification release;

  auto Task() {
    return [this] {
      started.Notify();
      release.WaitForNotification();
    };
  }
};

}  // namespace threadpool::testing

#endif  // THREADPOOL_TEST_UTIL_H_
