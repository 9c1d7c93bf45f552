// The asyncio model: asyncio_like coroutine tasks on one io_uring event loop
// thread. The code between the readability markers is written as an asyncio
// user writes it: every function on the path of an I/O wait is a coroutine
// (Task<...>) and every wait is a co_await.
//
// CPU work here is the same work as the thread models' (gil_model's bytecode
// unit for pure work, HashBytes for native work); with a single thread there
// is no GIL to contend for, so none is modelled.

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "asyncio_like/call_graph.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp.h"
#include "gil_model/bytecode_work.h"
#include "harness/adapters.h"
#include "harness/http_fetch.h"
#include "harness/measure.h"
#include "harness/python_thread.h"
#include "harness/stack_view.h"

namespace harness {
namespace {

using asyncio_like::CallFrame;
using asyncio_like::CaptureCallGraph;
using asyncio_like::CreateTask;
using asyncio_like::Sleep;
using asyncio_like::StreamReader;
using asyncio_like::StreamWriter;
using asyncio_like::Task;

// The cost of one unit of pure work, as in gil_model's interpreter threads.
const gil_model::BytecodeWork& Bytecode() {
  static const auto* work = new gil_model::BytecodeWork(absl::Nanoseconds(25));
  return *work;
}

// Runs `main` on a new event loop and returns its metrics.
absl::StatusOr<Metrics> RunOnLoop(Task<absl::StatusOr<Metrics>> main) {
  absl::StatusOr<absl::StatusOr<Metrics>> result = asyncio_like::Run(std::move(main));
  if (!result.ok()) return result.status();
  return *std::move(result);
}

// [readability:io_fanout]
Task<void> OneWait(int64_t& started, int64_t n, absl::Duration wait,
                   const std::function<void()>& on_all_started) {
  if (++started == n) on_all_started();
  co_await Sleep(wait);
}

Task<void> IoFanout(int64_t n, absl::Duration wait,
                    std::function<void()> on_all_started) {
  int64_t started = 0;
  std::vector<Task<void>> tasks;
  for (int64_t i = 0; i < n; ++i) {
    tasks.push_back(CreateTask(OneWait(started, n, wait, on_all_started)));
  }
  for (Task<void>& task : tasks) co_await task;
}
// [end]

Task<absl::StatusOr<Metrics>> RunIoFanout(Params p) {
  int64_t n = p.at("n");
  absl::Duration wait = absl::Milliseconds(p.at("wait_ms"));
  int64_t rss_before = CurrentRssBytes();
  int threads = 0;
  absl::Time start = absl::Now();
  co_await IoFanout(n, wait, [&] { threads = CurrentThreadCount(); });
  double wall = absl::ToDoubleSeconds(absl::Now() - start);
  double rss = static_cast<double>(std::max<int64_t>(0, PeakRssBytes() - rss_before));
  co_return Metrics{{"wall_s", wall},
                    {"rss_bytes", rss},
                    {"bytes_per_task", rss / static_cast<double>(n)},
                    {"us_per_task",
                     std::max(0.0, wall - absl::ToDoubleSeconds(wait)) * 1e6 /
                         static_cast<double>(n)},
                    {"threads", static_cast<double>(threads)}};
}

// [readability:tcp_echo]
Task<void> Echo(StreamReader reader, StreamWriter writer) {
  while (true) {
    absl::StatusOr<absl::string_view> data = co_await reader.ReadSome(4096);
    if (!data.ok() || data->empty()) break;
    writer.Write(*data);
    if (!(co_await writer.Drain()).ok()) break;
  }
  (void)co_await writer.Close();
}

Task<absl::Status> EchoServer(int64_t connections,
                              std::function<void(int)> on_listening) {
  absl::StatusOr<asyncio_like::TcpListener> listener =
      asyncio_like::TcpListener::Listen("127.0.0.1", 0, 4096);
  if (!listener.ok()) co_return listener.status();
  on_listening(listener->port());
  std::vector<Task<void>> handlers;
  for (int64_t i = 0; i < connections; ++i) {
    absl::StatusOr<asyncio_like::TcpSocket> socket = co_await listener->Accept();
    if (!socket.ok()) co_return socket.status();
    asyncio_like::Stream stream(*std::move(socket));
    handlers.push_back(
        CreateTask(Echo(std::move(stream.reader), std::move(stream.writer))));
  }
  for (Task<void>& handler : handlers) co_await handler;
  co_return absl::OkStatus();
}
// [end]

Task<absl::StatusOr<Metrics>> RunTcpEcho(Params p, RunContext context) {
  absl::Duration cpu_before = ProcessCpuTime();
  absl::Status s = co_await EchoServer(p.at("connections"), context.announce_port);
  if (!s.ok()) co_return s;
  double cpu_us = absl::ToDoubleMicroseconds(ProcessCpuTime() - cpu_before);
  co_return Metrics{{"server_cpu_us_per_request",
                     cpu_us / static_cast<double>(p.at("requests"))}};
}

// [readability:http_fetch]
// The seed's fetch_data as a coroutine: one connection per fetch.
Task<absl::Status> FetchOnce(uint16_t port) {
  absl::StatusOr<asyncio_like::Stream> stream =
      co_await asyncio_like::OpenConnection("127.0.0.1", port);
  if (!stream.ok()) co_return stream.status();
  stream->writer.Write(kHttpRequest);
  if (absl::Status s = co_await stream->writer.Drain(); !s.ok()) co_return s;
  // The whole response, as `await reader.read()`: a fetch waiting for its
  // server holds no receive buffer (the loop's buffer ring lends one only
  // when data arrives), and the reader's buffer grows by what arrived.
  absl::StatusOr<std::string> response = co_await stream->reader.Read();
  if (!response.ok()) co_return response.status();
  (void)co_await stream->writer.Close();  // the response is complete either way
  co_return CheckHttpResponse(*response);
}

Task<absl::Status> FetchPage(uint16_t port, int64_t& in_flight, int64_t& peak) {
  peak = std::max(peak, ++in_flight);
  absl::Status fetched = co_await FetchOnce(port);
  --in_flight;
  co_return fetched;
}

Task<std::vector<absl::Status>> FetchAll(int64_t n, uint16_t port, int64_t& peak) {
  int64_t in_flight = 0;
  std::vector<Task<absl::Status>> fetches;
  for (int64_t i = 0; i < n; ++i) fetches.push_back(FetchPage(port, in_flight, peak));
  co_return co_await asyncio_like::Gather(std::move(fetches));
}
// [end]

Task<absl::StatusOr<Metrics>> RunHttpFetch(Params p, RunContext context) {
  const int64_t n = p.at("n");
  if (p.at("workers") < n) {
    co_return absl::InvalidArgumentError(
        "the asyncio model gathers every fetch at once: workers must be n");
  }
  int64_t rss_before = CurrentRssBytes();
  absl::Duration cpu_before = ProcessCpuTime();
  absl::Time start = absl::Now();
  int64_t peak = 0;
  std::vector<absl::Status> outcomes =
      co_await FetchAll(n, static_cast<uint16_t>(context.server_port), peak);
  absl::Duration wall = absl::Now() - start;
  if (absl::Status s = AllFetched(outcomes); !s.ok()) co_return s;
  co_return FetchFigures({.n = n,
                          .peak_in_flight = peak,
                          .wall = wall,
                          .rss_growth = PeakRssBytes() - rss_before,
                          .threads = CurrentThreadCount(),
                          .cpu = ProcessCpuTime() - cpu_before});
}

// Native async waits: a short or long task is a timer on the loop, so long
// ones hold up nothing.
Task<void> TimedWait(absl::Time arrival, absl::Duration wait, double& latency_ms) {
  co_await Sleep(wait);
  latency_ms = absl::ToDoubleMilliseconds(absl::Now() - arrival);
}

Task<absl::StatusOr<Metrics>> RunPoolStarvation(Params p) {
  const int64_t tasks = p.at("rate_per_s") * p.at("window_ms") / 1000;
  const absl::Duration gap = absl::Seconds(1) / p.at("rate_per_s");
  std::vector<double> latency_ms(static_cast<size_t>(tasks));
  std::vector<Task<void>> running;
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < tasks; ++i) {
    const absl::Time arrival = start + gap * i;
    co_await Sleep(arrival - absl::Now());
    const absl::Duration wait =
        absl::Milliseconds(IsLongTask(i, p.at("long_pct")) ? p.at("long_ms")
                                                           : p.at("short_ms"));
    running.push_back(
        CreateTask(TimedWait(arrival, wait, latency_ms[static_cast<size_t>(i)])));
  }
  for (Task<void>& t : running) co_await t;
  std::vector<double> short_ms;
  int64_t long_tasks = 0;
  for (int64_t i = 0; i < tasks; ++i) {
    if (IsLongTask(i, p.at("long_pct"))) ++long_tasks;
    else short_ms.push_back(latency_ms[static_cast<size_t>(i)]);
  }
  co_return StarvationFigures(short_ms, long_tasks);
}

// A CPU-bound coroutine: it never awaits, so it runs to the end once started.
Task<void> CpuTask(int64_t units, bool native) {
  if (native) {
    HashBytes(units);
  } else {
    RunPureWork(Bytecode(), units);
  }
  co_return;
}

Task<absl::StatusOr<Metrics>> RunCpu(Params p, bool native) {
  int64_t tasks = p.at("tasks");
  absl::Duration work = absl::Milliseconds(p.at("work_ms"));
  int64_t units = native ? CalibrateUnits(work, [](int64_t b) { HashBytes(b); })
                         : CalibrateUnits(work, [](int64_t u) { RunPureWork(Bytecode(), u); });
  absl::Time start = absl::Now();
  for (int64_t i = 0; i < tasks; ++i) co_await CpuTask(units, native);
  const absl::Duration sequential = absl::Now() - start;
  start = absl::Now();
  std::vector<Task<void>> running;
  for (int64_t i = 0; i < tasks; ++i) {
    running.push_back(CreateTask(CpuTask(units, native)));
  }
  for (Task<void>& t : running) co_await t;
  const absl::Duration concurrent = absl::Now() - start;
  co_return CpuSpeedupFigures(sequential, concurrent);
}

Task<std::vector<double>> ProbeLags(int64_t count) {
  std::vector<double> lags;
  for (int64_t i = 0; i < count; ++i) {
    absl::Time start = absl::Now();
    co_await Sleep(absl::Milliseconds(1));
    lags.push_back(absl::ToDoubleMilliseconds(absl::Now() - start) - 1);
  }
  co_return lags;
}

// CPU work in slices; the Sleep(0) between slices is the only point where
// the loop can run anything else.
Task<void> SlicedCpuTask(int64_t slice_units, const bool& running) {
  while (running) {
    RunPureWork(Bytecode(), slice_units);
    co_await Sleep(absl::ZeroDuration());
  }
}

Task<absl::StatusOr<Metrics>> RunMixed(Params p) {
  int64_t slice = CalibrateUnits(absl::Milliseconds(p.at("slice_ms")),
                                 [](int64_t u) { RunPureWork(Bytecode(), u); });
  std::vector<double> idle = co_await ProbeLags(p.at("probes"));
  bool running = true;
  Task<void> cpu = CreateTask(SlicedCpuTask(slice, running));
  co_await Sleep(absl::ZeroDuration());
  std::vector<double> busy = co_await ProbeLags(p.at("probes"));
  running = false;
  co_await cpu;
  co_return Metrics{{"idle_lag_p50_ms", Percentile(idle, 0.5)},
                    {"lag_p50_ms", Percentile(busy, 0.5)},
                    {"lag_p99_ms", Percentile(busy, 0.99)}};
}

Task<std::vector<double>> Ticker(int64_t ticks) {
  std::vector<double> gaps;
  absl::Time last = absl::Now();
  for (int64_t i = 0; i < ticks; ++i) {
    co_await Sleep(absl::Milliseconds(1));
    absl::Time now = absl::Now();
    gaps.push_back(absl::ToDoubleMilliseconds(now - last));
    last = now;
  }
  co_return gaps;
}

Task<void> BlockingLibraryCall(absl::Duration block) {
  co_await Sleep(absl::Milliseconds(20));
  absl::SleepFor(block);  // a synchronous call: the whole loop waits
}

Task<absl::StatusOr<Metrics>> RunBlockingCall(Params p) {
  Task<std::vector<double>> ticker = CreateTask(Ticker(p.at("ticks")));
  Task<void> blocker =
      CreateTask(BlockingLibraryCall(absl::Milliseconds(p.at("block_ms"))));
  std::vector<double> gaps = co_await std::move(ticker);
  co_await blocker;
  double max_gap = *std::max_element(gaps.begin(), gaps.end());
  co_return Metrics{{"stall_ms", max_gap - 1}, {"max_gap_ms", max_gap}};
}

Task<void> SleepingWorker(int64_t operations, absl::Duration op) {
  for (int64_t i = 0; i < operations; ++i) co_await Sleep(op);
}

Task<absl::StatusOr<Metrics>> RunThreadScaling(Params p) {
  int64_t concurrency = p.at("threads");
  int64_t tasks = p.at("tasks");
  ProcessCostMeter cost;
  std::vector<Task<void>> workers;
  for (int64_t i = 0; i < concurrency; ++i) {
    int64_t share = tasks / concurrency + (i < tasks % concurrency ? 1 : 0);
    workers.push_back(
        CreateTask(SleepingWorker(share, absl::Milliseconds(p.at("op_ms")))));
  }
  co_await Sleep(absl::ZeroDuration());
  int threads = CurrentThreadCount();
  for (Task<void>& w : workers) co_await w;
  co_return cost.Figures(threads);
}

ABSL_ATTRIBUTE_NOINLINE absl::Status FailingOperation(StackView& view) {
  view = CaptureStackView("UserCall");
  std::vector<std::string> chain;
  for (const CallFrame& frame : CaptureCallGraph().Chain()) chain.emplace_back(frame.function);
  view.user_frames_in_call_graph = CountUserFrames(chain, "UserCall");
  return absl::InternalError("the operation failed");
}

Task<absl::Status> UserCall(int64_t remaining, StackView& view) {
  if (remaining == 1) {
    co_await Sleep(absl::Milliseconds(1));
    co_return FailingOperation(view);
  }
  co_return co_await UserCall(remaining - 1, view);
}

Task<absl::StatusOr<Metrics>> RunDebugStack(Params p) {
  StackView view;
  absl::Status s = co_await UserCall(p.at("depth"), view);
  if (s.ok()) co_return absl::InternalError("the failing operation did not fail");
  co_return Metrics{{"frames_total", static_cast<double>(view.frames_total)},
                    {"user_frames_visible",
                     static_cast<double>(view.user_frames_visible)},
                    {"user_frames_in_call_graph",
                     static_cast<double>(view.user_frames_in_call_graph)},
                    {"user_frames", static_cast<double>(p.at("depth"))}};
}

}  // namespace

absl::StatusOr<Metrics> RunOnAsyncio(const Run& run, const RunContext& context) {
  const Params& p = run.params;
  switch (run.workload) {
    case Workload::kIoFanout: return RunOnLoop(RunIoFanout(p));
    case Workload::kTcpEcho:
    case Workload::kManyConnections: return RunOnLoop(RunTcpEcho(p, context));
    case Workload::kHttpFetch: return RunOnLoop(RunHttpFetch(p, context));
    case Workload::kPoolStarvation: return RunOnLoop(RunPoolStarvation(p));
    case Workload::kCpuPure: return RunOnLoop(RunCpu(p, /*native=*/false));
    case Workload::kCpuNative: return RunOnLoop(RunCpu(p, /*native=*/true));
    case Workload::kMixed: return RunOnLoop(RunMixed(p));
    case Workload::kBlockingCall: return RunOnLoop(RunBlockingCall(p));
    case Workload::kThreadScaling: return RunOnLoop(RunThreadScaling(p));
    case Workload::kDebugStack: return RunOnLoop(RunDebugStack(p));
  }
  return absl::InvalidArgumentError("unknown workload");
}

}  // namespace harness
