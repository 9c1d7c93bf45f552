// Prints a benchmark's figures beside CPython 3.13 doing the same work.
//
// Each *_benchmark.cc that has a twin script (future_benchmark.py, say)
// records its own figures by workload name in Figures() while Google
// Benchmark runs (most as process CPU time, ProcessCpuNanos()), then
// runs the script with `PYENV_VERSION=3.13.0 python3 SCRIPT ARGS`. The script
// prints one line per workload, `name nanoseconds`; the figures whose names
// match are printed side by side with CPython's figure divided by ours (the
// speed-up). `bazel run` starts a binary in its runfiles tree, where the
// script is (list it in the binary's `data`); --python_script=PATH points
// elsewhere.
//
//   void BM_Work(benchmark::State& state) {
//     const int64_t start = ProcessCpuNanos();
//     for (auto _ : state) ...;
//     Figures()["work"] = static_cast<double>(ProcessCpuNanos() - start) / ops;
//   }
//
//   int main(int argc, char** argv) {
//     std::string script = TakePythonScriptFlag(argc, argv, "asyncio_like/x_benchmark.py");
//     benchmark::Initialize(&argc, argv);
//     if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
//     benchmark::RunSpecifiedBenchmarks();
//     benchmark::Shutdown();
//     PrintBesideCPython(script, "100000", Figures(), {"CPU ns/op", 1});
//   }
#ifndef ASYNCIO_LIKE_BENCH_BESIDE_CPYTHON_H_
#define ASYNCIO_LIKE_BENCH_BESIDE_CPYTHON_H_

#include <cstdint>
#include <map>
#include <string>

namespace asyncio_like {

// The figures a benchmark binary records for the table, nanoseconds by
// workload name as the twin script prints it. One map per process, so that
// benchmark functions write it and main() passes it to PrintBesideCPython.
std::map<std::string, double>& Figures();

// CPU time this process has used, in nanoseconds: the machine is shared, so
// wall time would also count other processes' work.
int64_t ProcessCpuNanos();

// Removes --python_script=PATH from argv (before Google Benchmark, which
// rejects flags it does not know) and returns PATH, or `default_script`.
std::string TakePythonScriptFlag(int& argc, char** argv, std::string default_script);

// How the table shows a figure: its column title ("CPU ns/op") and how
// many nanoseconds make one shown unit (1000 to show microseconds).
struct FigureUnit {
  std::string title;
  double ns_per_unit;
};

// Runs the script with `args` (already quoted as the shell needs) and prints
// the table of `ours` (nanoseconds by workload name) beside its figures. If
// python3 cannot run or prints nothing, says so instead.
void PrintBesideCPython(const std::string& script, const std::string& args,
                        const std::map<std::string, double>& ours, const FigureUnit& unit);

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_BENCH_BESIDE_CPYTHON_H_
