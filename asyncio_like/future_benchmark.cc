// Future and CallLater figures beside CPython 3.13 doing the same work.
//
//   tools/bazel run -c opt //asyncio_like:future_benchmark
//
// Workloads (future_benchmark.py is the same code on asyncio):
//   - FutureRoundTrip: a task creates a future, schedules a callback that
//     sets it (call_soon), and awaits it; the cost per round trip (create,
//     set, wake the task, read the result).
//   - CallLaterArmCancel: schedule a callback an hour ahead and cancel it at
//     once; the cost per pair.
//
// Costs are CPU time of the process per operation (the machine is shared,
// so wall time would also count other processes). After the Google
// Benchmark runs, the binary runs the Python script with
// `PYENV_VERSION=3.13.0 python3` and prints each figure beside CPython's,
// as a ratio. --python_script=PATH overrides where the script is looked for.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/bench/beside_cpython.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/future.h"
#include "asyncio_like/task.h"
#include "benchmark/benchmark.h"

namespace asyncio_like {
namespace {

constexpr int64_t kOps = 100000;

Task<void> FutureRoundTrip(int64_t n, int64_t* total) {
  EventLoop* loop = EventLoop::Current();
  for (int64_t i = 0; i < n; ++i) {
    Future<int64_t> f(*loop);
    loop->CallSoon([f, i] { f.SetResult(i); });
    *total += co_await f;
  }
}

Task<void> CallLaterArmCancel(int64_t n) {
  EventLoop* loop = EventLoop::Current();
  for (int64_t i = 0; i < n; ++i) loop->CallLater(absl::Hours(1), [] {}).Cancel();
  co_return;
}

template <typename MakeTask>
void Measure(benchmark::State& state, const std::string& name, MakeTask make) {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) {
    state.SkipWithError(std::string(loop.status().message()).c_str());
    return;
  }
  const int64_t start = ProcessCpuNanos();
  for (auto _ : state) {
    absl::Status status = (*loop)->RunUntilComplete(make());
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  const int64_t ops = state.iterations() * kOps;
  state.SetItemsProcessed(ops);
  const double ns = static_cast<double>(ProcessCpuNanos() - start) / ops;
  state.counters["cpu_ns_per_op"] = ns;
  Figures()[name] = ns;
}

void BM_FutureRoundTrip(benchmark::State& state) {
  int64_t total = 0;
  Measure(state, "future_round_trip", [&] { return FutureRoundTrip(kOps, &total); });
  if (total != state.iterations() * (kOps * (kOps - 1) / 2)) {
    state.SkipWithError("a result was lost");
  }
}
BENCHMARK(BM_FutureRoundTrip)->MinTime(0.3);

void BM_CallLaterArmCancel(benchmark::State& state) {
  Measure(state, "call_later_arm_cancel", [] { return CallLaterArmCancel(kOps); });
}
BENCHMARK(BM_CallLaterArmCancel)->MinTime(0.3);

// Runs the CPython script and prints its figures beside ours.
void CompareWithCPython(const std::string& script) {
  PrintBesideCPython(script, std::to_string(kOps), Figures(), {"CPU ns/op", 1});
}

}  // namespace
}  // namespace asyncio_like

int main(int argc, char** argv) {
  std::string script =
      asyncio_like::TakePythonScriptFlag(argc, argv, "asyncio_like/future_benchmark.py");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  asyncio_like::CompareWithCPython(script);
  return 0;
}
