// BuildReport: the seed's table and claims, each tested against the figures
// of one run. One function per cell or claim; each states its criterion.

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
  auto loop = seen("asyncio");
  if (!loop) {
    row.asyncio = Missing("Harder due to coroutine chains", "debug_stack on asyncio");
  } else {
    std::string figure = absl::StrCat(
        "user callers visible in the stack from inside the failing operation: ",
        text("asyncio", *loop));
    std::optional<bool> py;
    if (auto p = seen("cpython_asyncio")) {
      py = p->first < p->second;
      absl::StrAppend(&figure, "; ", text("CPython asyncio", *p));
    }
    if (auto t = seen("asyncio_to_thread")) {
      absl::StrAppend(&figure, "; ", text("inside to_thread", *t));
    }
    std::string why =
        "a resumed C++ coroutine's awaiting callers are suspended heap frames, "
        "not stack frames";
    if (py && !*py) {
      absl::StrAppend(&why, "; CPython's await chain runs nested coro.send() "
                            "calls, so its stack keeps every caller");
    }
    row.asyncio = {"Harder due to coroutine chains", figure,
                   Combine(loop->first < loop->second, py), why};
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
  return report;
}

}  // namespace harness
