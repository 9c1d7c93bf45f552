// Every future resolves exactly once, under load: a million tasks (fewer
// under the sanitizers), a random tenth of which throw, on several workers,
// each checked by value and each done callback counted.

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "threadpool/future.h"
#include "threadpool/test_util.h"
#include "threadpool/thread_pool.h"
#include "threadpool/wait.h"

namespace threadpool {
namespace {

using ::threadpool::testing::MakePool;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kTasks = 100'000;
#else
constexpr int kTasks = 1'000'000;
#endif

TEST(ThreadPoolStressTest, EveryFutureResolvesExactlyOnce) {
  auto pool = MakePool(4);
  std::mt19937 rng(20250815);
  std::bernoulli_distribution throws(0.10);
  std::vector<bool> should_throw(kTasks);
  int expected_failures = 0;
  for (int i = 0; i < kTasks; ++i) {
    should_throw[i] = throws(rng);
    expected_failures += should_throw[i] ? 1 : 0;
  }
  ASSERT_GT(expected_failures, kTasks / 20);

  // One counter per task: how many times its body ran and its callback fired.
  auto runs = std::make_unique<std::atomic<uint8_t>[]>(kTasks);
  auto callbacks = std::make_unique<std::atomic<uint8_t>[]>(kTasks);
  std::vector<Future<int64_t>> futures;
  futures.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    const bool fail = should_throw[i];
    absl::StatusOr<Future<int64_t>> f =
        pool->Submit([&runs, i, fail]() -> int64_t {
          runs[i].fetch_add(1, std::memory_order_relaxed);
          if (fail) throw std::runtime_error(std::to_string(i));
          return int64_t{i} * 3;
        });
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE(f->AddDoneCallback([&callbacks, i](const Future<int64_t>&) {
                   callbacks[i].fetch_add(1, std::memory_order_relaxed);
                 }).ok());
    futures.push_back(*std::move(f));
  }

  absl::StatusOr<WaitResult<int64_t>> all = Wait(futures);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->done.size(), static_cast<size_t>(kTasks));
  all->done.clear();

  int failures = 0;
  for (int i = 0; i < kTasks; ++i) {
    absl::StatusOr<int64_t> r = futures[i].Result();
    if (should_throw[i]) {
      ++failures;
      ASSERT_EQ(r.status(), absl::UnknownError(std::to_string(i)));
    } else {
      ASSERT_TRUE(r.ok()) << i << ": " << r.status();
      ASSERT_EQ(*r, int64_t{i} * 3);
    }
  }
  EXPECT_EQ(failures, expected_failures);

  pool->Shutdown();  // every callback has returned
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_EQ(runs[i].load(), 1) << "task " << i;
    ASSERT_EQ(callbacks[i].load(), 1) << "callback " << i;
  }
  EXPECT_EQ(pool->stats().tasks_run, kTasks);
  EXPECT_LE(pool->stats().threads_started, 4);
}

TEST(ThreadPoolStressTest, CancelRacingWithWorkersResolvesEachFutureOnce) {
  // Cancel races with the worker claiming the task: each future ends either
  // cancelled (and its task never ran) or finished (and it ran once).
  constexpr int kRacing = kTasks / 10;
  auto pool = MakePool(2);
  auto runs = std::make_unique<std::atomic<uint8_t>[]>(kRacing);
  std::vector<Future<int>> futures;
  futures.reserve(kRacing);
  for (int i = 0; i < kRacing; ++i) {
    futures.push_back(*pool->Submit([&runs, i] {
      runs[i].fetch_add(1, std::memory_order_relaxed);
      return i;
    }));
    if (i % 2 == 1) futures[i - 1].Cancel();
  }
  pool->Shutdown();
  int cancelled = 0;
  for (int i = 0; i < kRacing; ++i) {
    ASSERT_TRUE(futures[i].Done());
    if (futures[i].Cancelled()) {
      ++cancelled;
      ASSERT_EQ(runs[i].load(), 0);
      ASSERT_EQ(futures[i].Result().status().code(),
                absl::StatusCode::kCancelled);
    } else {
      ASSERT_EQ(runs[i].load(), 1);
      ASSERT_EQ(*futures[i].Result(), i);
    }
  }
  EXPECT_EQ(pool->stats().tasks_run, kRacing - cancelled);
}

}  // namespace
}  // namespace threadpool
