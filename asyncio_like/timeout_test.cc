#include "asyncio_like/timeout.h"

#include <optional>
#include <stdexcept>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
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

TEST(WaitForTest, ExternalCancellationAndExpiryTogetherStayACancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    Task<int> waiter = CreateTask([]() -> Task<int> {
      Timeout timeout(absl::Milliseconds(2));
      co_return co_await timeout.Run([]() -> Task<int> {
        // Busy past the deadline, so expiry and the external cancel below
        // are both pending when this yields.
        absl::Time end = absl::Now() + absl::Milliseconds(5);
        while (absl::Now() < end) {
        }
        co_await Sleep(absl::Hours(1));
        co_return 0;
      }());
    }());
    co_await Sleep(absl::ZeroDuration());
    waiter.Cancel();
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      co_return "cancelled";
    } catch (const TimeoutError&) {
      co_return "timeout";
    }
    co_return "finished";
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "cancelled");
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

}  // namespace
}  // namespace asyncio_like
