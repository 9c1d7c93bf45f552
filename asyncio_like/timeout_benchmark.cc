// The cost of a deadline around an await that finishes in time: the timer
// armed on entry and cancelled on exit, plus the scope's own coroutine
// frames, against the same await without a deadline, in the same run.
//
//   tools/bazel run -c opt //asyncio_like:timeout_benchmark
//
// ns_per_op is CPU time per await (the loop never waits in the kernel here).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timeout.h"
#include "benchmark/benchmark.h"

namespace asyncio_like {
namespace {

constexpr int kBatch = 1000;

Task<int> Quick(int v) { co_return v; }

Task<void> Plain(int64_t* sum) {
  for (int i = 0; i < kBatch; ++i) *sum += co_await Quick(i);
}

Task<void> UnderWaitFor(int64_t* sum) {
  for (int i = 0; i < kBatch; ++i) *sum += co_await WaitFor(Quick(i), absl::Seconds(5));
}

Task<void> UnderTimeout(int64_t* sum) {
  for (int i = 0; i < kBatch; ++i) {
    Timeout timeout(absl::Seconds(5));
    *sum += co_await timeout.Run(Quick(i));
  }
}

template <Task<void> (*kBody)(int64_t*)>
void BM_Await(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) {
    state.SkipWithError(std::string(loop.status().message()).c_str());
    return;
  }
  int64_t sum = 0;
  for (auto _ : state) {
    absl::Status status = (*loop)->RunUntilComplete(kBody(&sum));
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  if (sum != state.iterations() * (kBatch * (kBatch - 1) / 2)) {
    state.SkipWithError("wrong results");
  }
  state.counters["ns_per_op"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kBatch),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Await<Plain>)->Name("BM_PlainAwait");
BENCHMARK(BM_Await<UnderWaitFor>)->Name("BM_WaitFor5s");
BENCHMARK(BM_Await<UnderTimeout>)->Name("BM_TimeoutRun5s");

}  // namespace
}  // namespace asyncio_like

BENCHMARK_MAIN();
