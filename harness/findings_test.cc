// BuildReport on made-up results: every cell of the table and every claim,
// for each outcome (reproduced, partly, not reproduced, not measured), with
// figures placed just inside and just outside each criterion, so that a
// changed threshold or a changed combination rule fails here.

#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "harness/models.h"
#include "harness/report.h"
#include "harness/runner.h"

namespace harness {
namespace {

// Figures keyed by (model, workload, parameters); turned into Results.
class FakeResults {
 public:
  void Set(const std::string& model, Workload workload, const Params& params,
           const std::string& metric, double value) {
    figures_[{model, workload, params}][metric] = value;
  }
  void SetLines(const std::string& model, Workload workload, int code_lines,
                int async_markers) {
    lines_[{model, workload}] = {code_lines, async_markers};
  }
  // Drops every figure and line count of the models whose name starts with
  // `prefix`.
  void Drop(const std::string& prefix) {
    std::erase_if(figures_, [&](const auto& kv) {
      return absl::StartsWith(std::get<0>(kv.first), prefix);
    });
    std::erase_if(lines_, [&](const auto& kv) {
      return absl::StartsWith(kv.first.first, prefix);
    });
  }

  Results Build() const {
    Results results;
    Json machine = Json::Object();
    machine.Set("parallel_speedup_available", Json(1.9));
    results.machine = machine;
    for (const auto& [key, metrics] : figures_) {
      const auto& [model, workload, params] = key;
      harness::Cell cell;
      cell.model = *FindModel(model);
      cell.workload = workload;
      cell.params = params;
      cell.repetitions = {metrics};
      cell.median = metrics;
      results.cells.push_back(cell);
    }
    for (const auto& [key, count] : lines_) {
      results.readability.push_back(
          {*FindModel(key.first), key.second, RegionCount{count.first, count.second}});
    }
    return results;
  }

 private:
  std::map<std::tuple<std::string, Workload, Params>, Metrics> figures_;
  std::map<std::pair<std::string, Workload>, std::pair<int, int>> lines_;
};

constexpr int64_t kSmallN = 10;
constexpr int64_t kLargeN = 1000;
constexpr int64_t kWaitMs = 100;
constexpr int64_t kFewThreads = 4;
constexpr int64_t kManyThreads = 36;
constexpr int64_t kBlockMs = 100;
constexpr double kBaseRss = 1e6;

Params Fanout(int64_t n) {
  return {{"n", n}, {"wait_ms", kWaitMs}, {"max_threads", 100}};
}
Params Scaling(int64_t threads) { return {{"threads", threads}}; }
const Params kEcho = {{"connections", 10}};
const Params kBlocking = {{"block_ms", kBlockMs}};

// One side's figures (the C++ model and its CPython counterpart get the same
// ones), each just inside its criterion.
void SetAsyncioSide(FakeResults& r, const std::string& m) {
  r.Set(m, Workload::kIoFanout, Fanout(kLargeN), "threads", 1);
  r.Set(m, Workload::kIoFanout, Fanout(kLargeN), "wall_s", 1.0);
  r.Set(m, Workload::kIoFanout, Fanout(kLargeN), "us_per_task", 10);
  r.Set(m, Workload::kIoFanout, Fanout(kLargeN), "bytes_per_task", 500);
  r.Set(m, Workload::kIoFanout, Fanout(kSmallN), "threads", 1);
  r.Set(m, Workload::kIoFanout, Fanout(kSmallN), "wall_s", 0.19);  // < 2 waits
  r.Set(m, Workload::kIoFanout, Fanout(kSmallN), "us_per_task", 10);
  r.Set(m, Workload::kIoFanout, Fanout(kSmallN), "bytes_per_task", 500);
  r.Set(m, Workload::kMixed, {}, "idle_lag_p50_ms", 0.1);
  r.Set(m, Workload::kMixed, {}, "lag_p50_ms", 1.05);  // >= 1 ms and >= 10x idle
  r.Set(m, Workload::kDebugStack, {}, "user_frames_visible", 2);
  r.Set(m, Workload::kDebugStack, {}, "user_frames", 3);
  r.Set(m, Workload::kBlockingCall, kBlocking, "stall_ms", 50);  // >= half
  r.Set(m, Workload::kThreadScaling, Scaling(kManyThreads), "voluntary_switches", 100);
  r.Set(m, Workload::kThreadScaling, Scaling(kManyThreads), "involuntary_switches", 49);
  r.Set(m, Workload::kTcpEcho, kEcho, "server_cpu_us_per_request", 10);
  r.Set(m, Workload::kTcpEcho, kEcho, "requests_per_s", 5000);
  r.SetLines(m, Workload::kIoFanout, 20, 1);
  r.SetLines(m, Workload::kTcpEcho, 30, 0);
}

void SetThreadSide(FakeResults& r, const std::string& m) {
  r.Set(m, Workload::kIoFanout, Fanout(kLargeN), "threads", 2);
  r.Set(m, Workload::kIoFanout, Fanout(kLargeN), "wall_s", 1.51);  // > 1.5x asyncio
  r.Set(m, Workload::kIoFanout, Fanout(kLargeN), "us_per_task", 10.1);  // > asyncio
  r.Set(m, Workload::kIoFanout, Fanout(kLargeN), "bytes_per_task", 9000);
  r.Set(m, Workload::kIoFanout, Fanout(kSmallN), "threads", 11);
  r.Set(m, Workload::kIoFanout, Fanout(kSmallN), "wall_s", 0.49);  // < half of 1 s
  r.Set(m, Workload::kIoFanout, Fanout(kSmallN), "us_per_task", 20);
  r.Set(m, Workload::kIoFanout, Fanout(kSmallN), "bytes_per_task", 9000);
  r.Set(m, Workload::kCpuPure, {}, "speedup", 1.3);      // <= 1.3
  r.Set(m, Workload::kCpuNative, {}, "speedup", 1.46);  // >= 1 + 0.5 * 0.9
  r.Set(m, Workload::kDebugStack, {}, "user_frames_visible", 3);
  r.Set(m, Workload::kDebugStack, {}, "user_frames", 3);
  r.Set(m, Workload::kBlockingCall, kBlocking, "stall_ms", 19.9);  // < a fifth
  // 1 KiB and a byte per added thread; more switches with more threads.
  r.Set(m, Workload::kThreadScaling, Scaling(kFewThreads), "rss_bytes", kBaseRss);
  r.Set(m, Workload::kThreadScaling, Scaling(kManyThreads), "rss_bytes",
        kBaseRss + 1025.0 * (kManyThreads - kFewThreads));
  r.Set(m, Workload::kThreadScaling, Scaling(kFewThreads), "wall_s", 1);
  r.Set(m, Workload::kThreadScaling, Scaling(kManyThreads), "wall_s", 1);
  r.Set(m, Workload::kThreadScaling, Scaling(kFewThreads), "voluntary_switches", 100);
  r.Set(m, Workload::kThreadScaling, Scaling(kFewThreads), "involuntary_switches", 49);
  r.Set(m, Workload::kThreadScaling, Scaling(kManyThreads), "voluntary_switches", 100);
  r.Set(m, Workload::kThreadScaling, Scaling(kManyThreads), "involuntary_switches", 50);
  r.Set(m, Workload::kTcpEcho, kEcho, "server_cpu_us_per_request", 10.1);
  r.Set(m, Workload::kTcpEcho, kEcho, "requests_per_s", 4000);
  r.SetLines(m, Workload::kIoFanout, 15, 0);
  r.SetLines(m, Workload::kTcpEcho, 25, 0);
}

FakeResults AllReproduced(bool with_cpython) {
  FakeResults r;
  SetAsyncioSide(r, "asyncio");
  SetThreadSide(r, "threads_gil");
  if (with_cpython) {
    SetAsyncioSide(r, "cpython_asyncio");
    SetThreadSide(r, "cpython_threads");
  }
  return r;
}

// A finding of the report, and how to move its figures just outside its
// criterion on one side (C++ model or CPython).
struct Case {
  std::string name;
  std::function<const Finding&(const Report&)> finding;
  std::function<void(FakeResults&, const std::string& asyncio,
                     const std::string& threads)>
      break_it;
};

const Finding& TableCell(const Report& r, size_t row, bool asyncio) {
  return asyncio ? r.table.at(row).asyncio : r.table.at(row).thread_pool;
}

std::vector<Case> Cases() {
  using A = const std::string&;
  return {
      {"ConcurrencyModel/asyncio",
       [](const Report& r) -> const Finding& { return TableCell(r, 0, true); },
       [](FakeResults& f, A a, A) { f.Set(a, Workload::kIoFanout, Fanout(kLargeN), "threads", 2); }},
      {"ConcurrencyModel/thread_pool",
       [](const Report& r) -> const Finding& { return TableCell(r, 0, false); },
       [](FakeResults& f, A, A t) { f.Set(t, Workload::kIoFanout, Fanout(kLargeN), "threads", 1); }},
      {"IoEfficiency/asyncio",
       [](const Report& r) -> const Finding& { return TableCell(r, 1, true); },
       [](FakeResults& f, A, A t) { f.Set(t, Workload::kIoFanout, Fanout(kLargeN), "us_per_task", 10); }},
      {"IoEfficiency/thread_pool",
       [](const Report& r) -> const Finding& { return TableCell(r, 1, false); },
       [](FakeResults& f, A, A t) {
         f.Set(t, Workload::kThreadScaling, Scaling(kManyThreads), "rss_bytes",
               kBaseRss + 1023.0 * (kManyThreads - kFewThreads));
       }},
      {"CpuHandling/asyncio/lag",
       [](const Report& r) -> const Finding& { return TableCell(r, 2, true); },
       [](FakeResults& f, A a, A) { f.Set(a, Workload::kMixed, {}, "lag_p50_ms", 0.99); }},
      {"CpuHandling/asyncio/ratio",
       [](const Report& r) -> const Finding& { return TableCell(r, 2, true); },
       [](FakeResults& f, A a, A) { f.Set(a, Workload::kMixed, {}, "idle_lag_p50_ms", 0.11); }},
      {"CpuHandling/thread_pool/native",
       [](const Report& r) -> const Finding& { return TableCell(r, 2, false); },
       [](FakeResults& f, A, A t) { f.Set(t, Workload::kCpuNative, {}, "speedup", 1.44); }},
      {"CpuHandling/thread_pool/pure",
       [](const Report& r) -> const Finding& { return TableCell(r, 2, false); },
       [](FakeResults& f, A, A t) { f.Set(t, Workload::kCpuPure, {}, "speedup", 1.31); }},
      {"CodeReadability/asyncio",
       [](const Report& r) -> const Finding& { return TableCell(r, 3, true); },
       [](FakeResults& f, A a, A) { f.SetLines(a, Workload::kIoFanout, 20, 0); }},
      {"CodeReadability/thread_pool",
       [](const Report& r) -> const Finding& { return TableCell(r, 3, false); },
       [](FakeResults& f, A, A t) { f.SetLines(t, Workload::kTcpEcho, 25, 1); }},
      {"Debugging/asyncio",
       [](const Report& r) -> const Finding& { return TableCell(r, 4, true); },
       [](FakeResults& f, A a, A) { f.Set(a, Workload::kDebugStack, {}, "user_frames_visible", 3); }},
      {"Debugging/thread_pool",
       [](const Report& r) -> const Finding& { return TableCell(r, 4, false); },
       [](FakeResults& f, A, A t) { f.Set(t, Workload::kDebugStack, {}, "user_frames_visible", 2); }},
      {"LibrarySupport/asyncio",
       [](const Report& r) -> const Finding& { return TableCell(r, 5, true); },
       [](FakeResults& f, A a, A) { f.Set(a, Workload::kBlockingCall, kBlocking, "stall_ms", 49.9); }},
      {"LibrarySupport/thread_pool",
       [](const Report& r) -> const Finding& { return TableCell(r, 5, false); },
       [](FakeResults& f, A, A t) { f.Set(t, Workload::kBlockingCall, kBlocking, "stall_ms", 20.01); }},
      {"GilSerializes",
       [](const Report& r) -> const Finding& { return r.claims.at(0); },
       [](FakeResults& f, A, A t) { f.Set(t, Workload::kCpuPure, {}, "speedup", 1.31); }},
      {"GilReleasedForIo",
       [](const Report& r) -> const Finding& { return r.claims.at(1); },
       [](FakeResults& f, A, A t) { f.Set(t, Workload::kIoFanout, Fanout(kSmallN), "wall_s", 0.5); }},
      {"TooManyThreads/memory",
       [](const Report& r) -> const Finding& { return r.claims.at(2); },
       [](FakeResults& f, A, A t) {
         f.Set(t, Workload::kThreadScaling, Scaling(kManyThreads), "rss_bytes",
               kBaseRss + 1023.0 * (kManyThreads - kFewThreads));
       }},
      {"TooManyThreads/switches",
       [](const Report& r) -> const Finding& { return r.claims.at(2); },
       [](FakeResults& f, A, A t) {
         f.Set(t, Workload::kThreadScaling, Scaling(kManyThreads), "involuntary_switches", 49);
       }},
      {"OneThreadThousandsOfTasks",
       [](const Report& r) -> const Finding& { return r.claims.at(3); },
       [](FakeResults& f, A a, A) { f.Set(a, Workload::kIoFanout, Fanout(kLargeN), "threads", 2); }},
      {"FewerSwitches",
       [](const Report& r) -> const Finding& { return r.claims.at(4); },
       [](FakeResults& f, A a, A) {
         f.Set(a, Workload::kThreadScaling, Scaling(kManyThreads), "involuntary_switches", 50);
       }},
      {"WaitsOverlap",
       [](const Report& r) -> const Finding& { return r.claims.at(5); },
       [](FakeResults& f, A a, A) { f.Set(a, Workload::kIoFanout, Fanout(kSmallN), "wall_s", 0.2); }},
      {"ManyOperationsHurtThreads",
       [](const Report& r) -> const Finding& { return r.claims.at(6); },
       [](FakeResults& f, A, A t) { f.Set(t, Workload::kIoFanout, Fanout(kLargeN), "wall_s", 1.5); }},
      {"EchoEfficiency",
       [](const Report& r) -> const Finding& { return r.claims.at(7); },
       [](FakeResults& f, A, A t) {
         f.Set(t, Workload::kTcpEcho, kEcho, "server_cpu_us_per_request", 10);
       }},
  };
}

Verdict VerdictOf(const Case& c, const FakeResults& fake) {
  Results results = fake.Build();
  Report report = BuildReport(results);
  EXPECT_EQ(report.table.size(), 6u);
  EXPECT_EQ(report.claims.size(), 8u);
  return c.finding(report).verdict;
}

TEST(FindingsTest, EveryFindingIsReproducedByFiguresInsideItsCriterion) {
  for (bool with_cpython : {false, true}) {
    Report report = BuildReport(AllReproduced(with_cpython).Build());
    ASSERT_EQ(report.table.size(), 6u);
    ASSERT_EQ(report.claims.size(), 8u);
    for (const TableRow& row : report.table) {
      for (const Finding* cell : {&row.asyncio, &row.thread_pool}) {
        EXPECT_EQ(cell->verdict, Verdict::kReproduced)
            << row.feature << " / " << cell->claim << " (CPython: " << with_cpython
            << "): " << cell->figure << "; " << cell->why;
      }
    }
    for (const Finding& claim : report.claims) {
      EXPECT_EQ(claim.verdict, Verdict::kReproduced)
          << claim.claim << " (CPython: " << with_cpython << "): " << claim.figure
          << "; " << claim.why;
    }
  }
}

// Without CPython figures the C++ model alone decides.
TEST(FindingsTest, WithoutCpythonTheModelDecides) {
  for (const Case& c : Cases()) {
    FakeResults fake = AllReproduced(false);
    c.break_it(fake, "asyncio", "threads_gil");
    EXPECT_EQ(VerdictOf(c, fake), Verdict::kNotReproduced) << c.name;
  }
}

// With CPython figures: both agree, one of them, or neither.
TEST(FindingsTest, CpythonAndModelCombine) {
  for (const Case& c : Cases()) {
    FakeResults model_breaks = AllReproduced(true);
    c.break_it(model_breaks, "asyncio", "threads_gil");
    EXPECT_EQ(VerdictOf(c, model_breaks), Verdict::kPartly) << c.name << ": model only";

    FakeResults cpython_breaks = AllReproduced(true);
    c.break_it(cpython_breaks, "cpython_asyncio", "cpython_threads");
    EXPECT_EQ(VerdictOf(c, cpython_breaks), Verdict::kPartly) << c.name << ": CPython only";

    FakeResults both_break = AllReproduced(true);
    c.break_it(both_break, "asyncio", "threads_gil");
    c.break_it(both_break, "cpython_asyncio", "cpython_threads");
    EXPECT_EQ(VerdictOf(c, both_break), Verdict::kNotReproduced) << c.name << ": both";
  }
}

// CPython figures alone prove nothing about the models: every finding needs
// its C++ figures and says what is missing.
TEST(FindingsTest, MissingModelFiguresAreNotMeasured) {
  for (bool cpython_present : {false, true}) {
    FakeResults fake = AllReproduced(cpython_present);
    fake.Drop("asyncio");
    fake.Drop("threads_");
    Report report = BuildReport(fake.Build());
    for (const TableRow& row : report.table) {
      for (const Finding* cell : {&row.asyncio, &row.thread_pool}) {
        EXPECT_EQ(cell->verdict, Verdict::kNotMeasured) << row.feature;
        EXPECT_TRUE(absl::StartsWith(cell->figure, "not measured: ")) << cell->figure;
      }
    }
    for (const Finding& claim : report.claims) {
      EXPECT_EQ(claim.verdict, Verdict::kNotMeasured) << claim.claim;
      EXPECT_TRUE(absl::StartsWith(claim.figure, "not measured: ")) << claim.figure;
    }
  }
}

// Removing one side's figures makes exactly the findings that need them
// "not measured", and leaves the rest reproduced.
TEST(FindingsTest, EachSideIsNeededByItsFindings) {
  FakeResults no_loop = AllReproduced(false);
  no_loop.Drop("asyncio");
  Report report = BuildReport(no_loop.Build());
  for (const TableRow& row : report.table) {
    EXPECT_EQ(row.asyncio.verdict, Verdict::kNotMeasured) << row.feature;
  }
  EXPECT_EQ(report.table[2].thread_pool.verdict, Verdict::kReproduced);
  EXPECT_EQ(report.table[5].thread_pool.verdict, Verdict::kReproduced);
  EXPECT_EQ(report.claims[0].verdict, Verdict::kReproduced);  // GIL serializes
  EXPECT_EQ(report.claims[1].verdict, Verdict::kReproduced);  // released for I/O
  EXPECT_EQ(report.claims[2].verdict, Verdict::kReproduced);  // too many threads
  for (size_t i : {3, 4, 5, 6, 7}) {
    EXPECT_EQ(report.claims[i].verdict, Verdict::kNotMeasured) << report.claims[i].claim;
  }
}

// Fewer than a thousand tasks is not "thousands", however good the figures.
TEST(FindingsTest, OneThreadClaimNeedsThousandsOfTasks) {
  FakeResults fake;
  fake.Set("asyncio", Workload::kIoFanout, Fanout(999), "threads", 1);
  fake.Set("asyncio", Workload::kIoFanout, Fanout(999), "wall_s", 0.1);
  fake.Set("asyncio", Workload::kIoFanout, Fanout(999), "us_per_task", 1);
  Report report = BuildReport(fake.Build());
  EXPECT_EQ(report.claims[3].verdict, Verdict::kNotReproduced) << report.claims[3].why;
}

// The Debugging cell of the asyncio models shows the native stack and the
// call graph; a call graph that names every caller makes "harder" partly
// true (a native debugger only), one that misses a caller leaves it whole.
TEST(FindingsTest, DebuggingShowsNativeStackAndCallGraph) {
  for (double in_graph : {3.0, 2.0}) {
    FakeResults fake = AllReproduced(false);
    fake.Set("asyncio", Workload::kDebugStack, {}, "user_frames_in_call_graph", in_graph);
    fake.Set("asyncio_to_thread", Workload::kDebugStack, {}, "user_frames_visible", 0);
    fake.Set("asyncio_to_thread", Workload::kDebugStack, {}, "user_frames", 3);
    fake.Set("asyncio_to_thread", Workload::kDebugStack, {}, "user_frames_in_call_graph", 3);
    Report report = BuildReport(fake.Build());
    const Finding& cell = report.table[4].asyncio;
    EXPECT_TRUE(absl::StrContains(
        cell.figure, in_graph == 3 ? "asyncio native stack 2 of 3, call graph 3 of 3"
                                   : "asyncio native stack 2 of 3, call graph 2 of 3"))
        << cell.figure;
    EXPECT_TRUE(absl::StrContains(cell.figure,
                                  "inside to_thread native stack 0 of 3, call graph 3 of 3"))
        << cell.figure;
    if (in_graph == 3) {
      EXPECT_EQ(cell.verdict, Verdict::kPartly) << cell.why;
      EXPECT_TRUE(absl::StrContains(cell.why, "call graph")) << cell.why;
    } else {
      EXPECT_EQ(cell.verdict, Verdict::kReproduced) << cell.why;
    }
  }
}

// A failed run counts as not measured, not as a figure of zero.
TEST(FindingsTest, FailedRunsAreNotMeasured) {
  Results results = AllReproduced(false).Build();
  for (Cell& cell : results.cells) {
    if (cell.workload == Workload::kCpuPure) cell.status = RunStatus::kError;
  }
  Report report = BuildReport(results);
  EXPECT_EQ(report.table[2].thread_pool.verdict, Verdict::kNotMeasured);
  EXPECT_EQ(report.claims[0].verdict, Verdict::kNotMeasured);
}

// The sweeps: http_fetch points with the pool sized to N at a 50 ms delay.
Params Fetch(int64_t n) { return {{"n", n}, {"delay_ms", 50}, {"workers", n}}; }

// One http_fetch point: asyncio's figures are fixed (1,000 fetches/s, 10 us
// CPU and 4 KiB per fetch); the pool's are asyncio's divided by `advantage`
// on each figure (throughput, CPU, memory).
void SetFetchPoint(FakeResults& r, const std::string& asyncio, const std::string& pool,
                   int64_t n, double thr_adv, double cpu_adv, double mem_adv) {
  const double bytes = 4096.0 * static_cast<double>(n);
  r.Set(asyncio, Workload::kHttpFetch, Fetch(n), "fetches_per_s", 1000);
  r.Set(asyncio, Workload::kHttpFetch, Fetch(n), "cpu_us_per_fetch", 10);
  r.Set(asyncio, Workload::kHttpFetch, Fetch(n), "rss_bytes", bytes);
  r.Set(asyncio, Workload::kHttpFetch, Fetch(n), "peak_in_flight", static_cast<double>(n));
  r.Set(asyncio, Workload::kHttpFetch, Fetch(n), "threads", 1);
  r.Set(pool, Workload::kHttpFetch, Fetch(n), "fetches_per_s", 1000 / thr_adv);
  r.Set(pool, Workload::kHttpFetch, Fetch(n), "cpu_us_per_fetch", 10 * cpu_adv);
  r.Set(pool, Workload::kHttpFetch, Fetch(n), "rss_bytes", bytes * mem_adv);
  r.Set(pool, Workload::kHttpFetch, Fetch(n), "peak_in_flight", static_cast<double>(n));
  r.Set(pool, Workload::kHttpFetch, Fetch(n), "threads", static_cast<double>(n));
}

const Crossover& CrossoverOf(const Report& report, const std::string& language,
                             const std::string& figure) {
  for (const Crossover& c : report.crossovers) {
    if (c.language == language && c.workload == Workload::kHttpFetch &&
        c.figure == figure) {
      return c;
    }
  }
  ADD_FAILURE() << "no crossover " << language << " " << figure;
  static const Crossover none;
  return none;
}

// The crossover is the smallest N from which asyncio is at least 2x better
// at that N and at every larger N: a 2x point followed by a worse one does
// not count, and 1.99x is not 2x.
TEST(CrossoverTest, IsTheSmallestNFromWhichAsyncioStaysTwiceAsGood) {
  FakeResults r;
  SetFetchPoint(r, "asyncio", "threads_free", 5, 2.5, 1.0, 3.0);
  SetFetchPoint(r, "asyncio", "threads_free", 100, 1.0, 1.99, 3.0);
  SetFetchPoint(r, "asyncio", "threads_free", 1000, 2.0, 2.0, 3.0);
  Report report = BuildReport(r.Build());
  EXPECT_EQ(CrossoverOf(report, "C++", "throughput").crossover, 1000);
  EXPECT_EQ(CrossoverOf(report, "C++", "CPU per operation").crossover, 1000);
  EXPECT_EQ(CrossoverOf(report, "C++", "memory per concurrent operation").crossover, 5);
  EXPECT_EQ(CrossoverOf(report, "C++", "throughput").text, "N = 1,000");
  ASSERT_EQ(CrossoverOf(report, "C++", "CPU per operation").points.size(), 3u);
  EXPECT_NEAR(CrossoverOf(report, "C++", "CPU per operation").points[1].advantage,
              1.99, 1e-9);
}

// "No crossover up to N" names the largest N measured, and, in a run without
// --full, the larger N that --full would measure.
TEST(CrossoverTest, NoCrossoverNamesTheRangeMeasured) {
  FakeResults r;
  SetFetchPoint(r, "asyncio", "threads_free", 100, 1.0, 1.0, 1.0);
  SetFetchPoint(r, "asyncio", "threads_free", 1000, 1.5, 1.0, 1.0);
  Results results = r.Build();
  Report report = BuildReport(results);
  EXPECT_FALSE(CrossoverOf(report, "C++", "throughput").crossover.has_value());
  EXPECT_EQ(CrossoverOf(report, "C++", "throughput").text,
            "no crossover up to 1,000 (10,000 with --full)");
  results.options.full = true;
  EXPECT_EQ(CrossoverOf(BuildReport(results), "C++", "throughput").text,
            "no crossover up to 1,000");
}

// A pool that could not run a point at all is beaten there.
TEST(CrossoverTest, APoolThatCouldNotRunIsBeaten) {
  FakeResults r;
  SetFetchPoint(r, "asyncio", "threads_free", 100, 1.0, 1.0, 1.0);
  SetFetchPoint(r, "asyncio", "threads_free", 1000, 1.0, 1.0, 1.0);
  Results results = r.Build();
  for (Cell& cell : results.cells) {
    if (cell.model->name == "threads_free" && cell.params.at("n") == 1000) {
      cell.status = RunStatus::kError;
      cell.error = "could only start 10 of 1000 fetches";
      cell.repetitions.clear();
    }
  }
  Report report = BuildReport(results);
  const Crossover& c = CrossoverOf(report, "C++", "throughput");
  EXPECT_EQ(c.crossover, 1000);
  ASSERT_EQ(c.points.size(), 2u);
  EXPECT_FALSE(c.points[1].pool.has_value());
  EXPECT_EQ(c.points[1].pool_error, "could only start 10 of 1000 fetches");
}

// Moderate I/O: the largest N with the pool at most 1.2x worse on all three
// figures, and on throughput and CPU alone.
TEST(CrossoverTest, ModerateIoIsWithinTwentyPercent) {
  FakeResults r;
  SetFetchPoint(r, "asyncio", "threads_free", 5, 1.2, 1.2, 1.2);
  SetFetchPoint(r, "asyncio", "threads_free", 100, 1.2, 1.2, 1.21);
  SetFetchPoint(r, "asyncio", "threads_free", 1000, 1.21, 1.0, 1.0);
  Report report = BuildReport(r.Build());
  const ModerateIo* cpp = nullptr;
  for (const ModerateIo& m : report.moderate_io) {
    if (m.language == "C++" && m.workload == Workload::kHttpFetch) cpp = &m;
  }
  ASSERT_NE(cpp, nullptr);
  EXPECT_EQ(cpp->all_three, 5);
  EXPECT_EQ(cpp->throughput_and_cpu, 100);
  EXPECT_EQ(cpp->largest_n, 1000);
}

const Finding& BestUse(const Report& report, absl::string_view starts_with) {
  for (const Finding& f : report.best_uses) {
    if (absl::StartsWith(f.claim, starts_with)) return f;
  }
  ADD_FAILURE() << "no best use " << starts_with;
  static const Finding none;
  return none;
}

// "Use asyncio for many simultaneous I/O operations": a crossover on some
// figure in each language.
TEST(BestUsesTest, AsyncioForManyOperationsNeedsACrossover) {
  FakeResults r;
  SetFetchPoint(r, "asyncio", "threads_free", 1000, 1.0, 1.0, 2.0);
  SetFetchPoint(r, "cpython_asyncio", "cpython_threads", 1000, 1.0, 2.0, 1.0);
  EXPECT_EQ(BestUse(BuildReport(r.Build()), "Use asyncio").verdict, Verdict::kReproduced);
  SetFetchPoint(r, "cpython_asyncio", "cpython_threads", 1000, 1.0, 1.99, 1.0);
  EXPECT_EQ(BestUse(BuildReport(r.Build()), "Use asyncio").verdict, Verdict::kPartly);
}

// "Synchronous thread pools ... trade-offs in scalability": the pool needs
// at least 2x asyncio's memory per in-flight fetch at the largest N.
TEST(BestUsesTest, PoolsTradeScalabilityNeedsTwiceTheMemory) {
  FakeResults r;
  SetFetchPoint(r, "asyncio", "threads_free", 1000, 1.0, 1.0, 2.0);
  EXPECT_EQ(BestUse(BuildReport(r.Build()), "Synchronous").verdict, Verdict::kReproduced);
  SetFetchPoint(r, "asyncio", "threads_free", 1000, 1.0, 1.0, 1.9);
  EXPECT_EQ(BestUse(BuildReport(r.Build()), "Synchronous").verdict,
            Verdict::kNotReproduced);
}

// "Threads are best for short, blocking I/O tasks": short tasks served in
// milliseconds alone, and at least 10x later once long ones hold the pool.
TEST(BestUsesTest, ShortBlockingTasksStarveBehindLongOnes) {
  auto with = [](double starved_ms) {
    FakeResults r;
    for (int64_t pct : {0, 20}) {
      const Params p = {{"long_pct", pct}, {"workers", 32}};
      r.Set("threads_gil", Workload::kPoolStarvation, p, "short_p99_ms",
            pct == 0 ? 5 : starved_ms);
      r.Set("asyncio", Workload::kPoolStarvation, p, "short_p99_ms", 1.1);
    }
    return BestUse(BuildReport(r.Build()), "Threads are best").verdict;
  };
  EXPECT_EQ(with(50), Verdict::kReproduced);
  EXPECT_EQ(with(49), Verdict::kNotReproduced);
}

// The C++ fetch at N = 1,000 within 1.3x of the delay plus the set-up time.
TEST(BestUsesTest, FetchNearIdealIsWithinThirtyPercent) {
  auto with = [](double wall_s) {
    FakeResults r;
    SetFetchPoint(r, "asyncio", "threads_free", 1000, 1.0, 1.0, 1.0);
    r.Set("asyncio", Workload::kHttpFetch, {{"n", 1000}, {"delay_ms", 50}, {"workers", 1000}},
          "wall_s", wall_s);
    r.Set("asyncio", Workload::kHttpFetch, {{"n", 1000}, {"delay_ms", 0}, {"workers", 1000}},
          "wall_s", 0.05);
    return BestUse(BuildReport(r.Build()), "The C++ asyncio fetch").verdict;
  };
  EXPECT_EQ(with(0.13), Verdict::kReproduced);
  EXPECT_EQ(with(0.131), Verdict::kNotReproduced);
}

TEST(FindingsTest, VerdictNames) {
  EXPECT_EQ(VerdictName(Verdict::kReproduced), "reproduced");
  EXPECT_EQ(VerdictName(Verdict::kPartly), "partly");
  EXPECT_EQ(VerdictName(Verdict::kNotReproduced), "not reproduced");
  EXPECT_EQ(VerdictName(Verdict::kNotMeasured), "not measured");
}

}  // namespace
}  // namespace harness
