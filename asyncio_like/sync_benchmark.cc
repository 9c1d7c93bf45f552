// Queue and Condition figures beside CPython 3.13 doing the same work.
//
//   tools/bazel run -c opt //asyncio_like:sync_benchmark
//
// Workloads (sync_benchmark.py is the same code on asyncio):
//   - QueuePutGet/<maxsize>: a producer task puts N integers, a consumer
//     task gets them; the cost per item. maxsize 1 makes every item a task
//     switch each way; 128 lets the tasks run in batches.
//   - ConditionNotifyWake: two tasks hand a turn back and forth under one
//     Condition (WaitFor, then Notify); the cost per hand-over.
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
#include "asyncio_like/bench/beside_cpython.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/queue.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "benchmark/benchmark.h"

namespace asyncio_like {
namespace {

std::unique_ptr<EventLoop> MakeLoop(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) {
    state.SkipWithError(std::string(loop.status().message()).c_str());
    return nullptr;
  }
  return *std::move(loop);
}

constexpr int64_t kItems = 20000;

Task<void> Producer(Queue<int64_t>* q, int64_t n) {
  for (int64_t i = 0; i < n; ++i) co_await q->Put(i);
}

Task<void> Consumer(Queue<int64_t>* q, int64_t n, int64_t* sum) {
  for (int64_t i = 0; i < n; ++i) *sum += co_await q->Get();
}

Task<void> QueueRound(int64_t n, size_t maxsize, int64_t* sum) {
  Queue<int64_t> q(maxsize);
  Task<void> consumer = CreateTask(Consumer(&q, n, sum));
  Task<void> producer = CreateTask(Producer(&q, n));
  co_await producer;
  co_await consumer;
}

void BM_QueuePutGet(benchmark::State& state) {
  std::unique_ptr<EventLoop> loop = MakeLoop(state);
  if (loop == nullptr) return;
  const size_t maxsize = static_cast<size_t>(state.range(0));
  int64_t sum = 0;
  const int64_t start = ProcessCpuNanos();
  for (auto _ : state) {
    absl::Status status = loop->RunUntilComplete(QueueRound(kItems, maxsize, &sum));
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  const int64_t items = state.iterations() * kItems;
  if (sum != state.iterations() * (kItems * (kItems - 1) / 2)) {
    state.SkipWithError("items lost or duplicated");
  }
  state.SetItemsProcessed(items);
  const double ns = static_cast<double>(ProcessCpuNanos() - start) / items;
  state.counters["cpu_ns_per_item"] = ns;
  Figures()["queue_put_get_maxsize_" + std::to_string(maxsize)] = ns;
}
BENCHMARK(BM_QueuePutGet)->Arg(1)->Arg(128)->MinTime(0.3);

struct PingPong {
  Condition cond;
  int turn = 0;
};

Task<void> Player(PingPong* game, int me, int64_t rounds) {
  auto held = co_await ScopedLock(game->cond);
  for (int64_t i = 0; i < rounds; ++i) {
    co_await game->cond.WaitFor([game, me] { return game->turn == me; });
    game->turn = 1 - me;
    game->cond.Notify();
  }
}

Task<void> ConditionRound(int64_t rounds) {
  PingPong game;
  Task<void> a = CreateTask(Player(&game, 0, rounds));
  Task<void> b = CreateTask(Player(&game, 1, rounds));
  co_await a;
  co_await b;
}

void BM_ConditionNotifyWake(benchmark::State& state) {
  std::unique_ptr<EventLoop> loop = MakeLoop(state);
  if (loop == nullptr) return;
  constexpr int64_t kRounds = kItems / 2;
  const int64_t start = ProcessCpuNanos();
  for (auto _ : state) {
    absl::Status status = loop->RunUntilComplete(ConditionRound(kRounds));
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  const int64_t handovers = state.iterations() * 2 * kRounds;
  state.SetItemsProcessed(handovers);
  const double ns = static_cast<double>(ProcessCpuNanos() - start) / handovers;
  state.counters["cpu_ns_per_handover"] = ns;
  Figures()["condition_notify_wake"] = ns;
}
BENCHMARK(BM_ConditionNotifyWake)->MinTime(0.3);

// Runs the CPython script and prints its figures beside ours.
void CompareWithCPython(const std::string& script) {
  PrintBesideCPython(script, std::to_string(kItems), Figures(), {"CPU ns/op", 1});
}

}  // namespace
}  // namespace asyncio_like

int main(int argc, char** argv) {
  std::string script =
      asyncio_like::TakePythonScriptFlag(argc, argv, "asyncio_like/sync_benchmark.py");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  asyncio_like::CompareWithCPython(script);
  return 0;
}
