// CPython 3.13's Lib/test/test_asyncio/test_timeouts.py, ported: each test is
// named after its original and asserts the same outcome. `async with
// asyncio.timeout(d) as cm: body` is `Timeout cm(d); co_await cm.Run(Body())`;
// a `finally:` that awaits is a catch that keeps the exception, then the
// awaits, then the rethrow. Python's implicit exception contexts
// (__context__) have no C++ counterpart; TimeoutError's __cause__ is its
// nested exception. See CONFORMANCE.md.
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/timeout.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// Python's asyncio.sleep(10) in these tests: longer than any deadline here,
// and short enough that a broken timeout fails the test instead of hanging.
constexpr absl::Duration kLong = absl::Seconds(10);
constexpr absl::Duration kShort = absl::Milliseconds(10);

Task<void> Nap(absl::Duration d) { co_await Sleep(d); }
Task<void> Noop() { co_return; }

// How `task` ended: "returned", the exception's type, and for TimeoutError
// the type of its cause.
template <typename T>
Task<std::string> Outcome(Task<T> task) {
  try {
    co_await std::move(task);
    co_return "returned";
  } catch (const TimeoutError& e) {
    try {
      std::rethrow_if_nested(e);
      co_return "TimeoutError";
    } catch (const CancelledError&) {
      co_return "TimeoutError from CancelledError";
    } catch (...) {
      co_return "TimeoutError from another error";
    }
  } catch (const CancelledError&) {
    co_return "CancelledError";
  } catch (const std::logic_error& e) {
    co_return std::string("logic_error: ") + e.what();
  } catch (const std::exception& e) {
    co_return std::string("error: ") + e.what();
  }
}

Task<internal::PromiseBase*> Self() { co_return co_await internal::CurrentTask(); }

// Runs `main` to completion and checks the outcome it reports.
TEST(TimeoutsTest, test_timeout_basic) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    std::string out = co_await Outcome(cm.Run(Nap(kLong)));
    co_return out + (cm.Expired() ? ", expired" : "");
  }(), "TimeoutError from CancelledError, expired");
}

TEST(TimeoutsTest, test_timeout_at_basic) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    const int64_t deadline = EventLoop::NowNanos() + absl::ToInt64Nanoseconds(kShort);
    Timeout cm = TimeoutAt(deadline);
    std::string out = co_await Outcome(cm.Run(Nap(kLong)));
    EXPECT_EQ(cm.When(), deadline);
    co_return out + (cm.Expired() ? ", expired" : "");
  }(), "TimeoutError from CancelledError, expired");
}

Task<void> CancelledPassesThrough(Timeout* cm2, bool* cancelled) {
  try {
    co_await cm2->Run(Nap(kLong));
  } catch (const CancelledError&) {
    *cancelled = true;
    throw;
  }
}

TEST(TimeoutsTest, test_nested_timeouts) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    const int64_t deadline = EventLoop::NowNanos() + absl::ToInt64Nanoseconds(kShort);
    Timeout cm1 = TimeoutAt(deadline);
    Timeout cm2 = TimeoutAt(deadline);
    bool cancelled = false;
    // Only the outermost scope raises TimeoutError.
    std::string out = co_await Outcome(cm1.Run(CancelledPassesThrough(&cm2, &cancelled)));
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(cm1.Expired());
    EXPECT_TRUE(cm2.Expired());
    co_return out;
  }(), "TimeoutError from CancelledError");
}

Task<void> RecordCancellation(absl::Duration d, bool* cancelled) {
  try {
    co_await Sleep(d);
  } catch (const CancelledError&) {
    *cancelled = true;
    throw;
  }
}

TEST(TimeoutsTest, test_waiter_cancelled) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    bool cancelled = false;
    Timeout cm(kShort);
    std::string out = co_await Outcome(cm.Run(RecordCancellation(kLong, &cancelled)));
    co_return out + (cancelled ? ", cancelled" : "");
  }(), "TimeoutError from CancelledError, cancelled");
}

TEST(TimeoutsTest, test_timeout_not_called) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(absl::Seconds(10));
    std::string out = co_await Outcome(cm.Run(Nap(kShort)));
    const int64_t t1 = EventLoop::NowNanos();
    EXPECT_FALSE(cm.Expired());
    EXPECT_GT(cm.When().value_or(0), t1);
    co_return out;
  }(), "returned");
}

TEST(TimeoutsTest, test_timeout_disabled) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(absl::InfiniteDuration());
    std::string out = co_await Outcome(cm.Run(Nap(kShort)));
    EXPECT_FALSE(cm.Expired());
    EXPECT_EQ(cm.When(), std::nullopt);
    co_return out;
  }(), "returned");
}

TEST(TimeoutsTest, test_timeout_at_disabled) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm = TimeoutAt(std::nullopt);
    std::string out = co_await Outcome(cm.Run(Nap(kShort)));
    EXPECT_FALSE(cm.Expired());
    EXPECT_EQ(cm.When(), std::nullopt);
    co_return out;
  }(), "returned");
}

// timeout(0) and timeout(-11) around a long sleep or sleep(0): the deadline is
// the creation time plus the delay, and the body is cancelled at once.
Task<std::string> AlreadyPassed(absl::Duration delay, absl::Duration sleep) {
  const int64_t t0 = EventLoop::NowNanos();
  Timeout cm(delay);
  std::string out = co_await Outcome(cm.Run(Nap(sleep)));
  const int64_t t1 = EventLoop::NowNanos();
  EXPECT_TRUE(cm.Expired());
  const int64_t when = cm.When().value_or(-1);
  if (delay == absl::ZeroDuration()) {
    EXPECT_LE(t0, when);
  } else {
    EXPECT_GE(t0, when);
  }
  EXPECT_LE(when, t1);
  co_return out;
}

TEST(TimeoutsTest, test_timeout_zero) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), AlreadyPassed(absl::ZeroDuration(), kLong), "TimeoutError from CancelledError");
}

TEST(TimeoutsTest, test_timeout_zero_sleep_zero) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), AlreadyPassed(absl::ZeroDuration(), absl::ZeroDuration()),
                 "TimeoutError from CancelledError");
}

TEST(TimeoutsTest, test_timeout_in_the_past_sleep_zero) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), AlreadyPassed(absl::Seconds(-11), absl::ZeroDuration()),
                 "TimeoutError from CancelledError");
}

Task<void> RaiseKeyError() {
  throw std::runtime_error("KeyError");
  co_return;
}

TEST(TimeoutsTest, test_foreign_exception_passed) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    std::string out = co_await Outcome(cm.Run(RaiseKeyError()));
    EXPECT_FALSE(cm.Expired());
    co_return out;
  }(), "error: KeyError");
}

// try: 1/0  finally: await asyncio.sleep(1)
Task<void> DivideThenSleep() {
  std::exception_ptr in_flight;
  try {
    throw std::runtime_error("ZeroDivisionError");
  } catch (...) {
    in_flight = std::current_exception();
  }
  co_await Sleep(absl::Seconds(1));
  std::rethrow_exception(in_flight);
}

TEST(TimeoutsTest, test_timeout_exception_context) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    co_return co_await Outcome(cm.Run(DivideThenSleep()));
  }(), "TimeoutError from CancelledError");
}

// try: await asyncio.sleep(1)  finally: 1/0
Task<void> Crash() {
  try {
    co_await Sleep(absl::Seconds(1));
  } catch (const CancelledError&) {
  }
  throw std::runtime_error("ZeroDivisionError");
}

TEST(TimeoutsTest, test_foreign_exception_on_timeout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    std::string out = co_await Outcome(cm.Run(Crash()));
    EXPECT_TRUE(cm.Expired());
    co_return out;
  }(), "error: ZeroDivisionError");
}

// try: try: raise ValueError  finally: await asyncio.sleep(1)
// finally: try: raise KeyError  finally: 1/0
Task<void> CrashTwice() {
  try {
    try {
      throw std::runtime_error("ValueError");
    } catch (const std::runtime_error&) {
    }
    co_await Sleep(absl::Seconds(1));
  } catch (const CancelledError&) {
  }
  try {
    throw std::runtime_error("KeyError");
  } catch (const std::runtime_error&) {
  }
  throw std::runtime_error("ZeroDivisionError");
}

TEST(TimeoutsTest, test_foreign_exception_on_timeout_2) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    co_return co_await Outcome(cm.Run(CrashTwice()));
  }(), "error: ZeroDivisionError");
}

Task<void> CancelSelfThenSleep(absl::Duration d) {
  (co_await Self())->RequestCancel();
  co_await Sleep(d);
}

TEST(TimeoutsTest, test_foreign_cancel_doesnt_timeout_if_not_expired) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(absl::Seconds(10));
    std::string out = co_await Outcome(cm.Run(CancelSelfThenSleep(kLong)));
    EXPECT_FALSE(cm.Expired());
    co_return out;
  }(), "CancelledError");
}

TEST(TimeoutsTest, test_outer_task_is_not_cancelled) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Task<std::string> task = CreateTask([]() -> Task<std::string> {
      Timeout cm(absl::Milliseconds(1));
      co_return co_await Outcome(cm.Run(Nap(kLong)));
    }());
    std::string out = co_await task;
    EXPECT_FALSE(task.cancelled());
    EXPECT_TRUE(task.done());
    co_return out;
  }(), "TimeoutError from CancelledError");
}

// The inner scope lets the outer one's cancellation through as
// CancelledError; it would report its own expiry as TimeoutError.
Task<std::string> InnerScope(absl::Duration delay, absl::Duration crunch) {
  Timeout inner(delay);
  // Pretend we crunch some numbers (the loop is blocked meanwhile).
  absl::SleepFor(crunch);
  try {
    co_await inner.Run(Nap(absl::Seconds(1)));
  } catch (const TimeoutError&) {
    co_return "inner TimeoutError";
  }
  co_return "inner returned";
}

TEST(TimeoutsTest, test_nested_timeouts_concurrent) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout outer(absl::Milliseconds(2));
    co_return co_await Outcome(outer.Run(
        InnerScope(absl::Milliseconds(100), absl::Milliseconds(10))));
  }(), "TimeoutError from CancelledError");
}

// After the inner timeout, an expensive wait that the outer one must stop.
Task<void> BusyThenLongSleep(std::string* inner) {
  *inner = co_await InnerScope(absl::Milliseconds(10), absl::Milliseconds(100));
  co_await Sleep(kLong);  // Interrupted by the outer timeout.
}

TEST(TimeoutsTest, test_nested_timeouts_loop_busy) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    const int64_t t0 = EventLoop::NowNanos();
    Timeout outer(absl::Milliseconds(100));
    std::string inner;
    std::string out = co_await Outcome(outer.Run(BusyThenLongSleep(&inner)));
    const int64_t t1 = EventLoop::NowNanos();
    // The inner scope either timed out itself (the outer deadline had not
    // passed yet when the loop was free again), or both deadlines had passed
    // and it let the outer one's CancelledError through.
    EXPECT_NE(inner, "inner returned");
    EXPECT_LT(t1 - t0, absl::ToInt64Nanoseconds(kLong / 2));
    co_return out;
  }(), "TimeoutError from CancelledError");
}

Task<void> PublishThenSleep(Timeout* cm, Event* started) {
  co_await cm->Run([](Event* started) -> Task<void> {
    started->Set();
    co_await Sleep(absl::Seconds(50));
  }(started));
}

TEST(TimeoutsTest, test_reschedule) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    const int64_t deadline1 = EventLoop::NowNanos() + absl::ToInt64Nanoseconds(absl::Seconds(10));
    const int64_t deadline2 = deadline1 + absl::ToInt64Nanoseconds(absl::Seconds(20));
    Timeout cm = TimeoutAt(deadline1);
    Event started;
    Task<void> task = CreateTask(PublishThenSleep(&cm, &started));
    co_await started.Wait();

    EXPECT_EQ(cm.When(), deadline1);
    cm.Reschedule(deadline2);
    EXPECT_EQ(cm.When(), deadline2);
    cm.Reschedule(std::nullopt);
    EXPECT_EQ(cm.When(), std::nullopt);

    task.Cancel();
    std::string out = co_await Outcome(std::move(task));
    EXPECT_FALSE(cm.Expired());
    co_return out;
  }(), "CancelledError");
}

// try: await asyncio.sleep(1)
// finally: async with asyncio.timeout(0.01): await asyncio.sleep(10)
Task<void> TimeoutInFinally(std::string* inner) {
  std::exception_ptr in_flight;
  try {
    co_await Sleep(absl::Seconds(1));
  } catch (...) {
    in_flight = std::current_exception();
  }
  Timeout cm2(kShort);
  *inner = co_await Outcome(cm2.Run(Nap(kLong)));
  if (in_flight) std::rethrow_exception(in_flight);
}

TEST(TimeoutsTest, test_nested_timeout_in_finally) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm1(kShort);
    std::string inner;
    std::string out = co_await Outcome(cm1.Run(TimeoutInFinally(&inner)));
    co_return out + "; inner: " + inner;
  }(), "TimeoutError from CancelledError; inner: TimeoutError from CancelledError");
}

TEST(TimeoutsTest, test_timeout_after_cancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    // Work which will be cancelled; the cancellation is caught, not undone.
    std::string work = co_await Outcome(CancelSelfThenSleep(absl::Seconds(1)));
    Timeout cm(absl::ZeroDuration());
    std::string cleanup = co_await Outcome(cm.Run(Nap(absl::Seconds(1))));
    co_return work + ", then " + cleanup;
  }(), "CancelledError, then TimeoutError from CancelledError");
}

TEST(TimeoutsTest, test_cancel_in_timeout_after_cancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    std::string work = co_await Outcome(CancelSelfThenSleep(absl::Seconds(1)));
    Timeout cm(absl::Seconds(1));
    std::string cleanup = co_await Outcome(cm.Run(CancelSelfThenSleep(absl::Seconds(2))));
    co_return work + ", then " + cleanup;
  }(), "CancelledError, then CancelledError");
}

TEST(TimeoutsTest, test_timeout_already_entered) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    std::string again;
    co_await cm.Run([](Timeout* cm, std::string* again) -> Task<void> {
      *again = co_await Outcome(cm->Run(Noop()));
    }(&cm, &again));
    co_return again;
  }(), "logic_error: Timeout has already been entered");
}

TEST(TimeoutsTest, test_timeout_double_enter) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    co_await cm.Run(Noop());
    co_return co_await Outcome(cm.Run(Noop()));
  }(), "logic_error: Timeout has already been entered");
}

// cm.reschedule(when) as an outcome string.
std::string RescheduleOutcome(Timeout* cm, std::optional<int64_t> when) {
  try {
    cm->Reschedule(when);
    return "rescheduled";
  } catch (const std::logic_error& e) {
    return std::string("logic_error: ") + e.what();
  }
}

int64_t In20Ms() { return EventLoop::NowNanos() + 20'000'000; }

TEST(TimeoutsTest, test_timeout_finished) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    co_await cm.Run(Noop());
    co_return RescheduleOutcome(&cm, In20Ms());
  }(), "logic_error: Cannot change state of finished Timeout");
}

TEST(TimeoutsTest, test_timeout_expired) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    std::string out = co_await Outcome(cm.Run(Nap(absl::Seconds(1))));
    co_return out + "; " + RescheduleOutcome(&cm, In20Ms());
  }(), "TimeoutError from CancelledError; logic_error: Cannot change state of expired Timeout");
}

TEST(TimeoutsTest, test_timeout_expiring) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    std::string out;
    co_await cm.Run([](Timeout* cm, std::string* out) -> Task<void> {
      *out = co_await Outcome(Nap(absl::Seconds(1)));
      *out += "; " + RescheduleOutcome(cm, In20Ms());
    }(&cm, &out));
    co_return out;
  }(), "CancelledError; logic_error: Cannot change state of expiring Timeout");
}

TEST(TimeoutsTest, test_timeout_not_entered) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Timeout cm(kShort);
    co_return RescheduleOutcome(&cm, In20Ms());
  }(), "logic_error: Timeout has not been entered");
}

}  // namespace
}  // namespace asyncio_like
