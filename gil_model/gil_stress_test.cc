// The GIL's invariants under random schedules: for each policy and many
// seeds, a random number of threads run a random mix of bytecode, critical
// sections that only the GIL protects, blocking calls that release it,
// explicit drops and takes, and changes of the switch interval; then a
// CPU-bound thread that never blocks meets threads that keep asking for the
// GIL. At every step:
//   - at most one thread holds the GIL (free threading aside), and a thread
//     holds it whenever it is between two calls;
//   - every thread finishes: nobody waits forever (a watchdog ends the test
//     with the stuck schedule and step if one does);
// and at the end of each schedule:
//   - the counts add up: every take, drop on request and unit of bytecode
//     is counted once, in its thread and in the totals;
//   - under the new GIL, every drop request is answered: threads waiting on
//     a holder that never blocks get the GIL, by forced switching.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gil_model/gil.h"
#include "gtest/gtest.h"

namespace gil_model {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kSeeds = 6;
constexpr int kSteps = 120;
#else
constexpr int kSeeds = 25;
constexpr int kSteps = 600;
#endif

// Far longer than any schedule takes, even under a sanitizer on a loaded
// machine: only a thread that waits forever reaches it.
constexpr absl::Duration kDeadline = absl::Seconds(60);

// Ends the process with `what` if the scope is still running kDeadline after
// it began: a thread that never gets the GIL would otherwise hang the test.
class Watchdog {
 public:
  explicit Watchdog(std::string what)
      : thread_([this, what = std::move(what)] {
          absl::MutexLock lock(&mu_);
          if (!mu_.AwaitWithTimeout(absl::Condition(&done_), kDeadline)) {
            std::fprintf(stderr, "a thread never got the GIL: %s did not finish in %s\n",
                         what.c_str(), absl::FormatDuration(kDeadline).c_str());
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    thread_.join();
  }

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

std::string PolicyName(const testing::TestParamInfo<GilPolicy>& info) {
  switch (info.param) {
    case GilPolicy::kNewGil: return "NewGil";
    case GilPolicy::kTickBased: return "TickBased";
    case GilPolicy::kFreeThreaded: return "FreeThreaded";
  }
  return "Unknown";
}

std::unique_ptr<Gil> MakeGil(GilPolicy policy, absl::Duration switch_interval,
                             int64_t check_interval) {
  GilOptions options;
  options.policy = policy;
  options.switch_interval = switch_interval;
  options.check_interval = check_interval;
  absl::StatusOr<std::unique_ptr<Gil>> gil = Gil::Create(options);
  EXPECT_TRUE(gil.ok()) << gil.status();
  return gil.ok() ? *std::move(gil) : nullptr;
}

// What one thread did, for the accounting at the end.
struct Tally {
  int64_t units = 0;
  int64_t takes = 0;  // explicit: after AllowThreads and DropGil
  ThreadStats stats;  // just before it detached
};

class GilStressTest : public testing::TestWithParam<GilPolicy> {};

TEST_P(GilStressTest, InvariantsHoldUnderRandomSchedules) {
  const GilPolicy policy = GetParam();
  const bool locking = policy != GilPolicy::kFreeThreaded;
  int64_t max_holders_seen = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937 schedule_random(seed);
    const int threads = 2 + static_cast<int>(schedule_random() % 7);
    const absl::Duration first_interval =
        absl::Microseconds(20 + schedule_random() % 2000);
    const int64_t check_interval = 1 + schedule_random() % 200;
    SCOPED_TRACE(absl::StrCat("seed ", seed, ": ", threads, " threads, interval ",
                              absl::FormatDuration(first_interval), ", check interval ",
                              check_interval));
    std::unique_ptr<Gil> gil = MakeGil(policy, first_interval, check_interval);
    ASSERT_NE(gil, nullptr);
    Watchdog watchdog(absl::StrCat("seed ", seed, " with ", threads, " threads"));

    std::atomic<int> holders{0};
    std::atomic<int> max_holders{0};
    std::atomic<int> steps_without_gil{0};
    std::atomic<int> interval_errors{0};
    std::vector<Tally> tallies(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        std::mt19937 random(seed * 1000 + t);
        absl::StatusOr<InterpreterThread> py =
            InterpreterThread::Attach(*gil, absl::StrCat("worker-", t));
        ASSERT_TRUE(py.ok()) << py.status();
        Tally& tally = tallies[t];
        for (int step = 0; step < kSteps; ++step) {
          switch (random() % 6) {
            case 0:
            case 1: {  // CPU-bound bytecode
              const int64_t units = random() % 3000;
              ASSERT_TRUE(py->RunBytecode(units).ok());
              tally.units += units;
              break;
            }
            case 2: {  // a critical section protected by the GIL alone
              const int now = holders.fetch_add(1) + 1;
              int seen = max_holders.load();
              while (now > seen && !max_holders.compare_exchange_weak(seen, now)) {
              }
              std::this_thread::yield();  // invite another thread in
              holders.fetch_sub(1);
              break;
            }
            case 3: {  // a blocking call: the GIL is released around it
              ++tally.takes;
              AllowThreads io(*py);
              if (random() % 2 == 0) {
                absl::SleepFor(absl::Microseconds(random() % 300));
              } else {
                std::this_thread::yield();
              }
              break;
            }
            case 4:
              ++tally.takes;
              ASSERT_TRUE(py->DropGil().ok());
              ASSERT_TRUE(py->TakeGil().ok());
              break;
            case 5:  // sys.setswitchinterval from any thread, at any time
              if (!gil->SetSwitchInterval(absl::Microseconds(1 + random() % 3000)).ok()) {
                interval_errors.fetch_add(1);
              }
              break;
          }
          if (!py->holds_gil()) steps_without_gil.fetch_add(1);
        }
        tally.stats = py->Stats();
      });
    }
    for (std::thread& worker : workers) worker.join();

    EXPECT_EQ(steps_without_gil.load(), 0) << "a thread lost the GIL between two calls";
    EXPECT_EQ(interval_errors.load(), 0);
    if (locking) {
      EXPECT_EQ(max_holders.load(), 1) << "two threads held the GIL at once";
    }
    max_holders_seen = std::max<int64_t>(max_holders_seen, max_holders.load());

    const GilStats all = gil->Stats();
    EXPECT_FALSE(all.locked);
    EXPECT_TRUE(all.live_threads.empty());
    EXPECT_EQ(all.threads_attached, threads);
    int64_t units = 0;
    int64_t recorded_units = 0;
    int64_t switches = 0;
    int64_t drops_on_request = 0;
    for (const Tally& tally : tallies) {
      units += tally.units;
      recorded_units += tally.stats.bytecode_units;
      switches += tally.stats.switches;
      drops_on_request += tally.stats.drops_on_request;
      // Attach, each explicit take, and any by the eval breaker.
      EXPECT_GE(tally.stats.takes, 1 + tally.takes) << "thread " << tally.stats.id;
    }
    EXPECT_EQ(recorded_units, units);
    EXPECT_EQ(all.bytecode_units, units);
    EXPECT_EQ(all.switches, switches);
    if (locking) {
      // Only a waiter sets a drop request, and the holder answers each one
      // at most once.
      EXPECT_LE(drops_on_request, all.drop_requests);
    } else {
      EXPECT_EQ(drops_on_request, 0);
      EXPECT_EQ(all.drop_requests, 0);
    }
  }
  RecordProperty("max_simultaneous_holders", static_cast<int>(max_holders_seen));
  std::printf("%s: %d schedules, at most %d simultaneous holders\n",
              PolicyName({policy, 0}).c_str(), kSeeds, static_cast<int>(max_holders_seen));
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, GilStressTest,
                         testing::Values(GilPolicy::kNewGil, GilPolicy::kTickBased,
                                         GilPolicy::kFreeThreaded),
                         PolicyName);

// A CPU-bound thread that never blocks, and 1-4 threads that each need the
// GIL again and again: each of their takes is a drop request, which the new
// GIL answers by dropping at the next eval-breaker check and, by forced
// switching, letting the requester in before the CPU-bound thread can take
// it back. If a request went unanswered the waiter would wait forever.
TEST(GilStressTest, EveryDropRequestIsAnsweredByTheNewGil) {
  for (int seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937 random(seed);
    const int waiters = 1 + static_cast<int>(random() % 4);
    const int takes_each = 3 + static_cast<int>(random() % 10);
    SCOPED_TRACE(absl::StrCat("seed ", seed, ": ", waiters, " waiters, ", takes_each,
                              " takes each"));
    std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kNewGil,
                                       absl::Microseconds(50 + random() % 500), 100);
    ASSERT_NE(gil, nullptr);
    Watchdog watchdog(absl::StrCat("drop requests, seed ", seed));
    std::atomic<bool> stop{false};
    std::atomic<int64_t> cpu_drops{0};
    std::atomic<int64_t> cpu_id{0};
    std::thread cpu([&] {
      absl::StatusOr<InterpreterThread> py = InterpreterThread::Attach(*gil, "cpu");
      ASSERT_TRUE(py.ok()) << py.status();
      cpu_id.store(py->id());
      while (!stop.load()) ASSERT_TRUE(py->RunBytecode(500).ok());
      cpu_drops.store(py->Stats().drops_on_request);
    });
    std::vector<std::thread> threads;
    std::vector<ThreadStats> waiter_stats(waiters);
    for (int w = 0; w < waiters; ++w) {
      threads.emplace_back([&, w] {
        absl::StatusOr<InterpreterThread> py = InterpreterThread::Attach(*gil, "waiter");
        ASSERT_TRUE(py.ok()) << py.status();
        for (int i = 0; i < takes_each; ++i) {
          ASSERT_TRUE(py->DropGil().ok());
          // Once the CPU-bound thread holds the GIL, only a drop request
          // answered can end the take below.
          while (cpu_id.load() == 0 || gil->Stats().last_holder != cpu_id.load()) {
            absl::SleepFor(absl::Microseconds(50));
          }
          ASSERT_TRUE(py->TakeGil().ok());
        }
        waiter_stats[w] = py->Stats();
      });
    }
    for (std::thread& thread : threads) thread.join();
    stop.store(true);
    cpu.join();

    const GilStats all = gil->Stats();
    for (const ThreadStats& stats : waiter_stats) EXPECT_EQ(stats.takes, 1 + takes_each);
    // The CPU-bound thread never blocks: it gave the GIL up only on request,
    // each time waiting until another thread had taken it.
    EXPECT_GT(cpu_drops.load(), 0);
    EXPECT_LE(cpu_drops.load(), all.drop_requests);
    EXPECT_GT(all.forced_switches, 0);
  }
}

}  // namespace
}  // namespace gil_model
