// Runs the comparison: every selected model on every workload it supports,
// each run in a fresh child process, repeated, with medians.
//
//   Options options;  // models, workloads, sizes, repetitions...
//   absl::StatusOr<Results> results = RunComparison(options, progress);
//
// Repetitions are interleaved (repetition 1 of every model, then repetition
// 2, ...) so that a burst of load on the shared machine hits every model
// alike, and every ratio in the report comes from this one run. A run that
// fails is recorded as an error with its message; the comparison goes on.
//
// The child processes: a C++ model runs as this executable with
// --child_model/--child_workload/--child_params (see RunChildAndPrint), a
// CPython model as `python3 harness/python/<program>.py WORKLOAD k=v ...`.
// Both print {"metrics": {...}} on stdout; a tcp_echo server first prints
// {"port": N}, and the harness's load generator then drives it.

#ifndef HARNESS_RUNNER_H_
#define HARNESS_RUNNER_H_

#if __cplusplus < 202002L
#error "harness needs C++20: build with -std=c++20 (see harness/README.md)"
#endif

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness/json.h"
#include "harness/model.h"
#include "harness/source_lines.h"
#include "harness/workloads.h"

namespace harness {

struct Options {
  std::vector<const ModelInfo*> models;
  std::vector<Workload> workloads;
  Sizes sizes = Sizes::Default();
  int repetitions = 3;
  bool quick = false;
  // --full: Sizes::Full(), and every repetition for the sweeps too (which
  // otherwise run once: see IsSweep).
  bool full = false;
  std::string python = "python3";
  // Whether `python` was named explicitly: then an interpreter that cannot
  // run is an error, not a "not available" column.
  bool python_required = false;
  // Whether an io_uring event loop can be created here (see
  // IoUringAvailable in models.h); if not, the models that need one are
  // "not available" and say why.
  absl::Status io_uring = absl::OkStatus();
  absl::Duration run_timeout = absl::Seconds(120);
  // The sweeps' deadline: a model that cannot serve a point within it is
  // reported as not reaching it, and the run goes on.
  absl::Duration sweep_timeout = absl::Seconds(20);
};

enum class RunStatus { kOk, kNotAvailable, kError };
absl::string_view RunStatusName(RunStatus status);  // "ok", "not available", "error"

// One (model, workload, parameters) combination and its repetitions.
struct Cell {
  const ModelInfo* model = nullptr;
  Workload workload;
  Params params;
  RunStatus status = RunStatus::kOk;
  std::string error;                 // kError / kNotAvailable: why
  std::vector<Metrics> repetitions;  // one per successful repetition
  Metrics median;                    // per metric, over the repetitions
};

struct Readability {
  const ModelInfo* model = nullptr;
  Workload workload;
  absl::StatusOr<RegionCount> count;
};

struct Results {
  Options options;
  Json machine;
  bool python_available = false;
  std::vector<Cell> cells;
  std::vector<Readability> readability;
  absl::Duration elapsed;
};

// Called with a progress line (no newline) as runs start and finish.
using Progress = std::function<void(const std::string& line)>;

absl::StatusOr<Results> RunComparison(const Options& options,
                                      const Progress& progress);

// The repetitions `workload` gets under `options`.
int RepetitionsFor(Workload workload, const Options& options);

// Raises this process's soft limit on open descriptors to the hard limit
// (children inherit it) and returns the limit now in force.
int64_t RaiseOpenFilesLimit();

// Why `run` cannot be measured here, if it cannot: a descriptor limit too
// low for its connections (each end of a connection is in its own process,
// so each process needs one descriptor per connection, plus a margin).
absl::Status CheckDescriptors(const Run& run, int64_t open_files_limit);

// The directory that holds harness/python/... and the adapters' sources:
// this package's repository in the runfiles tree of this executable, found
// under `bazel run`, `bazel test` or started directly from bazel-bin, in a
// workspace of any name.
absl::StatusOr<std::string> WorkspaceRoot();

// The child side for C++ models: runs `model` on one workload in this
// process, prints {"metrics": ...} (and {"port": N} for tcp_echo) on stdout.
// `server_port` is the HTTP server's, for http_fetch.
absl::Status RunChildAndPrint(const ModelInfo& model, Workload workload,
                              const Params& params, int server_port);

// The http_fetch server's process: prints {"port": N}, serves until killed.
absl::Status RunHttpServerChild(absl::Duration delay);

// Checks that `metrics` has exactly the workload's metrics. A tcp_echo child
// reports only the server's figures; the load generator adds the rest.
absl::Status CheckMetrics(Workload workload, const Metrics& metrics,
                          bool from_child);

}  // namespace harness

#endif  // HARNESS_RUNNER_H_
