// CPython's executor tests, ported for the thread pool: executor.py
// (ExecutorTest, as ThreadPoolExecutorTest), test_thread_pool.py,
// test_shutdown.py (ThreadPoolShutdownTest) and test_init.py (the thread
// pool variants of InitializerMixin and FailingInitializerMixin). Python's
// sleeps become gates or short sleeps. See CONFORMANCE.md.

#include <pthread.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "threadpool/errors.h"
#include "threadpool/test_util.h"
#include "threadpool/thread_pool.h"

namespace threadpool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::threadpool::testing::MakePool;

// ThreadPoolMixin's worker_count.
constexpr int kWorkerCount = 5;

std::vector<int> Range(int begin, int end) {
  std::vector<int> v;
  for (int i = begin; i < end; ++i) v.push_back(i);
  return v;
}

// Python's threading.Semaphore(0), enough of it for acquire_lock.
class Semaphore {
 public:
  void Acquire() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* count) { return *count > 0; }, &count_));
    --count_;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    ++count_;
  }

 private:
  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

std::string ThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

// ---- executor.py: ExecutorTest, thread pool variant ----

TEST(ThreadPoolExecutorTest, test_submit) {
  auto executor = MakePool(kWorkerCount);
  absl::StatusOr<Future<double>> future =
      executor->Submit([](double x, double y) { return std::pow(x, y); }, 2, 8);
  ASSERT_TRUE(future.ok());
  EXPECT_EQ(future->ResultOrThrow(), 256);
}

TEST(ThreadPoolExecutorTest, test_map) {
  auto executor = MakePool(kWorkerCount);
  auto pow = [](int x, int y) { return static_cast<long>(std::pow(x, y)); };
  std::vector<long> expected;
  for (int i = 0; i < 10; ++i) expected.push_back(pow(i, i));
  absl::StatusOr<MapResults<long>> results =
      executor->Map(pow, Range(0, 10), Range(0, 10));
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(*std::move(*results).Collect(), expected);
  absl::StatusOr<MapResults<long>> chunked = executor->Map(
      MapOptions{.chunksize = 3}, pow, Range(0, 10), Range(0, 10));
  ASSERT_TRUE(chunked.ok());
  EXPECT_EQ(*std::move(*chunked).Collect(), expected);
}

TEST(ThreadPoolExecutorTest, test_map_exception) {
  auto executor = MakePool(kWorkerCount);
  auto divmod = [](int a, int b) {
    if (b == 0) throw std::domain_error("integer division or modulo by zero");
    return std::pair<int, int>(a / b, a % b);
  };
  absl::StatusOr<MapResults<std::pair<int, int>>> i = executor->Map(
      divmod, std::vector<int>{1, 1, 1, 1}, std::vector<int>{2, 3, 0, 5});
  ASSERT_TRUE(i.ok());
  auto it = i->begin();
  EXPECT_EQ(**it, std::make_pair(0, 1));
  ++it;
  EXPECT_EQ(**it, std::make_pair(0, 1));
  ++it;
  EXPECT_EQ((*it).status(),
            absl::UnknownError("integer division or modulo by zero"));
  EXPECT_THROW(std::rethrow_exception(i->exception()), std::domain_error);
  ++it;
  EXPECT_TRUE(it == i->end());
}

TEST(ThreadPoolExecutorTest, test_map_timeout) {
  absl::Notification release;  // outlives the pool's workers
  auto executor = MakePool(kWorkerCount);
  std::vector<absl::Status> results;
  {
    absl::StatusOr<MapResults<void>> map = executor->Map(
        MapOptions{.timeout = absl::Milliseconds(100)},
        [&release](int block) {
          if (block) release.WaitForNotification();
        },
        std::vector<int>{0, 0, 1});
    ASSERT_TRUE(map.ok());
    for (absl::Status& r : *map) results.push_back(r);
  }
  release.Notify();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  EXPECT_EQ(results[2].code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(ThreadPoolExecutorTest, test_shutdown_race_issue12456) {
  auto executor = MakePool(kWorkerCount);
  ASSERT_TRUE(executor
                  ->Map([](int x) { return std::to_string(x); },
                        std::vector<int>(kWorkerCount + 1, 2))
                  .ok());
  executor->Shutdown();
}

TEST(ThreadPoolExecutorTest, test_no_stale_references) {
  absl::Notification my_object_collected;  // outlives the pool's workers
  auto executor = MakePool(kWorkerCount);
  auto my_object = std::shared_ptr<int>(
      new int(0), [&my_object_collected](int* p) {
        delete p;
        my_object_collected.Notify();
      });
  // Deliberately discarding the future.
  ASSERT_TRUE(executor->Submit([my_object] { return *my_object; }).ok());
  my_object.reset();
  EXPECT_TRUE(
      my_object_collected.WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "Stale reference not collected within timeout.";
}

TEST(ThreadPoolExecutorTest, test_max_workers_negative) {
  for (int number : {0, -1}) {
    absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> executor =
        ThreadPoolExecutor::Create({.max_workers = number});
    EXPECT_EQ(executor.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(executor.status().message(),
                HasSubstr("max_workers must be greater than 0"));
  }
}

TEST(ThreadPoolExecutorTest, test_free_reference) {
  auto executor = MakePool(kWorkerCount);
  absl::StatusOr<MapResults<std::shared_ptr<int>>> results =
      executor->Map([](int i) { return std::make_shared<int>(i); }, Range(0, 10));
  ASSERT_TRUE(results.ok());
  for (absl::StatusOr<std::shared_ptr<int>>& obj : *results) {
    ASSERT_TRUE(obj.ok());
    std::weak_ptr<int> wr = *obj;
    obj->reset();
    EXPECT_TRUE(wr.expired());
  }
}

// ---- test_thread_pool.py: ThreadPoolExecutorTest ----

TEST(ThreadPoolExecutorTest, test_map_submits_without_iteration) {
  auto executor = MakePool(kWorkerCount);
  absl::Mutex mu;
  std::vector<int> finished;
  ASSERT_TRUE(executor
                  ->Map(
                      [&](int n) {
                        absl::MutexLock lock(&mu);
                        finished.push_back(n);
                      },
                      Range(0, 10))
                  .ok());
  executor->Shutdown(/*wait=*/true);
  std::sort(finished.begin(), finished.end());
  EXPECT_EQ(finished, Range(0, 10));
}

TEST(ThreadPoolExecutorTest, test_default_workers) {
  auto executor = MakePool(ThreadPoolOptions{});
  const int expected = std::min(
      32, static_cast<int>(std::thread::hardware_concurrency()) + 4);
  EXPECT_EQ(executor->max_workers(), expected);
}

TEST(ThreadPoolExecutorTest, test_saturation) {
  auto executor = MakePool(4);
  Semaphore sem;
  for (int i = 0; i < 15 * executor->max_workers(); ++i) {
    ASSERT_TRUE(executor->Submit([&sem] { sem.Acquire(); }).ok());
  }
  EXPECT_EQ(executor->stats().threads_started, executor->max_workers());
  for (int i = 0; i < 15 * executor->max_workers(); ++i) sem.Release();
  executor->Shutdown(/*wait=*/true);
}

TEST(ThreadPoolExecutorTest, test_idle_thread_reuse) {
  auto executor = MakePool(ThreadPoolOptions{});
  auto mul = [](int x, int y) { return x * y; };
  EXPECT_EQ(executor->Submit(mul, 21, 2)->ResultOrThrow(), 42);
  EXPECT_EQ(executor->Submit(mul, 6, 7)->ResultOrThrow(), 42);
  EXPECT_EQ(executor->Submit(mul, 3, 14)->ResultOrThrow(), 42);
  EXPECT_EQ(executor->stats().threads_started, 1);
  executor->Shutdown(/*wait=*/true);
}

TEST(ThreadPoolExecutorTest, test_executor_map_current_future_cancel) {
  absl::Notification stop_event;
  absl::Mutex mu;
  std::vector<std::string> log;
  auto log_n_wait = [&](std::string ident) {
    {
      absl::MutexLock lock(&mu);
      log.push_back("ident='" + ident + "' started");
    }
    stop_event.WaitForNotification();
    absl::MutexLock lock(&mu);
    log.push_back("ident='" + ident + "' stopped");
  };
  {
    auto pool = MakePool(1);
    absl::StatusOr<Future<void>> fut = pool->Submit(log_n_wait, "first");
    ASSERT_TRUE(fut.ok());
    {
      absl::StatusOr<MapResults<void>> gen =
          pool->Map(MapOptions{.timeout = absl::ZeroDuration()}, log_n_wait,
                    std::vector<std::string>{"second", "third"});
      ASSERT_TRUE(gen.ok());
      EXPECT_EQ(gen->begin()->code(), absl::StatusCode::kDeadlineExceeded);
    }
    stop_event.Notify();
    EXPECT_TRUE(fut->Result().ok());
  }
  // 'second' is cancelled by its timeout, 'third' because it was left.
  EXPECT_THAT(log, ElementsAre("ident='first' started", "ident='first' stopped"));
}

// ---- test_shutdown.py: ThreadPoolShutdownTest ----

TEST(ThreadPoolShutdownTest, test_run_after_shutdown) {
  auto executor = MakePool(kWorkerCount);
  executor->Shutdown();
  absl::StatusOr<Future<double>> f =
      executor->Submit([](double x, double y) { return std::pow(x, y); }, 2, 5);
  EXPECT_EQ(f.status(), absl::FailedPreconditionError(
                            "cannot schedule new futures after shutdown"));
}

TEST(ThreadPoolShutdownTest, test_hang_issue12364) {
  auto executor = MakePool(kWorkerCount);
  std::vector<Future<void>> fs;
  for (int i = 0; i < 50; ++i) {
    fs.push_back(*executor->Submit([] { absl::SleepFor(absl::Milliseconds(1)); }));
  }
  executor->Shutdown();
  for (const Future<void>& f : fs) EXPECT_TRUE(f.Result().ok());
}

TEST(ThreadPoolShutdownTest, test_cancel_futures) {
  auto executor = MakePool(kWorkerCount);
  absl::Notification one_started;
  std::atomic<bool> started{false};
  std::vector<Future<void>> fs;
  for (int i = 0; i < 50; ++i) {
    fs.push_back(*executor->Submit([&one_started, &started] {
      if (!started.exchange(true)) one_started.Notify();
      absl::SleepFor(absl::Milliseconds(10));
    }));
  }
  // Python's 50 submits take long enough for a worker to start a task;
  // these take microseconds, so wait for one to start.
  one_started.WaitForNotification();
  executor->Shutdown(/*wait=*/true, /*cancel_futures=*/true);
  int cancelled = 0;
  int others = 0;
  for (const Future<void>& fut : fs) {
    if (fut.Cancelled()) {
      ++cancelled;
    } else {
      ++others;
      EXPECT_TRUE(fut.Done());
      EXPECT_TRUE(fut.Exception().ok());
    }
  }
  EXPECT_GT(cancelled, 20);
  EXPECT_GT(others, 0);
}

TEST(ThreadPoolShutdownTest, test_hang_gh83386) {
  std::atomic<bool> printed{false};
  {
    auto t = MakePool(3);
    ASSERT_TRUE(t->Submit([&printed] {
                   absl::SleepFor(absl::Milliseconds(50));
                   printed = true;
                 }).ok());
    t->Shutdown(/*wait=*/false);
  }  // the executor goes away, as the interpreter exits in Python
  EXPECT_TRUE(printed);
}

TEST(ThreadPoolShutdownTest, test_hang_gh94440) {
  auto executor = MakePool(1);
  ASSERT_TRUE(executor->Submit([] { return 0; })->Result().ok());
  executor->Submit([] { return 0; })->Cancel();
  executor->Shutdown(/*wait=*/true);  // the test's deadline is the alarm
}

TEST(ThreadPoolShutdownTest, test_threads_terminate) {
  auto executor = MakePool(kWorkerCount);
  Semaphore sem;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(executor->Submit([&sem] { sem.Acquire(); }).ok());
  }
  EXPECT_EQ(executor->stats().threads_started, 3);
  for (int i = 0; i < 3; ++i) sem.Release();
  executor->Shutdown();
}

TEST(ThreadPoolShutdownTest, test_context_manager_shutdown) {
  auto e = MakePool(5);
  absl::StatusOr<MapResults<int>> results =
      e->Map([](int x) { return std::abs(x); }, Range(-5, 5));
  ASSERT_TRUE(results.ok());
  EXPECT_THAT(*std::move(*results).Collect(),
              ElementsAre(5, 4, 3, 2, 1, 0, 1, 2, 3, 4));
  e.reset();
}

TEST(ThreadPoolShutdownTest, test_del_shutdown) {
  auto executor = MakePool(5);
  absl::StatusOr<MapResults<int>> res =
      executor->Map([](int x) { return std::abs(x); }, Range(-5, 5));
  ASSERT_TRUE(res.ok());
  executor.reset();
  // The results were all computed before the executor was shut down.
  std::vector<int> inputs = Range(-5, 5);
  size_t i = 0;
  for (absl::StatusOr<int>& r : *res) EXPECT_EQ(*r, std::abs(inputs[i++]));
  EXPECT_EQ(i, inputs.size());
}

TEST(ThreadPoolShutdownTest, test_shutdown_no_wait) {
  auto executor = MakePool(5);
  absl::StatusOr<MapResults<int>> res =
      executor->Map([](int x) { return std::abs(x); }, Range(-5, 5));
  ASSERT_TRUE(res.ok());
  executor->Shutdown(/*wait=*/false);
  std::vector<int> inputs = Range(-5, 5);
  size_t i = 0;
  for (absl::StatusOr<int>& r : *res) EXPECT_EQ(*r, std::abs(inputs[i++]));
  EXPECT_EQ(i, inputs.size());
}

TEST(ThreadPoolShutdownTest, test_thread_names_assigned) {
  auto executor = MakePool(
      ThreadPoolOptions{.max_workers = 5, .thread_name_prefix = "SpecialPool"});
  absl::StatusOr<MapResults<std::string>> names =
      executor->Map([](int) { return ThreadName(); }, Range(-5, 5));
  ASSERT_TRUE(names.ok());
  executor.reset();
  for (absl::StatusOr<std::string>& name : *names) {
    EXPECT_THAT(*name, MatchesRegex("^SpecialPool_[0-4]$"));
  }
}

TEST(ThreadPoolShutdownTest, test_thread_names_default) {
  auto executor = MakePool(5);
  absl::StatusOr<MapResults<std::string>> names =
      executor->Map([](int) { return ThreadName(); }, Range(-5, 5));
  ASSERT_TRUE(names.ok());
  executor.reset();
  for (absl::StatusOr<std::string>& name : *names) {
    // "ThreadPoolExecutor-<k>_<n>", cut to Linux's 15 bytes.
    EXPECT_EQ(*name, "ThreadPoolExecu");
  }
}

TEST(ThreadPoolShutdownTest, test_cancel_futures_wait_false) {
  std::atomic<bool> printed{false};
  {
    auto t = MakePool(ThreadPoolOptions{});
    ASSERT_TRUE(t->Submit([&printed] {
                   absl::SleepFor(absl::Milliseconds(10));
                   printed = true;
                 }).ok());
    t->Shutdown(/*wait=*/false, /*cancel_futures=*/true);
  }
  // Printed, or cancelled before it started: both are fine, as in Python;
  // what matters is that the executor went away cleanly.
  SUCCEED() << "printed: " << printed;
}

// ---- test_init.py: thread pool variants ----

thread_local std::string initializer_status = "uninitialized";

TEST(ThreadPoolInitializerTest, test_initializer) {
  constexpr int kInitWorkers = 2;
  auto executor = MakePool(ThreadPoolOptions{
      .max_workers = kInitWorkers,
      .initializer = [] {
        initializer_status = "initialized";
        return absl::OkStatus();
      }});
  std::vector<Future<std::string>> futures;
  for (int i = 0; i < kInitWorkers; ++i) {
    futures.push_back(*executor->Submit([] { return initializer_status; }));
  }
  for (Future<std::string>& f : futures) {
    EXPECT_EQ(f.ResultOrThrow(), "initialized");
  }
}

TEST(ThreadPoolFailingInitializerTest, test_initializer) {
  ::testing::internal::CaptureStderr();
  auto executor = MakePool(ThreadPoolOptions{
      .max_workers = 2, .initializer = []() -> absl::Status {
        absl::SleepFor(absl::Milliseconds(100));  // let some futures queue
        throw std::invalid_argument("error in initializer");
      }});
  absl::StatusOr<Future<std::string>> future =
      executor->Submit([] { return initializer_status; });
  if (future.ok()) {
    EXPECT_THROW(future->ResultOrThrow(), BrokenThreadPool);
  } else {
    EXPECT_TRUE(IsBrokenThreadPool(future.status())) << future.status();
  }
  // From now on submit is guaranteed to fail.
  absl::StatusOr<Future<std::string>> later =
      executor->Submit([] { return initializer_status; });
  EXPECT_TRUE(IsBrokenThreadPool(later.status())) << later.status();
  executor->Shutdown();
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("error in initializer"));
}

}  // namespace
}  // namespace threadpool
