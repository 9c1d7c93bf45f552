// One small Google Benchmark, run by benchmark_smoke_test.sh.
#include <numeric>
#include <vector>

#include "benchmark/benchmark.h"

namespace {

void BM_Accumulate(benchmark::State& state) {
  std::vector<int> values(static_cast<size_t>(state.range(0)), 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(std::accumulate(values.begin(), values.end(), 0));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Accumulate)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
