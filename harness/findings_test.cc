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

TEST(FindingsTest, VerdictNames) {
  EXPECT_EQ(VerdictName(Verdict::kReproduced), "reproduced");
  EXPECT_EQ(VerdictName(Verdict::kPartly), "partly");
  EXPECT_EQ(VerdictName(Verdict::kNotReproduced), "not reproduced");
  EXPECT_EQ(VerdictName(Verdict::kNotMeasured), "not measured");
}

}  // namespace
}  // namespace harness
