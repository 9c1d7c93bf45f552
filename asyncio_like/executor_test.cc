#include "asyncio_like/executor.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// In each test the executor is declared last, so that it joins its threads
// before the state they use is destroyed.

TEST(ThreadExecutorTest, RunsWorkOnOtherThreads) {
  absl::Mutex mutex;
  std::set<std::thread::id> ids;
  absl::BlockingCounter done(20);
  ThreadExecutor executor(2);
  for (int i = 0; i < 20; ++i) {
    executor.Execute([&] {
      {
        absl::MutexLock lock(&mutex);
        ids.insert(std::this_thread::get_id());
      }
      done.DecrementCount();
    });
  }
  done.Wait();
  absl::MutexLock lock(&mutex);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
  EXPECT_LE(ids.size(), 2u);
}

TEST(ThreadExecutorTest, RunsConcurrentlyUpToItsSize) {
  absl::Notification release;
  absl::BlockingCounter both_started(2);
  ThreadExecutor executor(2);
  for (int i = 0; i < 2; ++i) {
    executor.Execute([&] {
      both_started.DecrementCount();
      release.WaitForNotification();
    });
  }
  both_started.Wait();  // would hang if the two ran one after the other
  release.Notify();
}

TEST(ThreadExecutorTest, DestructorRunsQueuedWork) {
  std::atomic<int> ran{0};
  {
    ThreadExecutor executor(1);
    for (int i = 0; i < 100; ++i) executor.Execute([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 100);
}

}  // namespace
}  // namespace asyncio_like
