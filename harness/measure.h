// Process-level figures shared by every adapter: memory, threads, context
// switches, CPU time, latency percentiles, and the two kinds of CPU work.
//
// Each workload run happens in a fresh child process, so these process-wide
// figures belong to that one run:
//
//   int64_t before = CurrentRssBytes();
//   ... run the workload ...
//   int64_t growth = PeakRssBytes() - before;   // memory the workload needed

#ifndef HARNESS_MEASURE_H_
#define HARNESS_MEASURE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include <algorithm>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "harness/model.h"

namespace harness {

// Resident set size now, from /proc/self/statm.
int64_t CurrentRssBytes();
// The process's peak resident set size so far (getrusage ru_maxrss).
int64_t PeakRssBytes();
// OS threads of this process now (/proc/self/status "Threads:").
int CurrentThreadCount();

// Another process's figures from /proc/PID/status: VmRSS and VmHWM (peak
// RSS) in bytes, and its OS threads; nullopt once the process is gone.
struct ProcessStatus {
  int64_t rss_bytes = 0;
  int64_t peak_rss_bytes = 0;
  int threads = 0;
};
std::optional<ProcessStatus> ReadProcessStatus(int pid);

struct Switches {
  int64_t voluntary = 0;
  int64_t involuntary = 0;
};
// Context switches of the whole process so far (all threads).
Switches ProcessSwitches();
// User + system CPU time of the whole process so far.
absl::Duration ProcessCpuTime();

// What a workload costs the whole process, from construction to Figures():
// wall time, peak memory growth and context switches. The thread_scaling
// workload reports exactly these, with the OS thread count it saw.
class ProcessCostMeter {
 public:
  ProcessCostMeter();
  // wall_s, rss_bytes, threads, voluntary_switches, involuntary_switches.
  Metrics Figures(int thread_count) const;

 private:
  int64_t rss_before_;
  Switches switches_before_;
  absl::Time start_;
};

// The figures of the cpu_pure and cpu_native workloads from the wall times
// of the same tasks run one after another and then concurrently:
// sequential_s, concurrent_s, speedup.
Metrics CpuSpeedupFigures(absl::Duration sequential, absl::Duration concurrent);

// pool_starvation: whether task `index` of the stream is a long one, for a
// share of `long_pct` percent spread evenly over the stream (exactly
// long_pct of every 100 consecutive tasks).
bool IsLongTask(int64_t index, int64_t long_pct);
// short_p50_ms, short_p99_ms and long_tasks from the short tasks' latencies
// (arrival to completion, ms) and the count of long ones.
Metrics StarvationFigures(const std::vector<double>& short_latencies_ms,
                          int64_t long_tasks);

// The q-quantile (0..1) of `values` by nearest rank; 0 for an empty vector.
double Percentile(std::vector<double> values, double q);

// Native work: hashes `bytes` bytes of a buffer (FNV-1a, 64 bit) and returns
// the hash so the compiler cannot drop the work. Stands for a C extension
// such as hashlib that runs without the GIL.
uint64_t HashBytes(int64_t bytes);

// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID): unlike the wall
// clock, it does not count the time other processes hold the core.
absl::Duration ThreadCpuTime();

// Finds how many units of `work(units)` take about `target` of CPU on this
// machine, by doubling from a small count until a run takes 20 ms of the
// thread's CPU time, then scaling. `work` must be deterministic CPU work.
template <typename Work>
int64_t CalibrateUnits(absl::Duration target, Work work) {
  work(1);  // warm up: one-time setup must not count as work
  int64_t units = 1;
  while (true) {
    absl::Duration start = ThreadCpuTime();
    work(units);
    absl::Duration took = ThreadCpuTime() - start;
    if (took >= absl::Milliseconds(20)) {
      return std::max<int64_t>(
          1, static_cast<int64_t>(static_cast<double>(units) *
                                  absl::FDivDuration(target, took)));
    }
    units *= 2;
  }
}

}  // namespace harness

#endif  // HARNESS_MEASURE_H_
