#include "gil_model/gil.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace gil_model {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kStressRounds = 300;
#else
constexpr int kStressRounds = 3000;
#endif

// Generous bound for "should happen promptly" on a loaded 2-core machine.
constexpr absl::Duration kPatience = absl::Seconds(20);

std::unique_ptr<Gil> MakeGil(
    GilPolicy policy, absl::Duration switch_interval = absl::Milliseconds(5),
    int64_t check_interval = 100) {
  GilOptions options;
  options.policy = policy;
  options.switch_interval = switch_interval;
  options.check_interval = check_interval;
  absl::StatusOr<std::unique_ptr<Gil>> gil = Gil::Create(options);
  EXPECT_TRUE(gil.ok()) << gil.status();
  return std::move(gil).value();
}

InterpreterThread AttachOrDie(Gil& gil, absl::string_view name) {
  absl::StatusOr<InterpreterThread> thread =
      InterpreterThread::Attach(gil, name);
  EXPECT_TRUE(thread.ok()) << thread.status();
  return std::move(thread).value();
}

// --- Bad input ---

TEST(GilTest, CreateRejectsNonPositiveIntervalsAndCosts) {
  GilOptions zero_interval;
  zero_interval.switch_interval = absl::ZeroDuration();
  EXPECT_EQ(Gil::Create(zero_interval).status().code(),
            absl::StatusCode::kInvalidArgument);

  GilOptions negative_interval;
  negative_interval.switch_interval = absl::Milliseconds(-1);
  EXPECT_EQ(Gil::Create(negative_interval).status().code(),
            absl::StatusCode::kInvalidArgument);

  GilOptions zero_check;
  zero_check.policy = GilPolicy::kTickBased;
  zero_check.check_interval = 0;
  EXPECT_EQ(Gil::Create(zero_check).status().code(),
            absl::StatusCode::kInvalidArgument);

  GilOptions zero_cost;
  zero_cost.unit_cost = absl::ZeroDuration();
  EXPECT_EQ(Gil::Create(zero_cost).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GilTest, SetSwitchIntervalRejectsNonPositiveAndKeepsTheOldValue) {
  std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kNewGil);
  EXPECT_EQ(gil->switch_interval(), absl::Milliseconds(5));

  absl::Status zero = gil->SetSwitchInterval(absl::ZeroDuration());
  EXPECT_EQ(zero.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(zero.message().find("strictly positive"), std::string::npos);
  EXPECT_EQ(gil->SetSwitchInterval(absl::Microseconds(-3)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gil->switch_interval(), absl::Milliseconds(5));

  EXPECT_TRUE(gil->SetSwitchInterval(absl::Microseconds(500)).ok());
  EXPECT_EQ(gil->switch_interval(), absl::Microseconds(500));
  EXPECT_EQ(gil->Stats().switch_interval, absl::Microseconds(500));
}

class GilPolicyTest : public testing::TestWithParam<GilPolicy> {};

TEST_P(GilPolicyTest, DroppingAGilNotHeldFails) {
  std::unique_ptr<Gil> gil = MakeGil(GetParam());
  InterpreterThread py = AttachOrDie(*gil, "main");
  ASSERT_TRUE(py.DropGil().ok());
  absl::Status again = py.DropGil();
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("does not hold"), std::string::npos);
  EXPECT_FALSE(py.holds_gil());
}

TEST_P(GilPolicyTest, TakingTheGilWhileHoldingItFails) {
  std::unique_ptr<Gil> gil = MakeGil(GetParam());
  InterpreterThread py = AttachOrDie(*gil, "main");
  absl::Status again = py.TakeGil();
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("already holds"), std::string::npos);
  EXPECT_TRUE(py.holds_gil());
  // Still usable afterwards.
  EXPECT_TRUE(py.RunBytecode(10).ok());
}

TEST_P(GilPolicyTest, BytecodeNeedsTheGilAndANonNegativeCount) {
  std::unique_ptr<Gil> gil = MakeGil(GetParam());
  InterpreterThread py = AttachOrDie(*gil, "main");
  EXPECT_EQ(py.RunBytecode(-1).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(py.DropGil().ok());
  EXPECT_EQ(py.RunBytecode(1).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(py.TakeGil().ok());
  EXPECT_TRUE(py.RunBytecode(0).ok());
  EXPECT_TRUE(py.RunBytecode(5).ok());
  EXPECT_EQ(py.Stats().bytecode_units, 5);
}

TEST_P(GilPolicyTest, UseFromAnotherOsThreadFails) {
  std::unique_ptr<Gil> gil = MakeGil(GetParam());
  InterpreterThread py = AttachOrDie(*gil, "main");
  absl::Status run, drop;
  std::thread other([&] {
    run = py.RunBytecode(1);
    drop = py.DropGil();
  });
  other.join();
  EXPECT_EQ(run.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(run.message().find("another OS thread"), std::string::npos);
  EXPECT_EQ(drop.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(py.holds_gil());
}

TEST_P(GilPolicyTest, MovedFromThreadReportsAnError) {
  std::unique_ptr<Gil> gil = MakeGil(GetParam());
  InterpreterThread first = AttachOrDie(*gil, "main");
  InterpreterThread second = std::move(first);
  EXPECT_EQ(first.RunBytecode(1).code(),  // NOLINT(bugprone-use-after-move)
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(first.holds_gil());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(second.holds_gil());
  EXPECT_TRUE(second.RunBytecode(1).ok());
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, GilPolicyTest,
                         testing::Values(GilPolicy::kNewGil,
                                         GilPolicy::kTickBased,
                                         GilPolicy::kFreeThreaded),
                         [](const testing::TestParamInfo<GilPolicy>& info) {
                           switch (info.param) {
                             case GilPolicy::kNewGil:
                               return "NewGil";
                             case GilPolicy::kTickBased:
                               return "TickBased";
                             case GilPolicy::kFreeThreaded:
                               return "FreeThreaded";
                           }
                           return "Unknown";
                         });

class LockingPolicyTest : public testing::TestWithParam<GilPolicy> {};

TEST_P(LockingPolicyTest,
       SecondThreadStateOnTheSameOsThreadFailsInsteadOfHanging) {
  std::unique_ptr<Gil> gil = MakeGil(GetParam());
  InterpreterThread first = AttachOrDie(*gil, "first");
  absl::StatusOr<InterpreterThread> second =
      InterpreterThread::Attach(*gil, "second");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("deadlock"), std::string::npos);

  // Once the first has released the GIL, a second thread state works.
  ASSERT_TRUE(first.DropGil().ok());
  InterpreterThread third = AttachOrDie(*gil, "third");
  EXPECT_EQ(first.TakeGil().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(third.DropGil().ok());
  EXPECT_TRUE(first.TakeGil().ok());
}

// --- Mutual exclusion ---

// Random mixes of bytecode, GIL-protected critical sections, released blocking
// calls and explicit drop/take. Between two bytecode runs a thread holds the
// GIL without any chance to lose it, so no other thread may be inside a
// critical section then. `plain_counter` is deliberately not atomic: the GIL
// alone must order the increments (ThreadSanitizer checks this).
TEST_P(LockingPolicyTest, NeverTwoHoldersUnderRandomWorkloads) {
  std::unique_ptr<Gil> gil = MakeGil(GetParam(), absl::Microseconds(200),
                                     /*check_interval=*/10);
  constexpr int kThreads = 4;
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  int64_t plain_counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(1234 + t);
      InterpreterThread py = AttachOrDie(*gil, "worker");
      for (int round = 0; round < kStressRounds; ++round) {
        switch (random() % 4) {
          case 0:
            ASSERT_TRUE(py.RunBytecode(random() % 400).ok());
            break;
          case 1: {
            const int now_inside = inside.fetch_add(1) + 1;
            int seen = max_inside.load();
            while (now_inside > seen &&
                   !max_inside.compare_exchange_weak(seen, now_inside)) {
            }
            ++plain_counter;
            std::this_thread::yield();  // invite another thread to barge in
            inside.fetch_sub(1);
            break;
          }
          case 2: {
            AllowThreads blocking(py);
            std::this_thread::yield();
            break;
          }
          case 3:
            ASSERT_TRUE(py.DropGil().ok());
            ASSERT_TRUE(py.TakeGil().ok());
            break;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(max_inside.load(), 1);
  const GilStats stats = gil->Stats();
  EXPECT_EQ(stats.threads_attached, kThreads);
  EXPECT_FALSE(stats.locked);
  EXPECT_TRUE(stats.live_threads.empty());
  EXPECT_GT(stats.switch_number, static_cast<uint64_t>(kThreads));
  EXPECT_GT(plain_counter, 0);
}

INSTANTIATE_TEST_SUITE_P(GilPolicies, LockingPolicyTest,
                         testing::Values(GilPolicy::kNewGil,
                                         GilPolicy::kTickBased),
                         [](const testing::TestParamInfo<GilPolicy>& info) {
                           return info.param == GilPolicy::kNewGil
                                      ? "NewGil"
                                      : "TickBased";
                         });

TEST(GilTest, SecondThreadCannotAttachWhileTheFirstHoldsTheNewGil) {
  std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kNewGil);
  InterpreterThread first = AttachOrDie(*gil, "first");
  absl::Notification second_attached;
  std::thread second([&] {
    InterpreterThread py = AttachOrDie(*gil, "second");
    second_attached.Notify();
  });
  // The first thread runs no bytecode, so it never checks the eval breaker
  // and never gives the GIL up: the second one times out and asks for a
  // drop, and still waits.
  const absl::Time give_up = absl::Now() + kPatience;
  while (gil->Stats().drop_requests < 1 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_GE(gil->Stats().drop_requests, 1);
  EXPECT_FALSE(second_attached.HasBeenNotified());
  ASSERT_TRUE(first.DropGil().ok());
  EXPECT_TRUE(second_attached.WaitForNotificationWithTimeout(kPatience));
  second.join();
}

TEST(GilTest, FreeThreadedThreadsRunAtTheSameTime) {
  std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kFreeThreaded);
  absl::Notification first_attached, second_attached;
  std::thread first([&] {
    InterpreterThread py = AttachOrDie(*gil, "first");
    first_attached.Notify();
    // Still attached and running while the other one attaches and runs.
    EXPECT_TRUE(second_attached.WaitForNotificationWithTimeout(kPatience));
    EXPECT_TRUE(py.RunBytecode(1000).ok());
  });
  std::thread second([&] {
    ASSERT_TRUE(first_attached.WaitForNotificationWithTimeout(kPatience));
    InterpreterThread py = AttachOrDie(*gil, "second");
    EXPECT_TRUE(py.RunBytecode(1000).ok());
    second_attached.Notify();
  });
  first.join();
  second.join();
  EXPECT_EQ(gil->Stats().drop_requests, 0);
  EXPECT_EQ(gil->Stats().bytecode_units, 2000);
}

// --- No starvation, drop requests, forced switching ---

// A CPU-bound holder hands over the GIL only when asked: the waiter waits a
// full switch interval, times out, requests a drop, and the holder drops at
// its next unit. So every wait lasts at least one interval (less some clock
// slack), and without drop requests it would never end. How long a wait
// takes beyond that is a figure for gil_benchmark, not a bound here.
TEST(GilTest, WaiterGetsTheGilFromACpuBoundHolderAfterOneInterval) {
  const absl::Duration interval = absl::Milliseconds(5);
  std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kNewGil, interval);
  std::atomic<bool> stop{false};
  absl::Notification cpu_attached;
  std::atomic<int64_t> cpu_id{0};
  std::thread cpu([&] {
    InterpreterThread py = AttachOrDie(*gil, "cpu");
    cpu_id.store(py.id());
    cpu_attached.Notify();
    while (!stop.load()) ASSERT_TRUE(py.RunBytecode(1000).ok());
  });
  ASSERT_TRUE(cpu_attached.WaitForNotificationWithTimeout(kPatience));
  InterpreterThread waiter = AttachOrDie(*gil, "waiter");
  ASSERT_TRUE(waiter.DropGil().ok());
  constexpr int kWaits = 10;
  for (int i = 0; i < kWaits; ++i) {
    // Let the CPU thread hold the GIL again, so that every take below has to
    // get it from a CPU-bound holder.
    while (gil->Stats().last_holder != cpu_id.load()) {
      absl::SleepFor(absl::Microseconds(100));
    }
    const absl::Time start = absl::Now();
    ASSERT_TRUE(waiter.TakeGil().ok());
    const absl::Duration waited = absl::Now() - start;
    EXPECT_GE(waited, interval * 0.9) << "wait " << i << " asked for a drop early";
    ASSERT_TRUE(waiter.DropGil().ok());
  }
  stop.store(true);
  cpu.join();

  const ThreadStats mine = waiter.Stats();
  EXPECT_EQ(mine.takes, kWaits + 1);
  EXPECT_EQ(mine.switches, kWaits + 1);
  EXPECT_GE(mine.wait_p50, interval * 0.9);
  const GilStats all = gil->Stats();
  EXPECT_GE(all.drop_requests, kWaits);
  EXPECT_GE(all.forced_switches, kWaits);
  EXPECT_GT(all.handoff_p50, absl::ZeroDuration());
}

// A holder that drops because of a request must not be the next holder when
// another thread waits: after each such drop, a waiter runs before the holder
// resumes. The CPU-bound thread logs (itself, its drops so far) between
// bytecode runs; the waiters log each time they hold the GIL. Each drop on
// request must be followed by at least one waiter entry before the CPU
// thread's next entry. The log is protected by the GIL alone.
TEST(GilTest, ForcedSwitchingHandsTheGilToAWaiter) {
  std::unique_ptr<Gil> gil =
      MakeGil(GilPolicy::kNewGil, absl::Microseconds(300));
  struct Entry {
    bool cpu;
    int64_t cpu_drops;
  };
  std::vector<Entry> log;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> cpu_id{0};
  absl::Notification cpu_attached;
  std::thread cpu([&] {
    InterpreterThread py = AttachOrDie(*gil, "cpu");
    cpu_id.store(py.id());
    cpu_attached.Notify();
    while (!stop.load()) {
      ASSERT_TRUE(py.RunBytecode(200).ok());
      log.push_back({true, py.Stats().drops_on_request});
    }
  });
  ASSERT_TRUE(cpu_attached.WaitForNotificationWithTimeout(kPatience));
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr int kTakesPerWaiter = 30;
#else
  constexpr int kTakesPerWaiter = 150;
#endif
  std::vector<std::thread> waiters;
  for (int w = 0; w < 2; ++w) {
    waiters.emplace_back([&] {
      InterpreterThread py = AttachOrDie(*gil, "waiter");
      log.push_back({false, 0});
      for (int i = 0; i < kTakesPerWaiter; ++i) {
        ASSERT_TRUE(py.DropGil().ok());
        // Let the CPU thread take the GIL back, so that the next take has to
        // ask it for a drop.
        while (gil->Stats().last_holder != cpu_id.load()) {
          absl::SleepFor(absl::Microseconds(100));
        }
        ASSERT_TRUE(py.TakeGil().ok());
        log.push_back({false, 0});
      }
    });
  }
  for (std::thread& waiter : waiters) waiter.join();
  stop.store(true);
  cpu.join();

  int64_t last_cpu_drops = 0;
  int64_t waiter_entries_since = 0;
  int64_t checked_drops = 0;
  for (const Entry& entry : log) {
    if (!entry.cpu) {
      ++waiter_entries_since;
      continue;
    }
    const int64_t new_drops = entry.cpu_drops - last_cpu_drops;
    EXPECT_GE(waiter_entries_since, new_drops)
        << "the CPU thread dropped on request and took the GIL back first";
    checked_drops += new_drops;
    last_cpu_drops = entry.cpu_drops;
    waiter_entries_since = 0;
  }
  // Every waiter take (after the first) needed a drop on request.
  EXPECT_GE(checked_drops, kTakesPerWaiter);
}

// --- Policies ---

TEST(GilTest, TickBasedReleasesAndRetakesEveryCheckInterval) {
  std::unique_ptr<Gil> gil = MakeGil(
      GilPolicy::kTickBased, absl::Milliseconds(5), /*check_interval=*/100);
  InterpreterThread py = AttachOrDie(*gil, "alone");
  ASSERT_TRUE(py.RunBytecode(1000).ok());
  const ThreadStats stats = py.Stats();
  EXPECT_EQ(stats.takes, 1 + 1000 / 100);
  EXPECT_EQ(stats.switches, 0);
  EXPECT_EQ(stats.drops_on_request, 0);
  EXPECT_EQ(gil->Stats().drop_requests, 0);
  EXPECT_EQ(gil->Stats().futile_wakeups, 0);
  EXPECT_EQ(gil->Stats().switch_number, 11u);
}

TEST(GilTest, NewGilAloneNeverDropsWhileRunning) {
  std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kNewGil);
  InterpreterThread py = AttachOrDie(*gil, "alone");
  ASSERT_TRUE(py.RunBytecode(10000).ok());
  EXPECT_EQ(py.Stats().takes, 1);
  EXPECT_EQ(gil->Stats().switch_number, 1u);
  EXPECT_TRUE(gil->Stats().locked);
  EXPECT_EQ(gil->Stats().last_holder, py.id());
}

// --- Blocking calls release the GIL ---

TEST(GilTest, AllowThreadsReleasesTheGilAroundABlockingCall) {
  std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kNewGil);
  absl::Notification io_started, other_ran;
  std::thread io([&] {
    InterpreterThread py = AttachOrDie(*gil, "io");
    {
      AllowThreads blocking(py);
      EXPECT_FALSE(py.holds_gil());
      io_started.Notify();
      // The "I/O" completes only when the other thread has run bytecode,
      // which needs the GIL: possible only because it was released.
      EXPECT_TRUE(other_ran.WaitForNotificationWithTimeout(kPatience));
    }
    EXPECT_TRUE(py.holds_gil());
    EXPECT_TRUE(py.RunBytecode(10).ok());
  });
  ASSERT_TRUE(io_started.WaitForNotificationWithTimeout(kPatience));
  {
    InterpreterThread py = AttachOrDie(*gil, "other");
    EXPECT_TRUE(py.RunBytecode(10).ok());
    other_ran.Notify();
  }
  io.join();
}

TEST(GilTest, NestedAllowThreadsIsANoOpInside) {
  std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kNewGil);
  InterpreterThread py = AttachOrDie(*gil, "main");
  {
    AllowThreads outer(py);
    {
      AllowThreads inner(py);
      EXPECT_FALSE(py.holds_gil());
    }
    EXPECT_FALSE(py.holds_gil());
  }
  EXPECT_TRUE(py.holds_gil());
  EXPECT_EQ(py.Stats().takes, 2);
}

// --- Statistics ---

TEST(GilTest, StatisticsSurviveDetachAndAddUp) {
  std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kNewGil);
  {
    InterpreterThread a = AttachOrDie(*gil, "a");
    ASSERT_TRUE(a.RunBytecode(300).ok());
    const ThreadStats stats = a.Stats();
    EXPECT_EQ(stats.name, "a");
    EXPECT_EQ(stats.id, 1);
    EXPECT_EQ(stats.bytecode_units, 300);
    EXPECT_EQ(stats.takes, 1);
  }
  InterpreterThread b = AttachOrDie(*gil, "");
  ASSERT_TRUE(b.RunBytecode(200).ok());
  ASSERT_TRUE(b.DropGil().ok());
  const GilStats stats = gil->Stats();
  EXPECT_EQ(stats.threads_attached, 2);
  EXPECT_EQ(stats.bytecode_units, 500);
  EXPECT_GT(stats.hold_total, absl::ZeroDuration());
  EXPECT_EQ(stats.last_holder, b.id());
  ASSERT_EQ(stats.live_threads.size(), 1u);
  EXPECT_EQ(stats.live_threads[0].name, "thread-2");
  EXPECT_EQ(stats.live_threads[0].id, 2);
  EXPECT_EQ(GilPolicyName(stats.policy), "new-gil");
  EXPECT_EQ(gil->unit_cost(), absl::Nanoseconds(25));
  EXPECT_EQ(gil->policy(), GilPolicy::kNewGil);
}

}  // namespace
}  // namespace gil_model
