// Soak test: pools created, loaded, cancelled, shut down and destroyed over
// and over for --duration, checking that no future is ever lost or resolved
// twice and that nothing accumulates.
//
//   bazel run //threadpool:soak -- --duration=1h
//
// Each cycle creates a pool of 1-8 workers and submits a random batch of
// tasks: some return their number, some throw, some return an error status,
// some sleep briefly, some submit a follow-up task to the same pool. Then it
// cancels a random subset of the futures, shuts the pool down in one of the
// ways a program can (Shutdown with or without wait and cancel_futures, or
// just the destructor), and destroys it. Every future is then checked:
//   - it is done, and exactly one done-callback ran for it;
//   - cancelled means its task never ran; otherwise its task ran exactly
//     once and the result is the task's own (its number, its exception's
//     message, its status);
//   - a submit after Shutdown fails with FailedPrecondition.
// Every --report_every it prints the cycles and futures so far, the
// process's resident memory, threads and open descriptors. After --warmup,
// it fails if resident memory grows more than --max_rss_growth_mib past its
// value at warm-up, or if threads or descriptors, sampled between cycles
// (when no pool exists), differ from their value at warm-up at all.
//
// Exits 0 with a last line "soak: OK, ..." or 1 with the first failure.
#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "threadpool/thread_pool.h"

ABSL_FLAG(absl::Duration, duration, absl::Seconds(60), "how long to run");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(3),
          "when to take the baseline the bounds are measured from");
ABSL_FLAG(absl::Duration, report_every, absl::Seconds(5), "how often to print figures");
ABSL_FLAG(int64_t, max_rss_growth_mib, 16,
          "how far resident memory may grow past its value at warm-up");
ABSL_FLAG(uint32_t, seed, 1, "seed of the random choices");

namespace threadpool {
namespace {

// What the process holds, from /proc/self.
struct Usage {
  int64_t rss_kib = 0;
  int64_t threads = 0;
  int64_t descriptors = 0;
};

Usage Measure() {
  Usage usage;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    int64_t value = 0;
    if (absl::StartsWith(line, "VmRSS:") &&
        absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(line.substr(6)), " kB"),
                         &value)) {
      usage.rss_kib = value;
    } else if (absl::StartsWith(line, "Threads:") &&
               absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(8)), &value)) {
      usage.threads = value;
    }
  }
  if (DIR* fds = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(fds)) {
      if (entry->d_name[0] != '.') ++usage.descriptors;
    }
    closedir(fds);
    --usage.descriptors;  // the directory being read
  }
  return usage;
}

enum class Kind { kValue, kThrow, kError, kSleep, kFollowUp };
constexpr int kKinds = 5;

// One submitted task and what became of it.
struct Job {
  int number = 0;
  Kind kind = Kind::kValue;
  std::atomic<int> runs{0};
  std::atomic<int> callbacks{0};
  Future<int> future;
};

struct Totals {
  int64_t cycles = 0;
  int64_t futures = 0;
  int64_t values = 0;
  int64_t errors = 0;
  int64_t cancelled = 0;
};

// Runs one cycle; returns the first thing that went wrong, or OK.
absl::Status Cycle(std::mt19937& random, Totals& totals) {
  const int workers = 1 + static_cast<int>(random() % 8);
  absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> created =
      ThreadPoolExecutor::Create({.max_workers = workers});
  if (!created.ok()) return created.status();
  std::unique_ptr<ThreadPoolExecutor> pool = *std::move(created);

  const int count = 1 + static_cast<int>(random() % 200);
  // Jobs never move: tasks and callbacks hold pointers to them.
  std::vector<std::unique_ptr<Job>> jobs;
  // The follow-up of job i, if it has one: its task submits it (and sets
  // its future); it is read once the pool is gone.
  std::vector<std::unique_ptr<Job>> follow_ups(count);
  for (int i = 0; i < count; ++i) {
    auto job = std::make_unique<Job>();
    job->number = i;
    job->kind = static_cast<Kind>(random() % kKinds);
    if (job->kind == Kind::kFollowUp) {
      follow_ups[i] = std::make_unique<Job>();
      follow_ups[i]->number = count + i;
    }
    Job* j = job.get();
    ThreadPoolExecutor* p = pool.get();
    Job* follow_up = follow_ups[i].get();
    absl::StatusOr<Future<int>> future = pool->Submit([j, p, follow_up]() -> absl::StatusOr<int> {
      j->runs.fetch_add(1);
      switch (j->kind) {
        case Kind::kValue: return j->number;
        case Kind::kThrow: throw std::runtime_error(absl::StrCat("task ", j->number, " threw"));
        case Kind::kError: return absl::DataLossError(absl::StrCat("task ", j->number));
        case Kind::kSleep: absl::SleepFor(absl::Microseconds(j->number % 50)); return j->number;
        case Kind::kFollowUp: {
          // Fails once the pool is shut down; then the follow-up never ran.
          absl::StatusOr<Future<int>> next = p->Submit([follow_up] {
            follow_up->runs.fetch_add(1);
            return follow_up->number;
          });
          if (next.ok()) follow_up->future = *std::move(next);
          return j->number;
        }
      }
      return absl::InternalError("unknown kind");
    });
    if (!future.ok()) return future.status();
    j->future = *future;
    absl::Status added = j->future.AddDoneCallback([j](const Future<int>&) { j->callbacks.fetch_add(1); });
    if (!added.ok()) return added;
    jobs.push_back(std::move(job));
  }
  // Cancel some: only those not yet started can be.
  const int cancel_one_in = 1 + static_cast<int>(random() % 4);
  for (auto& job : jobs) {
    if (random() % cancel_one_in == 0) job->future.Cancel();
  }
  const int shutdown = static_cast<int>(random() % 4);
  switch (shutdown) {
    case 0: pool->Shutdown(/*wait=*/true, /*cancel_futures=*/false); break;
    case 1: pool->Shutdown(/*wait=*/true, /*cancel_futures=*/true); break;
    case 2: pool->Shutdown(/*wait=*/false, /*cancel_futures=*/random() % 2 == 0); break;
    case 3: break;  // the destructor shuts down and waits
  }
  if (shutdown != 3) {
    absl::StatusOr<Future<int>> late = pool->Submit([] { return 0; });
    if (late.ok() || !absl::IsFailedPrecondition(late.status())) {
      pool->Shutdown();
      return absl::InternalError(absl::StrCat("a submit after Shutdown gave ",
                                              late.ok() ? "a future" : late.status().ToString()));
    }
  }
  pool.reset();  // waits for the workers

  for (std::unique_ptr<Job>& follow_up : follow_ups) {
    if (follow_up != nullptr) jobs.push_back(std::move(follow_up));
  }
  for (const auto& job : jobs) {
    const std::string name = absl::StrCat("task ", job->number);
    if (!job->future.valid()) {  // a follow-up that was never submitted
      if (job->runs.load() != 0) return absl::InternalError(absl::StrCat(name, " ran unsubmitted"));
      continue;
    }
    ++totals.futures;
    if (!job->future.Done()) return absl::InternalError(absl::StrCat(name, " is not done"));
    const int runs = job->runs.load();
    absl::StatusOr<int> result = job->future.Result();
    if (job->future.Cancelled()) {
      ++totals.cancelled;
      if (runs != 0) return absl::InternalError(absl::StrCat(name, " was cancelled but ran"));
      if (!absl::IsCancelled(result.status())) {
        return absl::InternalError(absl::StrCat(name, " cancelled reads ", result.status().ToString()));
      }
    } else {
      if (runs != 1) return absl::InternalError(absl::StrCat(name, " ran ", runs, " times"));
      const bool fails = job->kind == Kind::kThrow || job->kind == Kind::kError;
      ++(fails ? totals.errors : totals.values);
      const bool right =
          fails ? !result.ok() && absl::StrContains(result.status().message(), name)
                : result.ok() && *result == job->number;
      if (!right) {
        return absl::InternalError(absl::StrCat(name, " resolved to the wrong outcome: ",
                                                result.ok() ? absl::StrCat(*result)
                                                            : result.status().ToString()));
      }
    }
    // Follow-ups carry no callback.
    if (job->number < count && job->callbacks.load() != 1) {
      return absl::InternalError(
          absl::StrCat(name, ": ", job->callbacks.load(), " done-callbacks ran, not 1"));
    }
  }
  ++totals.cycles;
  return absl::OkStatus();
}

void Print(absl::Duration elapsed, const Totals& totals, const Usage& usage) {
  std::printf(
      "soak: %6.1f s  cycles %lld  futures %lld (values %lld, errors %lld, cancelled %lld)  "
      "rss %lld KiB  threads %lld  fds %lld\n",
      absl::ToDoubleSeconds(elapsed), static_cast<long long>(totals.cycles),
      static_cast<long long>(totals.futures), static_cast<long long>(totals.values),
      static_cast<long long>(totals.errors), static_cast<long long>(totals.cancelled),
      static_cast<long long>(usage.rss_kib), static_cast<long long>(usage.threads),
      static_cast<long long>(usage.descriptors));
  std::fflush(stdout);
}

int Main() {
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration report_every = absl::GetFlag(FLAGS_report_every);
  const int64_t max_growth_kib = absl::GetFlag(FLAGS_max_rss_growth_mib) * 1024;
  if (duration <= warmup || report_every <= absl::ZeroDuration() || max_growth_kib < 0) {
    std::fprintf(stderr, "soak: --duration must exceed --warmup, --report_every must be "
                         "positive and --max_rss_growth_mib not negative\n");
    return 2;
  }
  std::mt19937 random(absl::GetFlag(FLAGS_seed));
  Totals totals;
  const absl::Time start = absl::Now();
  absl::Time next_report = start;
  bool warm = false;
  Usage baseline;
  for (;;) {
    const absl::Time now = absl::Now();
    const absl::Duration elapsed = now - start;
    Usage usage = Measure();  // between cycles: no pool exists
    // A joined thread may still be counted for a moment while the kernel
    // finishes its exit: look again before calling a difference a leak.
    for (int retry = 0; warm && retry < 100 && (usage.threads != baseline.threads ||
                                                 usage.descriptors != baseline.descriptors);
         ++retry) {
      absl::SleepFor(absl::Milliseconds(1));
      usage = Measure();
    }
    if (!warm && elapsed >= warmup) {
      warm = true;
      baseline = usage;
      std::printf("soak: warm-up done; bounds: rss <= %lld KiB, threads == %lld, fds == %lld\n",
                  static_cast<long long>(baseline.rss_kib + max_growth_kib),
                  static_cast<long long>(baseline.threads),
                  static_cast<long long>(baseline.descriptors));
    }
    if (now >= next_report || elapsed >= duration) {
      Print(elapsed, totals, usage);
      next_report = now + report_every;
    }
    if (warm) {
      std::string grown;
      if (usage.rss_kib > baseline.rss_kib + max_growth_kib) {
        grown = absl::StrCat("resident memory grew from ", baseline.rss_kib, " KiB to ",
                             usage.rss_kib, " KiB");
      } else if (usage.threads != baseline.threads) {
        grown = absl::StrCat("threads went from ", baseline.threads, " to ", usage.threads);
      } else if (usage.descriptors != baseline.descriptors) {
        grown = absl::StrCat("descriptors went from ", baseline.descriptors, " to ",
                             usage.descriptors);
      }
      if (!grown.empty()) {
        Print(elapsed, totals, usage);
        std::printf("soak: FAILED after %lld cycles: %s\n", static_cast<long long>(totals.cycles),
                    grown.c_str());
        return 1;
      }
    }
    if (elapsed >= duration) break;
    absl::Status cycle = Cycle(random, totals);
    if (!cycle.ok()) {
      std::printf("soak: FAILED in cycle %lld: %s\n", static_cast<long long>(totals.cycles + 1),
                  cycle.ToString().c_str());
      return 1;
    }
  }
  const Usage end = Measure();
  std::printf("soak: OK, %lld cycles, %lld futures (%lld values, %lld errors, %lld cancelled), "
              "none lost or run twice; rss %lld KiB at warm-up, %lld KiB at the end\n",
              static_cast<long long>(totals.cycles), static_cast<long long>(totals.futures),
              static_cast<long long>(totals.values), static_cast<long long>(totals.errors),
              static_cast<long long>(totals.cancelled), static_cast<long long>(baseline.rss_kib),
              static_cast<long long>(end.rss_kib));
  return 0;
}

}  // namespace
}  // namespace threadpool

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return threadpool::Main();
}
