// Costs of the GIL model, with a bare absl::Mutex as the baseline.
//
//   tools/bazel run -c opt //gil_model:gil_benchmark
//
// BM_UncontendedTakeDrop reports `vs_mutex`: its CPU time per take+drop
// divided by the CPU time of one uncontended absl::Mutex Lock+Unlock measured
// in the same process (best of 5 runs of 2M pairs). BM_HandoffUnderDropRequest
// reports the hand-off latency (drop request set -> requester holds the GIL) as
// p50/p99 counters in microseconds, with a CPU-bound thread holding the GIL.

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "gil_model/gil.h"

namespace gil_model {
namespace {

std::unique_ptr<Gil> MakeGil(GilPolicy policy, absl::Duration switch_interval,
                             bool measure_hold_time = true) {
  GilOptions options;
  options.policy = policy;
  options.switch_interval = switch_interval;
  options.measure_hold_time = measure_hold_time;
  return std::move(Gil::Create(options)).value();
}

// This thread's CPU time in nanoseconds. Ratios use CPU time rather than
// wall time because on a shared virtual machine the wall clock also counts
// the time the virtual CPU was not running at all.
double ThreadCpuNanos() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e9 +
         static_cast<double>(now.tv_nsec);
}

// CPU nanoseconds per uncontended Lock+Unlock of an absl::Mutex (best of 5).
double MutexLockUnlockNanos() {
  static const double nanos = [] {
    absl::Mutex mu;
    constexpr int kOps = 2'000'000;
    double best = 1e9;
    for (int run = 0; run < 5; ++run) {
      const double start = ThreadCpuNanos();
      for (int i = 0; i < kOps; ++i) {
        mu.Lock();
        mu.Unlock();
      }
      best = std::min(best, (ThreadCpuNanos() - start) / kOps);
    }
    return best;
  }();
  return nanos;
}

void BM_AbslMutexLockUnlock(benchmark::State& state) {
  absl::Mutex mu;
  for (auto _ : state) {
    mu.Lock();
    mu.Unlock();
  }
}
BENCHMARK(BM_AbslMutexLockUnlock);

// One iteration = DropGil + TakeGil of an attached thread that is alone,
// through the public API (with its misuse checks). Second argument: whether
// hold time is measured (two clock reads per iteration).
void BM_UncontendedTakeDrop(benchmark::State& state) {
  const auto policy = static_cast<GilPolicy>(state.range(0));
  const bool measure_hold_time = state.range(1) != 0;
  std::unique_ptr<Gil> gil =
      MakeGil(policy, absl::Milliseconds(5), measure_hold_time);
  InterpreterThread py = std::move(InterpreterThread::Attach(*gil)).value();
  const double mutex_nanos = MutexLockUnlockNanos();
  const double start = ThreadCpuNanos();
  for (auto _ : state) {
    benchmark::DoNotOptimize(py.DropGil());
    benchmark::DoNotOptimize(py.TakeGil());
  }
  const double nanos =
      (ThreadCpuNanos() - start) / static_cast<double>(state.iterations());
  state.counters["vs_mutex"] = nanos / mutex_nanos;
  state.SetLabel(absl::StrCat(
      GilPolicyName(policy),
      measure_hold_time ? ", hold time measured" : ", hold time off"));
}
BENCHMARK(BM_UncontendedTakeDrop)
    ->ArgNames({"policy", "hold_time"})
    ->ArgsProduct({{static_cast<int>(GilPolicy::kNewGil),
                    static_cast<int>(GilPolicy::kTickBased),
                    static_cast<int>(GilPolicy::kFreeThreaded)},
                   {0, 1}});

// One iteration = take the GIL from a CPU-bound holder (which needs a drop
// request after one switch interval), then drop it and let the holder take it
// back. Counters: hand-off latency from the request to the new holder, and
// the requester's whole wait (about one switch interval more).
void BM_HandoffUnderDropRequest(benchmark::State& state) {
  const absl::Duration interval = absl::Microseconds(state.range(0));
  std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kNewGil, interval);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> cpu_id{0};
  std::thread cpu([&] {
    InterpreterThread py =
        std::move(InterpreterThread::Attach(*gil, "cpu")).value();
    cpu_id.store(py.id());
    while (!stop.load(std::memory_order_relaxed)) {
      if (!py.RunBytecode(1000).ok()) return;
    }
  });
  while (cpu_id.load() == 0) std::this_thread::yield();
  InterpreterThread waiter =
      std::move(InterpreterThread::Attach(*gil, "waiter")).value();
  benchmark::DoNotOptimize(waiter.DropGil());
  for (auto _ : state) {
    while (gil->Stats().last_holder != cpu_id.load()) std::this_thread::yield();
    benchmark::DoNotOptimize(waiter.TakeGil());
    benchmark::DoNotOptimize(waiter.DropGil());
  }
  stop.store(true);
  cpu.join();
  const GilStats stats = gil->Stats();
  const ThreadStats mine = waiter.Stats();
  state.counters["handoff_p50_us"] =
      absl::ToDoubleMicroseconds(stats.handoff_p50);
  state.counters["handoff_p99_us"] =
      absl::ToDoubleMicroseconds(stats.handoff_p99);
  state.counters["wait_p50_us"] = absl::ToDoubleMicroseconds(mine.wait_p50);
  state.counters["wait_p99_us"] = absl::ToDoubleMicroseconds(mine.wait_p99);
  state.counters["drop_requests"] = static_cast<double>(stats.drop_requests);
}
BENCHMARK(BM_HandoffUnderDropRequest)
    ->Arg(100)
    ->Arg(5000)
    ->Iterations(200)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace gil_model

BENCHMARK_MAIN();
