// Runs `compare --quick --out=DIR` as a user would and checks what it
// produced: every model ran every workload it supports, every cell of the
// seed's table and every claim has a measured figure, results.json matches
// the documented schema, and report.html holds its charts. Also checks that
// bad flags fail with a message that lists what is valid.

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

TEST_F(CompareQuickTest, EveryModelRanEveryWorkloadItSupports) {
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status;
  Json doc = Results();
  const Json* python = doc.Get("machine")->Get("python");
  const bool python_on_path = OnPath("python3");
  EXPECT_EQ(python->is_string(), python_on_path);
  std::set<std::pair<std::string, std::string>> ran;
  for (const Json& run : doc.Get("runs")->array()) {
    std::string status = run.Get("status")->string();
    std::string model = run.Get("model")->string();
    if (status == "not available") {
      if (absl::StartsWith(model, "cpython_")) {
        EXPECT_FALSE(python_on_path) << model << " was not available";
      } else {
        EXPECT_TRUE(absl::StartsWith(model, "asyncio")) << model;
        EXPECT_FALSE(IoUringAvailable().ok()) << model << " was not available";
      }
      continue;
    }
    EXPECT_EQ(status, "ok") << model << " " << run.Get("workload")->string()
                            << ": " << run.Get("error")->string();
    EXPECT_FALSE(run.Get("repetitions")->array().empty());
    ran.insert({model, run.Get("workload")->string()});
  }
  int expected = 0;
  for (const Json& model : doc.Get("config")->Get("models")->array()) {
    if (!model.Get("available")->boolean()) continue;
    if (absl::StartsWith(model.Get("name")->string(), "asyncio") &&
        !IoUringAvailable().ok()) {
      continue;
    }
    for (const Json& workload : model.Get("workloads")->array()) {
      ++expected;
      EXPECT_TRUE(ran.contains({model.Get("name")->string(), workload.string()}))
          << model.Get("name")->string() << " did not run " << workload.string();
    }
  }
  // 4 C++ models run 8 + 5 + 8 + 8 workloads, the 3 CPython ones 8 + 5 + 8.
  if (IoUringAvailable().ok()) {
    EXPECT_EQ(expected, python_on_path ? 50 : 29);
  }
}

bool HasDigit(const std::string& text) {
  return text.find_first_of("0123456789") != std::string::npos;
}

TEST_F(CompareQuickTest, EveryTableCellAndClaimHasAFigure) {
  ASSERT_TRUE(outcome_->status.ok()) << outcome_->status;
  if (absl::Status uring = IoUringAvailable(); !uring.ok()) {
    GTEST_SKIP() << "io_uring is not available here, so the asyncio side of "
                    "the table cannot be measured: "
                 << uring;
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
                         "chart-echo", "chart-scaling-memory", "chart-scaling-switches"}) {
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

TEST(CompareFlagsTest, ChildRunRejectsMissingParameters) {
  Outcome o = RunCompare({"--child_model=asyncio", "--child_workload=mixed",
                          "--child_params=probes=3"});
  EXPECT_FALSE(o.status.ok());
  EXPECT_THAT(std::string(o.status.message()), HasSubstr("'slice_ms' is missing"));
}

}  // namespace
}  // namespace harness
