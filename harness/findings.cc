// BuildReport: the seed's table and claims, each tested against the figures
// of one run. One function per cell or claim; each states its criterion.

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "harness/report.h"

namespace harness {
namespace {

// ---------------------------------------------------------------------------
// Looking figures up in the results.
// ---------------------------------------------------------------------------

class Figures {
 public:
  explicit Figures(const Results& results) : results_(results) {}

  // The median of `metric` for `model` on `workload`, in the cell whose
  // parameters include `match`; nullopt if not measured.
  std::optional<double> Get(absl::string_view model, Workload workload,
                            absl::string_view metric,
                            const Params& match = {}) const {
    const Cell* cell = Find(model, workload, match);
    if (cell == nullptr) return std::nullopt;
    auto it = cell->median.find(std::string(metric));
    if (it == cell->median.end()) return std::nullopt;
    return it->second;
  }

  const Cell* Find(absl::string_view model, Workload workload,
                   const Params& match) const {
    for (const Cell& cell : results_.cells) {
      if (cell.model->name != model || cell.workload != workload ||
          cell.status != RunStatus::kOk || cell.repetitions.empty()) {
        continue;
      }
      bool all = std::all_of(match.begin(), match.end(), [&](const auto& kv) {
        auto it = cell.params.find(kv.first);
        return it != cell.params.end() && it->second == kv.second;
      });
      if (all) return &cell;
    }
    return nullptr;
  }

  // The smallest / largest value of a parameter over the planned runs.
  std::optional<int64_t> ParamExtreme(Workload workload, absl::string_view name,
                                      bool largest) const {
    std::optional<int64_t> best;
    for (const Cell& cell : results_.cells) {
      if (cell.workload != workload) continue;
      auto it = cell.params.find(std::string(name));
      if (it == cell.params.end()) continue;
      if (!best || (largest ? it->second > *best : it->second < *best)) {
        best = it->second;
      }
    }
    return best;
  }

  std::optional<RegionCount> Lines(absl::string_view model,
                                   Workload workload) const {
    for (const Readability& r : results_.readability) {
      if (r.model->name == model && r.workload == workload && r.count.ok()) {
        return *r.count;
      }
    }
    return std::nullopt;
  }

  const std::vector<Cell>& cells() const { return results_.cells; }
  const Options& options() const { return results_.options; }

  // Two native threads vs one during the run (median of samples): the
  // ceiling of any parallel speed-up.
  double Parallelism() const {
    const Json* p = results_.machine.Get("parallel_speedup_available");
    return p != nullptr && p->is_number() ? p->number() : 0;
  }

 private:
  const Results& results_;
};

std::string Times(double ratio) { return FormatRatio(ratio); }
std::string Ms(double ms) { return FormatDurationSeconds(ms / 1000); }

// "not measured" findings name what is missing.
Finding Missing(std::string claim, absl::string_view what) {
  return {std::move(claim), absl::StrCat("not measured: ", what),
          Verdict::kNotMeasured, ""};
}

// Combines the verdicts of the C++ model and of CPython for one claim: both
// agree, or only one of them shows it ("partly").
Verdict Combine(bool cpp, std::optional<bool> cpython) {
  if (!cpython.has_value()) return cpp ? Verdict::kReproduced : Verdict::kNotReproduced;
  if (cpp && *cpython) return Verdict::kReproduced;
  if (cpp || *cpython) return Verdict::kPartly;
  return Verdict::kNotReproduced;
}

// ---------------------------------------------------------------------------
// The table.
// ---------------------------------------------------------------------------

TableRow ConcurrencyModel(const Figures& f) {
  TableRow row{"Concurrency Model", {}, {}};
  std::optional<int64_t> n = f.ParamExtreme(Workload::kIoFanout, "n", true);
  auto threads = [&](absl::string_view model) {
    return n ? f.Get(model, Workload::kIoFanout, "threads", {{"n", *n}})
             : std::nullopt;
  };
  std::optional<double> loop = threads("asyncio");
  std::optional<double> py_loop = threads("cpython_asyncio");
  if (loop) {
    std::optional<bool> py;
    std::string figure = absl::StrCat(FormatCount(*loop), " OS thread(s) while ",
                                      FormatCount(*n), " tasks wait");
    if (py_loop) {
      py = *py_loop == 1;
      absl::StrAppend(&figure, "; CPython asyncio: ", FormatCount(*py_loop));
    }
    row.asyncio = {"Single-threaded event loop", figure,
                   Combine(*loop == 1, py), "counted from /proc/self/status"};
  } else {
    row.asyncio = Missing("Single-threaded event loop", "io_fanout on asyncio");
  }
  std::optional<double> gil = threads("threads_gil");
  std::optional<double> py_threads = threads("cpython_threads");
  if (gil) {
    std::optional<bool> py;
    std::string figure = absl::StrCat(FormatCount(*gil), " OS threads while ",
                                      FormatCount(*n), " tasks wait");
    if (py_threads) {
      py = *py_threads > 1;
      absl::StrAppend(&figure, "; CPython ThreadPoolExecutor: ",
                      FormatCount(*py_threads));
    }
    row.thread_pool = {"Multiple OS threads", figure, Combine(*gil > 1, py),
                       "the pool grows a worker per concurrent blocking wait"};
  } else {
    row.thread_pool = Missing("Multiple OS threads", "io_fanout on threads_gil");
  }
  return row;
}

TableRow IoEfficiency(const Figures& f) {
  TableRow row{"I/O Efficiency", {}, {}};
  std::optional<int64_t> n = f.ParamExtreme(Workload::kIoFanout, "n", true);
  auto get = [&](absl::string_view model, absl::string_view metric) {
    return n ? f.Get(model, Workload::kIoFanout, metric, {{"n", *n}})
             : std::nullopt;
  };
  auto describe = [&](absl::string_view title, absl::string_view model) {
    std::optional<double> wall = get(model, "wall_s");
    std::optional<double> us = get(model, "us_per_task");
    std::optional<double> bytes = get(model, "bytes_per_task");
    if (!wall || !us || !bytes) return std::string();
    return absl::StrFormat("%s %s (%s/task, %s/task)", title,
                           FormatDurationSeconds(*wall),
                           FormatDurationSeconds(*us / 1e6), FormatBytes(*bytes));
  };
  std::string loop = describe("asyncio", "asyncio");
  std::string pool = describe("threads + GIL", "threads_gil");
  std::string py_loop = describe("CPython asyncio", "cpython_asyncio");
  std::string py_pool = describe("CPython threads", "cpython_threads");
  if (loop.empty() || pool.empty()) {
    row.asyncio = Missing("Very high for many concurrent tasks",
                          "io_fanout on asyncio and threads_gil");
  } else {
    double cpp_ratio = *get("threads_gil", "us_per_task") /
                       std::max(1e-9, *get("asyncio", "us_per_task"));
    std::optional<bool> py;
    std::string figure = absl::StrCat(FormatCount(*n), " waits: ", loop, " vs ",
                                      pool);
    std::string why = absl::StrCat("per-task cost ", Times(cpp_ratio),
                                   " lower than threads");
    if (!py_loop.empty() && !py_pool.empty()) {
      double py_ratio = *get("cpython_threads", "us_per_task") /
                        std::max(1e-9, *get("cpython_asyncio", "us_per_task"));
      py = py_ratio > 1;
      absl::StrAppend(&figure, "; ", py_loop, " vs ", py_pool);
      absl::StrAppend(&why, " (CPython: ", Times(py_ratio), ")");
    }
    row.asyncio = {"Very high for many concurrent tasks", figure,
                   Combine(cpp_ratio > 1, py), why};
  }
  std::optional<int64_t> t_min =
      f.ParamExtreme(Workload::kThreadScaling, "threads", false);
  std::optional<int64_t> t_max =
      f.ParamExtreme(Workload::kThreadScaling, "threads", true);
  auto scaling = [&](absl::string_view model, absl::string_view metric,
                     std::optional<int64_t> t) {
    return t ? f.Get(model, Workload::kThreadScaling, metric, {{"threads", *t}})
             : std::nullopt;
  };
  std::optional<double> rss_lo = scaling("threads_gil", "rss_bytes", t_min);
  std::optional<double> rss_hi = scaling("threads_gil", "rss_bytes", t_max);
  std::optional<double> wall_lo = scaling("threads_gil", "wall_s", t_min);
  std::optional<double> wall_hi = scaling("threads_gil", "wall_s", t_max);
  if (!rss_lo || !rss_hi || !wall_lo || !wall_hi || *t_min == *t_max) {
    row.thread_pool = Missing("Good, but overhead increases with many threads",
                              "thread_scaling on threads_gil at two sizes");
  } else {
    std::string figure = absl::StrFormat(
        "%s → %s threads: memory %s → %s, wall %s → %s", FormatCount(*t_min),
        FormatCount(*t_max), FormatBytes(*rss_lo), FormatBytes(*rss_hi),
        FormatDurationSeconds(*wall_lo), FormatDurationSeconds(*wall_hi));
    // Every added thread should cost at least a page of stack and its
    // kernel bookkeeping: 1 KiB is a conservative floor.
    double added = static_cast<double>(*t_max - *t_min);
    double per_thread = (*rss_hi - *rss_lo) / added;
    bool cpp = per_thread >= 1024;
    std::optional<bool> py;
    std::optional<double> py_lo = scaling("cpython_threads", "rss_bytes", t_min);
    std::optional<double> py_hi = scaling("cpython_threads", "rss_bytes", t_max);
    std::string why = absl::StrCat(FormatBytes(per_thread), " per added thread");
    if (py_lo && py_hi) {
      py = (*py_hi - *py_lo) / added >= 1024;
      absl::StrAppend(&figure, "; CPython memory ", FormatBytes(*py_lo), " → ",
                      FormatBytes(*py_hi));
      absl::StrAppend(&why, " (CPython: ", FormatBytes((*py_hi - *py_lo) / added),
                      ")");
    }
    row.thread_pool = {"Good, but overhead increases with many threads", figure,
                       Combine(cpp, py), why};
  }
  return row;
}

TableRow CpuHandling(const Figures& f) {
  TableRow row{"CPU-bound Handling", {}, {}};
  auto lag = [&](absl::string_view model) -> std::optional<std::pair<double, double>> {
    std::optional<double> idle = f.Get(model, Workload::kMixed, "idle_lag_p50_ms");
    std::optional<double> busy = f.Get(model, Workload::kMixed, "lag_p50_ms");
    if (!idle || !busy) return std::nullopt;
    return std::make_pair(*idle, *busy);
  };
  std::optional<std::pair<double, double>> loop = lag("asyncio");
  if (!loop) {
    row.asyncio = Missing("Blocks event loop, bad for CPU-heavy tasks",
                          "mixed on asyncio");
  } else {
    auto blocked = [](std::pair<double, double> l) {
      return l.second >= 1.0 && l.second >= 10 * l.first;
    };
    std::string figure = absl::StrFormat(
        "1 ms waits wake %s late while a CPU task runs (idle: %s)",
        Ms(loop->second), Ms(loop->first));
    std::optional<bool> py;
    if (std::optional<std::pair<double, double>> p = lag("cpython_asyncio")) {
      py = blocked(*p);
      absl::StrAppend(&figure, "; CPython asyncio: ", Ms(p->second), " (idle ",
                      Ms(p->first), ")");
    }
    if (std::optional<double> s = f.Get("asyncio", Workload::kCpuPure, "speedup")) {
      absl::StrAppend(&figure, "; 2 CPU tasks speed-up ", Times(*s));
    }
    row.asyncio = {"Blocks event loop, bad for CPU-heavy tasks", figure,
                   Combine(blocked(*loop), py),
                   absl::StrCat("wake-ups ", Times(loop->second /
                                                   std::max(loop->first, 1e-3)),
                                " later than idle")};
  }
  std::optional<double> pure = f.Get("threads_gil", Workload::kCpuPure, "speedup");
  std::optional<double> native =
      f.Get("threads_gil", Workload::kCpuNative, "speedup");
  if (!pure || !native) {
    row.thread_pool = Missing("Better if threads release GIL",
                              "cpu_pure and cpu_native on threads_gil");
  } else {
    // Native work must get at least half of the parallelism the machine
    // offered (and 1.2× at least), pure work must not get more than 1.3×.
    const double ceiling = f.Parallelism();
    auto shows = [ceiling](double p, double n) {
      return n >= std::max(1.2, 1 + 0.5 * (ceiling - 1)) && p <= 1.3;
    };
    std::string figure = absl::StrFormat(
        "2 threads: speed-up %s on native work that releases the GIL, %s on "
        "pure work that holds it",
        Times(*native), Times(*pure));
    std::optional<bool> py;
    std::optional<double> py_pure =
        f.Get("cpython_threads", Workload::kCpuPure, "speedup");
    std::optional<double> py_native =
        f.Get("cpython_threads", Workload::kCpuNative, "speedup");
    if (py_pure && py_native) {
      py = shows(*py_pure, *py_native);
      absl::StrAppend(&figure, "; CPython: ", Times(*py_native), " vs ",
                      Times(*py_pure));
    }
    if (std::optional<double> free =
            f.Get("threads_free", Workload::kCpuPure, "speedup")) {
      absl::StrAppend(&figure, "; no GIL, pure work: ", Times(*free));
    }
    row.thread_pool = {
        "Better if threads release GIL", figure, Combine(shows(*pure, *native), py),
        absl::StrFormat("releasing the GIL is worth %s; two native threads "
                        "got %s on this machine during the run%s",
                        Times(*native / *pure), Times(ceiling),
                        ceiling < 1.4 ? ": other processes held the second "
                                        "core, so no parallel speed-up could "
                                        "show"
                                      : "")};
  }
  return row;
}

TableRow CodeReadability(const Figures& f) {
  TableRow row{"Code Readability", {}, {}};
  auto describe = [&](absl::string_view title, absl::string_view model)
      -> std::optional<std::pair<std::string, RegionCount>> {
    std::optional<RegionCount> fan = f.Lines(model, Workload::kIoFanout);
    std::optional<RegionCount> echo = f.Lines(model, Workload::kTcpEcho);
    if (!fan || !echo) return std::nullopt;
    RegionCount sum{fan->code_lines + echo->code_lines,
                    fan->async_markers + echo->async_markers};
    return std::make_pair(
        absl::StrFormat("%s %d lines, %d async markers", title, sum.code_lines,
                        sum.async_markers),
        sum);
  };
  auto loop = describe("asyncio", "asyncio");
  auto py_loop = describe("CPython asyncio", "cpython_asyncio");
  auto pool = describe("threads", "threads_gil");
  auto py_pool = describe("CPython threads", "cpython_threads");
  const std::string what = "fan-out + echo server, counted from the source: ";
  if (!loop) {
    row.asyncio = Missing("Requires async/await, steeper learning",
                          "the asyncio adapter's source");
  } else {
    std::string figure = absl::StrCat(what, loop->first);
    std::optional<bool> py;
    if (py_loop) {
      py = py_loop->second.async_markers > 0;
      absl::StrAppend(&figure, "; ", py_loop->first);
    }
    row.asyncio = {"Requires async/await, steeper learning", figure,
                   Combine(loop->second.async_markers > 0, py),
                   "every function on the path awaits; the learning curve "
                   "itself is not measurable here"};
  }
  if (!pool) {
    row.thread_pool = Missing("Uses familiar sync patterns",
                              "the threads adapter's source");
  } else {
    std::string figure = absl::StrCat(what, pool->first);
    std::optional<bool> py;
    if (py_pool) {
      py = py_pool->second.async_markers == 0;
      absl::StrAppend(&figure, "; ", py_pool->first);
    }
    std::string why = "plain calls and blocking I/O";
    if (loop) {
      why = absl::StrFormat("%d vs %d lines for the same work",
                            pool->second.code_lines, loop->second.code_lines);
    }
    row.thread_pool = {"Uses familiar sync patterns", figure,
                       Combine(pool->second.async_markers == 0, py), why};
  }
  return row;
}

TableRow Debugging(const Figures& f) {
  TableRow row{"Debugging", {}, {}};
  auto seen = [&](absl::string_view model) -> std::optional<std::pair<double, double>> {
    std::optional<double> v = f.Get(model, Workload::kDebugStack, "user_frames_visible");
    std::optional<double> n = f.Get(model, Workload::kDebugStack, "user_frames");
    if (!v || !n) return std::nullopt;
    return std::make_pair(*v, *n);
  };
  auto text = [](absl::string_view title, std::pair<double, double> s) {
    return absl::StrFormat("%s %g of %g", title, s.first, s.second);
  };
  // The C++ asyncio models also count the callers in their async call
  // graph (CaptureCallGraph): "native stack 1 of 3, call graph 3 of 3".
  auto in_graph = [&](absl::string_view model) {
    return f.Get(model, Workload::kDebugStack, "user_frames_in_call_graph");
  };
  auto both = [&](absl::string_view title, absl::string_view model,
                  std::pair<double, double> s) {
    std::optional<double> g = in_graph(model);
    if (!g) return text(title, s);
    return absl::StrFormat("%s native stack %g of %g, call graph %g of %g", title, s.first,
                           s.second, *g, s.second);
  };
  auto loop = seen("asyncio");
  if (!loop) {
    row.asyncio = Missing("Harder due to coroutine chains", "debug_stack on asyncio");
  } else {
    std::string figure = absl::StrCat(
        "user callers visible from inside the failing operation: ",
        both("asyncio", "asyncio", *loop));
    std::optional<bool> py;
    if (auto p = seen("cpython_asyncio")) {
      py = p->first < p->second;
      absl::StrAppend(&figure, "; ", text("CPython asyncio", *p));
    }
    if (auto t = seen("asyncio_to_thread")) {
      absl::StrAppend(&figure, "; ", both("inside to_thread", "asyncio_to_thread", *t));
    }
    std::string why =
        "a resumed C++ coroutine's awaiting callers are suspended heap frames, "
        "not stack frames";
    const bool native_hides = loop->first < loop->second;
    std::optional<double> graph = in_graph("asyncio");
    // Harder only for a native debugger when the call graph names every
    // caller: the claim then holds in part.
    const bool graph_shows_all = graph && *graph >= loop->second;
    if (graph_shows_all) {
      absl::StrAppend(&why, "; the call graph the loop records as tasks suspend "
                            "names every caller");
    }
    if (py && !*py) {
      absl::StrAppend(&why, "; CPython's await chain runs nested coro.send() "
                            "calls, so its stack keeps every caller");
    }
    Verdict verdict = Combine(native_hides, py);
    if (native_hides && graph_shows_all) verdict = Verdict::kPartly;
    row.asyncio = {"Harder due to coroutine chains", figure, verdict, why};
  }
  auto pool = seen("threads_gil");
  if (!pool) {
    row.thread_pool = Missing("Easier, full trace stacks are available",
                              "debug_stack on threads_gil");
  } else {
    std::string figure = text("threads", *pool);
    std::optional<bool> py;
    if (auto p = seen("cpython_threads")) {
      py = p->first >= p->second;
      absl::StrAppend(&figure, "; ", text("CPython threads", *p));
    }
    row.thread_pool = {"Easier, full trace stacks are available", figure,
                       Combine(pool->first >= pool->second, py),
                       "every caller is a live frame on the worker's stack"};
  }
  return row;
}

TableRow LibrarySupport(const Figures& f) {
  TableRow row{"Library Support", {}, {}};
  std::optional<double> block_ms = std::nullopt;
  for (absl::string_view model : {"asyncio", "threads_gil"}) {
    if (const Cell* c = f.Find(model, Workload::kBlockingCall, {})) {
      block_ms = static_cast<double>(c->params.at("block_ms"));
    }
  }
  std::optional<double> loop = f.Get("asyncio", Workload::kBlockingCall, "stall_ms");
  if (!loop || !block_ms) {
    row.asyncio = Missing("Needs async-compatible libraries",
                          "blocking_call on asyncio");
  } else {
    std::string figure = absl::StrFormat(
        "one %s blocking call stalls every task for %s", Ms(*block_ms), Ms(*loop));
    std::optional<bool> py;
    if (auto p = f.Get("cpython_asyncio", Workload::kBlockingCall, "stall_ms")) {
      py = *p >= 0.5 * *block_ms;
      absl::StrAppend(&figure, "; CPython asyncio: ", Ms(*p));
    }
    if (auto t = f.Get("asyncio_to_thread", Workload::kBlockingCall, "stall_ms")) {
      absl::StrAppend(&figure, "; with to_thread: ", Ms(*t));
    }
    row.asyncio = {"Needs async-compatible libraries", figure,
                   Combine(*loop >= 0.5 * *block_ms, py),
                   absl::StrFormat("%.0f%% of the call's duration",
                                   100 * *loop / *block_ms)};
  }
  std::optional<double> pool =
      f.Get("threads_gil", Workload::kBlockingCall, "stall_ms");
  if (!pool || !block_ms) {
    row.thread_pool = Missing("Works with standard synchronous libraries",
                              "blocking_call on threads_gil");
  } else {
    std::string figure = absl::StrFormat(
        "the same call stalls the other threads for %s", Ms(*pool));
    std::optional<bool> py;
    if (auto p = f.Get("cpython_threads", Workload::kBlockingCall, "stall_ms")) {
      py = *p < 0.2 * *block_ms;
      absl::StrAppend(&figure, "; CPython threads: ", Ms(*p));
    }
    row.thread_pool = {"Works with standard synchronous libraries", figure,
                       Combine(*pool < 0.2 * *block_ms, py),
                       "the call releases the GIL, as blocking calls do"};
  }
  return row;
}

// ---------------------------------------------------------------------------
// The other claims.
// ---------------------------------------------------------------------------

Finding GilSerializes(const Figures& f) {
  const std::string claim =
      "The GIL ensures only one thread executes Python bytecode at any time "
      "(CPU-heavy threads don't benefit)";
  std::optional<double> gil = f.Get("threads_gil", Workload::kCpuPure, "speedup");
  if (!gil) return Missing(claim, "cpu_pure on threads_gil");
  std::string figure =
      absl::StrFormat("2 CPU-bound threads vs sequential: GIL model %s", Times(*gil));
  std::optional<bool> py;
  if (auto p = f.Get("cpython_threads", Workload::kCpuPure, "speedup")) {
    py = *p <= 1.3;
    absl::StrAppend(&figure, ", CPython ", Times(*p));
  }
  if (auto free = f.Get("threads_free", Workload::kCpuPure, "speedup")) {
    absl::StrAppend(&figure, ", free-threaded ", Times(*free));
  }
  return {claim, figure, Combine(*gil <= 1.3, py),
          absl::StrFormat("no speed-up under a GIL; the free-threaded policy "
                          "shows what the cores gave (the machine offered %s)",
                          Times(f.Parallelism()))};
}

Finding GilReleasedForIo(const Figures& f) {
  const std::string claim = "The GIL is released during I/O, so waits overlap";
  const Cell* cell = nullptr;
  for (int64_t n : {100, 10, 1000}) {
    if ((cell = f.Find("threads_gil", Workload::kIoFanout, {{"n", n}}))) break;
  }
  if (cell == nullptr || cell->params.at("n") > cell->params.at("max_threads")) {
    return Missing(claim, "io_fanout on threads_gil with N <= max_threads");
  }
  double n = static_cast<double>(cell->params.at("n"));
  double wait_s = static_cast<double>(cell->params.at("wait_ms")) / 1000;
  double wall = cell->median.at("wall_s");
  double serial = n * wait_s;
  std::string figure = absl::StrFormat(
      "%s threads each waiting %s: %s under the GIL (serialized: %s)",
      FormatCount(n), FormatDurationSeconds(wait_s), FormatDurationSeconds(wall),
      FormatDurationSeconds(serial));
  std::optional<bool> py;
  if (auto p = f.Get("cpython_threads", Workload::kIoFanout, "wall_s",
                     {{"n", cell->params.at("n")}})) {
    py = *p < 0.5 * serial;
    absl::StrAppend(&figure, "; CPython: ", FormatDurationSeconds(*p));
  }
  return {claim, figure, Combine(wall < 0.5 * serial, py),
          absl::StrFormat("%s faster than serialized", Times(serial / wall))};
}

Finding TooManyThreads(const Figures& f) {
  const std::string claim =
      "Creating too many threads causes higher memory use and slower switches";
  std::optional<int64_t> lo = f.ParamExtreme(Workload::kThreadScaling, "threads", false);
  std::optional<int64_t> hi = f.ParamExtreme(Workload::kThreadScaling, "threads", true);
  if (!lo || !hi || *lo == *hi) return Missing(claim, "thread_scaling at two sizes");
  auto get = [&](absl::string_view model, absl::string_view metric, int64_t t) {
    return f.Get(model, Workload::kThreadScaling, metric, {{"threads", t}});
  };
  auto switches = [&](absl::string_view model, int64_t t) -> std::optional<double> {
    auto v = get(model, "voluntary_switches", t);
    auto i = get(model, "involuntary_switches", t);
    if (!v || !i) return std::nullopt;
    return *v + *i;
  };
  auto describe = [&](absl::string_view model, absl::string_view title)
      -> std::optional<std::pair<std::string, bool>> {
    auto m_lo = get(model, "rss_bytes", *lo);
    auto m_hi = get(model, "rss_bytes", *hi);
    auto s_lo = switches(model, *lo);
    auto s_hi = switches(model, *hi);
    auto w_lo = get(model, "wall_s", *lo);
    auto w_hi = get(model, "wall_s", *hi);
    if (!m_lo || !m_hi || !s_lo || !s_hi || !w_lo || !w_hi) return std::nullopt;
    // Switches per second of wall time: the same operations are done either
    // way, so a faster run with the same switches switches more often.
    double rate_lo = *s_lo / *w_lo;
    double rate_hi = *s_hi / *w_hi;
    return std::make_pair(
        absl::StrFormat("%s: memory %s → %s, context switches %s → %s "
                        "(%s/s → %s/s)",
                        title, FormatBytes(*m_lo), FormatBytes(*m_hi),
                        FormatCount(*s_lo), FormatCount(*s_hi),
                        FormatCount(rate_lo), FormatCount(rate_hi)),
        (*m_hi - *m_lo) / static_cast<double>(*hi - *lo) >= 1024 && *s_hi > *s_lo);
  };
  auto cpp = describe("threads_gil", "threads + GIL");
  if (!cpp) return Missing(claim, "thread_scaling on threads_gil");
  std::string figure = absl::StrFormat("%s → %s threads, same operations. %s",
                                       FormatCount(*lo), FormatCount(*hi),
                                       cpp->first);
  std::optional<bool> py;
  if (auto p = describe("cpython_threads", "CPython")) {
    py = p->second;
    absl::StrAppend(&figure, "; ", p->first);
  }
  return {claim, figure, Combine(cpp->second, py),
          "criterion: at least 1 KiB more memory per added thread, and more "
          "context switches for the same operations"};
}

Finding OneThreadThousandsOfTasks(const Figures& f) {
  const std::string claim = "One CPU thread handles thousands of tasks efficiently";
  std::optional<int64_t> n = f.ParamExtreme(Workload::kIoFanout, "n", true);
  if (!n) return Missing(claim, "io_fanout");
  auto threads = f.Get("asyncio", Workload::kIoFanout, "threads", {{"n", *n}});
  auto wall = f.Get("asyncio", Workload::kIoFanout, "wall_s", {{"n", *n}});
  auto us = f.Get("asyncio", Workload::kIoFanout, "us_per_task", {{"n", *n}});
  if (!threads || !wall || !us) return Missing(claim, "io_fanout on asyncio");
  std::string figure = absl::StrFormat(
      "%s concurrent waits on %s thread: %s, %s per task", FormatCount(*n),
      FormatCount(*threads), FormatDurationSeconds(*wall),
      FormatDurationSeconds(*us / 1e6));
  std::optional<bool> py;
  auto p_threads = f.Get("cpython_asyncio", Workload::kIoFanout, "threads", {{"n", *n}});
  auto p_us = f.Get("cpython_asyncio", Workload::kIoFanout, "us_per_task", {{"n", *n}});
  if (p_threads && p_us) {
    py = *p_threads == 1;
    absl::StrAppend(&figure, "; CPython: ", FormatCount(*p_threads), " thread, ",
                    FormatDurationSeconds(*p_us / 1e6), " per task");
  }
  return {claim, figure, Combine(*threads == 1 && *n >= 1000, py),
          *n >= 1000 ? "thousands of tasks, one thread"
                     : "N below 1,000 in this run: not thousands"};
}

Finding FewerSwitches(const Figures& f) {
  const std::string claim = "No native threads means fewer context switches";
  std::optional<int64_t> t = f.ParamExtreme(Workload::kThreadScaling, "threads", true);
  if (!t) return Missing(claim, "thread_scaling");
  auto switches = [&](absl::string_view model) -> std::optional<double> {
    auto v = f.Get(model, Workload::kThreadScaling, "voluntary_switches", {{"threads", *t}});
    auto i = f.Get(model, Workload::kThreadScaling, "involuntary_switches", {{"threads", *t}});
    if (!v || !i) return std::nullopt;
    return *v + *i;
  };
  auto loop = switches("asyncio");
  auto pool = switches("threads_gil");
  if (!loop || !pool) return Missing(claim, "thread_scaling on asyncio and threads_gil");
  std::string figure = absl::StrFormat(
      "same blocking operations, %s in flight: asyncio %s context switches, "
      "threads + GIL %s",
      FormatCount(*t), FormatCount(*loop), FormatCount(*pool));
  std::optional<bool> py;
  auto p_loop = switches("cpython_asyncio");
  auto p_pool = switches("cpython_threads");
  if (p_loop && p_pool) {
    py = *p_loop < *p_pool;
    absl::StrAppend(&figure, "; CPython ", FormatCount(*p_loop), " vs ",
                    FormatCount(*p_pool));
  }
  return {claim, figure, Combine(*loop < *pool, py),
          absl::StrFormat("%s fewer", Times(*pool / std::max(*loop, 1.0)))};
}

Finding WaitsOverlap(const Figures& f) {
  const std::string claim =
      "Tasks run concurrently during wait times (gather of two 1 s sleeps "
      "takes 1 s)";
  std::optional<int64_t> n = f.ParamExtreme(Workload::kIoFanout, "n", false);
  if (!n) return Missing(claim, "io_fanout");
  const Cell* cell = f.Find("asyncio", Workload::kIoFanout, {{"n", *n}});
  if (cell == nullptr) return Missing(claim, "io_fanout on asyncio");
  double wait_s = static_cast<double>(cell->params.at("wait_ms")) / 1000;
  double wall = cell->median.at("wall_s");
  std::string figure = absl::StrFormat(
      "%s tasks each waiting %s: %s in total", FormatCount(*n),
      FormatDurationSeconds(wait_s), FormatDurationSeconds(wall));
  std::optional<bool> py;
  if (auto p = f.Get("cpython_asyncio", Workload::kIoFanout, "wall_s", {{"n", *n}})) {
    py = *p < 2 * wait_s;
    absl::StrAppend(&figure, "; CPython: ", FormatDurationSeconds(*p));
  }
  return {claim, figure, Combine(wall < 2 * wait_s, py),
          absl::StrFormat("%s of one wait", Times(wall / wait_s))};
}

Finding ManyOperationsHurtThreads(const Figures& f) {
  const std::string claim =
      "Thread pools: performance issues may appear with many concurrent "
      "operations";
  std::optional<int64_t> n = f.ParamExtreme(Workload::kIoFanout, "n", true);
  if (!n) return Missing(claim, "io_fanout");
  auto pool = f.Get("threads_gil", Workload::kIoFanout, "wall_s", {{"n", *n}});
  auto loop = f.Get("asyncio", Workload::kIoFanout, "wall_s", {{"n", *n}});
  if (!pool || !loop) return Missing(claim, "io_fanout on threads_gil and asyncio");
  std::string figure = absl::StrFormat(
      "%s concurrent waits: threads + GIL %s vs asyncio %s", FormatCount(*n),
      FormatDurationSeconds(*pool), FormatDurationSeconds(*loop));
  std::optional<bool> py;
  auto p_pool = f.Get("cpython_threads", Workload::kIoFanout, "wall_s", {{"n", *n}});
  auto p_loop = f.Get("cpython_asyncio", Workload::kIoFanout, "wall_s", {{"n", *n}});
  if (p_pool && p_loop) {
    py = *p_pool > 1.5 * *p_loop;
    absl::StrAppend(&figure, "; CPython ", FormatDurationSeconds(*p_pool), " vs ",
                    FormatDurationSeconds(*p_loop));
  }
  return {claim, figure, Combine(*pool > 1.5 * *loop, py),
          absl::StrFormat("threads %s slower (a pool caps its workers, so "
                          "waits queue)",
                          Times(*pool / *loop))};
}

Finding EchoEfficiency(const Figures& f) {
  const std::string claim =
      "Asyncio runs many I/O tasks in one thread more efficiently (loopback "
      "TCP echo)";
  std::optional<int64_t> c = f.ParamExtreme(Workload::kTcpEcho, "connections", true);
  if (!c) return Missing(claim, "tcp_echo");
  auto get = [&](absl::string_view model, absl::string_view metric) {
    return f.Get(model, Workload::kTcpEcho, metric, {{"connections", *c}});
  };
  auto loop_cpu = get("asyncio", "server_cpu_us_per_request");
  auto pool_cpu = get("threads_gil", "server_cpu_us_per_request");
  auto loop_rps = get("asyncio", "requests_per_s");
  auto pool_rps = get("threads_gil", "requests_per_s");
  if (!loop_cpu || !pool_cpu || !loop_rps || !pool_rps) {
    return Missing(claim, "tcp_echo on asyncio and threads_gil");
  }
  std::string figure = absl::StrFormat(
      "%s connections: asyncio %s req/s at %.1f µs CPU/request, threads + GIL "
      "%s req/s at %.1f µs",
      FormatCount(*c), FormatCount(*loop_rps), *loop_cpu, FormatCount(*pool_rps),
      *pool_cpu);
  std::optional<bool> py;
  auto p_loop = get("cpython_asyncio", "server_cpu_us_per_request");
  auto p_pool = get("cpython_threads", "server_cpu_us_per_request");
  auto p_loop_rps = get("cpython_asyncio", "requests_per_s");
  auto p_pool_rps = get("cpython_threads", "requests_per_s");
  if (p_loop && p_pool && p_loop_rps && p_pool_rps) {
    py = *p_loop < *p_pool;
    absl::StrAppend(&figure,
                    absl::StrFormat("; CPython asyncio %s req/s at %.1f µs, "
                                    "threads %s req/s at %.1f µs",
                                    FormatCount(*p_loop_rps), *p_loop,
                                    FormatCount(*p_pool_rps), *p_pool));
  }
  return {claim, figure, Combine(*loop_cpu < *pool_cpu, py),
          absl::StrFormat("server CPU per request %s lower on the loop",
                          Times(*pool_cpu / *loop_cpu))};
}

// ---------------------------------------------------------------------------
// Best use cases, measured: the sweeps.
// ---------------------------------------------------------------------------

struct SweepSide {
  absl::string_view language;
  absl::string_view asyncio;
  absl::string_view pool;
};
// C++: the event loop against plain C++ threads (what a C++ engineer would
// write); CPython: asyncio against ThreadPoolExecutor.
constexpr SweepSide kSweepSides[] = {
    {"C++", "asyncio", "threads_free"},
    {"CPython", "cpython_asyncio", "cpython_threads"},
};

// What one operation costs in a cell of a sweep workload.
struct OperationFigures {
  double throughput;  // per second
  double cpu_us;      // per operation
  double memory;      // bytes per concurrent operation
};

// RSS is counted in pages: a growth below one page reads as 0, so every
// total is taken as at least one page, the measurement's resolution.
constexpr double kPageBytes = 4096;

OperationFigures SweepFigures(const Cell& cell) {
  const Metrics& m = cell.median;
  if (cell.workload == Workload::kHttpFetch) {
    const double in_flight = std::max(1.0, m.at("peak_in_flight"));
    return {m.at("fetches_per_s"), m.at("cpu_us_per_fetch"),
            std::max(m.at("rss_bytes"), kPageBytes) / in_flight};
  }
  const double connections = static_cast<double>(cell.params.at("connections"));
  return {m.at("requests_per_s"), m.at("server_cpu_us_per_request"),
          std::max(m.at("server_rss_bytes"), kPageBytes) / connections};
}

// The sweep's N of a cell, and whether it is the row the crossover reads:
// http_fetch at the largest delay (a remote site) with the pool sized to N.
std::optional<int64_t> SweepN(const Cell& cell, int64_t fetch_delay) {
  if (cell.workload == Workload::kManyConnections) {
    return cell.params.at("connections");
  }
  const int64_t n = cell.params.at("n");
  if (cell.params.at("delay_ms") != fetch_delay) return std::nullopt;
  if (cell.params.at("workers") < n && cell.params.at("workers") == 5 && n != 5) {
    return std::nullopt;  // the seed's fixed 5-worker pool is not thread-per-fetch
  }
  return n;
}

const Cell* SweepCell(const Figures& f, absl::string_view model, Workload workload,
                      int64_t n, int64_t fetch_delay, bool ok_only) {
  for (const Cell& cell : f.cells()) {
    if (cell.model->name != model || cell.workload != workload) continue;
    if (SweepN(cell, fetch_delay) != n) continue;
    if (ok_only && (cell.status != RunStatus::kOk || cell.repetitions.empty())) {
      continue;
    }
    return &cell;
  }
  return nullptr;
}

std::vector<int64_t> SweepNs(const Figures& f, Workload workload, int64_t fetch_delay) {
  std::vector<int64_t> ns;
  for (const Cell& cell : f.cells()) {
    if (cell.workload != workload) continue;
    if (std::optional<int64_t> n = SweepN(cell, fetch_delay)) ns.push_back(*n);
  }
  std::sort(ns.begin(), ns.end());
  ns.erase(std::unique(ns.begin(), ns.end()), ns.end());
  return ns;
}

int64_t FetchDelay(const Figures& f) {
  return f.ParamExtreme(Workload::kHttpFetch, "delay_ms", true).value_or(0);
}

constexpr absl::string_view kFigureNames[] = {
    "throughput", "CPU per operation", "memory per concurrent operation"};

double Advantage(int figure, const OperationFigures& a, const OperationFigures& p) {
  switch (figure) {
    case 0: return a.throughput / p.throughput;
    case 1: return p.cpu_us / a.cpu_us;
    default: return p.memory / a.memory;
  }
}
double FigureValue(int figure, const OperationFigures& o) {
  return figure == 0 ? o.throughput : figure == 1 ? o.cpu_us : o.memory;
}

// " (10,000 with --full)" where a run without --full stopped short of the
// largest N that --full measures, so that "no crossover up to 1,000" is not
// read as a statement about 10,000.
std::string FullSweepHint(const Figures& f, Workload workload, int64_t largest_n) {
  if (f.options().full) return "";
  const Sizes full = Sizes::Full();
  const std::vector<int64_t>& ns =
      workload == Workload::kHttpFetch ? full.fetch_n : full.sweep_connections;
  const int64_t full_n = *std::max_element(ns.begin(), ns.end());
  if (largest_n >= full_n) return "";
  return absl::StrCat(" (", FormatCount(static_cast<double>(full_n)), " with --full)");
}

std::vector<Crossover> Crossovers(const Figures& f) {
  std::vector<Crossover> out;
  const int64_t delay = FetchDelay(f);
  for (Workload workload : {Workload::kHttpFetch, Workload::kManyConnections}) {
    const std::vector<int64_t> ns = SweepNs(f, workload, delay);
    for (const SweepSide& side : kSweepSides) {
      for (int figure = 0; figure < 3; ++figure) {
        Crossover c;
        c.language = std::string(side.language);
        c.workload = workload;
        c.figure = std::string(kFigureNames[figure]);
        c.asyncio_model = std::string(side.asyncio);
        c.pool_model = std::string(side.pool);
        for (int64_t n : ns) {
          const Cell* a = SweepCell(f, side.asyncio, workload, n, delay, true);
          if (a == nullptr) continue;  // asyncio itself has no figure here
          CrossoverPoint point;
          point.n = n;
          const OperationFigures af = SweepFigures(*a);
          point.asyncio = FigureValue(figure, af);
          const Cell* p = SweepCell(f, side.pool, workload, n, delay, true);
          if (p != nullptr) {
            const OperationFigures pf = SweepFigures(*p);
            point.pool = FigureValue(figure, pf);
            point.advantage = Advantage(figure, af, pf);
          } else {
            const Cell* failed = SweepCell(f, side.pool, workload, n, delay, false);
            if (failed == nullptr || failed->status != RunStatus::kError) continue;
            // The pool could not serve N at all: asyncio wins outright.
            point.pool_error = failed->error;
            point.advantage = std::numeric_limits<double>::infinity();
          }
          c.points.push_back(point);
        }
        for (auto it = c.points.rbegin(); it != c.points.rend(); ++it) {
          if (it->advantage < 2) break;
          c.crossover = it->n;
        }
        if (c.points.empty()) {
          c.text = "not measured";
        } else if (c.crossover) {
          c.text = absl::StrCat("N = ", FormatCount(static_cast<double>(*c.crossover)));
        } else {
          c.text = absl::StrCat("no crossover up to ",
                                FormatCount(static_cast<double>(c.points.back().n)),
                                FullSweepHint(f, workload, c.points.back().n));
        }
        out.push_back(std::move(c));
      }
    }
  }
  return out;
}

std::vector<ModerateIo> Moderate(const std::vector<Crossover>& crossovers) {
  std::vector<ModerateIo> out;
  for (size_t i = 0; i + 2 < crossovers.size(); i += 3) {
    const Crossover& thr = crossovers[i];
    const Crossover& cpu = crossovers[i + 1];
    const Crossover& mem = crossovers[i + 2];
    ModerateIo m;
    m.language = thr.language;
    m.workload = thr.workload;
    for (size_t k = 0; k < thr.points.size() && k < cpu.points.size() &&
                       k < mem.points.size();
         ++k) {
      m.largest_n = std::max(m.largest_n, thr.points[k].n);
      // Within 20%: the pool at most 1.2x worse (or better) on each figure.
      const bool close_thr = thr.points[k].advantage <= 1.2;
      const bool close_cpu = cpu.points[k].advantage <= 1.2;
      const bool close_mem = mem.points[k].advantage <= 1.2;
      if (close_thr && close_cpu) m.throughput_and_cpu = thr.points[k].n;
      if (close_thr && close_cpu && close_mem) m.all_three = thr.points[k].n;
    }
    out.push_back(m);
  }
  return out;
}

std::string NText(std::optional<int64_t> n) {
  return n ? absl::StrCat("N = ", FormatCount(static_cast<double>(*n))) : "none";
}

const Crossover* FindCrossover(const std::vector<Crossover>& all,
                               absl::string_view language, Workload workload,
                               int figure) {
  for (const Crossover& c : all) {
    if (c.language == language && c.workload == workload &&
        c.figure == kFigureNames[figure]) {
      return &c;
    }
  }
  return nullptr;
}

Finding AsyncioForManyOperations(const std::vector<Crossover>& all) {
  const std::string claim =
      "Use asyncio for tasks involving many simultaneous I/O operations";
  std::string figure;
  std::optional<bool> shown[2];
  int side = 0;
  for (absl::string_view language : {"C++", "CPython"}) {
    std::vector<std::string> parts;
    for (Workload w : {Workload::kHttpFetch, Workload::kManyConnections}) {
      std::vector<std::string> per_figure;
      for (int fig = 0; fig < 3; ++fig) {
        const Crossover* c = FindCrossover(all, language, w, fig);
        if (c == nullptr || c->points.empty()) continue;
        per_figure.push_back(absl::StrCat(c->figure, " ", c->text));
        shown[side] = shown[side].value_or(false) || c->crossover.has_value();
      }
      if (!per_figure.empty()) {
        parts.push_back(absl::StrCat(WorkloadName(w), ": ",
                                     absl::StrJoin(per_figure, ", ")));
      }
    }
    if (!parts.empty()) {
      absl::StrAppend(&figure, figure.empty() ? "" : "; ", language, " ",
                      absl::StrJoin(parts, "; "));
    }
    ++side;
  }
  if (!shown[0] && !shown[1]) return Missing(claim, "http_fetch and many_connections");
  const bool cpp = shown[0].value_or(false);
  return {claim, absl::StrCat("asyncio ≥2× better than the pool from: ", figure),
          Combine(cpp, shown[1]),
          "a crossover on at least one figure, in each language"};
}

Finding ThreadPoolsForModerateIo(const std::vector<ModerateIo>& moderate) {
  const std::string claim =
      "Use thread pools when code is already synchronous, needs simpler "
      "debugging, or handles moderate I/O";
  if (moderate.empty()) return Missing(claim, "http_fetch and many_connections");
  std::vector<std::string> parts;
  bool cpp = false;
  std::optional<bool> py;
  for (const ModerateIo& m : moderate) {
    parts.push_back(absl::StrCat(
        m.language, " ", WorkloadName(m.workload), ": all three ",
        NText(m.all_three), ", throughput and CPU ", NText(m.throughput_and_cpu)));
    const bool some = m.all_three.has_value();
    if (m.language == "C++") cpp = cpp || some;
    else py = py.value_or(false) || some;
  }
  return {claim,
          absl::StrCat("largest N with the pool within 20% of asyncio: ",
                       absl::StrJoin(parts, "; ")),
          Combine(cpp, py),
          "\"moderate\" is where the pool costs at most 20% more; memory per "
          "operation (a thread's stack pages) rules most N out"};
}

Finding ThreadsForShortBlockingTasks(const Figures& f) {
  const std::string claim = "Threads are best for short, blocking I/O tasks";
  std::optional<int64_t> top =
      f.ParamExtreme(Workload::kPoolStarvation, "long_pct", true);
  if (!top || *top == 0) return Missing(claim, "pool_starvation with long tasks");
  auto p99 = [&](absl::string_view model, int64_t pct) {
    return f.Get(model, Workload::kPoolStarvation, "short_p99_ms", {{"long_pct", pct}});
  };
  auto judge = [&](absl::string_view pool, absl::string_view loop, std::string& text)
      -> std::optional<bool> {
    auto short_only = p99(pool, 0);
    auto starved = p99(pool, *top);
    auto native = p99(loop, *top);
    if (!short_only || !starved || !native) return std::nullopt;
    absl::StrAppend(&text, text.empty() ? "" : "; ", pool, " short-task p99 ",
                    Ms(*short_only), " with none long, ", Ms(*starved), " with ",
                    *top, "% long (", loop, ": ", Ms(*native), ")");
    return *starved >= 10 * *short_only && *short_only < 50;
  };
  std::string figure;
  std::optional<bool> cpp = judge("threads_gil", "asyncio", figure);
  std::optional<bool> py = judge("cpython_threads", "cpython_asyncio", figure);
  if (!cpp && !py) return Missing(claim, "pool_starvation on the pools");
  return {claim, figure,
          cpp ? Combine(*cpp, py) : Combine(*py, std::nullopt),
          "short tasks are served in milliseconds while they are all there "
          "is, and wait ≥10× longer once long ones hold the workers; native "
          "async waits do not queue"};
}

Finding AsyncioExcelsAtNetworking(const Figures& f) {
  const std::string claim =
      "Asyncio excels at web scraping, network communication and handling "
      "many simultaneous connections";
  const int64_t delay = FetchDelay(f);
  std::string figure;
  std::optional<bool> verdict[2];
  int side = 0;
  for (const SweepSide& s : kSweepSides) {
    for (Workload w : {Workload::kHttpFetch, Workload::kManyConnections}) {
      std::vector<int64_t> ns = SweepNs(f, w, delay);
      if (ns.empty()) continue;
      const Cell* a = SweepCell(f, s.asyncio, w, ns.back(), delay, true);
      const Cell* p = SweepCell(f, s.pool, w, ns.back(), delay, false);
      if (a == nullptr || p == nullptr) continue;
      const double a_thr = SweepFigures(*a).throughput;
      std::string pool_text = "could not";
      bool better = true;
      if (p->status == RunStatus::kOk && !p->repetitions.empty()) {
        const double p_thr = SweepFigures(*p).throughput;
        pool_text = FormatCount(p_thr);
        better = a_thr >= p_thr;
      }
      absl::StrAppend(&figure, figure.empty() ? "" : "; ", s.language, " ",
                      WorkloadName(w), " at ", FormatCount(static_cast<double>(ns.back())),
                      ": asyncio ", FormatCount(a_thr), "/s, pool ", pool_text,
                      pool_text == "could not" ? "" : "/s");
      verdict[side] = verdict[side].value_or(true) && better;
    }
    ++side;
  }
  if (!verdict[0] && !verdict[1]) return Missing(claim, "http_fetch and many_connections");
  return {claim, figure,
          verdict[0] ? Combine(*verdict[0], verdict[1]) : Combine(*verdict[1], std::nullopt),
          "asyncio's throughput at least the pool's at the largest N, in both "
          "workloads"};
}

Finding OneThreadMoreEfficient(const Figures& f) {
  const std::string claim =
      "Asyncio runs many I/O tasks in one thread more efficiently";
  const int64_t delay = FetchDelay(f);
  std::vector<int64_t> ns = SweepNs(f, Workload::kHttpFetch, delay);
  if (ns.empty()) return Missing(claim, "http_fetch");
  const Params at = {{"n", ns.back()}, {"delay_ms", delay}};
  std::string figure;
  std::optional<bool> verdict[2];
  int side = 0;
  for (const SweepSide& s : kSweepSides) {
    const Cell* a = SweepCell(f, s.asyncio, Workload::kHttpFetch, ns.back(), delay, true);
    const Cell* p = SweepCell(f, s.pool, Workload::kHttpFetch, ns.back(), delay, true);
    ++side;
    if (a == nullptr || p == nullptr) continue;
    const double a_cpu = a->median.at("cpu_us_per_fetch");
    const double p_cpu = p->median.at("cpu_us_per_fetch");
    absl::StrAppend(&figure, figure.empty() ? "" : "; ", s.language, " ",
                    FormatCount(static_cast<double>(ns.back())), " fetches: asyncio ",
                    FormatCount(a->median.at("threads")), " thread(s) at ",
                    FormatDurationSeconds(a_cpu / 1e6), " CPU per fetch, pool ",
                    FormatCount(p->median.at("threads")), " threads at ",
                    FormatDurationSeconds(p_cpu / 1e6));
    verdict[side - 1] = a_cpu < p_cpu;
  }
  if (!verdict[0] && !verdict[1]) return Missing(claim, "http_fetch on both sides");
  return {claim, figure,
          verdict[0] ? Combine(*verdict[0], verdict[1]) : Combine(*verdict[1], std::nullopt),
          "less CPU per fetch on the loop"};
}

Finding PoolsTradeScalability(const Figures& f) {
  const std::string claim =
      "Synchronous thread pools offer simplicity and familiarity, with "
      "trade-offs in scalability and overhead";
  const int64_t delay = FetchDelay(f);
  std::vector<int64_t> ns = SweepNs(f, Workload::kHttpFetch, delay);
  if (ns.empty()) return Missing(claim, "http_fetch");
  std::string figure;
  std::optional<bool> verdict[2];
  int side = 0;
  for (const SweepSide& s : kSweepSides) {
    const Cell* a = SweepCell(f, s.asyncio, Workload::kHttpFetch, ns.back(), delay, true);
    const Cell* p = SweepCell(f, s.pool, Workload::kHttpFetch, ns.back(), delay, true);
    ++side;
    if (a == nullptr || p == nullptr) continue;
    const double a_mem = SweepFigures(*a).memory;
    const double p_mem = SweepFigures(*p).memory;
    absl::StrAppend(&figure, figure.empty() ? "" : "; ", s.language, " at ",
                    FormatCount(static_cast<double>(ns.back())),
                    " in flight: peak RSS per fetch asyncio ", FormatBytes(a_mem),
                    ", pool ", FormatBytes(p_mem), " (", Times(p_mem / a_mem), ")");
    verdict[side - 1] = p_mem >= 2 * a_mem;
  }
  if (!verdict[0] && !verdict[1]) return Missing(claim, "http_fetch on both sides");
  return {claim, figure,
          verdict[0] ? Combine(*verdict[0], verdict[1]) : Combine(*verdict[1], std::nullopt),
          "the pool needs at least 2× the memory per in-flight operation"};
}

Finding FetchNearIdeal(const Figures& f) {
  const std::string claim =
      "The C++ asyncio fetch at N = 1,000 finishes within 1.3× of the delay "
      "plus connection set-up";
  const int64_t delay = FetchDelay(f);
  auto with = f.Get("asyncio", Workload::kHttpFetch, "wall_s",
                    {{"n", 1000}, {"delay_ms", delay}});
  auto setup = f.Get("asyncio", Workload::kHttpFetch, "wall_s",
                     {{"n", 1000}, {"delay_ms", 0}});
  if (delay == 0 || !with || !setup) {
    return Missing(claim, "http_fetch at N = 1,000 with and without delay on asyncio");
  }
  const double ideal = static_cast<double>(delay) / 1000 + *setup;
  return {claim,
          absl::StrFormat("%s with %d ms delay; set-up (the same fetches with "
                          "0 ms) %s; ideal %s",
                          FormatDurationSeconds(*with), delay,
                          FormatDurationSeconds(*setup), FormatDurationSeconds(ideal)),
          *with <= 1.3 * ideal ? Verdict::kReproduced : Verdict::kNotReproduced,
          absl::StrCat(Times(*with / ideal), " of ideal")};
}

}  // namespace

Report BuildReport(const Results& results) {
  Figures f(results);
  Report report;
  report.table = {ConcurrencyModel(f), IoEfficiency(f), CpuHandling(f),
                  CodeReadability(f),  Debugging(f),    LibrarySupport(f)};
  report.claims = {GilSerializes(f),       GilReleasedForIo(f),
                   TooManyThreads(f),      OneThreadThousandsOfTasks(f),
                   FewerSwitches(f),       WaitsOverlap(f),
                   ManyOperationsHurtThreads(f), EchoEfficiency(f)};
  report.crossovers = Crossovers(f);
  report.moderate_io = Moderate(report.crossovers);
  report.best_uses = {AsyncioForManyOperations(report.crossovers),
                      ThreadPoolsForModerateIo(report.moderate_io),
                      ThreadsForShortBlockingTasks(f),
                      AsyncioExcelsAtNetworking(f),
                      OneThreadMoreEfficient(f),
                      PoolsTradeScalability(f),
                      FetchNearIdeal(f)};
  return report;
}

}  // namespace harness
