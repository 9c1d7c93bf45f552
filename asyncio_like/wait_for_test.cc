// CPython 3.13's Lib/test/test_asyncio/test_waitfor.py, ported: each test is
// named after its original and asserts the same outcome. A Python future set
// by a callback is a task waiting on an Event; a future never set is a long
// sleep (so a broken wait fails instead of hanging). WaitFor takes its Task
// by value, so where Python looks at the future afterwards, its coroutine
// records how it ended. See CONFORMANCE.md.
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/timeout.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// A very small timeout: it passes "timeout > 0" (Python's _EPSILON).
constexpr absl::Duration kEpsilon = absl::Microseconds(100);
constexpr absl::Duration kLong = absl::Seconds(10);

// How `task` ended: its result, or the exception's type (and for
// TimeoutError the type of its cause).
template <typename T>
Task<std::string> Outcome(Task<T> task) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      co_return "returned";
    } else if constexpr (std::is_same_v<T, std::string>) {
      co_return "returned " + co_await std::move(task);
    } else {
      co_return "returned " + std::to_string(co_await std::move(task));
    }
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
  } catch (const std::exception& e) {
    co_return std::string("error: ") + e.what();
  }
}

// Runs `main` to completion and checks the outcome it reports.
// Runs for kTaskTimeout, ignoring cancel requests.
class SlowTask {
 public:
  static constexpr absl::Duration kTaskTimeout = absl::Milliseconds(200);

  Task<void> Run() {
    const int64_t exit_at = EventLoop::NowNanos() + absl::ToInt64Nanoseconds(kTaskTimeout);
    for (;;) {
      const int64_t to_sleep = exit_at - EventLoop::NowNanos();
      if (to_sleep <= 0) break;
      try {
        co_await Sleep(absl::Nanoseconds(to_sleep));
      } catch (const CancelledError&) {
      }
    }
    exited = true;
  }

  bool exited = false;
};

TEST(WaitForTest, test_asyncio_wait_for_cancelled) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    SlowTask t;
    Task<void> waitfortask = CreateTask(WaitFor(t.Run(), SlowTask::kTaskTimeout * 2));
    co_await Sleep(absl::ZeroDuration());
    waitfortask.Cancel();
    co_await Outcome(std::move(waitfortask));  // asyncio.wait({waitfortask})
    co_return t.exited ? "exited" : "still running";
  }(), "exited");
}

TEST(WaitForTest, test_asyncio_wait_for_timeout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    SlowTask t;
    // The task swallows the timeout's cancellation and finishes: wait_for
    // returns (3.12+), the TimeoutError the test tolerates does not come.
    std::string out = co_await Outcome(WaitFor(t.Run(), SlowTask::kTaskTimeout / 2));
    co_return out + (t.exited ? ", exited" : "");
  }(), "returned, exited");
}

Task<std::string> Done() { co_return "done"; }

TEST(WaitForTest, test_wait_for_timeout_less_then_0_or_0_future_done) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Task<std::string> fut = CreateTask(Done());
    co_await fut;  // Now done, as the set future.
    EXPECT_TRUE(fut.done());
    co_return co_await Outcome(WaitFor(std::move(fut), absl::ZeroDuration()));
  }(), "returned done");
}

Task<void> RecordStart(bool* started) {
  *started = true;
  co_return;
}

TEST(WaitForTest, test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    bool foo_started = false;
    std::string out = co_await Outcome(WaitFor(RecordStart(&foo_started), absl::ZeroDuration()));
    co_return out + (foo_started ? ", started" : ", not started");
  }(), "TimeoutError from CancelledError, not started");
}

// Python's foo(): running while it sleeps; `how` records whether it finished
// by cancellation (fut.cancelled()).
Task<std::string> Foo(std::optional<bool>* running, Event* started, std::string* how) {
  *running = true;
  if (started != nullptr) started->Set();
  try {
    co_await Sleep(kLong);
  } catch (const CancelledError&) {
    *running = false;
    *how = "cancelled";
    throw;
  }
  *running = false;
  *how = "returned";
  co_return "done";
}

TEST(WaitForTest, test_wait_for_timeout_less_then_0_or_0) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  for (absl::Duration timeout : {absl::ZeroDuration(), absl::Seconds(-1)}) {
    SCOPED_TRACE(absl::FormatDuration(timeout));
    ExpectRunsTo(loop.get(), [](absl::Duration timeout) -> Task<std::string> {
      std::optional<bool> foo_running;
      Event started;
      std::string how;
      Task<std::string> fut = CreateTask(Foo(&foo_running, &started, &how));
      co_await started.Wait();
      std::string out = co_await Outcome(WaitFor(std::move(fut), timeout));
      EXPECT_EQ(foo_running, false);
      co_return out + ", foo " + how;
    }(timeout), "TimeoutError from CancelledError, foo cancelled");
  }
}

TEST(WaitForTest, test_wait_for) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    std::optional<bool> foo_running;
    std::string how;
    Task<std::string> fut = CreateTask(Foo(&foo_running, nullptr, &how));
    std::string out = co_await Outcome(WaitFor(std::move(fut), absl::Milliseconds(100)));
    EXPECT_EQ(foo_running, false);
    co_return out + ", foo " + how;
  }(), "TimeoutError from CancelledError, foo cancelled");
}

TEST(WaitForTest, test_wait_for_blocking) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    co_return co_await Outcome(WaitFor(Done(), absl::InfiniteDuration()));
  }(), "returned done");
}

Task<std::string> ResultWhenSet(Event* fut) {
  co_await fut->Wait();
  co_return "ok";
}

TEST(WaitForTest, test_wait_for_race_condition) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Event fut;
    Task<std::string> fut_task = CreateTask(ResultWhenSet(&fut));
    Task<std::string> task = WaitFor(std::move(fut_task), absl::Milliseconds(200));
    Event* to_set = &fut;
    EventLoop::Current()->CallSoon([to_set] { to_set->Set(); });
    co_return co_await Outcome(std::move(task));
  }(), "returned ok");
}

Task<void> Nap(absl::Duration d) { co_await Sleep(d); }

Task<int> SwallowThenReturn1() {
  EXPECT_EQ(co_await Outcome(Nap(absl::Seconds(1))), "CancelledError");
  co_return 1;
}

TEST(WaitForTest, test_wait_for_cancellation_race_condition) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    co_return co_await Outcome(WaitFor(SwallowThenReturn1(), absl::Milliseconds(10)));
  }(), "returned 1");
}

// except CancelledError: await asyncio.sleep(_EPSILON); raise
// finally: task_done = True
Task<void> SlowToCancel(bool* task_done) {
  std::exception_ptr cancelled;
  try {
    co_await Sleep(kLong);
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    co_await Sleep(kEpsilon);
    *task_done = true;
    std::rethrow_exception(cancelled);
  }
  *task_done = true;
}

TEST(WaitForTest, test_wait_for_waits_for_task_cancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    bool task_done = false;
    Task<void> inner_task = CreateTask(SlowToCancel(&task_done));
    std::string out = co_await Outcome(WaitFor(std::move(inner_task), kEpsilon));
    co_return out + (task_done ? ", task done" : ", task pending");
  }(), "TimeoutError from CancelledError, task done");
}

TEST(WaitForTest, test_wait_for_waits_for_task_cancellation_w_timeout_0) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    bool task_done = false;
    Task<void> inner_task = CreateTask(SlowToCancel(&task_done));
    co_await Sleep(kEpsilon);
    std::string out = co_await Outcome(WaitFor(std::move(inner_task), absl::ZeroDuration()));
    co_return out + (task_done ? ", task done" : ", task pending");
  }(), "TimeoutError from CancelledError, task done");
}

// try: await asyncio.sleep(0.2)  finally: raise FooException
Task<void> RaiseFooFinally() {
  try {
    co_await Sleep(absl::Milliseconds(200));
  } catch (const CancelledError&) {
  }
  throw std::runtime_error("FooException");
}

TEST(WaitForTest, test_wait_for_reraises_exception_during_cancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    Task<void> inner_task = CreateTask(RaiseFooFinally());
    co_return co_await Outcome(WaitFor(std::move(inner_task), kEpsilon));
  }(), "error: FooException");
}

// Python's _test_cancel_wait_for: cancelling the wait must also cancel the
// task it waits for (bpo-23219).
Task<std::string> CancelWaitFor(absl::Duration timeout) {
  std::optional<bool> running;
  std::string how;
  Task<std::string> task = CreateTask(Foo(&running, nullptr, &how));  // Blocks.
  Task<std::string> wait = CreateTask(WaitFor(std::move(task), timeout));
  Task<std::string>* to_cancel = &wait;
  EventLoop::Current()->CallSoon([to_cancel] { to_cancel->Cancel(); });
  std::string out = "returned";
  try {
    co_await wait;  // The handle stays here for the callback.
  } catch (const CancelledError&) {
    out = "CancelledError";
  }
  co_return out + ", task " + how;
}

TEST(WaitForTest, test_cancel_blocking_wait_for) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), CancelWaitFor(absl::InfiniteDuration()),
               "CancelledError, task cancelled");
}

TEST(WaitForTest, test_cancel_wait_for) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), CancelWaitFor(absl::Seconds(60)), "CancelledError, task cancelled");
}

Task<int> Return42() {
  try {
    co_await Sleep(kLong);
  } catch (const CancelledError&) {
    co_return 42;
  }
  co_return 0;
}

TEST(WaitForTest, test_wait_for_cancel_suppressed) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    co_return co_await Outcome(WaitFor(Return42(), absl::Milliseconds(100)));
  }(), "returned 42");
}

Task<void> WaitForCoro(Task<std::string> inner_task, std::string* inner_result,
                       bool* reached_end) {
  *inner_result = co_await WaitFor(std::move(inner_task), absl::Seconds(100));
  co_await Sleep(absl::Seconds(1));
  *reached_end = true;
}

TEST(WaitForTest, test_wait_for_issue86296) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), []() -> Task<std::string> {
    // The inner task completes in one loop pass, before the task awaiting it
    // is cancelled; the cancellation must still reach that task.
    Task<std::string> inner_task = CreateTask(Done());
    std::string inner_result;
    bool reached_end = false;
    Task<void> task = CreateTask(WaitForCoro(std::move(inner_task), &inner_result, &reached_end));
    EXPECT_FALSE(task.done());
    co_await Sleep(absl::ZeroDuration());  // Run the task.
    task.Cancel();
    std::string out = co_await Outcome(std::move(task));
    EXPECT_FALSE(reached_end);
    co_return out + ", inner " + inner_result;
  }(), "CancelledError, inner done");
}

}  // namespace
}  // namespace asyncio_like
