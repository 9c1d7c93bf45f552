// compare: runs identical workloads on every concurrency model and prints the
// comparison report (Markdown on stdout, progress on stderr).
//
//   bazel run //harness:compare                     # the full comparison
//   bazel run //harness:compare -- --quick          # a small, fast run
//   bazel run //harness:compare -- --models=asyncio,threads_gil
//       --workloads=io_fanout --fanout_n=10,1000 --out=/tmp/report
//
// See harness/README.md for every flag, the workloads and results.json.

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "harness/models.h"
#include "harness/report.h"
#include "harness/runner.h"
#include "harness/stack_view.h"
#include "harness/workloads.h"

ABSL_FLAG(std::string, models, "",
          "comma-separated models to run (default: all): asyncio, "
          "asyncio_to_thread, threads_gil, threads_free, cpython_asyncio, "
          "cpython_to_thread, cpython_threads");
ABSL_FLAG(std::string, workloads, "",
          "comma-separated workloads (default: all): io_fanout, tcp_echo, "
          "cpu_pure, cpu_native, mixed, blocking_call, thread_scaling, "
          "debug_stack, http_fetch, many_connections, pool_starvation");
ABSL_FLAG(bool, quick, false, "small sizes and one repetition (under 20 s)");
ABSL_FLAG(bool, full, false,
          "the default sizes plus the points past the 3-minute budget "
          "(io_fanout at 100,000; http_fetch and many_connections at 10,000; "
          "http_fetch's 5-worker pool at 1,000 and 0 ms delay at 10,000; "
          "pool_starvation at 0,1,5,10,20,50% long), and every repetition for "
          "the sweeps too");
ABSL_FLAG(std::string, out, "",
          "also write results.json and report.html into this directory");
ABSL_FLAG(std::optional<int>, repetitions, std::nullopt,
          "runs per figure; figures are medians (default 3, --quick 1)");
ABSL_FLAG(std::optional<std::string>, python, std::nullopt,
          "the CPython interpreter for the cpython_* models (default: python3 "
          "from PATH if there is one; one named here must run)");
ABSL_FLAG(std::string, fanout_n, "",
          "io_fanout: comma-separated N values (default 10,100,1000,10000; --full "
          "adds 100000)");
ABSL_FLAG(std::optional<int64_t>, wait_ms, std::nullopt, "io_fanout: wait per task");
ABSL_FLAG(std::optional<int64_t>, max_threads, std::nullopt,
          "io_fanout: pool size cap of the thread models (default 1000)");
ABSL_FLAG(std::string, echo_connections, "",
          "tcp_echo: comma-separated connection counts (default 1,10,100)");
ABSL_FLAG(std::optional<int64_t>, echo_requests, std::nullopt,
          "tcp_echo: round trips per run");
ABSL_FLAG(std::optional<int64_t>, work_ms, std::nullopt,
          "cpu_pure/cpu_native: length of one CPU task");
ABSL_FLAG(std::optional<int64_t>, probes, std::nullopt, "mixed: 1 ms waits probed");
ABSL_FLAG(std::optional<int64_t>, block_ms, std::nullopt,
          "blocking_call: length of the blocking call");
ABSL_FLAG(std::string, scaling_threads, "",
          "thread_scaling: comma-separated T values (default 32,1000)");
ABSL_FLAG(std::optional<int64_t>, scaling_tasks, std::nullopt,
          "thread_scaling: blocking operations per run");
ABSL_FLAG(std::string, fetch_n, "",
          "http_fetch: comma-separated N values (default 5,100,1000; --full adds "
          "10000)");
ABSL_FLAG(std::string, fetch_delay_ms, "",
          "http_fetch: comma-separated server delays in ms (default 50,0)");
ABSL_FLAG(std::optional<int64_t>, fetch_max_workers, std::nullopt,
          "http_fetch: cap of the thread pool sized to N (default 10000)");
ABSL_FLAG(std::string, sweep_connections, "",
          "many_connections: comma-separated connection counts (default "
          "1,10,100,1000; --full adds 10000)");
ABSL_FLAG(std::string, starvation_long_pct, "",
          "pool_starvation: comma-separated shares of long tasks in percent "
          "(default 0,5,20)");

// Internal: how compare runs one C++ workload in a child process.
ABSL_FLAG(std::string, child_model, "", "internal: run one model in-process");
ABSL_FLAG(std::string, child_workload, "", "internal");
ABSL_FLAG(std::string, child_params, "", "internal");
ABSL_FLAG(int, child_port, 0, "internal: the HTTP server's port (http_fetch)");
ABSL_FLAG(bool, child_http_server, false, "internal: run the http_fetch server");
ABSL_FLAG(int64_t, http_delay_ms, 50, "internal: the HTTP server's delay");

namespace harness {
namespace {

absl::StatusOr<std::vector<int64_t>> ParseList(absl::string_view flag,
                                               absl::string_view text) {
  std::vector<int64_t> values;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(item), &v)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", flag, ": '", item, "' is not an integer; give a comma-separated "
          "list such as 10,100"));
    }
    values.push_back(v);
  }
  return values;
}

absl::StatusOr<Options> OptionsFromFlags() {
  Options options;
  options.quick = absl::GetFlag(FLAGS_quick);
  options.full = absl::GetFlag(FLAGS_full);
  if (options.quick && options.full) {
    return absl::InvalidArgumentError("--quick and --full exclude each other");
  }
  options.sizes = options.quick ? Sizes::Quick()
                  : options.full ? Sizes::Full()
                                 : Sizes::Default();
  options.repetitions =
      absl::GetFlag(FLAGS_repetitions).value_or(options.quick ? 1 : 3);
  if (options.repetitions < 1 || options.repetitions > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--repetitions=", options.repetitions, " is out of range: valid is 1..100"));
  }
  if (std::optional<std::string> python = absl::GetFlag(FLAGS_python)) {
    options.python = *python;
    options.python_required = true;
  }
  options.io_uring = IoUringAvailable();

  std::string models = absl::GetFlag(FLAGS_models);
  if (models.empty()) {
    for (const ModelInfo& m : AllModels()) options.models.push_back(&m);
  } else {
    for (absl::string_view name : absl::StrSplit(models, ',', absl::SkipWhitespace())) {
      absl::StatusOr<const ModelInfo*> m = FindModel(absl::StripAsciiWhitespace(name));
      if (!m.ok()) return absl::InvalidArgumentError(absl::StrCat("--models: ", m.status().message()));
      options.models.push_back(*m);
    }
  }
  std::string workloads = absl::GetFlag(FLAGS_workloads);
  if (workloads.empty()) {
    options.workloads.assign(std::begin(kAllWorkloads), std::end(kAllWorkloads));
  } else {
    for (absl::string_view name : absl::StrSplit(workloads, ',', absl::SkipWhitespace())) {
      absl::StatusOr<Workload> w = ParseWorkload(absl::StripAsciiWhitespace(name));
      if (!w.ok()) return absl::InvalidArgumentError(absl::StrCat("--workloads: ", w.status().message()));
      options.workloads.push_back(*w);
    }
  }

  Sizes& s = options.sizes;
  struct ListFlag {
    absl::string_view name;
    std::string text;
    std::vector<int64_t>* target;
  };
  for (ListFlag f : {ListFlag{"fanout_n", absl::GetFlag(FLAGS_fanout_n), &s.fanout_n},
                     ListFlag{"echo_connections", absl::GetFlag(FLAGS_echo_connections),
                              &s.echo_connections},
                     ListFlag{"scaling_threads", absl::GetFlag(FLAGS_scaling_threads),
                              &s.scaling_threads},
                     ListFlag{"fetch_n", absl::GetFlag(FLAGS_fetch_n), &s.fetch_n},
                     ListFlag{"fetch_delay_ms", absl::GetFlag(FLAGS_fetch_delay_ms),
                              &s.fetch_delay_ms},
                     ListFlag{"sweep_connections", absl::GetFlag(FLAGS_sweep_connections),
                              &s.sweep_connections},
                     ListFlag{"starvation_long_pct",
                              absl::GetFlag(FLAGS_starvation_long_pct),
                              &s.starvation_long_pct}}) {
    if (f.text.empty()) continue;
    absl::StatusOr<std::vector<int64_t>> values = ParseList(f.name, f.text);
    if (!values.ok()) return values.status();
    *f.target = *values;
  }
  auto set = [](const std::optional<int64_t>& flag, int64_t& target) {
    if (flag.has_value()) target = *flag;
  };
  set(absl::GetFlag(FLAGS_wait_ms), s.wait_ms);
  set(absl::GetFlag(FLAGS_max_threads), s.max_threads);
  set(absl::GetFlag(FLAGS_echo_requests), s.echo_requests);
  set(absl::GetFlag(FLAGS_work_ms), s.work_ms);
  set(absl::GetFlag(FLAGS_probes), s.probes);
  set(absl::GetFlag(FLAGS_block_ms), s.block_ms);
  set(absl::GetFlag(FLAGS_scaling_tasks), s.scaling_tasks);
  set(absl::GetFlag(FLAGS_fetch_max_workers), s.fetch_max_workers);
  if (absl::Status v = s.Validate(); !v.ok()) return v;
  return options;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status MakeDirectories(const std::string& path) {
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    absl::StrAppend(&prefix, part, "/");
    if (part.empty()) continue;
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create ", prefix, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

// Creates --out's directory if need be and checks that the report can be
// written there, before the run rather than after it.
absl::Status PrepareOutDir(const std::string& path) {
  if (absl::Status s = MakeDirectories(path); !s.ok()) return s;
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot use ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a directory"));
  }
  if (access(path.c_str(), W_OK | X_OK) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write into ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

int RunChild() {
  absl::StatusOr<const ModelInfo*> model = FindModel(absl::GetFlag(FLAGS_child_model));
  absl::StatusOr<Workload> workload = ParseWorkload(absl::GetFlag(FLAGS_child_workload));
  absl::StatusOr<Params> params = ParseParams(absl::GetFlag(FLAGS_child_params));
  absl::Status status = !model.ok()      ? model.status()
                        : !workload.ok() ? workload.status()
                        : !params.ok()   ? params.status()
                                         : RunChildAndPrint(**model, *workload, *params,
                                                            absl::GetFlag(FLAGS_child_port));
  if (!status.ok()) {
    std::cerr << status.message() << "\n";
    return 1;
  }
  return 0;
}

int Main() {
  absl::StatusOr<Options> options = OptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "compare: " << options.status().message() << "\n";
    return 2;
  }
  const std::string out_dir = absl::GetFlag(FLAGS_out);
  if (!out_dir.empty()) {
    if (absl::Status s = PrepareOutDir(out_dir); !s.ok()) {
      std::cerr << "compare: --out: " << s.message() << "\n";
      return 2;
    }
  }
  absl::StatusOr<Results> results =
      RunComparison(*options, [](const std::string& line) {
        std::cerr << line << std::endl;
      });
  if (!results.ok()) {
    std::cerr << "compare: " << results.status().message() << "\n";
    return 2;
  }
  Report report = BuildReport(*results);
  std::cout << RenderMarkdown(*results, report) << std::flush;
  if (!out_dir.empty()) {
    Json doc = ResultsJson(*results, report);
    if (absl::Status s = CheckResultsSchema(doc); !s.ok()) {
      std::cerr << "compare: " << s.message() << "\n";
      return 1;
    }
    for (auto [name, text] :
         {std::pair<std::string, std::string>{"results.json", doc.Dump(2) + "\n"},
          {"report.html", RenderHtml(*results, report)}}) {
      if (absl::Status s = WriteFile(absl::StrCat(out_dir, "/", name), text); !s.ok()) {
        std::cerr << "compare: " << s.message() << "\n";
        return 1;
      }
    }
    std::cerr << "wrote " << out_dir << "/results.json and " << out_dir
              << "/report.html\n";
  }
  // A run that failed says why in its cell and in "Runs without figures";
  // the exit status is an error only when nothing at all was measured.
  for (const Cell& cell : results->cells) {
    if (cell.status == RunStatus::kOk) return 0;
  }
  std::cerr << "compare: no run produced figures\n";
  return 1;
}

}  // namespace
}  // namespace harness

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs identical workloads on every concurrency model and prints the "
      "comparison report.\nUsage: compare [--quick] [--models=a,b] "
      "[--workloads=x,y] [--out=DIR] [--repetitions=N] [sizes...]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::cerr << "compare: unexpected argument '" << rest[1]
              << "'; flags look like --quick or --models=asyncio\n";
    return 2;
  }
  harness::InitializeSymbolizer(argv[0]);
  // 10,000 connections need 10,000 descriptors in each process.
  harness::RaiseOpenFilesLimit();
  if (absl::GetFlag(FLAGS_child_http_server)) {
    absl::Status s = harness::RunHttpServerChild(
        absl::Milliseconds(absl::GetFlag(FLAGS_http_delay_ms)));
    std::cerr << "http server: " << s.message() << "\n";
    return 1;
  }
  if (!absl::GetFlag(FLAGS_child_model).empty()) return harness::RunChild();
  return harness::Main();
}
