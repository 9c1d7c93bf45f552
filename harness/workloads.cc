#include "harness/workloads.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace harness {
namespace {

struct WorkloadInfo {
  Workload workload;
  absl::string_view name;
  absl::string_view description;
  std::vector<std::string> metrics;
};

const std::vector<WorkloadInfo>& Infos() {
  static const auto* infos = new std::vector<WorkloadInfo>{
      {Workload::kIoFanout, "io_fanout",
       "N concurrent waits of wait_ms each: wall time, memory and OS threads",
       {"wall_s", "rss_bytes", "bytes_per_task", "us_per_task", "threads"}},
      {Workload::kTcpEcho, "tcp_echo",
       "loopback TCP echo, C closed-loop connections of 64-byte messages",
       {"requests_per_s", "p50_us", "p99_us", "server_cpu_us_per_request"}},
      {Workload::kCpuPure, "cpu_pure",
       "two CPU-bound tasks of pure interpreted work (holds the GIL)",
       {"sequential_s", "concurrent_s", "speedup"}},
      {Workload::kCpuNative, "cpu_native",
       "two CPU-bound tasks of native hashing (releases the GIL)",
       {"sequential_s", "concurrent_s", "speedup"}},
      {Workload::kMixed, "mixed",
       "lateness of 1 ms I/O waits while a CPU-bound task runs",
       {"idle_lag_p50_ms", "lag_p50_ms", "lag_p99_ms"}},
      {Workload::kBlockingCall, "blocking_call",
       "one blocking library call inside the model: how long a 1 ms ticker "
       "stalls",
       {"stall_ms", "max_gap_ms"}},
      {Workload::kThreadScaling, "thread_scaling",
       "operations blocking 1 ms with T in flight: memory and context switches",
       {"wall_s", "rss_bytes", "threads", "voluntary_switches",
        "involuntary_switches"}},
      {Workload::kDebugStack, "debug_stack",
       "call stack seen from inside a failing operation 3 user calls deep",
       {"frames_total", "user_frames_visible", "user_frames"}},
  };
  return *infos;
}

const WorkloadInfo& Info(Workload workload) {
  for (const WorkloadInfo& info : Infos()) {
    if (info.workload == workload) return info;
  }
  return Infos().front();  // unreachable: every enumerator is listed
}

absl::Status CheckPositive(absl::string_view flag, int64_t value,
                           int64_t max) {
  if (value < 1 || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, "=", value, " is out of range: valid is 1..", max));
  }
  return absl::OkStatus();
}

absl::Status CheckList(absl::string_view flag,
                       const std::vector<int64_t>& values, int64_t max) {
  if (values.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " is empty: give at least one value"));
  }
  for (int64_t v : values) {
    if (absl::Status s = CheckPositive(flag, v, max); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view WorkloadName(Workload workload) { return Info(workload).name; }

absl::string_view WorkloadDescription(Workload workload) {
  return Info(workload).description;
}

const std::vector<std::string>& MetricNames(Workload workload) {
  return Info(workload).metrics;
}

absl::StatusOr<Workload> ParseWorkload(absl::string_view name) {
  for (const WorkloadInfo& info : Infos()) {
    if (info.name == name) return info.workload;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown workload '", name, "'; valid workloads: ", ValidWorkloadNames()));
}

std::string ValidWorkloadNames() {
  std::vector<absl::string_view> names;
  for (const WorkloadInfo& info : Infos()) names.push_back(info.name);
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<int64_t> GetParam(const Params& params, absl::string_view name) {
  auto it = params.find(std::string(name));
  if (it == params.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing parameter '", name, "'"));
  }
  return it->second;
}

Sizes Sizes::Default() {
  return Sizes{
      .fanout_n = {10, 100, 1000, 10000, 100000},
      .wait_ms = 10,
      .max_threads = 1000,
      .echo_connections = {1, 10, 100},
      .echo_requests = 4000,
      .work_ms = 50,
      .probes = 30,
      .block_ms = 100,
      .scaling_threads = {32, 1000},
      .scaling_tasks = 3000,
  };
}

Sizes Sizes::Quick() {
  return Sizes{
      .fanout_n = {10, 1000},
      .wait_ms = 10,
      .max_threads = 200,
      .echo_connections = {10},
      .echo_requests = 1000,
      .work_ms = 30,
      .probes = 20,
      .block_ms = 50,
      .scaling_threads = {8, 64},
      .scaling_tasks = 500,
  };
}

absl::Status Sizes::Validate() const {
  std::vector<absl::Status> checks = {
      CheckList("fanout_n", fanout_n, 1000000),
      CheckPositive("wait_ms", wait_ms, 10000),
      CheckPositive("max_threads", max_threads, 10000),
      CheckList("echo_connections", echo_connections, 10000),
      CheckPositive("echo_requests", echo_requests, 100000000),
      CheckPositive("work_ms", work_ms, 60000),
      CheckPositive("probes", probes, 100000),
      CheckPositive("block_ms", block_ms, 60000),
      CheckList("scaling_threads", scaling_threads, 10000),
      CheckPositive("scaling_tasks", scaling_tasks, 10000000),
  };
  for (absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  for (int64_t c : echo_connections) {
    if (c > echo_requests) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--echo_requests=", echo_requests, " is less than --echo_connections=",
          c, ": every connection needs at least one request"));
    }
  }
  return absl::OkStatus();
}

std::vector<Run> PlanRuns(Workload workload, const Sizes& sizes) {
  std::vector<Run> runs;
  switch (workload) {
    case Workload::kIoFanout:
      for (int64_t n : sizes.fanout_n) {
        runs.push_back({workload, {{"n", n},
                                   {"wait_ms", sizes.wait_ms},
                                   {"max_threads", sizes.max_threads}}});
      }
      break;
    case Workload::kTcpEcho:
      for (int64_t c : sizes.echo_connections) {
        runs.push_back({workload, {{"connections", c},
                                   {"requests", sizes.echo_requests},
                                   {"message_bytes", 64}}});
      }
      break;
    case Workload::kCpuPure:
    case Workload::kCpuNative:
      runs.push_back({workload, {{"tasks", 2}, {"work_ms", sizes.work_ms}}});
      break;
    case Workload::kMixed:
      runs.push_back({workload, {{"probes", sizes.probes}, {"slice_ms", 10}}});
      break;
    case Workload::kBlockingCall:
      runs.push_back({workload, {{"block_ms", sizes.block_ms},
                                 {"ticks", 2 * sizes.block_ms}}});
      break;
    case Workload::kThreadScaling:
      for (int64_t t : sizes.scaling_threads) {
        runs.push_back({workload, {{"threads", t},
                                   {"tasks", sizes.scaling_tasks},
                                   {"op_ms", 1}}});
      }
      break;
    case Workload::kDebugStack:
      runs.push_back({workload, {{"depth", 3}}});
      break;
  }
  return runs;
}

absl::Status CheckParams(Workload workload, const Params& params) {
  const Params expected = PlanRuns(workload, Sizes::Quick()).front().params;
  for (const auto& [name, unused] : expected) {
    auto it = params.find(name);
    if (it == params.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          WorkloadName(workload), " needs the parameters ",
          absl::StrJoin(expected, " ", absl::PairFormatter("=")),
          " (values are examples); '", name, "' is missing"));
    }
    if (it->second < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          WorkloadName(workload), ": parameter ", name, "=", it->second,
          " must be at least 1"));
    }
  }
  for (const auto& [name, unused] : params) {
    if (!expected.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          WorkloadName(workload), " has no parameter '", name, "'"));
    }
  }
  return absl::OkStatus();
}

std::string FormatParams(const Params& params) {
  return absl::StrJoin(params, " ", absl::PairFormatter("="));
}

absl::StatusOr<Params> ParseParams(absl::string_view text) {
  Params params;
  for (absl::string_view item : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    int64_t value = 0;
    if (kv.first.empty() || !absl::SimpleAtoi(kv.second, &value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad parameter '", item, "': expected name=integer"));
    }
    params[std::string(kv.first)] = value;
  }
  return params;
}

}  // namespace harness
