#include "harness/workloads.h"

#include <algorithm>
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
      {Workload::kHttpFetch, "http_fetch",
       "N HTTP/1.1 GETs of a 1,256-byte page from a local server answering "
       "after delay_ms, one connection per fetch, at most `workers` in flight",
       {"wall_s", "fetches_per_s", "rss_bytes", "bytes_per_fetch", "threads",
        "cpu_us_per_fetch", "peak_in_flight"}},
      {Workload::kManyConnections, "many_connections",
       "loopback TCP echo swept over concurrent connections (to 1,000; "
       "--full: 10,000): throughput, latency, server CPU, memory and threads",
       {"requests_per_s", "p50_us", "p99_us", "server_cpu_us_per_request",
        "server_rss_bytes", "server_threads", "load_cpu_us_per_request"}},
      {Workload::kPoolStarvation, "pool_starvation",
       "a stream of 1 ms blocking tasks with a share of 1 s ones: latency of "
       "the short tasks",
       {"short_p50_ms", "short_p99_ms", "long_tasks"}},
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

bool IsSweep(Workload workload) {
  return workload == Workload::kHttpFetch ||
         workload == Workload::kManyConnections ||
         workload == Workload::kPoolStarvation;
}

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
      .fanout_n = {10, 100, 1000, 10000},
      .wait_ms = 10,
      .max_threads = 1000,
      .echo_connections = {1, 10, 100},
      .echo_requests = 4000,
      .work_ms = 50,
      .probes = 30,
      .block_ms = 100,
      .scaling_threads = {32, 1000},
      .scaling_tasks = 3000,
      .fetch_n = {5, 100, 1000},
      .fetch_delay_ms = {50, 0},
      .fetch_max_workers = 10000,
      .fetch_pool5_max_n = 100,
      .fetch_zero_delay_max_n = 1000,
      .sweep_connections = {1, 10, 100, 1000},
      .starvation_long_pct = {0, 5, 20},
      .starvation_long_ms = 1000,
      .starvation_window_ms = 500,
      .starvation_rate_per_s = 500,
  };
}

Sizes Sizes::Full() {
  Sizes sizes = Default();
  // 100,000 waits: about 130 s of the run on two cores, nearly all of it
  // CPython's (its thread pool takes 25 s a repetition).
  sizes.fanout_n.push_back(100000);
  // 10,000 concurrent fetches and connections: about 110 s, most of it
  // CPython's.
  sizes.fetch_n.push_back(10000);
  sizes.sweep_connections.push_back(10000);
  sizes.fetch_pool5_max_n = 1000;
  sizes.fetch_zero_delay_max_n = 10000;
  sizes.starvation_long_pct = {0, 1, 5, 10, 20, 50};
  return sizes;
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
      .fetch_n = {100},
      .fetch_delay_ms = {50},
      .fetch_max_workers = 100,
      .fetch_pool5_max_n = 5,  // the 5-worker pool at N = 100 takes 1 s
      .fetch_zero_delay_max_n = 100,
      .sweep_connections = {100},
      .starvation_long_pct = {25},
      .starvation_long_ms = 100,
      .starvation_window_ms = 100,
      .starvation_rate_per_s = 2000,
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
      CheckList("fetch_n", fetch_n, 100000),
      CheckPositive("fetch_max_workers", fetch_max_workers, 100000),
      CheckPositive("fetch_pool5_max_n", fetch_pool5_max_n, 100000),
      CheckPositive("fetch_zero_delay_max_n", fetch_zero_delay_max_n, 100000),
      CheckList("sweep_connections", sweep_connections, 100000),
      CheckPositive("starvation_long_ms", starvation_long_ms, 60000),
      CheckPositive("starvation_window_ms", starvation_window_ms, 60000),
      CheckPositive("starvation_rate_per_s", starvation_rate_per_s, 100000),
  };
  for (absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  for (int64_t d : fetch_delay_ms) {
    if (d < 0 || d > 10000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--fetch_delay_ms=", d, " is out of range: valid is 0..10000"));
    }
  }
  if (fetch_delay_ms.empty()) {
    return absl::InvalidArgumentError(
        "--fetch_delay_ms is empty: give at least one value");
  }
  for (int64_t pct : starvation_long_pct) {
    if (pct < 0 || pct > 100) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--starvation_long_pct=", pct, " is out of range: valid is 0..100"));
    }
  }
  if (starvation_long_pct.empty()) {
    return absl::InvalidArgumentError(
        "--starvation_long_pct is empty: give at least one value");
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
    case Workload::kHttpFetch:
      // Each N at every delay in turn: the set-up cost (delay 0) and the
      // delayed fetches it is compared with run minutes apart otherwise, under
      // whatever else the machine is doing by then.
      for (int64_t n : sizes.fetch_n) {
        for (int64_t delay : sizes.fetch_delay_ms) {
          if (delay == 0 && n > sizes.fetch_zero_delay_max_n) continue;
          // A pool sized to N (capped), then the seed's max_workers=5.
          const int64_t sized = std::min(n, sizes.fetch_max_workers);
          runs.push_back({workload, {{"n", n}, {"delay_ms", delay},
                                     {"workers", sized}}});
          if (sized != 5 && n > 5 && n <= sizes.fetch_pool5_max_n) {
            runs.push_back({workload, {{"n", n}, {"delay_ms", delay},
                                       {"workers", 5}}});
          }
        }
      }
      break;
    case Workload::kManyConnections:
      for (int64_t c : sizes.sweep_connections) {
        // Two round trips per connection at least: the load generator keeps
        // every connection open until all have had their first echo.
        runs.push_back({workload, {{"connections", c},
                                   {"requests", std::max(sizes.echo_requests, 2 * c)},
                                   {"message_bytes", 64}}});
      }
      break;
    case Workload::kPoolStarvation:
      for (int64_t pct : sizes.starvation_long_pct) {
        runs.push_back({workload, {{"workers", 32},
                                   {"long_pct", pct},
                                   {"short_ms", 1},
                                   {"long_ms", sizes.starvation_long_ms},
                                   {"window_ms", sizes.starvation_window_ms},
                                   {"rate_per_s", sizes.starvation_rate_per_s}}});
      }
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
    const bool zero_allowed = name == "delay_ms" || name == "long_pct";
    if (it->second < (zero_allowed ? 0 : 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          WorkloadName(workload), ": parameter ", name, "=", it->second,
          " must be at least ", zero_allowed ? 0 : 1));
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
