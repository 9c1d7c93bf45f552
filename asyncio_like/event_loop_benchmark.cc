// Event loop figures: task spawn + completion throughput (plain, and as the
// children of one TaskGroup), a million concurrent sleepers (time, peak
// memory, bytes per task), and timer precision on an idle loop.
//
// The floor: BM_BareCoroutineFloor creates a bare C++20 coroutine (default
// allocator), pushes it on a ring buffer, resumes it and destroys it; no
// loop can run a task for less. After the runs, a summary prints each
// spawn/await benchmark's CPU time per task as a multiple of that floor,
// measured in the same process (the minimum over --benchmark_repetitions).
//
// The throughput benchmarks never wait in the kernel, so their rates are
// computed on CPU time: on a shared machine the wall time also counts the
// time other processes held the CPU. The "Time" column shows wall time.
//
//   tools/bazel run -c opt //asyncio_like:event_loop_benchmark
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/task_group.h"
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

// The smallest coroutine type: lazy, no result, frame from operator new.
struct BareCoroutine {
  struct promise_type {
    BareCoroutine get_return_object() {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> handle;
};

BareCoroutine BareTrivial(int64_t* counter) {
  ++*counter;
  co_return;
}

// The floor: what SpawnAndComplete does per task with no loop at all. The
// handles escape into the ring, so the compiler cannot elide the frames.
void BM_BareCoroutineFloor(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  size_t capacity = 1;
  while (capacity < static_cast<size_t>(batch)) capacity *= 2;
  std::vector<std::coroutine_handle<>> ring(capacity);
  const size_t mask = capacity - 1;
  size_t head = 0, tail = 0;
  int64_t counter = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) ring[tail++ & mask] = BareTrivial(&counter).handle;
    while (head != tail) {
      std::coroutine_handle<> frame = ring[head++ & mask];
      frame.resume();
      frame.destroy();
    }
  }
  if (counter != state.iterations() * batch) state.SkipWithError("lost coroutines");
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_BareCoroutineFloor)->Arg(10'000);

Task<void> Trivial(int64_t* counter) {
  ++*counter;
  co_return;
}

// Spawns `n` fire-and-forget tasks, then yields until they have all run.
Task<void> SpawnDetached(EventLoop* loop, int n, int64_t* counter) {
  for (int i = 0; i < n; ++i) loop->CreateTask(Trivial(counter));
  while (loop->pending_tasks() > 1) co_await Sleep(absl::ZeroDuration());
}

void BM_SpawnAndComplete(benchmark::State& state) {
  std::unique_ptr<EventLoop> loop = MakeLoop(state);
  if (loop == nullptr) return;
  const int batch = static_cast<int>(state.range(0));
  int64_t counter = 0;
  for (auto _ : state) {
    absl::Status status = loop->RunUntilComplete(SpawnDetached(loop.get(), batch, &counter));
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  if (counter != state.iterations() * batch) state.SkipWithError("lost tasks");
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["ns_per_task"] = benchmark::Counter(
      static_cast<double>(state.iterations() * batch),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SpawnAndComplete)->Arg(10'000);

// Spawns `n` trivial children in one TaskGroup and awaits the group: the
// structured counterpart of SpawnDetached, to be read beside it.
Task<void> SpawnInGroup(int n, int64_t* counter) {
  TaskGroup group;
  co_await group.Run([&]() -> Task<void> {
    for (int i = 0; i < n; ++i) group.CreateTask(Trivial(counter));
    co_return;
  });
}

void BM_TaskGroupSpawn(benchmark::State& state) {
  std::unique_ptr<EventLoop> loop = MakeLoop(state);
  if (loop == nullptr) return;
  const int batch = static_cast<int>(state.range(0));
  int64_t counter = 0;
  for (auto _ : state) {
    absl::Status status = loop->RunUntilComplete(SpawnInGroup(batch, &counter));
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  if (counter != state.iterations() * batch) state.SkipWithError("lost tasks");
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["ns_per_task"] = benchmark::Counter(
      static_cast<double>(state.iterations() * batch),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TaskGroupSpawn)->Arg(10'000);

// Spawns `n` tasks keeping their handles, then awaits each result.
Task<int> Value(int v) { co_return v; }

Task<void> SpawnAndAwait(int n, int64_t* sum) {
  std::vector<Task<int>> tasks;
  tasks.reserve(n);
  for (int i = 0; i < n; ++i) tasks.push_back(CreateTask(Value(i)));
  for (Task<int>& task : tasks) *sum += co_await task;
}

void BM_SpawnAndAwait(benchmark::State& state) {
  std::unique_ptr<EventLoop> loop = MakeLoop(state);
  if (loop == nullptr) return;
  const int batch = static_cast<int>(state.range(0));
  int64_t sum = 0;
  for (auto _ : state) {
    absl::Status status = loop->RunUntilComplete(SpawnAndAwait(batch, &sum));
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["ns_per_task"] = benchmark::Counter(
      static_cast<double>(state.iterations() * batch),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SpawnAndAwait)->Arg(10'000);

// An inline `co_await` of a lazy task (no loop pass): the cost of the
// coroutine call itself.
Task<int64_t> AwaitInline(int n) {
  int64_t sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await Value(i);
  co_return sum;
}

void BM_AwaitInline(benchmark::State& state) {
  std::unique_ptr<EventLoop> loop = MakeLoop(state);
  if (loop == nullptr) return;
  const int batch = static_cast<int>(state.range(0));
  for (auto _ : state) {
    absl::StatusOr<int64_t> sum = loop->RunUntilComplete(AwaitInline(batch));
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_AwaitInline)->Arg(10'000);

int64_t ProcStatusKib(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  int64_t value = -1;
  size_t len = std::strlen(field);
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, field, len) == 0) value = std::atoll(line + len + 1);
  }
  std::fclose(f);
  return value;
}

// Resets the peak RSS (VmHWM) to the current RSS.
void ResetPeakRss() {
  int fd = open("/proc/self/clear_refs", O_WRONLY);
  if (fd < 0) return;
  (void)!write(fd, "5", 1);
  close(fd);
}

Task<void> SleepTenMs(int64_t* done) {
  co_await Sleep(absl::Milliseconds(10));
  ++*done;
}

Task<void> SpawnSleepers(EventLoop* loop, int n, int64_t* done) {
  for (int i = 0; i < n; ++i) loop->CreateTask(SleepTenMs(done));
  while (loop->pending_tasks() > 1) co_await Sleep(absl::Milliseconds(1));
}

void BM_MillionConcurrentSleeps(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  double seconds = 0, bytes_per_task = 0, peak_mib = 0;
  for (auto _ : state) {
    std::unique_ptr<EventLoop> loop = MakeLoop(state);
    if (loop == nullptr) return;
    int64_t done = 0;
    int64_t rss_before = ProcStatusKib("VmRSS:");
    ResetPeakRss();
    absl::Time start = absl::Now();
    absl::Status status = loop->RunUntilComplete(SpawnSleepers(loop.get(), n, &done));
    seconds = absl::ToDoubleSeconds(absl::Now() - start);
    int64_t peak = ProcStatusKib("VmHWM:");
    if (!status.ok() || done != n) state.SkipWithError("sleepers did not all finish");
    peak_mib = peak / 1024.0;
    bytes_per_task = static_cast<double>(peak - rss_before) * 1024.0 / n;
  }
  state.counters["wall_s"] = seconds;
  state.counters["peak_rss_MiB"] = peak_mib;
  state.counters["bytes_per_task"] = bytes_per_task;
}
BENCHMARK(BM_MillionConcurrentSleeps)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// How late a 1 ms sleep wakes on an otherwise idle loop.
Task<void> MeasureLateness(int samples, std::vector<int64_t>* lateness_ns) {
  for (int i = 0; i < samples; ++i) {
    int64_t start = EventLoop::NowNanos();
    co_await Sleep(absl::Milliseconds(1));
    lateness_ns->push_back(EventLoop::NowNanos() - start - 1'000'000);
  }
}

void BM_TimerPrecision(benchmark::State& state) {
  std::unique_ptr<EventLoop> loop = MakeLoop(state);
  if (loop == nullptr) return;
  std::vector<int64_t> lateness;
  for (auto _ : state) {
    lateness.clear();
    absl::Status status = loop->RunUntilComplete(MeasureLateness(500, &lateness));
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  std::sort(lateness.begin(), lateness.end());
  auto percentile = [&](double p) {
    return lateness[static_cast<size_t>(p * (lateness.size() - 1))] / 1000.0;
  };
  state.counters["late_p50_us"] = percentile(0.5);
  state.counters["late_p99_us"] = percentile(0.99);
  state.counters["late_max_us"] = lateness.back() / 1000.0;
  state.counters["early"] = lateness.front() < 0 ? 1 : 0;
}
BENCHMARK(BM_TimerPrecision)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Prints the usual table, then CPU ns per task of each benchmark that
// processes items, as a multiple of the floor from the same process.
class FloorReporter : public benchmark::ConsoleReporter {
 public:
  // Plain text, so that the counters read the same on a terminal and in a
  // log.
  FloorReporter() : ConsoleReporter(OO_None) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      auto items = run.counters.find("items_per_second");
      if (items == run.counters.end() || items->second.value <= 0) continue;
      double ns = 1e9 / items->second.value;
      auto [it, inserted] = min_ns_.emplace(run.benchmark_name(), ns);
      if (!inserted && ns < it->second) it->second = ns;
      if (inserted) order_.push_back(run.benchmark_name());
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void PrintSummary() const {
    auto floor = min_ns_.find("BM_BareCoroutineFloor/10000");
    if (floor == min_ns_.end()) return;
    std::printf("\nCPU ns per task (min over repetitions), as a multiple of the floor:\n");
    for (const std::string& name : order_) {
      double ns = min_ns_.at(name);
      std::printf("  %-32s %8.1f ns  %5.2fx\n", name.c_str(), ns, ns / floor->second);
    }
  }

 private:
  std::map<std::string, double> min_ns_;
  std::vector<std::string> order_;
};

}  // namespace
}  // namespace asyncio_like

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  asyncio_like::FloorReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary();
  benchmark::Shutdown();
  return 0;
}
