// ThreadPoolExecutor: construction, worker lifecycle, shutdown, Map, the
// broken pool, and counters.

#include "threadpool/thread_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "threadpool/test_util.h"

namespace threadpool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::threadpool::testing::Blocker;
using ::threadpool::testing::MakePool;

std::string CurrentThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

TEST(ThreadPoolTest, NonPositiveMaxWorkersIsInvalidArgument) {
  for (int bad : {0, -1, -100}) {
    absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> pool =
        ThreadPoolExecutor::Create({.max_workers = bad});
    EXPECT_EQ(pool.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(pool.status().message(), HasSubstr("max_workers"));
  }
}

TEST(ThreadPoolTest, DefaultMaxWorkersIsPythons) {
  auto pool = MakePool(ThreadPoolOptions{});
  const int expected = std::min(
      32, static_cast<int>(std::thread::hardware_concurrency()) + 4);
  EXPECT_EQ(pool->max_workers(), expected);
  EXPECT_EQ(pool->stats().threads_started, 0);  // lazily started
}

TEST(ThreadPoolTest, EmptyCallableIsInvalidArgument) {
  auto pool = MakePool(1);
  std::function<int()> empty_function;
  absl::StatusOr<Future<int>> f = pool->Submit(empty_function);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  int (*null_pointer)(int) = nullptr;
  EXPECT_EQ(pool->Submit(null_pointer, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pool->Schedule(nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pool->stats().threads_started, 0);
}

TEST(ThreadPoolTest, ThreadsAreNamedWithThePrefix) {
  auto named = MakePool(ThreadPoolOptions{.max_workers = 1,
                                          .thread_name_prefix = "fetcher"});
  absl::StatusOr<Future<std::string>> name =
      named->Submit(CurrentThreadName);
  EXPECT_EQ(*name->Result(), "fetcher_0");

  auto unnamed = MakePool(1);
  absl::StatusOr<Future<std::string>> default_name =
      unnamed->Submit(CurrentThreadName);
  // "ThreadPoolExecutor-<k>_0", cut to Linux's 15 bytes.
  EXPECT_EQ(*default_name->Result(), "ThreadPoolExecu");
}

TEST(ThreadPoolTest, IdleWorkerIsReusedBeforeStartingAnother) {
  auto pool = MakePool(8);
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<Future<int>> f = pool->Submit([i] { return i; });
    ASSERT_TRUE(f.ok());
    ASSERT_EQ(*f->Result(), i);
  }
  EXPECT_EQ(pool->stats().threads_started, 1);
  EXPECT_EQ(pool->stats().tasks_run, 200);
}

TEST(ThreadPoolTest, BusyWorkersMakeThePoolGrowUpToMaxWorkers) {
  auto pool = MakePool(3);
  std::vector<std::unique_ptr<Blocker>> blockers;
  for (int i = 0; i < 5; ++i) {
    blockers.push_back(std::make_unique<Blocker>());
    ASSERT_TRUE(pool->Submit(blockers.back()->Task()).ok());
  }
  for (int i = 0; i < 3; ++i) blockers[i]->started.WaitForNotification();
  EXPECT_EQ(pool->stats().threads_started, 3);
  // Three tasks run at once: the three workers each took one task.
  for (int i = 3; i < 5; ++i) EXPECT_FALSE(blockers[i]->started.HasBeenNotified());
  for (auto& b : blockers) b->release.Notify();
  pool->Shutdown();
  EXPECT_EQ(pool->stats().threads_started, 3);
  EXPECT_EQ(pool->stats().tasks_run, 5);
}

TEST(ThreadPoolTest, FewerTasksThanWorkersRunConcurrently) {
  // Five blocking tasks on five workers must all be running at once (as the
  // Python fetch example expects), not queued behind one another.
  auto pool = MakePool(5);
  absl::Mutex mu;
  int running = 0;
  std::vector<Future<void>> futures;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<Future<void>> f = pool->Submit([&] {
      absl::MutexLock lock(&mu);
      ++running;
      mu.Await(absl::Condition(
          +[](int* n) { return *n == 5; }, &running));
    });
    ASSERT_TRUE(f.ok());
    futures.push_back(*f);
  }
  for (const Future<void>& f : futures) EXPECT_TRUE(f.Result().ok());
}

TEST(ThreadPoolTest, TasksCanSubmitTasks) {
  auto pool = MakePool(2);
  ThreadPoolExecutor* p = pool.get();
  absl::StatusOr<Future<int>> outer = pool->Submit([p]() -> absl::StatusOr<int> {
    absl::StatusOr<Future<int>> inner = p->Submit([] { return 20; });
    if (!inner.ok()) return inner.status();
    absl::StatusOr<int> v = inner->Result();
    if (!v.ok()) return v.status();
    return *v + 1;
  });
  ASSERT_TRUE(outer.ok());
  EXPECT_EQ(*outer->Result(), 21);

  // With one worker, a task can still submit (and not wait for) more work.
  auto single = MakePool(1);
  ThreadPoolExecutor* s = single.get();
  std::atomic<int> depth{0};
  std::function<void()> recurse = [&] {
    if (++depth < 100) {
      ASSERT_TRUE(s->Schedule(recurse).ok());
    }
  };
  ASSERT_TRUE(single->Schedule(recurse).ok());
  while (depth < 100) absl::SleepFor(absl::Milliseconds(1));
  single->Shutdown();
  EXPECT_EQ(depth, 100);
}

TEST(ThreadPoolTest, SubmitAfterShutdownIsAnError) {
  auto pool = MakePool(2);
  ASSERT_TRUE(pool->Submit([] {}).ok());
  pool->Shutdown();
  absl::StatusOr<Future<int>> f = pool->Submit([] { return 1; });
  EXPECT_EQ(f.status(), absl::FailedPreconditionError(
                            "cannot schedule new futures after shutdown"));
  EXPECT_EQ(pool->Schedule([] {}).code(), absl::StatusCode::kFailedPrecondition);
  pool->Shutdown();  // again: harmless
}

TEST(ThreadPoolTest, ShutdownWithoutCancelRunsQueuedTasks) {
  auto pool = MakePool(1);
  Blocker blocker;
  ASSERT_TRUE(pool->Submit(blocker.Task()).ok());
  std::atomic<int> ran{0};
  std::vector<Future<void>> queued;
  for (int i = 0; i < 50; ++i) queued.push_back(*pool->Submit([&ran] { ++ran; }));
  pool->Shutdown(/*wait=*/false);
  EXPECT_EQ(pool->Submit([] {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  blocker.release.Notify();
  pool->Shutdown(/*wait=*/true);
  EXPECT_EQ(ran, 50);
  for (const Future<void>& f : queued) EXPECT_TRUE(f.Result(absl::ZeroDuration()).ok());
}

TEST(ThreadPoolTest, ShutdownWithCancelFuturesCancelsEveryPendingTask) {
  // One worker, blocked in the first task; the rest are pending, some in the
  // pool's queue and some possibly already taken by the worker as a batch.
  auto pool = MakePool(1);
  Blocker blocker;
  absl::StatusOr<Future<void>> first = pool->Submit(blocker.Task());
  ASSERT_TRUE(first.ok());
  std::atomic<int> ran{0};
  std::vector<Future<int>> pending;
  for (int i = 0; i < 1000; ++i) {
    pending.push_back(*pool->Submit([&ran, i] {
      ++ran;
      return i;
    }));
  }
  std::atomic<int> scheduled_ran{0};
  ASSERT_TRUE(pool->Schedule([&scheduled_ran] { ++scheduled_ran; }).ok());
  blocker.started.WaitForNotification();
  std::atomic<int> callbacks{0};
  for (Future<int>& f : pending) {
    ASSERT_TRUE(f.AddDoneCallback([&](const Future<int>&) { ++callbacks; }).ok());
  }

  pool->Shutdown(/*wait=*/false, /*cancel_futures=*/true);
  // Cancelled before Shutdown returned, not merely later.
  for (const Future<int>& f : pending) EXPECT_TRUE(f.Cancelled());
  EXPECT_EQ(callbacks, 1000);
  EXPECT_TRUE(first->Running());

  blocker.release.Notify();
  pool->Shutdown(/*wait=*/true);
  EXPECT_TRUE(first->Result().ok());
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(scheduled_ran, 0);
  EXPECT_EQ(callbacks, 1000);
  EXPECT_EQ(pool->stats().tasks_run, 1);
  for (const Future<int>& f : pending) {
    EXPECT_EQ(f.Result().status().code(), absl::StatusCode::kCancelled);
  }
}

TEST(ThreadPoolTest, ConcurrentShutdownsAllWait) {
  auto pool = MakePool(2);
  std::atomic<int> ran{0};
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(pool->Schedule([&ran] {
                      absl::SleepFor(absl::Milliseconds(1));
                      ++ran;
                    }).ok());
  }
  std::vector<std::thread> callers;
  std::atomic<int> saw_all{0};
  for (int i = 0; i < 3; ++i) {
    callers.emplace_back([&] {
      pool->Shutdown(/*wait=*/true);
      if (ran == 20) ++saw_all;
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(saw_all, 3);
}

TEST(ThreadPoolTest, DestructorWaitsForQueuedTasks) {
  std::atomic<int> ran{0};
  {
    auto pool = MakePool(2);
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(pool->Schedule([&ran] {
                        absl::SleepFor(absl::Microseconds(200));
                        ++ran;
                      }).ok());
    }
  }
  EXPECT_EQ(ran, 30);
}

TEST(ThreadPoolTest, ShutdownFromInsideATaskDoesNotDeadlock) {
  auto pool = MakePool(2);
  ThreadPoolExecutor* p = pool.get();
  absl::StatusOr<Future<void>> f = pool->Submit([p] { p->Shutdown(/*wait=*/true); });
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Result().ok());
  EXPECT_EQ(pool->Submit([] {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ThreadPoolTest, ScheduledTaskExceptionDoesNotBreakThePool) {
  auto pool = MakePool(1);
  ASSERT_TRUE(pool->Schedule([] { throw std::runtime_error("lost"); }).ok());
  // Stored on the heap (not trivially copyable), and destroyed though it
  // throws.
  auto shared = std::make_shared<int>(0);
  ASSERT_TRUE(pool->Schedule([shared] {
                    throw std::runtime_error("lost too");
                  }).ok());
  absl::StatusOr<Future<int>> f = pool->Submit([] { return 2; });
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->Result(), 2);
  pool->Shutdown();
  EXPECT_EQ(pool->stats().tasks_run, 3);
  EXPECT_EQ(shared.use_count(), 1);
}

TEST(ThreadPoolTest, ScheduledCallablesOfEveryKindRunOnce) {
  auto pool = MakePool(2);
  std::atomic<int> inline_runs{0};
  auto shared = std::make_shared<std::atomic<int>>(0);
  std::atomic<int> move_only_sum{0};
  for (int i = 0; i < 100; ++i) {
    // Trivially copyable and small: stored in the queue entry.
    ASSERT_TRUE(pool->Schedule([&inline_runs] { ++inline_runs; }).ok());
    // Not trivially copyable: stored on the heap.
    ASSERT_TRUE(pool->Schedule([shared] { ++*shared; }).ok());
    // Move-only.
    ASSERT_TRUE(pool->Schedule([p = std::make_unique<int>(i), &move_only_sum] {
                      move_only_sum += *p;
                    }).ok());
  }
  std::function<void()> as_function = [shared] { ++*shared; };
  ASSERT_TRUE(pool->Schedule(as_function).ok());
  pool->Shutdown();
  EXPECT_EQ(inline_runs, 100);
  EXPECT_EQ(*shared, 101);
  EXPECT_EQ(move_only_sum, 4950);
  // Every callable was destroyed after it ran.
  EXPECT_EQ(shared.use_count(), 2);  // `shared` and `as_function`
}

TEST(ThreadPoolTest, DroppedScheduledCallablesAreDestroyedUnrun) {
  auto pool = MakePool(1);
  Blocker blocker;
  ASSERT_TRUE(pool->Schedule(blocker.Task()).ok());
  auto shared = std::make_shared<int>(0);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(pool->Schedule([shared] { ++*shared; }).ok());
  }
  blocker.started.WaitForNotification();
  pool->Shutdown(/*wait=*/false, /*cancel_futures=*/true);
  blocker.release.Notify();
  pool->Shutdown();
  EXPECT_EQ(*shared, 0);
  EXPECT_EQ(shared.use_count(), 1);
}

TEST(ThreadPoolTest, InitializerRunsOncePerWorker) {
  std::atomic<int> initialized{0};
  auto pool = MakePool(ThreadPoolOptions{
      .max_workers = 3,
      .initializer =
          [&initialized] {
            ++initialized;
            return absl::OkStatus();
          },
  });
  std::vector<std::unique_ptr<Blocker>> blockers;
  for (int i = 0; i < 3; ++i) {
    blockers.push_back(std::make_unique<Blocker>());
    ASSERT_TRUE(pool->Submit(blockers.back()->Task()).ok());
  }
  for (auto& b : blockers) b->started.WaitForNotification();
  for (auto& b : blockers) b->release.Notify();
  pool->Shutdown();
  EXPECT_EQ(initialized, 3);
  EXPECT_EQ(pool->stats().threads_started, 3);
}

TEST(ThreadPoolTest, FailingInitializerBreaksThePool) {
  for (bool throws : {false, true}) {
    SCOPED_TRACE(throws ? "initializer throws" : "initializer returns error");
    auto pool = MakePool(ThreadPoolOptions{
        .max_workers = 2,
        .initializer = [throws]() -> absl::Status {
          if (throws) throw std::runtime_error("no database connection");
          return absl::UnavailableError("no database connection");
        },
    });
    std::atomic<bool> ran{false};
    absl::StatusOr<Future<void>> f = pool->Submit([&ran] { ran = true; });
    ASSERT_TRUE(f.ok());
    absl::Status result = f->Result();
    EXPECT_EQ(result.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(result.message()),
                StartsWith("broken thread pool"));
    EXPECT_THAT(result.message(), HasSubstr("no database connection"));
    EXPECT_FALSE(f->Cancelled());

    absl::StatusOr<Future<void>> later = pool->Submit([] {});
    EXPECT_EQ(later.status(), result);
    EXPECT_EQ(pool->Schedule([] {}), result);
    pool->Shutdown();
    EXPECT_FALSE(ran);
    EXPECT_EQ(pool->stats().tasks_run, 0);
  }
}

TEST(ThreadPoolTest, MapReturnsResultsInInputOrder) {
  auto pool = MakePool(4);
  std::vector<int> inputs;
  for (int i = 0; i < 100; ++i) inputs.push_back(i);
  absl::StatusOr<MapResults<int>> squares = pool->Map(
      [](int x) {
        // Later inputs finish first.
        absl::SleepFor(absl::Microseconds(100 - x));
        return x * x;
      },
      inputs);
  ASSERT_TRUE(squares.ok());
  absl::StatusOr<std::vector<int>> all = std::move(*squares).Collect();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ((*all)[i], i * i);

  absl::StatusOr<MapResults<std::string>> empty =
      pool->Map([](int x) { return std::to_string(x); }, std::vector<int>{});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->begin(), empty->end());
}

TEST(ThreadPoolTest, MapReportsTheFirstErrorInInputOrder) {
  auto pool = MakePool(2);
  absl::StatusOr<MapResults<int>> r = pool->Map(
      [](int x) -> absl::StatusOr<int> {
        if (x == 3) return absl::OutOfRangeError("3 is out of range");
        if (x == 5) throw std::runtime_error("5 threw");
        return x;
      },
      std::vector<int>{1, 2, 3, 4, 5});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::move(*r).Collect().status(),
            absl::OutOfRangeError("3 is out of range"));
}

TEST(ThreadPoolTest, MapTimeoutCancelsWhatHasNotStarted) {
  auto pool = MakePool(1);
  absl::Notification release;
  std::atomic<int> ran{0};
  absl::StatusOr<MapResults<int>> r =
      pool->Map(MapOptions{.timeout = absl::Milliseconds(20)},
                [&](int x) {
                  ++ran;
                  release.WaitForNotification();
                  return x;
                },
                std::vector<int>{1, 2, 3, 4});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::move(*r).Collect().status().code(),
            absl::StatusCode::kDeadlineExceeded);
  release.Notify();
  pool->Shutdown();
  EXPECT_EQ(ran, 1);
}

TEST(ThreadPoolTest, QueueHighWaterMarkCountsWaitingTasks) {
  auto pool = MakePool(1);
  Blocker blocker;
  ASSERT_TRUE(pool->Submit(blocker.Task()).ok());
  blocker.started.WaitForNotification();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(pool->Schedule([] {}).ok());
  EXPECT_EQ(pool->stats().queue_high_water_mark, 10);
  blocker.release.Notify();
  pool->Shutdown();
  ThreadPoolExecutor::Stats stats = pool->stats();
  EXPECT_EQ(stats.queue_high_water_mark, 10);
  EXPECT_EQ(stats.tasks_run, 11);
  EXPECT_EQ(stats.threads_started, 1);
}

TEST(ThreadPoolTest, MoveOnlyArgumentsAndCallables) {
  auto pool = MakePool(1);
  auto owned = std::make_unique<std::string>("payload");
  absl::StatusOr<Future<size_t>> f = pool->Submit(
      [p = std::move(owned)](std::unique_ptr<int> n) { return p->size() + *n; },
      std::make_unique<int>(1));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->Result(), 8u);
}

}  // namespace
}  // namespace threadpool
