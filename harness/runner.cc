#include "harness/runner.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "harness/child_process.h"
#include "harness/echo_load.h"
#include "harness/http_fetch.h"
#include "harness/measure.h"

namespace harness {
namespace {

// The workloads whose implementations the report compares line by line.
constexpr Workload kReadabilityWorkloads[] = {Workload::kIoFanout,
                                              Workload::kTcpEcho};

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

std::vector<std::string> ChildCommand(const ModelInfo& model, const Run& run,
                                      const Options& options,
                                      const std::string& root, int server_port) {
  if (model.is_cpython()) {
    std::vector<std::string> argv = {options.python,
                                     absl::StrCat(root, "/", model.script),
                                     std::string(WorkloadName(run.workload))};
    for (const auto& [name, value] : run.params) {
      argv.push_back(absl::StrCat(name, "=", value));
    }
    if (server_port != 0) argv.push_back(absl::StrCat("port=", server_port));
    return argv;
  }
  std::vector<std::string> argv = {
      SelfExecutable(), absl::StrCat("--child_model=", model.name),
      absl::StrCat("--child_workload=", WorkloadName(run.workload)),
      absl::StrCat("--child_params=", FormatParams(run.params))};
  if (server_port != 0) argv.push_back(absl::StrCat("--child_port=", server_port));
  return argv;
}

// The {"port": N} line a server child prints first.
absl::StatusOr<int> ReadPort(ChildProcess& child, absl::Time deadline) {
  absl::StatusOr<std::string> line = child.ReadLine(deadline);
  if (!line.ok()) return line.status();
  absl::StatusOr<Json> announced = Json::Parse(*line);
  if (!announced.ok()) return announced.status();
  const Json* port = announced->Get("port");
  if (port == nullptr || !port->is_number()) {
    return absl::DataLossError(
        absl::StrCat("expected {\"port\": N} first, got: ", *line));
  }
  return static_cast<int>(port->number());
}

absl::StatusOr<Json> LastJsonLine(absl::string_view output) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(output, '\n', absl::SkipWhitespace());
  if (lines.empty()) return absl::DataLossError("the run printed nothing");
  return Json::Parse(lines.back());
}

absl::StatusOr<Metrics> MetricsFromJson(const Json& doc) {
  const Json* metrics = doc.Get("metrics");
  if (metrics == nullptr || !metrics->is_object()) {
    return absl::DataLossError(
        absl::StrCat("the run printed no \"metrics\" object: ", doc.Dump()));
  }
  Metrics out;
  for (const auto& [name, value] : metrics->members()) {
    if (!value.is_number()) {
      return absl::DataLossError(
          absl::StrCat("metric '", name, "' is not a number"));
    }
    out[name] = value.number();
  }
  return out;
}

absl::StatusOr<Metrics> RunOnce(const ModelInfo& model, const Run& run,
                                const Options& options,
                                const std::string& root) {
  absl::Time deadline =
      absl::Now() + (IsSweep(run.workload) ? options.sweep_timeout : options.run_timeout);
  // http_fetch: a fresh server per run, in its own process (a fresh port,
  // so no connection of an earlier run lingers in TIME_WAIT on this one's
  // addresses). Destroying it kills it.
  std::optional<ChildProcess> http_server;
  int server_port = 0;
  if (run.workload == Workload::kHttpFetch) {
    absl::StatusOr<ChildProcess> server = ChildProcess::Spawn(
        {SelfExecutable(), "--child_http_server",
         absl::StrCat("--http_delay_ms=", run.params.at("delay_ms"))});
    if (!server.ok()) return server.status();
    http_server.emplace(*std::move(server));
    absl::StatusOr<int> port = ReadPort(*http_server, deadline);
    if (!port.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "the HTTP server did not start: ", port.status().message()));
    }
    server_port = *port;
  }
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Spawn(ChildCommand(model, run, options, root, server_port));
  if (!child.ok()) return child.status();
  std::optional<EchoLoad> load;
  std::optional<ProcessStatus> server_at_start, server_loaded;
  const bool echo = run.workload == Workload::kTcpEcho ||
                    run.workload == Workload::kManyConnections;
  if (echo) {
    absl::StatusOr<int> port = ReadPort(*child, deadline);
    if (!port.ok()) return port.status();
    server_at_start = ReadProcessStatus(child->pid());
    const pid_t pid = child->pid();
    absl::StatusOr<EchoLoad> driven = DriveEcho(
        *port,
        {.connections = static_cast<int>(run.params.at("connections")),
         .requests = run.params.at("requests"),
         .message_bytes = static_cast<int>(run.params.at("message_bytes")),
         .timeout = deadline - absl::Now(),
         .on_all_answered = [&] { server_loaded = ReadProcessStatus(pid); }});
    if (!driven.ok()) return driven.status();
    load = *driven;
  }
  absl::StatusOr<std::string> output = child->Finish(deadline);
  if (!output.ok()) return output.status();
  absl::StatusOr<Json> doc = LastJsonLine(*output);
  if (!doc.ok()) return doc.status();
  absl::StatusOr<Metrics> metrics = MetricsFromJson(*doc);
  if (!metrics.ok()) return metrics.status();
  if (load.has_value()) {
    (*metrics)["requests_per_s"] = load->requests_per_s;
    (*metrics)["p50_us"] = load->p50_us;
    (*metrics)["p99_us"] = load->p99_us;
  }
  if (run.workload == Workload::kManyConnections) {
    if (!server_at_start || !server_loaded) {
      return absl::DataLossError(
          "could not read the server's /proc status while it served");
    }
    (*metrics)["server_rss_bytes"] = static_cast<double>(std::max<int64_t>(
        0, server_loaded->peak_rss_bytes - server_at_start->rss_bytes));
    (*metrics)["server_threads"] = server_loaded->threads;
    (*metrics)["load_cpu_us_per_request"] = load->cpu_us_per_request;
  }
  if (absl::Status s = CheckMetrics(run.workload, *metrics, /*from_child=*/false);
      !s.ok()) {
    return s;
  }
  return metrics;
}

Metrics Medians(const std::vector<Metrics>& repetitions) {
  Metrics out;
  if (repetitions.empty()) return out;
  for (const auto& [name, unused] : repetitions.front()) {
    std::vector<double> values;
    for (const Metrics& m : repetitions) values.push_back(m.at(name));
    std::sort(values.begin(), values.end());
    size_t mid = values.size() / 2;
    out[name] = values.size() % 2 == 1 ? values[mid]
                                       : (values[mid - 1] + values[mid]) / 2;
  }
  return out;
}

std::string FirstLineOf(const std::string& path, absl::string_view prefix) {
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    if (absl::StartsWith(line, prefix)) {
      std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(':', 1));
      return parts.size() == 2 ? std::string(absl::StripAsciiWhitespace(parts[1]))
                               : line;
    }
  }
  return "";
}

std::string BuildMode() {
#if defined(__SANITIZE_THREAD__)
  return "tsan";
#elif defined(__SANITIZE_ADDRESS__)
  return "asan";
#elif defined(NDEBUG)
  return "opt";
#else
  return "fastbuild";
#endif
}

struct Python {
  std::string version;     // "3.11.7"
  std::string executable;  // the interpreter itself, past any wrapper script
};

// Asks `python` for its version and real executable, so that the runs start
// the interpreter directly (version managers put slow wrapper scripts on
// PATH).
absl::StatusOr<Python> FindPython(const std::string& python) {
  if (!OnPath(python)) {
    return absl::NotFoundError(
        absl::StrCat(python, python.find('/') == std::string::npos
                                 ? " is not on PATH"
                                 : " is not an executable file"));
  }
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(
      {python, "-c",
       "import sys; print(sys.version.split()[0]); print(sys.executable)"});
  if (!child.ok()) return child.status();
  absl::StatusOr<std::string> out = child->Finish(absl::Now() + absl::Seconds(30));
  if (!out.ok()) return out.status();
  std::vector<std::string> lines =
      absl::StrSplit(absl::StripAsciiWhitespace(*out), '\n');
  if (lines.size() != 2 || lines[1].empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(python, " did not report its version: ", *out));
  }
  return Python{lines[0], lines[1]};
}

// How much two threads speed up native work right now: about 2× on an idle
// 2-core machine, less when other processes hold the cores. It bounds every
// parallel speed-up the run can show; the report gives the median of the
// samples taken at the start and before each round of CPU-bound runs.
double AvailableParallelism() {
  const int64_t bytes =
      CalibrateUnits(absl::Milliseconds(40), [](int64_t b) { HashBytes(b); });
  std::atomic<uint64_t> sink = 0;
  absl::Time start = absl::Now();
  sink += HashBytes(bytes);
  sink += HashBytes(bytes);
  absl::Duration sequential = absl::Now() - start;
  start = absl::Now();
  std::thread other([&] { sink += HashBytes(bytes); });
  sink += HashBytes(bytes);
  other.join();
  return absl::FDivDuration(sequential, absl::Now() - start);
}

Json DescribeMachine(const absl::StatusOr<Python>& python) {
  Json machine = Json::Object();
  utsname name{};
  uname(&name);
  struct sysinfo info{};
  sysinfo(&info);
  machine.Set("cpu_model", FirstLineOf("/proc/cpuinfo", "model name"));
  machine.Set("logical_cpus", static_cast<int>(std::thread::hardware_concurrency()));
  machine.Set("memory_bytes",
              static_cast<double>(info.totalram) * info.mem_unit);
  machine.Set("kernel", absl::StrCat(name.sysname, " ", name.release));
  machine.Set("compiler", absl::StrCat("g++ ", __VERSION__));
  machine.Set("build", BuildMode());
  machine.Set("python", python.ok() ? Json(python->version) : Json());
  machine.Set("load_average_1min",
              [] {
                double load[1] = {0};
                getloadavg(load, 1);
                return load[0];
              }());
  return machine;
}

}  // namespace

absl::string_view RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kOk: return "ok";
    case RunStatus::kNotAvailable: return "not available";
    case RunStatus::kError: return "error";
  }
  return "error";
}

absl::StatusOr<std::string> WorkspaceRoot() {
  // Bazel 4 sets RUNFILES_DIR under `bazel run` and TEST_SRCDIR under
  // `bazel test`; started from bazel-bin, the tree is beside the executable.
  std::vector<std::string> trees;
  for (const char* env : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* dir = std::getenv(env); dir != nullptr && *dir != '\0') {
      trees.push_back(dir);
    }
  }
  trees.push_back(absl::StrCat(SelfExecutable(), ".runfiles"));
  trees.erase(std::unique(trees.begin(), trees.end()), trees.end());
  // Each tree holds a directory per repository, the main one named after
  // whichever workspace this package was copied into: TEST_WORKSPACE under
  // `bazel test`, otherwise the one that holds harness/python.
  for (const std::string& tree : trees) {
    std::vector<std::string> repositories;
    if (const char* name = std::getenv("TEST_WORKSPACE"); name != nullptr) {
      repositories.push_back(name);
    }
    if (DIR* dir = opendir(tree.c_str()); dir != nullptr) {
      while (const dirent* entry = readdir(dir)) {
        repositories.push_back(entry->d_name);
      }
      closedir(dir);
    }
    for (const std::string& repository : repositories) {
      if (repository.empty() || repository == "." || repository == "..") {
        continue;
      }
      std::string root = absl::StrCat(tree, "/", repository);
      if (IsDirectory(root + "/harness/python")) return root;
    }
  }
  return absl::NotFoundError(absl::StrCat(
      "cannot find harness/python/ in the runfiles (looked in ",
      absl::StrJoin(trees, ", "),
      "); start compare with `bazel run //harness:compare` or as "
      "bazel-bin/harness/compare, beside which Bazel puts its runfiles"));
}

absl::Status CheckMetrics(Workload workload, const Metrics& metrics,
                          bool from_child) {
  static const auto* echo_server_metrics =
      new std::vector<std::string>{"server_cpu_us_per_request"};
  const std::vector<std::string>& expected =
      from_child && (workload == Workload::kTcpEcho ||
                     workload == Workload::kManyConnections)
          ? *echo_server_metrics
          : MetricNames(workload);
  for (const std::string& name : expected) {
    if (!metrics.contains(name)) {
      return absl::DataLossError(absl::StrCat(
          WorkloadName(workload), ": the run did not report '", name, "'"));
    }
  }
  // The C++ asyncio models also report the callers in their async call
  // graph, which the other models do not have.
  const size_t optional =
      workload == Workload::kDebugStack && metrics.contains("user_frames_in_call_graph") ? 1 : 0;
  if (metrics.size() - optional != expected.size()) {
    return absl::DataLossError(absl::StrCat(
        WorkloadName(workload), ": the run reported ", metrics.size(),
        " metrics, expected ", expected.size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Results> RunComparison(const Options& options,
                                      const Progress& progress) {
  if (absl::Status s = options.sizes.Validate(); !s.ok()) return s;
  if (options.repetitions < 1) {
    return absl::InvalidArgumentError("--repetitions must be at least 1");
  }
  absl::Time start = absl::Now();
  absl::StatusOr<std::string> workspace_root = WorkspaceRoot();
  if (!workspace_root.ok()) return workspace_root.status();
  const std::string& root = *workspace_root;
  absl::StatusOr<Python> python = FindPython(options.python);
  if (!python.ok() && options.python_required) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--python=", options.python, " cannot run: ", python.status().message()));
  }
  Results results;
  results.options = options;
  if (python.ok()) results.options.python = python->executable;
  results.python_available = python.ok();
  results.machine = DescribeMachine(python);
  const int64_t open_files_limit = RaiseOpenFilesLimit();
  results.machine.Set("open_files_limit", static_cast<double>(open_files_limit));

  for (const ModelInfo* model : options.models) {
    for (Workload workload : kReadabilityWorkloads) {
      if (!model->Supports(workload)) continue;
      results.readability.push_back(
          {model, workload,
           CountRegion(absl::StrCat(root, "/", model->source),
                       WorkloadName(workload))});
    }
  }

  // Plan every cell, then run repetitions round-robin over the cells of one
  // workload and size.
  std::vector<Cell>& cells = results.cells;
  for (Workload workload : options.workloads) {
    for (const Run& run : PlanRuns(workload, options.sizes)) {
      for (const ModelInfo* model : options.models) {
        if (!model->Supports(workload)) continue;
        // The asyncio models gather every fetch; the capped pool (the seed's
        // max_workers=5) is a thread-pool row.
        if (workload == Workload::kHttpFetch && model->side == Side::kAsyncio &&
            run.params.at("workers") < run.params.at("n")) {
          continue;
        }
        Cell cell;
        cell.model = model;
        cell.workload = workload;
        cell.params = run.params;
        if (model->is_cpython() && !python.ok()) {
          cell.status = RunStatus::kNotAvailable;
          cell.error = std::string(python.status().message());
        } else if (model->needs_io_uring && !options.io_uring.ok()) {
          cell.status = RunStatus::kNotAvailable;
          cell.error = std::string(options.io_uring.message());
        } else if (absl::Status fds = CheckDescriptors(run, open_files_limit);
                   !fds.ok()) {
          cell.status = RunStatus::kNotAvailable;
          cell.error = std::string(fds.message());
        }
        cells.push_back(std::move(cell));
      }
    }
  }
  int total = 0;
  for (const Cell& cell : cells) {
    if (cell.status == RunStatus::kOk) total += RepetitionsFor(cell.workload, options);
  }
  int done = 0;
  std::vector<double> parallelism = {AvailableParallelism()};
  size_t group_begin = 0;
  while (group_begin < cells.size()) {
    size_t group_end = group_begin;
    while (group_end < cells.size() &&
           cells[group_end].workload == cells[group_begin].workload &&
           cells[group_end].params == cells[group_begin].params) {
      ++group_end;
    }
    const bool parallel_workload =
        cells[group_begin].workload == Workload::kCpuPure ||
        cells[group_begin].workload == Workload::kCpuNative;
    const int repetitions = RepetitionsFor(cells[group_begin].workload, options);
    for (int rep = 1; rep <= repetitions; ++rep) {
      // Other processes may hold the cores at any moment: sample what two
      // threads can get right before each round of parallel runs.
      if (parallel_workload) parallelism.push_back(AvailableParallelism());
      for (size_t i = group_begin; i < group_end; ++i) {
        Cell& cell = cells[i];
        if (cell.status != RunStatus::kOk) continue;
        ++done;
        absl::Time run_start = absl::Now();
        absl::StatusOr<Metrics> metrics =
            RunOnce(*cell.model, {cell.workload, cell.params},
                    results.options, root);
        std::string outcome =
            metrics.ok() ? absl::StrFormat("%.2f s", absl::ToDoubleSeconds(
                                                         absl::Now() - run_start))
                         : absl::StrCat("FAILED: ", metrics.status().message());
        progress(absl::StrFormat("[%d/%d] %-17s %-14s %-40s rep %d: %s", done,
                                 total, cell.model->name,
                                 WorkloadName(cell.workload),
                                 FormatParams(cell.params), rep, outcome));
        if (!metrics.ok()) {
          cell.status = RunStatus::kError;
          cell.error = std::string(metrics.status().message());
          continue;
        }
        cell.repetitions.push_back(*std::move(metrics));
      }
    }
    group_begin = group_end;
  }
  for (Cell& cell : cells) cell.median = Medians(cell.repetitions);
  std::sort(parallelism.begin(), parallelism.end());
  results.machine.Set("parallel_speedup_available",
                      parallelism[parallelism.size() / 2]);
  results.elapsed = absl::Now() - start;
  return results;
}

absl::Status RunChildAndPrint(const ModelInfo& model, Workload workload,
                              const Params& params, int server_port) {
  if (model.is_cpython()) {
    return absl::InvalidArgumentError(
        absl::StrCat(model.name, " runs as a Python program, not in-process"));
  }
  if (!model.Supports(workload)) {
    return absl::InvalidArgumentError(absl::StrCat(
        model.name, " does not run ", WorkloadName(workload)));
  }
  if (absl::Status s = CheckParams(workload, params); !s.ok()) return s;
  if (workload == Workload::kHttpFetch && server_port <= 0) {
    return absl::InvalidArgumentError(
        "http_fetch needs --child_port: the HTTP server's port");
  }
  RunContext context{.announce_port = [](int port) {
                       std::printf("{\"port\": %d}\n", port);
                       std::fflush(stdout);
                     },
                     .server_port = server_port};
  absl::StatusOr<Metrics> metrics = model.adapter({workload, params}, context);
  if (!metrics.ok()) return metrics.status();
  if (absl::Status s = CheckMetrics(workload, *metrics, /*from_child=*/true);
      !s.ok()) {
    return s;
  }
  Json doc = Json::Object();
  Json& out = doc.Set("metrics", Json::Object());
  for (const auto& [name, value] : *metrics) out.Set(name, value);
  std::printf("%s\n", doc.Dump().c_str());
  std::fflush(stdout);
  return absl::OkStatus();
}

absl::Status RunHttpServerChild(absl::Duration delay) {
  return ServeHttp(delay, [](int port) {
    std::printf("{\"port\": %d}\n", port);
    std::fflush(stdout);
  });
}

int RepetitionsFor(Workload workload, const Options& options) {
  return IsSweep(workload) && !options.full ? 1 : options.repetitions;
}

int64_t RaiseOpenFilesLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? int64_t{1} << 30
                                         : static_cast<int64_t>(limit.rlim_cur);
}

absl::Status CheckDescriptors(const Run& run, int64_t open_files_limit) {
  int64_t connections = 0;
  if (run.workload == Workload::kHttpFetch) {
    connections = std::min(run.params.at("n"), run.params.at("workers"));
  } else if (run.workload == Workload::kManyConnections ||
             run.workload == Workload::kTcpEcho) {
    connections = run.params.at("connections");
  }
  // Listening sockets, pipes, io_uring, the interpreter's own files.
  constexpr int64_t kMargin = 100;
  if (connections + kMargin > open_files_limit) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "descriptor limit %d is too low for %d concurrent connections (each "
        "process needs one per connection plus %d); raise `ulimit -n`",
        open_files_limit, connections, kMargin));
  }
  return absl::OkStatus();
}

}  // namespace harness
