// The thread models: threadpool workers running as emulated interpreter
// threads under gil_model, with the new GIL (threads_gil) or the
// free-threaded policy (threads_free). The code between the readability
// markers is written as a Python user writes ThreadPoolExecutor code: plain
// calls and blocking I/O (which releases the GIL, as CPython's does).

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gil_model/gil.h"
#include "harness/adapters.h"
#include "harness/blocking_socket.h"
#include "harness/http_fetch.h"
#include "harness/measure.h"
#include "harness/python_thread.h"
#include "harness/stack_view.h"
#include "threadpool/thread_pool.h"

namespace harness {
namespace {

using threadpool::Future;
using threadpool::ThreadPoolExecutor;

// A GIL and a pool whose workers are interpreter threads attached to it.
// The pool is declared last so that it is destroyed (its workers joined and
// detached) before the GIL.
struct PythonThreads {
  std::unique_ptr<gil_model::Gil> gil;
  std::unique_ptr<ThreadPoolExecutor> pool;
};

absl::StatusOr<PythonThreads> StartThreads(gil_model::GilPolicy policy,
                                           int64_t max_workers) {
  PythonThreads threads;
  absl::StatusOr<std::unique_ptr<gil_model::Gil>> gil =
      gil_model::Gil::Create({.policy = policy});
  if (!gil.ok()) return gil.status();
  threads.gil = *std::move(gil);
  gil_model::Gil* raw = threads.gil.get();
  absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> pool =
      ThreadPoolExecutor::Create(
          {.max_workers = static_cast<int>(max_workers),
           .thread_name_prefix = "py-worker",
           .initializer = [raw] { return AttachToGil(*raw, "worker"); }});
  if (!pool.ok()) return pool.status();
  threads.pool = *std::move(pool);
  return threads;
}

// Waits for every future and returns the first error.
absl::Status WaitAll(std::vector<Future<void>>& futures) {
  absl::Status first;
  for (Future<void>& f : futures) first.Update(f.Result());
  return first;
}

// Submits `task` `count` times; on a submit error, waits for what was
// submitted (the tasks may refer to the caller's locals) and reports it.
template <typename Task>
absl::Status SubmitAndWait(ThreadPoolExecutor& pool, int64_t count, Task task) {
  std::vector<Future<void>> futures;
  futures.reserve(static_cast<size_t>(count));
  absl::Status submitted;
  for (int64_t i = 0; i < count && submitted.ok(); ++i) {
    absl::StatusOr<Future<void>> f = pool.Submit(task);
    if (f.ok()) {
      futures.push_back(*std::move(f));
    } else {
      submitted = f.status();
    }
  }
  absl::Status done = WaitAll(futures);
  return submitted.ok() ? done : submitted;
}

// [readability:io_fanout]
absl::Status IoFanout(ThreadPoolExecutor& pool, int64_t n, absl::Duration wait,
                      const std::function<void()>& on_all_started) {
  std::atomic<int64_t> started = 0;
  return SubmitAndWait(pool, n, [&] {
    HoldGil python;
    if (++started == n) on_all_started();
    BlockingSleep(wait);
  });
}
// [end]

absl::StatusOr<Metrics> RunIoFanout(gil_model::GilPolicy policy, const Params& p) {
  int64_t n = p.at("n");
  absl::Duration wait = absl::Milliseconds(p.at("wait_ms"));
  int64_t rss_before = CurrentRssBytes();
  absl::StatusOr<PythonThreads> threads =
      StartThreads(policy, std::min(n, p.at("max_threads")));
  if (!threads.ok()) return threads.status();
  std::atomic<int> peak_threads = 0;
  absl::Time start = absl::Now();
  absl::Status s = IoFanout(*threads->pool, n, wait,
                            [&] { peak_threads = CurrentThreadCount(); });
  double wall = absl::ToDoubleSeconds(absl::Now() - start);
  if (!s.ok()) return s;
  double rss = static_cast<double>(std::max<int64_t>(0, PeakRssBytes() - rss_before));
  return Metrics{{"wall_s", wall},
                 {"rss_bytes", rss},
                 {"bytes_per_task", rss / static_cast<double>(n)},
                 {"us_per_task",
                  std::max(0.0, wall - absl::ToDoubleSeconds(wait)) * 1e6 /
                      static_cast<double>(n)},
                 {"threads", static_cast<double>(peak_threads.load())}};
}

// [readability:tcp_echo]
absl::Status EchoServer(ThreadPoolExecutor& pool, int64_t connections,
                        const std::function<void(int)>& on_listening) {
  absl::StatusOr<Socket> listener = ListenOnLoopback();
  if (!listener.ok()) return listener.status();
  absl::StatusOr<int> port = listener->Port();
  if (!port.ok()) return port.status();
  on_listening(*port);
  std::vector<Future<void>> handlers;
  absl::Status accepted;
  for (int64_t i = 0; i < connections && accepted.ok(); ++i) {
    absl::StatusOr<Socket> conn = listener->Accept();
    if (!conn.ok()) {
      accepted = conn.status();
      break;
    }
    absl::StatusOr<Future<void>> handler = pool.Submit(
        [conn = *std::move(conn)]() mutable -> absl::Status {
          HoldGil python;
          char buffer[4096];
          while (true) {
            absl::StatusOr<size_t> n = conn.Recv(absl::MakeSpan(buffer));
            if (!n.ok() || *n == 0) return n.status();
            absl::Status sent = conn.SendAll({buffer, *n});
            if (!sent.ok()) return sent;
          }
        });
    if (handler.ok()) handlers.push_back(*std::move(handler));
    else accepted = handler.status();
  }
  absl::Status served = WaitAll(handlers);
  return accepted.ok() ? served : accepted;
}
// [end]

absl::StatusOr<Metrics> RunTcpEcho(gil_model::GilPolicy policy, const Params& p,
                                   const RunContext& context) {
  absl::StatusOr<PythonThreads> threads = StartThreads(policy, p.at("connections"));
  if (!threads.ok()) return threads.status();
  absl::Duration cpu_before = ProcessCpuTime();
  absl::Status s = EchoServer(*threads->pool, p.at("connections"),
                              context.announce_port);
  if (!s.ok()) return s;
  double cpu_us = absl::ToDoubleMicroseconds(ProcessCpuTime() - cpu_before);
  return Metrics{{"server_cpu_us_per_request",
                  cpu_us / static_cast<double>(p.at("requests"))}};
}

// Pure work is bytecode (holds the GIL, checks the eval breaker); native work
// hashes with the GIL released.
absl::StatusOr<Metrics> RunCpu(gil_model::GilPolicy policy, const Params& p,
                               bool native) {
  int64_t tasks = p.at("tasks");
  absl::Duration work = absl::Milliseconds(p.at("work_ms"));
  absl::StatusOr<PythonThreads> threads = StartThreads(policy, tasks);
  if (!threads.ok()) return threads.status();
  const gil_model::BytecodeWork& bytecode = threads->gil->work();
  int64_t units = native ? CalibrateUnits(work, [](int64_t bytes) { HashBytes(bytes); })
                         : CalibrateUnits(work, [&](int64_t u) { RunPureWork(bytecode, u); });
  auto one_task = [native, units] {
    HoldGil python;
    if (native) {
      Blocking([units] { HashBytes(units); });
      return absl::OkStatus();
    }
    return python.thread().RunBytecode(units);
  };
  absl::Time start = absl::Now();
  absl::Status s = SubmitAndWait(*threads->pool, 1, [&] {
    absl::Status all;
    for (int64_t i = 0; i < tasks; ++i) all.Update(one_task());
    return all;
  });
  const absl::Duration sequential = absl::Now() - start;
  if (!s.ok()) return s;
  start = absl::Now();
  s = SubmitAndWait(*threads->pool, tasks, one_task);
  const absl::Duration concurrent = absl::Now() - start;
  if (!s.ok()) return s;
  return CpuSpeedupFigures(sequential, concurrent);
}

// Lateness of `count` 1 ms sleeps, in ms, as seen by Python code: the time
// to get the GIL back after the sleep counts.
std::vector<double> ProbeLags(int64_t count) {
  std::vector<double> lags;
  for (int64_t i = 0; i < count; ++i) {
    absl::Time start = absl::Now();
    BlockingSleep(absl::Milliseconds(1));
    lags.push_back(absl::ToDoubleMilliseconds(absl::Now() - start) - 1);
  }
  return lags;
}

absl::StatusOr<Metrics> RunMixed(gil_model::GilPolicy policy, const Params& p) {
  absl::StatusOr<PythonThreads> threads = StartThreads(policy, 2);
  if (!threads.ok()) return threads.status();
  const gil_model::BytecodeWork& bytecode = threads->gil->work();
  int64_t slice = CalibrateUnits(absl::Milliseconds(p.at("slice_ms")),
                                 [&](int64_t u) { RunPureWork(bytecode, u); });
  std::vector<double> idle;
  std::vector<double> busy;
  absl::Status s = SubmitAndWait(*threads->pool, 1, [&] {
    HoldGil python;
    idle = ProbeLags(p.at("probes"));
  });
  if (!s.ok()) return s;
  std::atomic<bool> running = true;
  absl::StatusOr<Future<void>> cpu = threads->pool->Submit([&]() -> absl::Status {
    HoldGil python;
    while (running) {
      if (absl::Status r = python.thread().RunBytecode(slice); !r.ok()) return r;
    }
    return absl::OkStatus();
  });
  if (!cpu.ok()) return cpu.status();
  s = SubmitAndWait(*threads->pool, 1, [&] {
    HoldGil python;
    busy = ProbeLags(p.at("probes"));
  });
  running = false;
  s.Update(cpu->Result());
  if (!s.ok()) return s;
  return Metrics{{"idle_lag_p50_ms", Percentile(idle, 0.5)},
                 {"lag_p50_ms", Percentile(busy, 0.5)},
                 {"lag_p99_ms", Percentile(busy, 0.99)}};
}

absl::StatusOr<Metrics> RunBlockingCall(gil_model::GilPolicy policy,
                                        const Params& p) {
  absl::StatusOr<PythonThreads> threads = StartThreads(policy, 2);
  if (!threads.ok()) return threads.status();
  std::vector<double> gaps;
  absl::StatusOr<Future<void>> ticker = threads->pool->Submit([&] {
    HoldGil python;
    absl::Time last = absl::Now();
    for (int64_t i = 0; i < p.at("ticks"); ++i) {
      BlockingSleep(absl::Milliseconds(1));
      absl::Time now = absl::Now();
      gaps.push_back(absl::ToDoubleMilliseconds(now - last));
      last = now;
    }
  });
  if (!ticker.ok()) return ticker.status();
  absl::Status s = SubmitAndWait(*threads->pool, 1, [&] {
    HoldGil python;
    BlockingSleep(absl::Milliseconds(20));
    // A synchronous library call: it blocks in the kernel and, like any C
    // extension that blocks, releases the GIL meanwhile.
    Blocking([&] { absl::SleepFor(absl::Milliseconds(p.at("block_ms"))); });
  });
  s.Update(ticker->Result());
  if (!s.ok()) return s;
  double max_gap = *std::max_element(gaps.begin(), gaps.end());
  return Metrics{{"stall_ms", max_gap - 1}, {"max_gap_ms", max_gap}};
}

absl::StatusOr<Metrics> RunThreadScaling(gil_model::GilPolicy policy,
                                         const Params& p) {
  ProcessCostMeter cost;
  absl::StatusOr<PythonThreads> threads = StartThreads(policy, p.at("threads"));
  if (!threads.ok()) return threads.status();
  absl::Duration op = absl::Milliseconds(p.at("op_ms"));
  absl::Status s = SubmitAndWait(*threads->pool, p.at("tasks"), [op] {
    HoldGil python;
    BlockingSleep(op);
  });
  if (!s.ok()) return s;
  int thread_count = CurrentThreadCount();
  threads->pool->Shutdown();
  return cost.Figures(thread_count);
}

// Counts the fetches under way and the most at once.
class InFlight {
 public:
  class Scope {
   public:
    explicit Scope(InFlight& counter) : counter_(counter) {
      int64_t now = ++counter_.now_;
      int64_t peak = counter_.peak_.load();
      while (now > peak && !counter_.peak_.compare_exchange_weak(peak, now)) {
      }
    }
    ~Scope() { --counter_.now_; }

   private:
    InFlight& counter_;
  };
  int64_t peak() const { return peak_.load(); }

 private:
  std::atomic<int64_t> now_ = 0;
  std::atomic<int64_t> peak_ = 0;
};

// [readability:http_fetch]
// The seed's fetch_data_sync: one blocking connection per fetch.
absl::Status FetchPage(int port) {
  absl::StatusOr<Socket> conn = ConnectToLoopback(port);
  if (!conn.ok()) return conn.status();
  if (absl::Status s = conn->SendAll(kHttpRequest); !s.ok()) return s;
  std::string response;
  char buffer[4096];
  while (true) {
    absl::StatusOr<size_t> n = conn->Recv(absl::MakeSpan(buffer));
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    response.append(buffer, *n);
  }
  return CheckHttpResponse(response);
}

std::vector<absl::Status> FetchAll(ThreadPoolExecutor& pool, int64_t n, int port,
                                   InFlight& in_flight, absl::Status& submitted) {
  std::vector<Future<void>> futures;
  for (int64_t i = 0; i < n && submitted.ok(); ++i) {
    absl::StatusOr<Future<void>> f = pool.Submit([port, &in_flight] {
      HoldGil python;
      InFlight::Scope counted(in_flight);
      return FetchPage(port);
    });
    if (f.ok()) futures.push_back(*std::move(f));
    else submitted = f.status();
  }
  std::vector<absl::Status> outcomes;
  for (Future<void>& f : futures) outcomes.push_back(f.Result());
  return outcomes;
}
// [end]

absl::StatusOr<Metrics> RunHttpFetch(gil_model::GilPolicy policy, const Params& p,
                                     const RunContext& context) {
  const int64_t n = p.at("n");
  const int64_t workers = p.at("workers");
  int64_t rss_before = CurrentRssBytes();
  absl::Duration cpu_before = ProcessCpuTime();
  absl::StatusOr<PythonThreads> threads = StartThreads(policy, workers);
  if (!threads.ok()) return threads.status();
  absl::Time start = absl::Now();
  absl::Status submitted;
  InFlight in_flight;
  std::vector<absl::Status> outcomes =
      FetchAll(*threads->pool, n, context.server_port, in_flight, submitted);
  absl::Duration wall = absl::Now() - start;
  if (!submitted.ok()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "could only start ", outcomes.size(), " of ", n, " fetches on a pool of ",
        workers, " threads: ", submitted.message()));
  }
  if (absl::Status s = AllFetched(outcomes); !s.ok()) return s;
  // The pool's workers stay until shutdown: all the threads the fetches used.
  int thread_count = CurrentThreadCount();
  return FetchFigures({.n = n,
                       .peak_in_flight = in_flight.peak(),
                       .wall = wall,
                       .rss_growth = PeakRssBytes() - rss_before,
                       .threads = thread_count,
                       .cpu = ProcessCpuTime() - cpu_before});
}

// Tasks arrive on schedule and queue for the pool's workers; each records
// how long after its arrival it finished.
absl::StatusOr<Metrics> RunPoolStarvation(gil_model::GilPolicy policy,
                                          const Params& p) {
  absl::StatusOr<PythonThreads> threads = StartThreads(policy, p.at("workers"));
  if (!threads.ok()) return threads.status();
  const int64_t tasks = p.at("rate_per_s") * p.at("window_ms") / 1000;
  const absl::Duration gap = absl::Seconds(1) / p.at("rate_per_s");
  std::vector<double> latency_ms(static_cast<size_t>(tasks));
  std::vector<Future<void>> futures;
  absl::Status submitted;
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < tasks && submitted.ok(); ++i) {
    const absl::Time arrival = start + gap * i;
    absl::SleepFor(arrival - absl::Now());
    const absl::Duration block =
        absl::Milliseconds(IsLongTask(i, p.at("long_pct")) ? p.at("long_ms")
                                                           : p.at("short_ms"));
    double* slot = &latency_ms[static_cast<size_t>(i)];
    absl::StatusOr<Future<void>> f = threads->pool->Submit([arrival, block, slot] {
      HoldGil python;
      BlockingSleep(block);
      *slot = absl::ToDoubleMilliseconds(absl::Now() - arrival);
    });
    if (f.ok()) futures.push_back(*std::move(f));
    else submitted = f.status();
  }
  submitted.Update(WaitAll(futures));
  if (!submitted.ok()) return submitted;
  std::vector<double> short_ms;
  int64_t long_tasks = 0;
  for (int64_t i = 0; i < tasks; ++i) {
    if (IsLongTask(i, p.at("long_pct"))) ++long_tasks;
    else short_ms.push_back(latency_ms[static_cast<size_t>(i)]);
  }
  return StarvationFigures(short_ms, long_tasks);
}

// The failing operation captures the stack it runs on, then fails.
ABSL_ATTRIBUTE_NOINLINE absl::Status FailingOperation(StackView& view) {
  view = CaptureStackView("UserCall");
  return absl::InternalError("the operation failed");
}

ABSL_ATTRIBUTE_NOINLINE absl::Status UserCall(int64_t remaining, StackView& view) {
  absl::Status s;
  if (remaining == 1) {
    BlockingSleep(absl::Milliseconds(1));
    s = FailingOperation(view);
  } else {
    s = UserCall(remaining - 1, view);
  }
  // Not a tail call: every caller stays on the stack, as in the source.
  asm volatile("" ::: "memory");
  return s;
}

absl::StatusOr<Metrics> RunDebugStack(gil_model::GilPolicy policy,
                                      const Params& p) {
  absl::StatusOr<PythonThreads> threads = StartThreads(policy, 1);
  if (!threads.ok()) return threads.status();
  StackView view;
  absl::StatusOr<Future<void>> f = threads->pool->Submit([&] {
    HoldGil python;
    return UserCall(p.at("depth"), view);
  });
  if (!f.ok()) return f.status();
  if (f->Result().ok()) {
    return absl::InternalError("the failing operation did not fail");
  }
  return Metrics{{"frames_total", static_cast<double>(view.frames_total)},
                 {"user_frames_visible", static_cast<double>(view.user_frames_visible)},
                 {"user_frames", static_cast<double>(p.at("depth"))}};
}

absl::StatusOr<Metrics> RunOnThreads(gil_model::GilPolicy policy, const Run& run,
                                     const RunContext& context) {
  const Params& p = run.params;
  switch (run.workload) {
    case Workload::kIoFanout: return RunIoFanout(policy, p);
    case Workload::kTcpEcho:
    case Workload::kManyConnections: return RunTcpEcho(policy, p, context);
    case Workload::kHttpFetch: return RunHttpFetch(policy, p, context);
    case Workload::kPoolStarvation: return RunPoolStarvation(policy, p);
    case Workload::kCpuPure: return RunCpu(policy, p, /*native=*/false);
    case Workload::kCpuNative: return RunCpu(policy, p, /*native=*/true);
    case Workload::kMixed: return RunMixed(policy, p);
    case Workload::kBlockingCall: return RunBlockingCall(policy, p);
    case Workload::kThreadScaling: return RunThreadScaling(policy, p);
    case Workload::kDebugStack: return RunDebugStack(policy, p);
  }
  return absl::InvalidArgumentError("unknown workload");
}

}  // namespace

absl::StatusOr<Metrics> RunOnThreadsWithGil(const Run& run,
                                            const RunContext& context) {
  return RunOnThreads(gil_model::GilPolicy::kNewGil, run, context);
}

absl::StatusOr<Metrics> RunOnFreeThreads(const Run& run, const RunContext& context) {
  return RunOnThreads(gil_model::GilPolicy::kFreeThreaded, run, context);
}

}  // namespace harness
