// Round trip task -> pool -> task: an asyncio_like task awaits
// `co_await WrapFuture(pool.Submit(noop))`, 100,000 times in a row, on a
// ThreadPoolExecutor of one worker. Reports the per-trip latency (p50, p99)
// and trips per second. round_trip_cpython.py measures the same with
// CPython's `await loop.run_in_executor(pool, noop)`; run both in one
// command to compare:
//
//   tools/bazel run -c opt //futures_bridge:round_trip_benchmark;
//   python3 futures_bridge/round_trip_cpython.py

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "benchmark/benchmark.h"
#include "futures_bridge/wrap_future.h"
#include "threadpool/thread_pool.h"

namespace {

constexpr int kTrips = 100'000;

void Noop() {}

asyncio_like::Task<void> Trips(threadpool::ThreadPoolExecutor& pool,
                               std::vector<int64_t>& nanos) {
  for (int i = 0; i < kTrips; ++i) {
    const absl::Time start = absl::Now();
    co_await futures_bridge::WrapFuture(pool.Submit(Noop));
    nanos.push_back(absl::ToInt64Nanoseconds(absl::Now() - start));
  }
}

void BM_WrapFutureRoundTrip(benchmark::State& state) {
  auto pool = *threadpool::ThreadPoolExecutor::Create({.max_workers = 1});
  std::vector<int64_t> nanos;
  nanos.reserve(kTrips);
  double seconds = 0;
  for (auto _ : state) {
    nanos.clear();
    const absl::Time start = absl::Now();
    absl::Status s = asyncio_like::Run(Trips(*pool, nanos));
    seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
  }
  std::sort(nanos.begin(), nanos.end());
  state.counters["p50_us"] = nanos[nanos.size() / 2] / 1e3;
  state.counters["p99_us"] = nanos[nanos.size() * 99 / 100] / 1e3;
  state.counters["trips_per_s"] = kTrips / seconds;
}
BENCHMARK(BM_WrapFutureRoundTrip)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
