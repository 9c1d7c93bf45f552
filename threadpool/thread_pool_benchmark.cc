// Benchmarks of ThreadPoolExecutor, beside a baseline pool: a plain
// std::mutex + std::condition_variable queue with one lock per push and per
// pop, std::packaged_task for futures (the design of the common header-only
// C++ pools). Run with
//   bazel run -c opt //threadpool:thread_pool_benchmark
//
// * Throughput: submit 1,000,000 no-op tasks and wait for all of them, with a
//   future per task and fire-and-forget, with 1, 2 and 4 workers (and, for
//   the pool's fire-and-forget, 32: many workers sharing a short queue; the
//   baseline would take seconds there). For
//   fire-and-forget, submit_ns is the submitting thread's time per task: the
//   workers keep up, so it sets the pace.
// * Round trip: submit one task to an idle pool and read its result;
//   p50/p99 over many round trips, reported as counters; once with the
//   worker still spinning from the previous trip, once with it asleep.
// * Too many threads: 10,000 tasks that each sleep 1 ms, with 32 and with
//   1,000 workers; wall time, resident memory and context switches.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "threadpool/thread_pool.h"

namespace threadpool {
namespace {

constexpr int kTasks = 1'000'000;

// The baseline. std::mutex appears only here, as the thing to beat.
class MutexQueuePool {
 public:
  explicit MutexQueuePool(int workers) {
    for (int i = 0; i < workers; ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  ~MutexQueuePool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

  template <typename F>
  std::future<std::invoke_result_t<F>> Submit(F fn) {
    using R = std::invoke_result_t<F>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    std::future<R> future = task->get_future();
    Post([task] { (*task)(); });
    return future;
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

std::unique_ptr<ThreadPoolExecutor> MakePool(int workers) {
  absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> pool =
      ThreadPoolExecutor::Create({.max_workers = workers});
  if (!pool.ok()) std::abort();
  return *std::move(pool);
}

void BM_PoolWithFutures(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::unique_ptr<ThreadPoolExecutor> pool = MakePool(workers);
    std::vector<Future<void>> futures;
    futures.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) futures.push_back(*pool->Submit([] {}));
    for (const Future<void>& f : futures) {
      if (!f.Result().ok()) state.SkipWithError("a task failed");
    }
  }
  state.SetItemsProcessed(state.iterations() * kTasks);
}
BENCHMARK(BM_PoolWithFutures)->Arg(1)->Arg(2)->Arg(4)->Iterations(3)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BaselineWithFutures(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  for (auto _ : state) {
    MutexQueuePool pool(workers);
    std::vector<std::future<void>> futures;
    futures.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) futures.push_back(pool.Submit([] {}));
    for (std::future<void>& f : futures) f.get();
  }
  state.SetItemsProcessed(state.iterations() * kTasks);
}
BENCHMARK(BM_BaselineWithFutures)->Arg(1)->Arg(2)->Arg(4)->Iterations(3)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PoolFireAndForget(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  double submit_ns = 0;
  for (auto _ : state) {
    std::unique_ptr<ThreadPoolExecutor> pool = MakePool(workers);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kTasks; ++i) {
      if (!pool->Schedule([] {}).ok()) state.SkipWithError("Schedule failed");
    }
    submit_ns += (std::chrono::steady_clock::now() - start).count();
    pool->Shutdown(/*wait=*/true);
  }
  state.SetItemsProcessed(state.iterations() * kTasks);
  state.counters["submit_ns"] = submit_ns / (state.iterations() * kTasks);
}
BENCHMARK(BM_PoolFireAndForget)->Arg(1)->Arg(2)->Arg(4)->Arg(32)->Iterations(3)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BaselineFireAndForget(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  double submit_ns = 0;
  for (auto _ : state) {
    MutexQueuePool pool(workers);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kTasks; ++i) pool.Post([] {});
    submit_ns += (std::chrono::steady_clock::now() - start).count();
  }
  state.SetItemsProcessed(state.iterations() * kTasks);
  state.counters["submit_ns"] = submit_ns / (state.iterations() * kTasks);
}
BENCHMARK(BM_BaselineFireAndForget)->Arg(1)->Arg(2)->Arg(4)->Iterations(3)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// Percentile of sorted samples, in microseconds.
double PercentileUs(const std::vector<int64_t>& sorted_ns, double p) {
  const size_t i = std::min(sorted_ns.size() - 1,
                            static_cast<size_t>(p * sorted_ns.size()));
  return static_cast<double>(sorted_ns[i]) / 1000.0;
}

// Times one single-task round trip per iteration, `round_trip()` returning
// the task's result, and reports the p50 and p99 latency. With a pause, each
// trip starts that long (untimed) after the previous one.
template <typename RoundTrip>
void MeasureRoundTrips(benchmark::State& state, std::chrono::microseconds pause,
                       RoundTrip round_trip) {
  std::vector<int64_t> samples;
  for (auto _ : state) {
    if (pause.count() > 0) {
      state.PauseTiming();
      std::this_thread::sleep_for(pause);
      state.ResumeTiming();
    }
    const auto start = std::chrono::steady_clock::now();
    auto result = round_trip();
    const auto end = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(result);
    samples.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(end - start)
            .count());
  }
  std::sort(samples.begin(), samples.end());
  state.counters["p50_us"] = PercentileUs(samples, 0.50);
  state.counters["p99_us"] = PercentileUs(samples, 0.99);
}

// Longer than the pool worker's idle spin, so each submit has to wake it.
constexpr std::chrono::microseconds kPastIdleSpin(200);

// One task at a time on a pool whose worker exists (it has run an earlier
// task) and is still spinning from the previous trip.
void BM_PoolRoundTrip(benchmark::State& state) {
  std::unique_ptr<ThreadPoolExecutor> pool = MakePool(1);
  (void)(*pool->Submit([] {})).Result();
  MeasureRoundTrips(state, std::chrono::microseconds(0),
                    [&] { return (*pool->Submit([] { return 1; })).Result(); });
}
BENCHMARK(BM_PoolRoundTrip)->Iterations(20000);

// The same, with the worker asleep: each trip starts after a pause longer
// than the worker's idle spin, so the submit has to wake it.
void BM_PoolRoundTripToSleepingWorker(benchmark::State& state) {
  std::unique_ptr<ThreadPoolExecutor> pool = MakePool(1);
  (void)(*pool->Submit([] {})).Result();
  MeasureRoundTrips(state, kPastIdleSpin,
                    [&] { return (*pool->Submit([] { return 1; })).Result(); });
}
BENCHMARK(BM_PoolRoundTripToSleepingWorker)->Iterations(3000);

void BM_BaselineRoundTrip(benchmark::State& state) {
  MutexQueuePool pool(1);
  MeasureRoundTrips(state, std::chrono::microseconds(0),
                    [&] { return pool.Submit([] { return 1; }).get(); });
}
BENCHMARK(BM_BaselineRoundTrip)->Iterations(20000);

void BM_BaselineRoundTripToSleepingWorker(benchmark::State& state) {
  MutexQueuePool pool(1);
  MeasureRoundTrips(state, kPastIdleSpin,
                    [&] { return pool.Submit([] { return 1; }).get(); });
}
BENCHMARK(BM_BaselineRoundTripToSleepingWorker)->Iterations(3000);

int64_t CurrentRssKb() {
  long pages_total = 0;
  long pages_resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) {
    pages_resident = -1;
  }
  std::fclose(f);
  return pages_resident * sysconf(_SC_PAGESIZE) / 1024;
}

// The seed's claim that too many threads cost memory and switches: 10,000
// tasks each blocking 1 ms, on 32 and on 1,000 workers.
void BM_SleepingTasks(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  constexpr int kSleepingTasks = 10'000;
  for (auto _ : state) {
    rusage before;
    getrusage(RUSAGE_SELF, &before);
    const int64_t rss_before = CurrentRssKb();
    int64_t rss_peak = rss_before;
    const absl::Time start = absl::Now();
    {
      std::unique_ptr<ThreadPoolExecutor> pool = MakePool(workers);
      std::vector<Future<void>> futures;
      futures.reserve(kSleepingTasks);
      for (int i = 0; i < kSleepingTasks; ++i) {
        futures.push_back(*pool->Submit(
            [] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); }));
      }
      // Every worker is alive now; their stacks are what the RSS shows.
      rss_peak = std::max(rss_peak, CurrentRssKb());
      for (const Future<void>& f : futures) (void)f.Result();
      rss_peak = std::max(rss_peak, CurrentRssKb());
    }
    const absl::Duration wall = absl::Now() - start;
    rusage after;
    getrusage(RUSAGE_SELF, &after);
    state.counters["wall_ms"] = absl::ToDoubleMilliseconds(wall);
    state.counters["rss_growth_kb"] = static_cast<double>(rss_peak - rss_before);
    state.counters["peak_rss_kb"] = static_cast<double>(after.ru_maxrss);
    state.counters["voluntary_cs"] =
        static_cast<double>(after.ru_nvcsw - before.ru_nvcsw);
    state.counters["involuntary_cs"] =
        static_cast<double>(after.ru_nivcsw - before.ru_nivcsw);
  }
}
BENCHMARK(BM_SleepingTasks)->Arg(32)->Arg(1000)->Iterations(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace threadpool

BENCHMARK_MAIN();
