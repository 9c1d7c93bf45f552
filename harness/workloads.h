// The workloads: model-neutral definitions with explicit parameters.
//
// A workload is one experiment that every concurrency model can run in its own
// idiom: "N concurrent waits", "C loopback echo connections", "two CPU-bound
// tasks"... Each one is named (the name is what `--workloads` takes and what
// results.json records), documents its parameters and the figures (metrics) a
// run reports, and says which figure backs which claim of the comparison.
//
// One run of a workload is a `Run`: the workload and concrete parameter
// values. `PlanRuns` expands the sizes of a `Sizes` into the runs to execute:
//
//   Sizes sizes = Sizes::Default();          // or Sizes::Quick()
//   for (const Run& run : PlanRuns(Workload::kIoFanout, sizes)) {
//     // run.params: {"n": 10, "wait_ms": 10, "max_threads": 1000}, ...
//   }
//
// Every model receives exactly these parameters (the C++ adapters as a
// `Params` map, the CPython programs as `key=value` arguments) and reports the
// metrics listed in `MetricNames`; the harness checks that it did.

#ifndef HARNESS_WORKLOADS_H_
#define HARNESS_WORKLOADS_H_

#include <cstdint>
#include <map>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace harness {

enum class Workload {
  // N tasks each wait `wait_ms` on a timer (the seed's `asyncio.sleep` as I/O).
  // Thread models run them on a pool of min(N, max_threads) workers, as
  // ThreadPoolExecutor(max_workers=...) would.
  // Metrics: wall_s, rss_bytes (peak RSS growth), bytes_per_task,
  // us_per_task ((wall - wait) / N), threads (OS threads at the peak).
  kIoFanout,
  // A loopback TCP echo server in the model; the harness's load generator
  // (one epoll thread, same for every model) drives `connections` closed-loop
  // clients sending `message_bytes` messages, `requests` in total, checking
  // every byte. Metrics: requests_per_s, p50_us, p99_us,
  // server_cpu_us_per_request.
  kTcpEcho,
  // `tasks` CPU-bound tasks of pure interpreted work that holds the GIL, each
  // calibrated to take `work_ms` alone; run one after the other, then
  // concurrently. Metrics: sequential_s, concurrent_s, speedup.
  kCpuPure,
  // The same with native work that releases the GIL (hashing a buffer, like
  // hashlib on large inputs). Same metrics.
  kCpuNative,
  // A probe waits 1 ms `probes` times and records how late each wake-up is,
  // first idle, then while one CPU-bound task runs (in `slice_ms` slices for
  // the event loop, which must yield explicitly).
  // Metrics: idle_lag_p50_ms, lag_p50_ms, lag_p99_ms.
  kMixed,
  // A ticker wakes every 1 ms for `ticks` ticks while another task makes one
  // blocking library call of `block_ms` (a synchronous sleep in the kernel).
  // Metrics: stall_ms (longest tick gap minus the tick), max_gap_ms.
  kBlockingCall,
  // `tasks` operations that each block `op_ms`, run with at most `threads`
  // in flight (T workers, or T coroutines on the loop).
  // Metrics: wall_s, rss_bytes, threads, voluntary_switches,
  // involuntary_switches.
  kThreadScaling,
  // A failing operation `depth` user functions deep, reached after an I/O
  // wait; from inside it, the call stack is captured (absl::GetStackTrace /
  // traceback.extract_stack) and the user's functions in it are counted.
  // Metrics: frames_total, user_frames_visible, user_frames; the C++
  // asyncio models add user_frames_in_call_graph (their async call graph).
  kDebugStack,
  // The seed's thread-pool example at scale: `n` fetches of one URL from the
  // harness's local HTTP/1.1 server (its own process), which answers after
  // `delay_ms` with a 1,256-byte body; one connection per fetch, as
  // requests.get does, at most `workers` in flight (the pool's size; the
  // asyncio models gather all n). A fetch that fails fails the run.
  // Metrics: wall_s, fetches_per_s, rss_bytes (peak RSS growth),
  // bytes_per_fetch (rss_bytes / peak_in_flight), threads, cpu_us_per_fetch,
  // peak_in_flight (the most fetches between connect and close at once: a
  // pool reuses idle workers, so it may stay below `workers`).
  kHttpFetch,
  // tcp_echo swept to 10,000 concurrent connections (thread per connection
  // for the thread models). The harness adds the server's memory and threads,
  // read from /proc while every connection is open, and the load
  // generator's own CPU. Metrics: requests_per_s, p50_us, p99_us,
  // server_cpu_us_per_request, server_rss_bytes, server_threads,
  // load_cpu_us_per_request.
  kManyConnections,
  // A pool of `workers` serving a stream of tasks arriving at `rate_per_s`
  // for `window_ms`; `long_pct` percent of them block `long_ms`, the rest
  // `short_ms`. Metrics: short_p50_ms, short_p99_ms (latency of the short
  // tasks from arrival to completion), long_tasks.
  kPoolStarvation,
};

inline constexpr Workload kAllWorkloads[] = {
    Workload::kIoFanout,      Workload::kTcpEcho,   Workload::kCpuPure,
    Workload::kCpuNative,     Workload::kMixed,     Workload::kBlockingCall,
    Workload::kThreadScaling, Workload::kDebugStack, Workload::kHttpFetch,
    Workload::kManyConnections, Workload::kPoolStarvation,
};

// The sweeps (http_fetch, many_connections, pool_starvation): large points
// that run once per comparison unless --full asks for every repetition.
bool IsSweep(Workload workload);

// The size of the body the http_fetch server sends (example.com's page).
inline constexpr int kHttpBodyBytes = 1256;

// "io_fanout", "tcp_echo", ... as used in flags, JSON and the CPython programs.
absl::string_view WorkloadName(Workload workload);
absl::StatusOr<Workload> ParseWorkload(absl::string_view name);
std::string ValidWorkloadNames();  // "io_fanout, tcp_echo, ..." for errors

// One sentence for the report.
absl::string_view WorkloadDescription(Workload workload);

// The metrics every run of `workload` must report, all numbers.
const std::vector<std::string>& MetricNames(Workload workload);

// Parameter values by name. All parameters are integers.
using Params = std::map<std::string, int64_t>;

// Reads a parameter, or an InvalidArgument error naming it.
absl::StatusOr<int64_t> GetParam(const Params& params, absl::string_view name);

// The sizes of one comparison run; `--quick` and the size flags set them.
struct Sizes {
  std::vector<int64_t> fanout_n;       // io_fanout N values
  int64_t wait_ms;                     // io_fanout wait
  int64_t max_threads;                 // pool size cap for thread models
  std::vector<int64_t> echo_connections;
  int64_t echo_requests;               // total requests per echo run
  int64_t work_ms;                     // cpu_pure / cpu_native task length
  int64_t probes;                      // mixed
  int64_t block_ms;                    // blocking_call
  std::vector<int64_t> scaling_threads;
  int64_t scaling_tasks;
  std::vector<int64_t> fetch_n;          // http_fetch N values
  std::vector<int64_t> fetch_delay_ms;   // server delays (0 allowed)
  int64_t fetch_max_workers;             // cap of the pool sized to N
  // The seed's ThreadPoolExecutor(max_workers=5) runs for N up to this
  // (N / 5 sequential waves of the delay each: 10,000 would take 100 s).
  int64_t fetch_pool5_max_n;
  // Delay 0 (the connection set-up alone) runs for N up to this.
  int64_t fetch_zero_delay_max_n;
  std::vector<int64_t> sweep_connections;  // many_connections
  std::vector<int64_t> starvation_long_pct;  // pool_starvation shares (0 allowed)
  int64_t starvation_long_ms;
  int64_t starvation_window_ms;
  int64_t starvation_rate_per_s;

  static Sizes Default();
  static Sizes Quick();
  // Default plus the points past the 3-minute budget (see README.md).
  static Sizes Full();

  // Rejects impossible values with a message naming the flag and the range.
  absl::Status Validate() const;
};

// One run: a workload with concrete parameters.
struct Run {
  Workload workload;
  Params params;
};

std::vector<Run> PlanRuns(Workload workload, const Sizes& sizes);

// Checks that `params` names exactly the workload's parameters, each at least
// 1 (0 allowed for http_fetch's delay_ms and pool_starvation's long_pct);
// InvalidArgument naming what is missing or wrong otherwise.
absl::Status CheckParams(Workload workload, const Params& params);

// "n=100 wait_ms=10", the form the CPython programs take on their command
// line, and its inverse.
std::string FormatParams(const Params& params);
absl::StatusOr<Params> ParseParams(absl::string_view text);

}  // namespace harness

#endif  // HARNESS_WORKLOADS_H_
