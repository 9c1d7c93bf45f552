#include "harness/measure.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

namespace harness {

int64_t CurrentRssBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size_pages = 0;
  int64_t resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * sysconf(_SC_PAGESIZE);
}

int64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

int CurrentThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return 0;
}

std::optional<ProcessStatus> ReadProcessStatus(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) return std::nullopt;
  ProcessStatus out;
  int found = 0;
  std::string line;
  while (std::getline(status, line)) {
    auto value = [&](size_t prefix) { return std::stoll(line.substr(prefix)); };
    if (line.rfind("VmRSS:", 0) == 0) {
      out.rss_bytes = value(6) * 1024;
      ++found;
    } else if (line.rfind("VmHWM:", 0) == 0) {
      out.peak_rss_bytes = value(6) * 1024;
      ++found;
    } else if (line.rfind("Threads:", 0) == 0) {
      out.threads = static_cast<int>(value(8));
      ++found;
    }
  }
  if (found != 3) return std::nullopt;  // a zombie has no Vm lines
  return out;
}

Switches ProcessSwitches() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return {usage.ru_nvcsw, usage.ru_nivcsw};
}

absl::Duration ProcessCpuTime() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) +
         absl::DurationFromTimeval(usage.ru_stime);
}

Metrics CpuSpeedupFigures(absl::Duration sequential, absl::Duration concurrent) {
  return Metrics{{"sequential_s", absl::ToDoubleSeconds(sequential)},
                 {"concurrent_s", absl::ToDoubleSeconds(concurrent)},
                 {"speedup", absl::FDivDuration(sequential, concurrent)}};
}

absl::Duration ThreadCpuTime() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return absl::DurationFromTimespec(now);
}

bool IsLongTask(int64_t index, int64_t long_pct) {
  return (index + 1) * long_pct / 100 > index * long_pct / 100;
}

Metrics StarvationFigures(const std::vector<double>& short_latencies_ms,
                          int64_t long_tasks) {
  return {{"short_p50_ms", Percentile(short_latencies_ms, 0.5)},
          {"short_p99_ms", Percentile(short_latencies_ms, 0.99)},
          {"long_tasks", static_cast<double>(long_tasks)}};
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(
      std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

uint64_t HashBytes(int64_t bytes) {
  static constexpr int kBlock = 4096;
  static const std::string* block = [] {
    auto* b = new std::string(kBlock, '\0');
    for (int i = 0; i < kBlock; ++i) (*b)[i] = static_cast<char>(i * 131);
    return b;
  }();
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (int64_t done = 0; done < bytes; done += kBlock) {
    for (char c : *block) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 0x100000001b3ULL;
    }
  }
  return hash;
}

ProcessCostMeter::ProcessCostMeter()
    : rss_before_(CurrentRssBytes()),
      switches_before_(ProcessSwitches()),
      start_(absl::Now()) {}

Metrics ProcessCostMeter::Figures(int thread_count) const {
  double wall = absl::ToDoubleSeconds(absl::Now() - start_);
  Switches after = ProcessSwitches();
  return Metrics{
      {"wall_s", wall},
      {"rss_bytes",
       static_cast<double>(std::max<int64_t>(0, PeakRssBytes() - rss_before_))},
      {"threads", static_cast<double>(thread_count)},
      {"voluntary_switches",
       static_cast<double>(after.voluntary - switches_before_.voluntary)},
      {"involuntary_switches",
       static_cast<double>(after.involuntary - switches_before_.involuntary)}};
}

}  // namespace harness
