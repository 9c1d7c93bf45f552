// The cost of a deadline around an await that finishes in time: the timer
// armed on entry and cancelled on exit, plus the scope's own coroutine
// frames, against the same await without a deadline, in the same run.
//
//   tools/bazel run -c opt //asyncio_like:timeout_benchmark
//
// ns_per_op is CPU time per await (the loop never waits in the kernel here).
//
// Then a million timers each way, beside CPython 3.13 doing the same
// (timeout_benchmark.py), CPU time of the process per timer:
//   - timeout_reschedule: one Timeout whose deadline is moved a million
//     times (Timeout::Reschedule, asyncio's Timeout.reschedule): each move
//     cancels the armed timer and arms the next, with nothing else around
//     it, so this is the timer's arm + cancel.
//   - timeout_scope_cancelled: a million `async with asyncio.timeout(5)`
//     scopes around an await that finishes in time (the Timeout::Run
//     pattern of a careful server), scope and frames included.
//   - timers_fired: a million CallAt callbacks with deadlines spread over
//     10 ms, all armed, then all fired: arm + fire + run the callback.
// BM_TimerWheelArmCancel is the loop's timer wheel alone (no clock read, no
// Timeout): arm and cancel a timer 5 s ahead while 100,000 others, spread
// over 10 s, stay armed.
// --python_script=PATH overrides where the script is looked for.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asyncio_like/bench/beside_cpython.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timeout.h"
#include "asyncio_like/timer_wheel.h"
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
  state.counters["ns_per_op"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBatch),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Await<Plain>)->Name("BM_PlainAwait");
BENCHMARK(BM_Await<UnderWaitFor>)->Name("BM_WaitFor5s");
BENCHMARK(BM_Await<UnderTimeout>)->Name("BM_TimeoutRun5s");

constexpr int64_t kTimers = 1'000'000;

struct NoOpTimer final : internal::Timer {
  void Fire() override {}
};

void BM_TimerWheelArmCancel(benchmark::State& state) {
  internal::TimerWheel wheel;
  std::vector<NoOpTimer> others(100'000);
  const int64_t now = EventLoop::NowNanos();
  for (size_t i = 0; i < others.size(); ++i) {
    wheel.Add(now + static_cast<int64_t>((i * 7919) % 10'000) * 1'000'000, &others[i]);
  }
  NoOpTimer timer;
  int64_t deadline = now + 5'000'000'000;
  for (auto _ : state) {
    wheel.Add(deadline++, &timer);
    wheel.Cancel(&timer);
  }
  state.counters["live"] = static_cast<double>(wheel.live());
}
BENCHMARK(BM_TimerWheelArmCancel);

Task<void> MoveDeadline(Timeout* timeout) {
  // Far enough that no move is in the past; each one a nanosecond later.
  const int64_t base = EventLoop::NowNanos() + 5'000'000'000;
  for (int64_t i = 0; i < kTimers; ++i) timeout->Reschedule(base + i);
  co_return;
}

Task<void> Reschedules(int64_t* sum) {
  Timeout timeout(absl::Seconds(5));
  co_await timeout.Run(MoveDeadline(&timeout));
  *sum += kTimers;
}

Task<void> CancelledScopes(int64_t* sum) {
  for (int64_t i = 0; i < kTimers; ++i) {
    Timeout timeout(absl::Seconds(5));
    *sum += co_await timeout.Run(Quick(1));
  }
}

Task<void> FiredTimers(int64_t* sum) {
  EventLoop* loop = EventLoop::Current();
  const int64_t base = EventLoop::NowNanos();
  for (int64_t i = 0; i < kTimers; ++i) {
    // Deadlines interleaved over 10 ms, not in arm order.
    loop->CallAt(base + (i * 7919) % 10'000'000, [sum] { ++*sum; });
  }
  co_await Sleep(absl::Milliseconds(11));
}

// Runs `body` (kTimers timers each) per iteration on a fresh loop and
// records the best run's CPU time per timer under `name`.
void BM_MillionTimers(benchmark::State& state, Task<void> (*body)(int64_t*), const char* name) {
  double best = 1e300;
  int64_t sum = 0;
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
    if (!loop.ok()) {
      state.SkipWithError(std::string(loop.status().message()).c_str());
      return;
    }
    const int64_t start = ProcessCpuNanos();
    absl::Status status = (*loop)->RunUntilComplete(body(&sum));
    best = std::min(best, static_cast<double>(ProcessCpuNanos() - start) / kTimers);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  if (sum != state.iterations() * kTimers) state.SkipWithError("a timer was lost");
  state.counters["best_cpu_ns_per_timer"] = best;
  Figures()[name] = best;
}
BENCHMARK_CAPTURE(BM_MillionTimers, timeout_reschedule, Reschedules, "timeout_reschedule")
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MillionTimers, timeout_scope_cancelled, CancelledScopes,
                  "timeout_scope_cancelled")
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MillionTimers, timers_fired, FiredTimers, "timers_fired")
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace asyncio_like

int main(int argc, char** argv) {
  std::string script =
      asyncio_like::TakePythonScriptFlag(argc, argv, "asyncio_like/timeout_benchmark.py");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  asyncio_like::PrintBesideCPython(script, std::to_string(asyncio_like::kTimers),
                                   asyncio_like::Figures(), {"CPU ns/timer", 1});
  return 0;
}
