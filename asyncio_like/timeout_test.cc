#include "asyncio_like/timeout.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

Task<int> After(absl::Duration d, int v) {
  co_await Sleep(d);
  co_return v;
}

TEST(WaitForTest, ReturnsTheResultBeforeTheDeadline) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete(WaitFor(After(absl::Milliseconds(1), 5), absl::Seconds(30)));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 5);
}

TEST(WaitForTest, DeadlineCancelsTheBodyAndRaisesTimeoutError) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string how;
  auto result = loop->RunUntilComplete([](std::string* how) -> Task<std::string> {
    try {
      co_await WaitFor(SleepRecording(how), absl::Milliseconds(5));
    } catch (const TimeoutError&) {
      co_return "timeout";
    }
    co_return "no timeout";
  }(&how));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "timeout");
  EXPECT_EQ(how, "cancelled");
}

TEST(WaitForTest, ErrorsOfTheBodyPropagate) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    try {
      co_await WaitFor([]() -> Task<int> {
        co_await Sleep(absl::Milliseconds(1));
        throw std::runtime_error("body failed");
      }(), absl::Hours(1));
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no error";
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "body failed");
}

TEST(WaitForTest, CancellingTheAwaitedTaskIsACancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string how;
  auto result = loop->RunUntilComplete([](std::string* how) -> Task<std::string> {
    Task<void> task = CreateTask(SleepRecording(how));
    Task<void> waiter = CreateTask([](Task<void>* task) -> Task<void> {
      co_await WaitFor(std::move(*task), absl::Hours(1));
    }(&task));
    co_await Sleep(absl::Milliseconds(1));
    // `task` was moved into WaitFor; cancel it through the waiter twice,
    // and once more after it finished.
    EXPECT_TRUE(waiter.Cancel());
    EXPECT_TRUE(waiter.Cancel());
    std::string out;
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      out = "cancelled";
    } catch (const TimeoutError&) {
      out = "timeout";
    }
    EXPECT_FALSE(waiter.Cancel());
    co_return out;
  }(&how));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "cancelled");
  EXPECT_EQ(how, "cancelled");
}

TEST(WaitForTest, DeadlineCancelsAScheduledTask) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string how;
  auto result = loop->RunUntilComplete([](std::string* how) -> Task<std::string> {
    Task<void> task = CreateTask(SleepRecording(how));
    std::string out;
    try {
      co_await WaitFor(std::move(task), absl::Milliseconds(5));
    } catch (const TimeoutError&) {
      out = "timeout";
    }
    co_return out;
  }(&how));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "timeout");
  EXPECT_EQ(how, "cancelled");
}

TEST(WaitForTest, CancellingTheWaiterIsACancellationNotATimeout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string how;
  auto result = loop->RunUntilComplete([](std::string* how) -> Task<std::string> {
    Task<void> waiter = CreateTask(WaitFor(SleepRecording(how), absl::Hours(2)));
    co_await Sleep(absl::Milliseconds(1));
    waiter.Cancel();
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      co_return "cancelled";
    } catch (const TimeoutError&) {
      co_return "timeout";
    }
    co_return "finished";
  }(&how));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "cancelled");
  EXPECT_EQ(how, "cancelled");
}

TEST(TimeoutTest, RescheduleMovesTheDeadline) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    Timeout timeout(absl::Milliseconds(5));
    int value = co_await timeout.Run([](Timeout* timeout) -> Task<int> {
      timeout->Reschedule(std::nullopt);
      co_await Sleep(absl::Milliseconds(20));
      co_return 3;
    }(&timeout));
    std::string out = std::to_string(value) + (timeout.Expired() ? " expired" : " in time");
    Timeout shorter(absl::Hours(1));
    try {
      co_await shorter.Run([](Timeout* timeout) -> Task<void> {
        timeout->Reschedule(EventLoop::NowNanos() + 1'000'000);
        co_await Sleep(absl::Hours(1));
      }(&shorter));
    } catch (const TimeoutError&) {
      out += shorter.Expired() ? ", then timeout" : ", then timeout?";
    }
    co_return out;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "3 in time, then timeout");
}

TEST(TimeoutTest, ABodyThatSwallowsTheCancellationReturnsNormally) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    Timeout timeout(absl::Milliseconds(1));
    int value = co_await timeout.Run([]() -> Task<int> {
      try {
        co_await Sleep(absl::Hours(1));
      } catch (const CancelledError&) {
        co_return 8;
      }
      co_return 0;
    }());
    // The cancellation was consumed: later awaits are not cancelled.
    co_await Sleep(absl::Milliseconds(1));
    co_return std::to_string(value) + (timeout.Expired() ? " expired" : "");
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "8 expired");
}

TEST(TimeoutTest, NestedTimeoutsEachReportTheirOwnExpiry) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    std::string out;
    // The inner deadline passes first: the inner scope times out, the outer
    // one goes on.
    Timeout outer(absl::Hours(1));
    co_await outer.Run([](std::string* out) -> Task<void> {
      try {
        co_await WaitFor(After(absl::Hours(1), 0), absl::Milliseconds(1));
      } catch (const TimeoutError&) {
        *out += "inner timeout";
      }
    }(&out));
    // The outer deadline passes first: the inner scope must let it through.
    Timeout outer2(absl::Milliseconds(1));
    try {
      co_await outer2.Run([](std::string* out) -> Task<void> {
        try {
          co_await WaitFor(After(absl::Hours(1), 0), absl::Hours(1));
        } catch (const TimeoutError&) {
          *out += ", wrong scope";
        }
      }(&out));
    } catch (const TimeoutError&) {
      out += ", outer timeout";
    }
    co_return out;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "inner timeout, outer timeout");
}

Task<internal::PromiseBase*> Self() { co_return co_await internal::CurrentTask(); }

// asyncio 3.11+: a timeout that turned its own cancellation into TimeoutError
// takes the cancel request back, so cancelling() is what it was on entry.
TEST(TimeoutTest, ExpiryLeavesTheCancellingCountAsOnEntry) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    internal::PromiseBase* self = co_await Self();
    std::string out;
    for (int round = 0; round < 2; ++round) {
      const uint32_t on_entry = self->cancel_requests();
      Timeout timeout(absl::Milliseconds(1));
      try {
        co_await timeout.Run(After(absl::Seconds(10), 0));
      } catch (const TimeoutError&) {
        out += "timeout ";
      }
      out += std::to_string(on_entry) + "->" + std::to_string(self->cancel_requests()) + "; ";
      // An earlier cancellation, caught and not undone, stays counted.
      self->RequestCancel();
      try {
        co_await Sleep(absl::Seconds(10));
      } catch (const CancelledError&) {
      }
    }
    // The timeouts left no cancellation pending: this sleep completes.
    co_await Sleep(absl::Milliseconds(1));
    co_return out;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "timeout 0->0; timeout 1->1; ");
}

// The deadline passed (the body caught that cancellation) and then someone
// else cancelled the task: that cancellation stays a CancelledError, and
// stays counted after the scope.
TEST(TimeoutTest, ExternalCancellationAfterExpiryStaysACancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    Event expired;
    Timeout timeout(absl::Milliseconds(1));
    Task<uint32_t> waiter = CreateTask([](Timeout* timeout, Event* expired) -> Task<uint32_t> {
      std::string out;
      try {
        co_await timeout->Run([](Event* expired) -> Task<void> {
          try {
            co_await Sleep(absl::Seconds(10));
          } catch (const CancelledError&) {
            expired->Set();
          }
          co_await Sleep(absl::Seconds(10));  // Cancelled from outside.
        }(expired));
      } catch (const CancelledError&) {
        out = "cancelled";
      } catch (const TimeoutError&) {
        out = "timeout";
      }
      EXPECT_EQ(out, "cancelled");
      co_return (co_await Self())->cancel_requests();
    }(&timeout, &expired));
    co_await expired.Wait();
    waiter.Cancel();
    const uint32_t cancelling = co_await waiter;
    co_return std::to_string(cancelling) + (timeout.Expired() ? " expired" : "");
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "1 expired");
}

Task<int> SpinThen(Event* go, absl::Duration spin, int value) {
  co_await go->Wait();
  const int64_t end = EventLoop::NowNanos() + absl::ToInt64Nanoseconds(spin);
  while (EventLoop::NowNanos() < end) {
  }
  co_return value;
}

// The awaited task finishes in the step where the deadline passes: its
// result wakes the waiter before the expiry runs, as in asyncio (the waiter's
// wakeup is queued before the timer's callback), so the result wins.
TEST(WaitForTest, ResultWinsWhenTheTaskFinishesAsTheDeadlinePasses) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    Event go;
    Task<int> task = CreateTask(SpinThen(&go, absl::Milliseconds(200), 7));
    co_await Sleep(absl::ZeroDuration());  // The task waits for `go`.
    go.Set();
    try {
      // The task runs in the next pass, spinning past the deadline.
      co_return std::to_string(co_await WaitFor(std::move(task), absl::Milliseconds(50)));
    } catch (const TimeoutError&) {
      co_return "timeout";
    }
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "7");
}

TEST(TimeoutTest, RefusedSecondEntryLeavesTheActiveScopeWorking) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    Timeout timeout(absl::Milliseconds(5));
    std::string out;
    try {
      co_await timeout.Run([](Timeout* timeout, std::string* out) -> Task<void> {
        try {
          co_await timeout->Run(After(absl::Seconds(10), 0));
        } catch (const std::logic_error& e) {
          *out += e.what();
        }
        co_await Sleep(absl::Seconds(10));
      }(&timeout, &out));
    } catch (const TimeoutError&) {
      out += ", then timeout";
    }
    co_return out + (timeout.Expired() ? ", expired" : "");
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "Timeout has already been entered, then timeout, expired");
}

TEST(TimeoutTest, EmptyTasksAreRefused) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    std::string out;
    Timeout timeout(absl::Seconds(1));
    try {
      co_await timeout.Run(Task<int>());
    } catch (const std::invalid_argument& e) {
      out += e.what();
    }
    try {
      co_await WaitFor(Task<int>(), absl::Seconds(1));
    } catch (const std::invalid_argument& e) {
      out += std::string("; ") + e.what();
    }
    // The refused Run did not enter the timeout.
    out += "; " + std::to_string(co_await timeout.Run(After(absl::ZeroDuration(), 4)));
    co_return out;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "Timeout::Run: empty Task; WaitFor: empty Task; 4");
}

// Durations at the edges: beyond the clock's range they saturate; NaN
// seconds are an infinite duration in absl, so no deadline; minus infinity is
// a deadline long passed.
TEST(TimeoutTest, DurationsAtTheEdges) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    std::string out;
    Timeout huge(absl::Hours(1'000'000'000));
    out += std::to_string(co_await huge.Run(After(absl::Milliseconds(1), 1)));
    EXPECT_EQ(huge.When(), std::numeric_limits<int64_t>::max());
    Timeout nan(absl::Seconds(std::numeric_limits<double>::quiet_NaN()));
    out += std::to_string(co_await nan.Run(After(absl::Milliseconds(1), 2)));
    EXPECT_EQ(nan.When(), std::nullopt);
    Timeout past(-absl::InfiniteDuration());
    EXPECT_LT(past.When().value_or(0), 0);  // Before the clock's start.
    try {
      co_await past.Run(After(absl::Seconds(10), 3));
    } catch (const TimeoutError&) {
      out += " timeout";
    }
    bool started = false;
    try {
      co_await WaitFor([](bool* started) -> Task<int> {
        *started = true;
        co_return 4;
      }(&started), -absl::InfiniteDuration());
    } catch (const TimeoutError&) {
      out += started ? " started" : " timeout";
    }
    out += " " + std::to_string(co_await WaitFor(
        After(absl::Milliseconds(1), 5), absl::Seconds(std::numeric_limits<double>::quiet_NaN())));
    co_return out;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "12 timeout timeout 5");
}

}  // namespace
}  // namespace asyncio_like
