// The timing wheel alone, on a clock the test moves: deadline order, arm
// order among equal deadlines, cancellation that removes, and deadlines on
// every level of the wheel.
#include "asyncio_like/timer_wheel.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace asyncio_like {
namespace internal {
namespace {

// Records (deadline, id) when it fires.
struct Recorder final : Timer {
  std::vector<std::pair<int64_t, int>>* fired = nullptr;
  int64_t deadline = 0;
  int id = 0;
  void Fire() override { fired->push_back({deadline, id}); }
};

// Fires every timer due at `now`, checking none is early.
void FireDue(TimerWheel& wheel, int64_t now) {
  int64_t deadline;
  while (Timer* timer = wheel.PopDue(now, &deadline)) {
    EXPECT_LE(deadline, now);
    timer->Fire();
  }
}

// Timers with equal deadlines fire in the order they were added, whichever
// way the wheel reached them.
TEST(TimerWheelTest, TimersWithEqualDeadlinesFireFifo) {
  TimerWheel wheel;
  std::vector<std::pair<int64_t, int>> fired;
  std::vector<Recorder> recorders(100);
  for (int i = 0; i < 100; ++i) {
    recorders[i].fired = &fired;
    recorders[i].id = i;
    recorders[i].deadline = i % 2 == 0 ? 1000 : 2000;
    wheel.Add(recorders[i].deadline, &recorders[i]);
  }
  FireDue(wheel, 5000);
  ASSERT_EQ(fired.size(), 100u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(fired[i].second, 2 * i);
    EXPECT_EQ(fired[50 + i].second, 2 * i + 1);
  }
}

// Deadlines in any order, with cancellations, come out sorted by deadline
// and then by arm order.
TEST(TimerWheelTest, OrdersMixedDeadlinesAndSkipsCancelled) {
  TimerWheel wheel;
  std::vector<std::pair<int64_t, int>> fired;
  std::vector<Recorder> recorders(2000);
  std::vector<std::pair<int64_t, int>> expected;
  uint32_t state = 12345;
  auto next_random = [&state] {
    state = state * 1103515245 + 12345;
    return (state >> 8) % 50;
  };
  for (int i = 0; i < 2000; ++i) {
    // Mostly increasing deadlines, often equal, sometimes earlier; spread
    // over many ticks of the wheel.
    int64_t deadline = (i / 4 * 10 - (next_random() < 10 ? 300 : 0)) * 997;
    recorders[i].fired = &fired;
    recorders[i].deadline = deadline;
    recorders[i].id = i;
    wheel.Add(deadline, &recorders[i]);
  }
  for (int i = 0; i < 2000; ++i) {
    if (i % 3 != 2) {
      wheel.Cancel(&recorders[i]);
    } else {
      expected.push_back({recorders[i].deadline, i});
    }
  }
  std::stable_sort(expected.begin(), expected.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  EXPECT_EQ(wheel.live(), expected.size());
  FireDue(wheel, int64_t{1} << 40);
  EXPECT_EQ(fired, expected);
  EXPECT_EQ(wheel.live(), 0u);
  EXPECT_FALSE(wheel.NextDeadline().has_value());
}

// A cancelled timer is gone wherever it was: in a bucket, or already among
// the next tick's timers (due_). The next deadline is then the next live
// one, and the cancelled timer never fires.
TEST(TimerWheelTest, CancelRemovesFromBucketAndFromHeap) {
  TimerWheel wheel;
  std::vector<std::pair<int64_t, int>> fired;
  std::vector<Recorder> recorders(4);
  const int64_t deadlines[] = {1'000'000, 1'000'001, 50'000'000, 9'000'000'000};
  for (int i = 0; i < 4; ++i) {
    recorders[i].fired = &fired;
    recorders[i].deadline = deadlines[i];
    recorders[i].id = i;
    wheel.Add(deadlines[i], &recorders[i]);
  }
  // Asking for the next deadline brings the first tick's timers (0 and 1)
  // into due_; 2 and 3 stay in buckets.
  EXPECT_EQ(wheel.NextDeadline(), std::optional<int64_t>(1'000'000));
  wheel.Cancel(&recorders[0]);  // From due_.
  EXPECT_EQ(wheel.NextDeadline(), std::optional<int64_t>(1'000'001));
  wheel.Cancel(&recorders[2]);  // From a bucket.
  EXPECT_EQ(wheel.live(), 2u);
  FireDue(wheel, 100'000'000);
  EXPECT_EQ(fired, (std::vector<std::pair<int64_t, int>>{{1'000'001, 1}}));
  EXPECT_EQ(wheel.NextDeadline(), std::optional<int64_t>(9'000'000'000));
  wheel.Cancel(&recorders[3]);
  EXPECT_FALSE(wheel.NextDeadline().has_value());
  FireDue(wheel, INT64_MAX);
  EXPECT_EQ(fired.size(), 1u);
  // A cancelled timer can be armed again.
  wheel.Add(200'000'000, &recorders[2]);
  FireDue(wheel, 200'000'000);
  EXPECT_EQ(fired.back(), (std::pair<int64_t, int>{50'000'000, 2}));
}

// Deadlines from nanoseconds to centuries ahead, on every level of the
// wheel, armed and cancelled while a clock moves in uneven steps (some
// within a tick, some across many levels) and the loop asks for the next
// deadline in between, as it does before every wait. At every step exactly
// the timers due have fired, in (deadline, arm order).
TEST(TimerWheelTest, EveryLevelFiresOnTimeInOrder) {
  std::mt19937_64 random(42);
  TimerWheel wheel;
  std::vector<std::pair<int64_t, int>> fired;
  constexpr int kTimers = 20000;
  std::vector<Recorder> recorders(kTimers);
  std::vector<bool> armed(kTimers, false);
  int64_t now = 1'000'000'000;
  int added = 0;
  auto add_some = [&](int count) {
    for (int n = 0; n < count && added < kTimers; ++n, ++added) {
      // Powers of two from 1 ns to 2^61 ns, with noise; some in the past.
      const int bits = static_cast<int>(random() % 62);
      int64_t delay = static_cast<int64_t>(random() % (uint64_t{1} << bits));
      if (random() % 20 == 0) delay = -delay;
      Recorder& r = recorders[added];
      r.fired = &fired;
      r.id = added;
      r.deadline = now + delay;
      wheel.Add(r.deadline, &r);
      armed[added] = true;
    }
  };
  add_some(kTimers / 2);
  while (wheel.live() > 0 || added < kTimers) {
    add_some(static_cast<int>(random() % 200));
    for (int n = static_cast<int>(random() % 50); n > 0; --n) {
      const int i = static_cast<int>(random() % std::max(added, 1));
      if (armed[i]) {
        wheel.Cancel(&recorders[i]);
        armed[i] = false;
      }
    }
    if (random() % 2 == 0) {
      if (std::optional<int64_t> next = wheel.NextDeadline()) {
        int64_t earliest = INT64_MAX;
        for (int i = 0; i < added; ++i) {
          if (armed[i]) earliest = std::min(earliest, recorders[i].deadline);
        }
        ASSERT_EQ(*next, earliest);
      }
    }
    const size_t before = fired.size();
    const int bits = static_cast<int>(random() % 64);
    const int64_t step = bits >= 62 ? int64_t{1} << 61
                                    : static_cast<int64_t>(random() % (uint64_t{1} << bits));
    now = step > INT64_MAX - now ? INT64_MAX : now + step;
    FireDue(wheel, now);
    for (size_t k = before; k < fired.size(); ++k) {
      ASSERT_TRUE(armed[fired[k].second]) << "a cancelled or fired timer fired";
      armed[fired[k].second] = false;
      if (k > before) {
        ASSERT_LE(fired[k - 1], fired[k]) << "out of order";
      }
    }
    for (int i = 0; i < added; ++i) {
      ASSERT_FALSE(armed[i] && recorders[i].deadline <= now) << "timer " << i << " is late";
    }
  }
  EXPECT_FALSE(wheel.NextDeadline().has_value());
}

// A timer knows whether it is armed: from Add until it fires or is
// cancelled (its owner keeps no flag of its own).
TEST(TimerWheelTest, ArmedFromAddUntilFiredOrCancelled) {
  TimerWheel wheel;
  std::vector<std::pair<int64_t, int>> fired;
  Recorder due, bucketed, cancelled_due, cancelled_bucketed;
  for (Recorder* r : {&due, &bucketed, &cancelled_due, &cancelled_bucketed}) r->fired = &fired;
  EXPECT_FALSE(due.armed());
  wheel.Add(0, &due);
  wheel.Add(0, &cancelled_due);
  wheel.Add(int64_t{1} << 30, &bucketed);
  wheel.Add(int64_t{1} << 40, &cancelled_bucketed);
  for (Recorder* r : {&due, &bucketed, &cancelled_due, &cancelled_bucketed}) {
    EXPECT_TRUE(r->armed());
  }
  wheel.Cancel(&cancelled_due);
  wheel.Cancel(&cancelled_bucketed);
  EXPECT_FALSE(cancelled_due.armed());
  EXPECT_FALSE(cancelled_bucketed.armed());
  FireDue(wheel, 1);
  EXPECT_FALSE(due.armed());
  EXPECT_TRUE(bucketed.armed());
  FireDue(wheel, int64_t{1} << 31);
  EXPECT_FALSE(bucketed.armed());
  EXPECT_EQ(fired.size(), 2u);
  EXPECT_EQ(wheel.live(), 0u);
}

}  // namespace
}  // namespace internal
}  // namespace asyncio_like
