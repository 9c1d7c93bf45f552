// Runs `compare --quick --out=DIR` as a user would and checks what it
// produced: every model ran every workload of the documented matrix (written
// out here, not read from the output), every cell of the seed's table and
// every claim has a measured figure, results.json has every documented field
// (checked here field by field, and by CheckResultsSchema), and report.html
// holds its charts. Also checks that
// bad flags fail with a message that lists what is valid.

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/child_process.h"
#include "harness/json.h"
#include "harness/models.h"
#include "harness/report.h"

namespace harness {
namespace {

using ::testing::HasSubstr;

// Bazel runs the test in its workspace's runfiles directory, named after
// whatever workspace this package was copied into.
std::string ComparePath() { return "harness/compare"; }

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

struct Outcome {
  absl::Status status;  // the exit status, with stderr if it failed
  std::string out;
};

Outcome RunCompare(std::vector<std::string> args) {
  args.insert(args.begin(), ComparePath());
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(args);
  if (!child.ok()) return {child.status(), ""};
  absl::StatusOr<std::string> out = child->Finish(absl::Now() + absl::Seconds(300));
  if (!out.ok()) return {out.status(), ""};
  return {absl::OkStatus(), *out};
}

// The sizes for the test: --quick as is in the plain build; smaller still
// under the sanitizers, which slow every run down several times.
std::vector<std::string> QuickArgs(const std::string& out_dir) {
  std::vector<std::string> args = {"--quick", absl::StrCat("--out=", out_dir)};
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  for (const char* a : {"--fanout_n=10,300", "--max_threads=50",
                        "--fetch_n=20", "--sweep_connections=20",
                        "--echo_requests=300", "--work_ms=20", "--probes=10",
                        "--block_ms=30", "--scaling_threads=4,32",
                        "--scaling_tasks=200"}) {
    args.push_back(a);
  }
#endif
  return args;
}

class CompareQuickTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    out_dir_ = new std::string(absl::StrCat(tmp == nullptr ? "/tmp" : tmp, "/quick"));
    absl::Time start = absl::Now();
    outcome_ = new Outcome(RunCompare(QuickArgs(*out_dir_)));
    elapsed_ = absl::Now() - start;
  }
  static void TearDownTestSuite() {
    delete outcome_;
    delete out_dir_;
  }

  static Json Results() {
    absl::StatusOr<Json> doc = Json::Parse(ReadFile(*out_dir_ + "/results.json"));
    EXPECT_TRUE(doc.ok()) << doc.status();
    return doc.ok() ? *doc : Json();
  }

  static std::string* out_dir_;
  static Outcome* outcome_;
  static absl::Duration elapsed_;
};

std::string* CompareQuickTest::out_dir_ = nullptr;
Outcome* CompareQuickTest::outcome_ = nullptr;
absl::Duration CompareQuickTest::elapsed_;

TEST_F(CompareQuickTest, RunsCleanlyAndPrintsTheTable) {
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status;
  EXPECT_THAT(outcome_->out, HasSubstr("| Feature | Asyncio | Thread Pool (Sync) |"));
  for (const char* feature : {"| Concurrency Model |", "| I/O Efficiency |",
                              "| CPU-bound Handling |", "| Code Readability |",
                              "| Debugging |", "| Library Support |"}) {
    EXPECT_THAT(outcome_->out, HasSubstr(feature));
  }
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
  // The --quick budget is 20 s on an idle machine; the test machine is
  // shared, so only a generous bound is checked here.
  EXPECT_LT(elapsed_, absl::Seconds(120));
#endif
}

TEST_F(CompareQuickTest, ResultsMatchTheDocumentedSchema) {
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status;
  EXPECT_TRUE(CheckResultsSchema(Results()).ok()) << CheckResultsSchema(Results());
}

// Where the environment requires python3 (CI sets REQUIRE_PYTHON), its
// absence is a failure, not a smaller matrix.
bool PythonOnPath() {
  const bool on_path = OnPath("python3");
  EXPECT_TRUE(on_path || std::getenv("REQUIRE_PYTHON") == nullptr)
      << "python3 is required (REQUIRE_PYTHON is set) but not on PATH";
  return on_path;
}

// Likewise io_uring, for the two asyncio models (REQUIRE_IO_URING).
bool IoUringHere() {
  absl::Status uring = IoUringAvailable();
  EXPECT_TRUE(uring.ok() || std::getenv("REQUIRE_IO_URING") == nullptr)
      << "io_uring is required (REQUIRE_IO_URING is set) but unavailable: "
      << uring;
  return uring.ok();
}

// Which model runs which workload, as harness/README.md documents it.
const std::vector<std::string> kAllWorkloads = {
    "io_fanout",   "tcp_echo",   "cpu_pure",         "cpu_native",
    "mixed",       "blocking_call", "thread_scaling", "debug_stack",
    "http_fetch",  "many_connections", "pool_starvation"};
const std::vector<std::string> kAllButStarvation = {
    "io_fanout",   "tcp_echo",   "cpu_pure",         "cpu_native",
    "mixed",       "blocking_call", "thread_scaling", "debug_stack",
    "http_fetch",  "many_connections"};
const std::vector<std::string> kOffloadable = {
    "cpu_pure", "cpu_native", "mixed", "blocking_call", "debug_stack",
    "pool_starvation"};
const std::vector<std::pair<std::string, std::vector<std::string>>>& Matrix() {
  static const auto* matrix =
      new std::vector<std::pair<std::string, std::vector<std::string>>>{
          {"asyncio", kAllWorkloads},         {"asyncio_to_thread", kOffloadable},
          {"threads_gil", kAllWorkloads},     {"threads_free", kAllButStarvation},
          {"cpython_asyncio", kAllWorkloads}, {"cpython_to_thread", kOffloadable},
          {"cpython_threads", kAllWorkloads}};
  return *matrix;
}

TEST_F(CompareQuickTest, EveryModelRanEveryWorkloadItSupports) {
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status;
  Json doc = Results();
  const bool python = PythonOnPath();
  const bool uring = IoUringHere();
  std::set<std::pair<std::string, std::string>> ok, not_available;
  for (const Json& run : doc.Get("runs")->array()) {
    const std::string model = run.Get("model")->string();
    const std::string workload = run.Get("workload")->string();
    const std::string status = run.Get("status")->string();
    if (status == "ok") {
      ok.insert({model, workload});
    } else if (status == "not available") {
      not_available.insert({model, workload});
    } else {
      ADD_FAILURE() << model << " / " << workload << ": " << status << ": "
                    << run.Get("error")->string();
    }
  }
  size_t expected_runs = 0;
  for (const auto& [model, workloads] : Matrix()) {
    const bool available = absl::StartsWith(model, "cpython_") ? python
                           : absl::StartsWith(model, "asyncio") ? uring
                                                                : true;
    for (const std::string& workload : workloads) {
      ++expected_runs;
      EXPECT_TRUE((available ? ok : not_available).contains({model, workload}))
          << model << " / " << workload << " should have "
          << (available ? "run" : "been not available");
    }
  }
  // Nothing outside the matrix ran.
  std::set<std::pair<std::string, std::string>> all = ok;
  all.insert(not_available.begin(), not_available.end());
  for (const auto& [model, workload] : all) {
    bool in_matrix = false;
    for (const auto& [m, workloads] : Matrix()) {
      in_matrix |= m == model && std::find(workloads.begin(), workloads.end(),
                                            workload) != workloads.end();
    }
    EXPECT_TRUE(in_matrix) << model << " ran " << workload;
  }
  EXPECT_EQ(expected_runs, 11u + 6 + 11 + 10 + 11 + 6 + 11);
}

// results.json field by field, as harness/README.md documents it, without
// CheckResultsSchema: a schema check that passed everything would not hide
// a wrong document here.
TEST_F(CompareQuickTest, ResultsJsonHasEveryDocumentedField) {
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status;
  Json doc = Results();
  ASSERT_TRUE(doc.is_object());
  auto string_at = [](const Json& object, const char* key) -> std::string {
    const Json* v = object.Get(key);
    EXPECT_TRUE(v != nullptr && v->is_string()) << key;
    return v != nullptr && v->is_string() ? v->string() : "";
  };
  auto number_at = [](const Json& object, const char* key) -> double {
    const Json* v = object.Get(key);
    EXPECT_TRUE(v != nullptr && v->is_number()) << key;
    return v != nullptr && v->is_number() ? v->number() : -1;
  };
  auto array_at = [](const Json& object, const char* key) -> Json::Array {
    const Json* v = object.Get(key);
    EXPECT_TRUE(v != nullptr && v->is_array()) << key;
    return v != nullptr && v->is_array() ? v->array() : Json::Array{};
  };
  EXPECT_EQ(string_at(doc, "schema"), "harness.results/1");
  const std::string generated_at = string_at(doc, "generated_at");
  ASSERT_EQ(generated_at.size(), 20u) << generated_at;  // 2026-11-27T07:30:00Z
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
    EXPECT_TRUE(absl::ascii_isdigit(generated_at[i])) << generated_at;
  }
  EXPECT_EQ(generated_at[4], '-');
  EXPECT_EQ(generated_at[10], 'T');
  EXPECT_EQ(generated_at[19], 'Z');
  EXPECT_GT(number_at(doc, "elapsed_s"), 0);

  const Json* machine = doc.Get("machine");
  ASSERT_TRUE(machine != nullptr && machine->is_object());
  EXPECT_FALSE(string_at(*machine, "cpu_model").empty());
  EXPECT_GE(number_at(*machine, "logical_cpus"), 1);
  EXPECT_GT(number_at(*machine, "memory_bytes"), 0);
  EXPECT_FALSE(string_at(*machine, "kernel").empty());
  EXPECT_FALSE(string_at(*machine, "compiler").empty());
  const std::string build = string_at(*machine, "build");
#if defined(__SANITIZE_THREAD__)
  EXPECT_EQ(build, "tsan");
#elif defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(build, "asan");
#else
  EXPECT_TRUE(build == "opt" || build == "fastbuild") << build;
#endif
  const Json* python = machine->Get("python");
  ASSERT_NE(python, nullptr);
  EXPECT_TRUE(PythonOnPath() ? python->is_string() : python->is_null());
  EXPECT_GE(number_at(*machine, "load_average_1min"), 0);
  EXPECT_GT(number_at(*machine, "parallel_speedup_available"), 0);

  const Json* config = doc.Get("config");
  ASSERT_TRUE(config != nullptr && config->is_object());
  ASSERT_TRUE(config->Get("quick") != nullptr);
  EXPECT_TRUE(config->Get("quick")->boolean());
  EXPECT_GE(number_at(*config, "repetitions"), 1);
  const Json::Array models = array_at(*config, "models");
  ASSERT_EQ(models.size(), Matrix().size());
  for (size_t i = 0; i < models.size(); ++i) {
    const auto& [name, workloads] = Matrix()[i];
    EXPECT_EQ(string_at(models[i], "name"), name);
    EXPECT_FALSE(string_at(models[i], "title").empty());
    const bool loop_side = absl::StrContains(name, "asyncio") ||
                           absl::StrContains(name, "to_thread");
    EXPECT_EQ(string_at(models[i], "side"), loop_side ? "asyncio" : "thread_pool") << name;
    const bool cpython = absl::StartsWith(name, "cpython_");
    EXPECT_EQ(string_at(models[i], "language"), cpython ? "python" : "c++") << name;
    ASSERT_TRUE(models[i].Get("available") != nullptr);
    if (cpython) {
      EXPECT_EQ(models[i].Get("available")->boolean(), PythonOnPath()) << name;
    }
    std::vector<std::string> listed;
    for (const Json& w : array_at(models[i], "workloads")) listed.push_back(w.string());
    EXPECT_EQ(listed, workloads) << name;
  }
  std::map<std::string, std::set<std::string>> metrics_of;
  const Json::Array workloads = array_at(*config, "workloads");
  EXPECT_EQ(workloads.size(), kAllWorkloads.size());
  for (const Json& w : workloads) {
    const std::string name = string_at(w, "name");
    EXPECT_NE(std::find(kAllWorkloads.begin(), kAllWorkloads.end(), name),
              kAllWorkloads.end()) << name;
    EXPECT_FALSE(string_at(w, "description").empty()) << name;
    for (const Json& m : array_at(w, "metrics")) metrics_of[name].insert(m.string());
    EXPECT_FALSE(metrics_of[name].empty()) << name;
  }
  EXPECT_EQ(metrics_of["cpu_pure"],
            (std::set<std::string>{"sequential_s", "concurrent_s", "speedup"}));
  EXPECT_EQ(metrics_of["tcp_echo"],
            (std::set<std::string>{"requests_per_s", "p50_us", "p99_us",
                                   "server_cpu_us_per_request"}));

  const Json::Array runs = array_at(doc, "runs");
  EXPECT_FALSE(runs.empty());
  for (const Json& run : runs) {
    const std::string what =
        string_at(run, "model") + " / " + string_at(run, "workload");
    const Json* params = run.Get("params");
    ASSERT_TRUE(params != nullptr && params->is_object()) << what;
    for (const auto& [key, value] : params->members()) {
      EXPECT_TRUE(value.is_number()) << what << " " << key;
    }
    const std::string status = string_at(run, "status");
    EXPECT_TRUE(status == "ok" || status == "not available" || status == "error")
        << what << ": " << status;
    string_at(run, "error");
    const Json::Array reps = array_at(run, "repetitions");
    const Json* median = run.Get("median");
    ASSERT_TRUE(median != nullptr && median->is_object()) << what;
    if (status != "ok") continue;
    EXPECT_FALSE(reps.empty()) << what;
    for (const Json& rep : reps) {
      ASSERT_TRUE(rep.is_object()) << what;
      for (const auto& [key, value] : rep.members()) {
        EXPECT_TRUE(value.is_number()) << what << " " << key;
      }
    }
    std::set<std::string> median_keys;
    for (const auto& [key, value] : median->members()) {
      EXPECT_TRUE(value.is_number()) << what << " " << key;
      median_keys.insert(key);
    }
    std::set<std::string> expected_keys = metrics_of[string_at(run, "workload")];
    // The C++ asyncio models also count the callers in their async call graph.
    const std::string model = string_at(run, "model");
    if (string_at(run, "workload") == "debug_stack" &&
        (model == "asyncio" || model == "asyncio_to_thread")) {
      expected_keys.insert("user_frames_in_call_graph");
    }
    EXPECT_EQ(median_keys, expected_keys) << what;
  }

  for (const Json& r : array_at(doc, "readability")) {
    const std::string what = string_at(r, "model") + " / " + string_at(r, "workload");
    EXPECT_FALSE(string_at(r, "source").empty()) << what;
    if (r.Get("error") != nullptr) {
      EXPECT_TRUE(r.Get("error")->is_string()) << what;
    } else {
      EXPECT_GT(number_at(r, "code_lines"), 0) << what;
      EXPECT_GE(number_at(r, "async_markers"), 0) << what;
    }
  }

  auto check_finding = [&](const Json& finding) {
    EXPECT_FALSE(string_at(finding, "claim").empty());
    EXPECT_FALSE(string_at(finding, "figure").empty());
    const std::string verdict = string_at(finding, "verdict");
    EXPECT_TRUE(verdict == "reproduced" || verdict == "partly" ||
                verdict == "not reproduced" || verdict == "not measured")
        << verdict;
    string_at(finding, "why");
  };
  const Json::Array table = array_at(doc, "table");
  const std::vector<std::string> features = {
      "Concurrency Model", "I/O Efficiency", "CPU-bound Handling",
      "Code Readability", "Debugging", "Library Support"};
  ASSERT_EQ(table.size(), features.size());
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(string_at(table[i], "feature"), features[i]);
    for (const char* side : {"asyncio", "thread_pool"}) {
      ASSERT_TRUE(table[i].Get(side) != nullptr) << features[i] << " " << side;
      check_finding(*table[i].Get(side));
    }
  }
  const Json::Array claims = array_at(doc, "claims");
  EXPECT_EQ(claims.size(), 8u);
  for (const Json& claim : claims) check_finding(claim);

  const Json::Array best_uses = array_at(doc, "best_use_cases");
  EXPECT_EQ(best_uses.size(), 7u);
  for (const Json& use : best_uses) check_finding(use);
  // Two languages x two sweeps x three figures, each with its rows.
  const Json::Array crossovers = array_at(doc, "crossovers");
  ASSERT_EQ(crossovers.size(), 12u);
  std::set<std::string> seen;
  for (const Json& c : crossovers) {
    const std::string what = string_at(c, "language") + " " +
                             string_at(c, "workload") + " " + string_at(c, "figure");
    seen.insert(what);
    EXPECT_FALSE(string_at(c, "asyncio_model").empty()) << what;
    EXPECT_FALSE(string_at(c, "text").empty()) << what;
    const Json* n = c.Get("crossover_n");
    ASSERT_TRUE(n != nullptr && (n->is_null() || n->is_number())) << what;
    for (const Json& point : array_at(c, "points")) {
      EXPECT_GE(number_at(point, "n"), 1) << what;
      EXPECT_GT(number_at(point, "asyncio"), 0) << what;
      string_at(point, "pool_error");
      // A crossover is a measured row whose advantage is at least 2.
      const Json* advantage = point.Get("advantage");
      ASSERT_TRUE(advantage != nullptr) << what;
      if (n->is_number() && number_at(point, "n") >= n->number() &&
          advantage->is_number()) {
        EXPECT_GE(advantage->number(), 2) << what;
      }
    }
  }
  EXPECT_EQ(seen.size(), 12u);
  const Json::Array moderate = array_at(doc, "moderate_io");
  ASSERT_EQ(moderate.size(), 4u);
  for (const Json& m : moderate) {
    EXPECT_GE(number_at(m, "largest_n"), 0);
    for (const char* key : {"all_three", "throughput_and_cpu"}) {
      const Json* v = m.Get(key);
      ASSERT_TRUE(v != nullptr && (v->is_null() || v->is_number())) << key;
    }
  }
  EXPECT_GE(number_at(*machine, "open_files_limit"), 1);
}

// The figures the sweeps report mean what they say: one thread for the
// loop, a thread per in-flight operation for the pools, every long task
// counted, and short tasks starved behind long ones only in the pools.
TEST_F(CompareQuickTest, SweepFiguresBehaveAsDocumented) {
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status;
  if (!IoUringHere()) GTEST_SKIP() << "io_uring is not available here";
  Json doc = Results();
  int fetches = 0, echoes = 0, starvations = 0;
  for (const Json& run : doc.Get("runs")->array()) {
    if (run.Get("status")->string() != "ok") continue;
    const std::string model = run.Get("model")->string();
    const std::string workload = run.Get("workload")->string();
    const Json& p = *run.Get("params");
    const Json& m = *run.Get("median");
    const bool loop = model == "asyncio" || model == "cpython_asyncio";
    const std::string what = model + " " + workload;
    if (workload == "http_fetch") {
      ++fetches;
      const double n = p.Get("n")->number();
      // results.json keeps 6 significant digits.
      EXPECT_NEAR(m.Get("fetches_per_s")->number() * m.Get("wall_s")->number(), n,
                  n * 1e-4) << what;
      // Every fetch waits delay_ms at the server.
      EXPECT_GE(m.Get("wall_s")->number(), p.Get("delay_ms")->number() / 1000) << what;
      const double peak = m.Get("peak_in_flight")->number();
      if (loop) {
        // One thread, every fetch under way at once.
        EXPECT_EQ(m.Get("threads")->number(), 1) << what;
        EXPECT_EQ(peak, n) << what;
      } else {
        // Never more fetches under way than workers, each on a thread.
        EXPECT_GE(peak, 1) << what;
        EXPECT_LE(peak, p.Get("workers")->number()) << what;
        EXPECT_GT(m.Get("threads")->number(), peak) << what;
      }
      EXPECT_NEAR(m.Get("bytes_per_fetch")->number() * peak,
                  m.Get("rss_bytes")->number(),
                  m.Get("rss_bytes")->number() * 1e-5 + 1) << what;
    } else if (workload == "many_connections") {
      ++echoes;
      const double c = p.Get("connections")->number();
      if (loop) {
        EXPECT_EQ(m.Get("server_threads")->number(), 1) << what;
      } else {
        // Thread per connection, all open at once.
        EXPECT_GE(m.Get("server_threads")->number(), c) << what;
      }
      EXPECT_GT(m.Get("load_cpu_us_per_request")->number(), 0) << what;
    } else if (workload == "pool_starvation") {
      ++starvations;
      const double tasks = p.Get("rate_per_s")->number() *
                           p.Get("window_ms")->number() / 1000;
      EXPECT_EQ(m.Get("long_tasks")->number(),
                tasks * p.Get("long_pct")->number() / 100) << what;
      const bool saturated = tasks * p.Get("long_pct")->number() / 100 >
                             p.Get("workers")->number();
      const double long_ms = p.Get("long_ms")->number();
      if (saturated && (model == "threads_gil" || model == "cpython_threads")) {
        // More long tasks than workers: some short task waits for a long one.
        EXPECT_GE(m.Get("short_p99_ms")->number(), 0.3 * long_ms) << what;
      }
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
      if (loop) {
        EXPECT_LT(m.Get("short_p99_ms")->number(), long_ms) << what;
      }
#endif
    }
  }
  EXPECT_GT(fetches, 0);
  EXPECT_GT(echoes, 0);
  EXPECT_GT(starvations, 0);
}

TEST_F(CompareQuickTest, ReportHasTheBestUseCasesSection) {
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status;
  EXPECT_THAT(outcome_->out, HasSubstr("## Best use cases, measured"));
  EXPECT_THAT(outcome_->out, HasSubstr("### Crossovers"));
  EXPECT_THAT(outcome_->out, HasSubstr("### How the crossovers are derived"));
  for (const char* row : {"| C++ | http_fetch |", "| CPython | http_fetch |",
                          "| C++ | many_connections |", "| CPython | many_connections |"}) {
    EXPECT_THAT(outcome_->out, HasSubstr(row));
  }
  EXPECT_THAT(outcome_->out, HasSubstr("Use asyncio for tasks involving many"));
  EXPECT_THAT(outcome_->out, HasSubstr("Threads are best for short, blocking I/O tasks"));
}

bool HasDigit(const std::string& text) {
  return text.find_first_of("0123456789") != std::string::npos;
}

TEST_F(CompareQuickTest, EveryTableCellAndClaimHasAFigure) {
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status;
  if (!IoUringHere()) {
    GTEST_SKIP() << "io_uring is not available here, so the asyncio side of "
                    "the table cannot be measured: "
                 << IoUringAvailable();
  }
  Json doc = Results();
  const std::vector<std::string> features = {
      "Concurrency Model", "I/O Efficiency", "CPU-bound Handling",
      "Code Readability", "Debugging", "Library Support"};
  ASSERT_EQ(doc.Get("table")->array().size(), features.size());
  for (size_t i = 0; i < features.size(); ++i) {
    const Json& row = doc.Get("table")->array()[i];
    EXPECT_EQ(row.Get("feature")->string(), features[i]);
    for (const char* side : {"asyncio", "thread_pool"}) {
      const Json* cell = row.Get(side);
      EXPECT_NE(cell->Get("verdict")->string(), "not measured")
          << features[i] << " / " << side << ": " << cell->Get("figure")->string();
      EXPECT_TRUE(HasDigit(cell->Get("figure")->string()))
          << features[i] << " / " << side;
    }
  }
  EXPECT_GE(doc.Get("claims")->array().size(), 8u);
  for (const Json& claim : doc.Get("claims")->array()) {
    EXPECT_NE(claim.Get("verdict")->string(), "not measured")
        << claim.Get("claim")->string() << ": " << claim.Get("figure")->string();
    EXPECT_TRUE(HasDigit(claim.Get("figure")->string()));
  }
}

TEST_F(CompareQuickTest, HtmlReportHoldsEveryChart) {
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status;
  std::string html = ReadFile(*out_dir_ + "/report.html");
  EXPECT_THAT(html, HasSubstr("<!DOCTYPE html>"));
  for (const char* id : {"chart-fanout-wall", "chart-fanout-memory", "chart-cpu-pure",
                         "chart-cpu-native", "chart-loop-lag", "chart-blocking",
                         "chart-echo", "chart-scaling-memory", "chart-scaling-switches",
                         "chart-fetch-throughput", "chart-fetch-memory", "chart-fetch-cpu",
                         "chart-conn-throughput", "chart-conn-memory", "chart-conn-cpu",
                         "chart-starvation"}) {
    size_t at = html.find(absl::StrCat("<svg id=\"", id, "\""));
    ASSERT_NE(at, std::string::npos) << id;
    size_t end = html.find("</svg>", at);
    // A chart with data has marks, each with a <title> tooltip.
    EXPECT_NE(html.substr(at, end - at).find("<title>"), std::string::npos) << id;
  }
  EXPECT_FALSE(absl::StrContains(html, "<script"));
}

TEST(CompareFlagsTest, UnknownModelListsTheValidOnes) {
  Outcome o = RunCompare({"--models=asyncio,fibers"});
  EXPECT_FALSE(o.status.ok());
  EXPECT_THAT(std::string(o.status.message()),
              HasSubstr("unknown model 'fibers'; valid models: asyncio, "
                        "asyncio_to_thread, threads_gil, threads_free"));
}

TEST(CompareFlagsTest, UnknownWorkloadListsTheValidOnes) {
  Outcome o = RunCompare({"--workloads=io_fanout,gpu"});
  EXPECT_FALSE(o.status.ok());
  EXPECT_THAT(std::string(o.status.message()),
              HasSubstr("unknown workload 'gpu'; valid workloads: io_fanout, "
                        "tcp_echo, cpu_pure"));
}

TEST(CompareFlagsTest, ImpossibleSizesAreRejected) {
  for (const auto& [flag, message] :
       std::vector<std::pair<std::string, std::string>>{
           {"--fanout_n=10,0", "--fanout_n=0 is out of range: valid is 1..1000000"},
           {"--fanout_n=10,ten", "'ten' is not an integer"},
           {"--work_ms=-5", "--work_ms=-5 is out of range"},
           {"--repetitions=0", "--repetitions=0 is out of range: valid is 1..100"},
           {"--echo_connections=100 --echo_requests=10", ""}}) {
    std::vector<std::string> args;
    for (absl::string_view a : absl::StrSplit(flag, ' ')) args.emplace_back(a);
    Outcome o = RunCompare(args);
    EXPECT_FALSE(o.status.ok()) << flag;
    EXPECT_THAT(std::string(o.status.message()), HasSubstr(message)) << flag;
  }
}

// No process outlives compare: the HTTP servers and every model's child
// carry this test's marker in their environment, and none is left.
TEST(CompareProcessesTest, LeavesNoProcessBehind) {
  const std::string marker = absl::StrCat("compare_test_", getpid());
  setenv("HARNESS_TEST_MARKER", marker.c_str(), 1);
  Outcome o = RunCompare({"--models=asyncio,threads_free", "--workloads=http_fetch",
                          "--fetch_n=5", "--fetch_delay_ms=0"});
  unsetenv("HARNESS_TEST_MARKER");
  ASSERT_TRUE(o.status.ok()) << o.status;
  std::vector<std::string> left;
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  do {
    left.clear();
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (!std::all_of(name.begin(), name.end(), absl::ascii_isdigit)) continue;
      std::string environ = ReadFile(entry.path().string() + "/environ");
      if (absl::StrContains(environ, "HARNESS_TEST_MARKER=" + marker)) {
        left.push_back(absl::StrCat(name, ": ", ReadFile(entry.path().string() + "/cmdline")));
      }
    }
    if (!left.empty()) absl::SleepFor(absl::Milliseconds(50));  // being reaped
  } while (!left.empty() && absl::Now() < deadline);
  EXPECT_TRUE(left.empty()) << absl::StrJoin(left, "\n");
}

TEST(CompareFaultsTest, AFetchFromNoServerFailsWithTheCause) {
  // Port 1 on loopback: nothing listens there.
  Outcome o = RunCompare({"--child_model=threads_free", "--child_workload=http_fetch",
                          "--child_params=n=3 delay_ms=0 workers=3", "--child_port=1"});
  EXPECT_FALSE(o.status.ok());
  EXPECT_THAT(std::string(o.status.message()), HasSubstr("3 of 3 fetches failed"));
  EXPECT_THAT(std::string(o.status.message()), HasSubstr("Connection refused"));
}

TEST(CompareFaultsTest, TooFewDescriptorsIsNotMeasuredWithTheReason) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp == nullptr ? "/tmp" : tmp, "/fds");
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(
      {"/bin/sh", "-c",
       absl::StrCat("ulimit -n 300 && exec ", ComparePath(),
                    " --models=threads_free --workloads=many_connections"
                    " --sweep_connections=10,1000 --out=",
                    dir)});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::string> out = child->Finish(absl::Now() + absl::Seconds(120));
  // The 10-connection run measured something, so compare succeeds.
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("descriptor limit 300 is too low for 1000 concurrent"));
  absl::StatusOr<Json> doc = Json::Parse(ReadFile(dir + "/results.json"));
  ASSERT_TRUE(doc.ok()) << doc.status();
  int measured = 0, refused = 0;
  for (const Json& run : doc->Get("runs")->array()) {
    const std::string status = run.Get("status")->string();
    if (status == "ok") ++measured;
    if (status == "not available" &&
        absl::StrContains(run.Get("error")->string(), "descriptor limit")) {
      ++refused;
    }
  }
  EXPECT_EQ(measured, 1);
  EXPECT_EQ(refused, 1);
}

TEST(CompareFlagsTest, ChildRunRejectsMissingParameters) {
  Outcome o = RunCompare({"--child_model=asyncio", "--child_workload=mixed",
                          "--child_params=probes=3"});
  EXPECT_FALSE(o.status.ok());
  EXPECT_THAT(std::string(o.status.message()), HasSubstr("'slice_ms' is missing"));
}

}  // namespace
}  // namespace harness
