// Line reading on streams beside CPython 3.13 doing the same.
//
//   tools/bazel run -c opt //asyncio_like:stream_benchmark
//
// Workloads (stream_benchmark.py is the same code on asyncio), each reading
// N lines of 64 bytes until end of stream:
//   - ReadLineLoopback: a server on the same loop writes the lines and
//     closes; the client reads them with ReadLine over loopback TCP.
//   - ReadUntilNewlineLoopback: the same with ReadUntil("\n"), which ends
//     with IncompleteReadError at end of stream.
//   - ReadLineFed: a StreamReader fed every line at once, without a socket:
//     the framing alone.
//
// Costs are CPU time of the process per line (the machine is shared, so
// wall time would also count other processes), the server's sending
// included, as in the script. After the Google Benchmark runs, the binary
// runs the Python script with `PYENV_VERSION=3.13.0 python3` and prints each
// figure beside CPython's, as a ratio. --python_script=PATH overrides where
// the script is looked for.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/bench/beside_cpython.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp_errors.h"
#include "benchmark/benchmark.h"

namespace asyncio_like {
namespace {

constexpr int64_t kLines = 100000;

const std::string& Payload() {
  static const std::string* payload = [] {
    auto* lines = new std::string;
    for (int64_t i = 0; i < kLines; ++i) lines->append(std::string(63, 'x') + "\n");
    return lines;
  }();
  return *payload;
}

// Lines read until end of stream, or -1 on an error.
Task<int64_t> ReadLines(StreamReader& reader, bool use_read_until) {
  int64_t count = 0;
  for (;;) {
    // Not a conditional expression: GCC 12 destroys its co_await results
    // twice.
    absl::StatusOr<std::string> line;
    if (use_read_until) {
      line = co_await reader.ReadUntil("\n");
    } else {
      line = co_await reader.ReadLine();
    }
    if (!line.ok()) co_return use_read_until&& IncompleteReadOf(line.status()) ? count : -1;
    if (line->empty()) co_return count;
    ++count;
  }
}

Task<void> SendLines(StreamReader, StreamWriter writer) {
  writer.Write(Payload());
  (void)co_await writer.Close();
}

Task<int64_t> LoopbackRound(bool use_read_until) {
  absl::StatusOr<Server> server = StartServer(SendLines, "127.0.0.1", 0);
  if (!server.ok()) co_return -1;
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", server->port());
  if (!stream.ok()) co_return -1;
  const int64_t count = co_await ReadLines(stream->reader, use_read_until);
  (void)co_await stream->writer.Close();
  server->Close();
  co_await server->WaitClosed();
  co_return count;
}

Task<int64_t> FedRound() {
  StreamReader reader;
  reader.FeedData(Payload());
  reader.FeedEof();
  co_return co_await ReadLines(reader, false);
}

void RunRounds(benchmark::State& state, const std::string& name, Task<int64_t> (*round)(bool),
               bool use_read_until) {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) {
    state.SkipWithError(std::string(loop.status().message()).c_str());
    return;
  }
  Payload();
  const int64_t start = ProcessCpuNanos();
  for (auto _ : state) {
    absl::StatusOr<int64_t> count = (*loop)->RunUntilComplete(round(use_read_until));
    if (!count.ok() || *count != kLines) {
      state.SkipWithError("lines lost, or a read failed");
      return;
    }
  }
  const int64_t lines = state.iterations() * kLines;
  state.SetItemsProcessed(lines);
  const double ns = static_cast<double>(ProcessCpuNanos() - start) / lines;
  state.counters["cpu_ns_per_line"] = ns;
  Figures()[name] = ns;
}

void BM_ReadLineLoopback(benchmark::State& state) {
  RunRounds(state, "read_line_loopback", LoopbackRound, false);
}
BENCHMARK(BM_ReadLineLoopback)->MinTime(0.5);

void BM_ReadUntilNewlineLoopback(benchmark::State& state) {
  RunRounds(state, "read_until_newline_loopback", LoopbackRound, true);
}
BENCHMARK(BM_ReadUntilNewlineLoopback)->MinTime(0.5);

void BM_ReadLineFed(benchmark::State& state) {
  RunRounds(
      state, "read_line_fed", [](bool) { return FedRound(); }, false);
}
BENCHMARK(BM_ReadLineFed)->MinTime(0.5);

// Runs the CPython script and prints its figures beside ours.
void CompareWithCPython(const std::string& script) {
  PrintBesideCPython(script, std::to_string(kLines), Figures(), {"CPU ns/line", 1});
  auto line = Figures().find("read_line_loopback");
  auto until = Figures().find("read_until_newline_loopback");
  if (line != Figures().end() && until != Figures().end()) {
    std::printf("\nReadLine / ReadUntil(\"\\n\") over loopback: %.2f\n",
                line->second / until->second);
  }
}

}  // namespace
}  // namespace asyncio_like

int main(int argc, char** argv) {
  std::string script =
      asyncio_like::TakePythonScriptFlag(argc, argv, "asyncio_like/stream_benchmark.py");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  asyncio_like::CompareWithCPython(script);
  return 0;
}
