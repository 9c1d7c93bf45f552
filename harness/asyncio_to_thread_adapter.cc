// The asyncio + to_thread model: the event loop keeps the I/O and offloads
// CPU work and blocking calls to a threadpool::ThreadPoolExecutor with
// futures_bridge::RunInExecutor, as asyncio.to_thread does with the loop's
// default ThreadPoolExecutor (loop.run_in_executor(None, fn)).
//
// As in CPython, the loop thread and the pool's workers are interpreter
// threads under one GIL (gil_model's new GIL): each holds it while it runs
// Python code and releases it while it waits (the loop in its kernel wait,
// a worker in a blocking call or while idle). So offloaded pure-Python work
// still takes turns with the loop, and native work that releases the GIL
// runs in parallel.

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/call_graph.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "futures_bridge/wrap_future.h"
#include "gil_model/gil.h"
#include "harness/adapters.h"
#include "harness/measure.h"
#include "harness/python_thread.h"
#include "harness/stack_view.h"
#include "threadpool/thread_pool.h"

namespace harness {
namespace {

using asyncio_like::CallFrame;
using asyncio_like::CaptureCallGraph;
using asyncio_like::CreateTask;
using asyncio_like::Sleep;
using asyncio_like::Task;
using futures_bridge::RunInExecutor;

// The GIL and a pool of interpreter threads (destroyed first), the executor
// the loop offloads to. The loop thread attaches for the lifetime
// of the object.
class OffloadRuntime {
 public:
  static absl::StatusOr<std::unique_ptr<OffloadRuntime>> Start(int workers) {
    absl::StatusOr<std::unique_ptr<gil_model::Gil>> gil = gil_model::Gil::Create({});
    if (!gil.ok()) return gil.status();
    auto runtime = std::unique_ptr<OffloadRuntime>(new OffloadRuntime());
    runtime->gil_ = *std::move(gil);
    gil_model::Gil* raw = runtime->gil_.get();
    absl::StatusOr<std::unique_ptr<threadpool::ThreadPoolExecutor>> pool =
        threadpool::ThreadPoolExecutor::Create(
            {.max_workers = workers,
             .thread_name_prefix = "to-thread",
             .initializer = [raw] { return AttachToGil(*raw, "worker"); }});
    if (!pool.ok()) return pool.status();
    runtime->pool_ = *std::move(pool);
    if (absl::Status s = AttachToGil(*raw, "loop"); !s.ok()) return s;
    runtime->loop_attached_ = true;
    return runtime;
  }

  ~OffloadRuntime() {
    pool_.reset();
    if (loop_attached_) DetachFromGil();
  }

  const gil_model::BytecodeWork& bytecode() const { return gil_->work(); }
  threadpool::ThreadPoolExecutor& executor() { return *pool_; }

 private:
  OffloadRuntime() = default;

  std::unique_ptr<gil_model::Gil> gil_;
  std::unique_ptr<threadpool::ThreadPoolExecutor> pool_;
  bool loop_attached_ = false;
};

absl::StatusOr<Metrics> RunOnLoop(Task<absl::StatusOr<Metrics>> main) {
  absl::StatusOr<absl::StatusOr<Metrics>> result = asyncio_like::Run(std::move(main));
  if (!result.ok()) return result.status();
  return *std::move(result);
}

Task<absl::StatusOr<Metrics>> RunCpu(OffloadRuntime& rt, Params p, bool native) {
  int64_t tasks = p.at("tasks");
  absl::Duration work = absl::Milliseconds(p.at("work_ms"));
  const gil_model::BytecodeWork& bytecode = rt.bytecode();
  int64_t units = native ? CalibrateUnits(work, [](int64_t b) { HashBytes(b); })
                         : CalibrateUnits(work, [&](int64_t u) { RunPureWork(bytecode, u); });
  auto cpu_work = [units, native]() -> absl::Status {
    HoldGil python;
    if (!native) return python.thread().RunBytecode(units);
    Blocking([units] { HashBytes(units); });
    return absl::OkStatus();
  };
  absl::Status status;
  absl::Time start = absl::Now();
  for (int64_t i = 0; i < tasks; ++i) {
    status.Update(co_await RunInExecutor(rt.executor(), cpu_work));
  }
  const absl::Duration sequential = absl::Now() - start;
  start = absl::Now();
  std::vector<Task<absl::Status>> offloaded;
  for (int64_t i = 0; i < tasks; ++i) {
    offloaded.push_back(CreateTask(RunInExecutor(rt.executor(), cpu_work)));
  }
  for (Task<absl::Status>& t : offloaded) status.Update(co_await t);
  const absl::Duration concurrent = absl::Now() - start;
  if (!status.ok()) co_return status;
  co_return CpuSpeedupFigures(sequential, concurrent);
}

// Lateness of 1 ms sleeps on the loop, up to the point where the task can
// run Python code again (it needs the GIL back).
Task<std::vector<double>> ProbeLags(int64_t count) {
  std::vector<double> lags;
  for (int64_t i = 0; i < count; ++i) {
    absl::Time start = absl::Now();
    co_await Sleep(absl::Milliseconds(1));
    HoldGil python;
    lags.push_back(absl::ToDoubleMilliseconds(absl::Now() - start) - 1);
  }
  co_return lags;
}

Task<absl::StatusOr<Metrics>> RunMixed(OffloadRuntime& rt, Params p) {
  const gil_model::BytecodeWork& bytecode = rt.bytecode();
  int64_t slice = CalibrateUnits(absl::Milliseconds(p.at("slice_ms")),
                                 [&](int64_t u) { RunPureWork(bytecode, u); });
  std::vector<double> idle = co_await ProbeLags(p.at("probes"));
  auto running = std::make_shared<std::atomic<bool>>(true);
  Task<absl::Status> cpu = CreateTask(RunInExecutor(
      rt.executor(), [running, slice]() -> absl::Status {
        HoldGil python;
        while (*running) {
          if (absl::Status s = python.thread().RunBytecode(slice); !s.ok()) return s;
        }
        return absl::OkStatus();
      }));
  co_await Sleep(absl::ZeroDuration());
  std::vector<double> busy = co_await ProbeLags(p.at("probes"));
  *running = false;
  absl::Status s = co_await cpu;
  if (!s.ok()) co_return s;
  co_return Metrics{{"idle_lag_p50_ms", Percentile(idle, 0.5)},
                    {"lag_p50_ms", Percentile(busy, 0.5)},
                    {"lag_p99_ms", Percentile(busy, 0.99)}};
}

Task<std::vector<double>> Ticker(int64_t ticks) {
  std::vector<double> gaps;
  absl::Time last = absl::Now();
  for (int64_t i = 0; i < ticks; ++i) {
    co_await Sleep(absl::Milliseconds(1));
    HoldGil python;
    absl::Time now = absl::Now();
    gaps.push_back(absl::ToDoubleMilliseconds(now - last));
    last = now;
  }
  co_return gaps;
}

Task<void> OffloadedLibraryCall(OffloadRuntime& rt, absl::Duration block) {
  co_await Sleep(absl::Milliseconds(20));
  co_await RunInExecutor(rt.executor(), [block] {
    HoldGil python;
    BlockingSleep(block);  // the synchronous library call, on a worker
  });
}

Task<absl::StatusOr<Metrics>> RunBlockingCall(OffloadRuntime& rt, Params p) {
  Task<std::vector<double>> ticker = CreateTask(Ticker(p.at("ticks")));
  Task<void> blocker =
      CreateTask(OffloadedLibraryCall(rt, absl::Milliseconds(p.at("block_ms"))));
  std::vector<double> gaps = co_await std::move(ticker);
  co_await blocker;
  double max_gap = *std::max_element(gaps.begin(), gaps.end());
  co_return Metrics{{"stall_ms", max_gap - 1}, {"max_gap_ms", max_gap}};
}

ABSL_ATTRIBUTE_NOINLINE absl::Status FailingOperation(StackView& view) {
  view = CaptureStackView("UserCall");
  std::vector<std::string> chain;
  for (const CallFrame& frame : CaptureCallGraph().Chain()) chain.emplace_back(frame.function);
  view.user_frames_in_call_graph = CountUserFrames(chain, "UserCall");
  return absl::InternalError("the operation failed");
}

// The blocking step that the innermost user function offloads; it fails on
// the worker thread.
auto BlockingStep(StackView& view) {
  return [&view] {
    HoldGil python;
    BlockingSleep(absl::Milliseconds(1));
    return FailingOperation(view);
  };
}

Task<absl::Status> UserCall(OffloadRuntime& rt, int64_t remaining,
                            StackView& view) {
  if (remaining == 1) {
    co_return co_await RunInExecutor(rt.executor(), BlockingStep(view));
  }
  co_return co_await UserCall(rt, remaining - 1, view);
}

Task<absl::StatusOr<Metrics>> RunDebugStack(OffloadRuntime& rt, Params p) {
  StackView view;
  absl::Status s = co_await UserCall(rt, p.at("depth"), view);
  if (s.ok()) co_return absl::InternalError("the failing operation did not fail");
  co_return Metrics{{"frames_total", static_cast<double>(view.frames_total)},
                    {"user_frames_visible",
                     static_cast<double>(view.user_frames_visible)},
                    {"user_frames_in_call_graph",
                     static_cast<double>(view.user_frames_in_call_graph)},
                    {"user_frames", static_cast<double>(p.at("depth"))}};
}

// Each arriving task is a blocking call offloaded with to_thread: it waits
// for a free worker of the executor, as in a plain pool.
Task<void> Offloaded(OffloadRuntime& rt, absl::Time arrival, absl::Duration block,
                     double& latency_ms) {
  co_await RunInExecutor(rt.executor(), [block] {
    HoldGil python;
    BlockingSleep(block);
  });
  latency_ms = absl::ToDoubleMilliseconds(absl::Now() - arrival);
}

Task<absl::StatusOr<Metrics>> RunPoolStarvation(OffloadRuntime& rt, Params p) {
  const int64_t tasks = p.at("rate_per_s") * p.at("window_ms") / 1000;
  const absl::Duration gap = absl::Seconds(1) / p.at("rate_per_s");
  std::vector<double> latency_ms(static_cast<size_t>(tasks));
  std::vector<Task<void>> running;
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < tasks; ++i) {
    const absl::Time arrival = start + gap * i;
    co_await Sleep(arrival - absl::Now());
    const absl::Duration block =
        absl::Milliseconds(IsLongTask(i, p.at("long_pct")) ? p.at("long_ms")
                                                           : p.at("short_ms"));
    running.push_back(CreateTask(
        Offloaded(rt, arrival, block, latency_ms[static_cast<size_t>(i)])));
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

}  // namespace

absl::StatusOr<Metrics> RunOnAsyncioToThread(const Run& run, const RunContext&) {
  // Python's default executor: min(32, cores + 4) workers.
  // pool_starvation sizes the executor as the pool it compares with
  // (loop.set_default_executor(ThreadPoolExecutor(workers))).
  int workers = static_cast<int>(
      std::min<unsigned>(32, std::thread::hardware_concurrency() + 4));
  if (run.workload == Workload::kPoolStarvation) {
    workers = static_cast<int>(run.params.at("workers"));
  }
  absl::StatusOr<std::unique_ptr<OffloadRuntime>> rt = OffloadRuntime::Start(workers);
  if (!rt.ok()) return rt.status();
  const Params& p = run.params;
  switch (run.workload) {
    case Workload::kCpuPure: return RunOnLoop(RunCpu(**rt, p, /*native=*/false));
    case Workload::kCpuNative: return RunOnLoop(RunCpu(**rt, p, /*native=*/true));
    case Workload::kMixed: return RunOnLoop(RunMixed(**rt, p));
    case Workload::kBlockingCall: return RunOnLoop(RunBlockingCall(**rt, p));
    case Workload::kDebugStack: return RunOnLoop(RunDebugStack(**rt, p));
    case Workload::kPoolStarvation: return RunOnLoop(RunPoolStarvation(**rt, p));
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "asyncio_to_thread does not run ", WorkloadName(run.workload)));
  }
}

}  // namespace harness
