// The call graph's read side: CaptureCallGraph() from the innermost of 50
// nested inline awaits (51 frames), and the same capture formatted as
// PrintCallGraph would print it; at 3 frames, the capture ToThread makes on
// every call to carry the chain to the executor thread, beside a ToThread
// round trip from the same depth (what that capture adds to). Recording
// (the write side) is measured by event_loop_benchmark and echo_benchmark
// against a build without it.
//
//   tools/bazel run -c opt //asyncio_like:call_graph_benchmark
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asyncio_like/call_graph.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/to_thread.h"
#include "benchmark/benchmark.h"

namespace asyncio_like {
namespace {

// Recurses `depth` inline awaits deep, then runs the benchmark loop there.
Task<int> Deep(int depth, benchmark::State& state, bool format) {
  if (depth > 0) co_return 1 + co_await Deep(depth - 1, state, format);
  co_await Sleep(absl::ZeroDuration());
  size_t frames = 0;
  for (auto _ : state) {
    CallGraph graph = CaptureCallGraph();
    frames = graph.call_stack.size();
    if (format) {
      std::string text = FormatCallGraph(graph);
      benchmark::DoNotOptimize(text);
    }
    benchmark::DoNotOptimize(graph);
  }
  state.counters["frames"] = static_cast<double>(frames);
  co_return 0;
}

void RunDeep(benchmark::State& state, bool format) {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) {
    state.SkipWithError(std::string(loop.status().message()).c_str());
    return;
  }
  absl::StatusOr<int> depth =
      (*loop)->RunUntilComplete(Deep(static_cast<int>(state.range(0)), state, format));
  if (!depth.ok()) state.SkipWithError(std::string(depth.status().message()).c_str());
}

void BM_CaptureCallGraph(benchmark::State& state) { RunDeep(state, false); }
BENCHMARK(BM_CaptureCallGraph)->Arg(2)->Arg(50);

void BM_CaptureAndFormatCallGraph(benchmark::State& state) { RunDeep(state, true); }
BENCHMARK(BM_CaptureAndFormatCallGraph)->Arg(50);

// Recurses `depth` inline awaits deep, then awaits ToThread once per
// iteration: the default executor's hand-off, the chain's capture and the
// wake-up of the loop through its ring.
Task<int> DeepToThread(int depth, benchmark::State& state) {
  if (depth > 0) co_return 1 + co_await DeepToThread(depth - 1, state);
  int sum = 0;
  for (auto _ : state) sum += co_await ToThread([] { return 1; });
  co_return sum;
}

void BM_ToThreadRoundTrip(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) {
    state.SkipWithError(std::string(loop.status().message()).c_str());
    return;
  }
  absl::StatusOr<int> sum =
      (*loop)->RunUntilComplete(DeepToThread(static_cast<int>(state.range(0)), state));
  if (!sum.ok()) state.SkipWithError(std::string(sum.status().message()).c_str());
}
BENCHMARK(BM_ToThreadRoundTrip)->Arg(2)->UseRealTime();

}  // namespace
}  // namespace asyncio_like

BENCHMARK_MAIN();
