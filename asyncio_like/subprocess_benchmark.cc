// Subprocess figures beside CPython 3.13 doing the same work.
//
//   tools/bazel run -c opt //asyncio_like:subprocess_benchmark
//
// Workload (subprocess_benchmark.py is the same code on asyncio): start
// /bin/true and wait for it, 1,000 times, 50 at a time (50 tasks, each
// spawning and waiting 20 times in a row); the cost is wall time per
// process, the best of 5 rounds. Wall time, not CPU time, because most of
// the cost is in the kernel and in the children (fork/exec, exit, reaping),
// which the parent's CPU time does not count; on a shared machine it is
// noisy, so compare figures from the same run. After the Google Benchmark
// run, the binary runs the Python script with `PYENV_VERSION=3.13.0 python3`
// and prints both figures and their ratio. --python_script=PATH overrides
// where the script is looked for.
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/bench/beside_cpython.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/subprocess.h"
#include "asyncio_like/task.h"
#include "benchmark/benchmark.h"

namespace asyncio_like {
namespace {

constexpr int kProcesses = 1000;
constexpr int kConcurrency = 50;
constexpr int kRounds = 5;

int64_t WallNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

Task<absl::Status> Worker(int n) {
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<Process> proc = co_await CreateSubprocessExec("/bin/true");
    if (!proc.ok()) co_return proc.status();
    if (co_await proc->Wait() != 0) co_return absl::InternalError("/bin/true failed");
  }
  co_return absl::OkStatus();
}

Task<absl::Status> SpawnAll() {
  std::vector<Task<absl::Status>> workers;
  for (int i = 0; i < kConcurrency; ++i) workers.push_back(Worker(kProcesses / kConcurrency));
  for (absl::Status& status : co_await Gather(std::move(workers))) {
    if (!status.ok()) co_return status;
  }
  co_return absl::OkStatus();
}

void BM_SpawnWaitTrue(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) {
    state.SkipWithError(std::string(loop.status().message()).c_str());
    return;
  }
  int64_t best = INT64_MAX;
  for (auto _ : state) {
    const int64_t start = WallNanos();
    absl::StatusOr<absl::Status> status = (*loop)->RunUntilComplete(SpawnAll());
    best = std::min(best, WallNanos() - start);
    if (!status.ok() || !status->ok()) {
      state.SkipWithError(std::string((status.ok() ? *status : status.status()).message()).c_str());
      return;
    }
  }
  const double ns_per_process = static_cast<double>(best) / kProcesses;
  Figures()["spawn_wait_true"] = ns_per_process;
  state.SetItemsProcessed(state.iterations() * kProcesses);
  state.counters["best_wall_us_per_process"] = ns_per_process / 1000;
}
BENCHMARK(BM_SpawnWaitTrue)->Iterations(kRounds)->UseRealTime()->Unit(benchmark::kMillisecond);

// Runs the CPython script and prints its figures beside ours.
void CompareWithCPython(const std::string& script) {
  PrintBesideCPython(script,
                     std::to_string(kProcesses) + " " + std::to_string(kConcurrency) + " " +
                         std::to_string(kRounds),
                     Figures(), {"wall us/process", 1000});
}

}  // namespace
}  // namespace asyncio_like

int main(int argc, char** argv) {
  std::string script =
      asyncio_like::TakePythonScriptFlag(argc, argv, "asyncio_like/subprocess_benchmark.py");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  asyncio_like::CompareWithCPython(script);
  return 0;
}
