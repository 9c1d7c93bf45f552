// Tasks and cancellation, checked against CPython 3.13's
// test_asyncio/test_tasks.py: each TEST named test_* ports the method of that
// name (CONFORMANCE.md). Tests ported before Future<T> (future.h) existed
// stand in for a bare asyncio.Future with a task that waits for an Event
// (SimpleFuture), which a test completes with SetResult; later ones
// (wait, as_completed) use Future<T>.
#include <algorithm>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/shield.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/threadsafe_calls.h"
#include "asyncio_like/timeout.h"
#include "asyncio_like/to_thread.h"
#include "asyncio_like/wait.h"
#include "asyncio_like/future.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

constexpr absl::Duration kForever = absl::Hours(1);

// The cancellation must not be caught as an ordinary error.
static_assert(!std::is_base_of_v<std::exception, CancelledError>);

struct ZeroDivisionLike : std::runtime_error {
  ZeroDivisionLike() : std::runtime_error("division by zero") {}
};

// A few loop passes (CPython's test_utils.run_briefly).
Task<void> RunBriefly() {
  for (int i = 0; i < 3; ++i) co_await Sleep(absl::ZeroDuration());
}

// Stands in for an asyncio.Future that a test completes by hand.
struct SimpleFuture {
  Event ready;
  int value = 0;
  std::exception_ptr error;

  void SetResult(int v) {
    value = v;
    ready.Set();
  }
  void SetException(std::exception_ptr e) {
    error = std::move(e);
    ready.Set();
  }
};

Task<int> Await(SimpleFuture* future) {
  co_await future->ready.Wait();
  if (future->error) std::rethrow_exception(future->error);
  co_return future->value;
}

// The CancelledError an awaitable ends with, or nullopt if it ends
// otherwise.
template <typename Awaitable>
Task<std::optional<CancelledError>> CancellationOf(Awaitable&& awaitable) {
  try {
    co_await std::forward<Awaitable>(awaitable);
  } catch (const CancelledError& e) {
    co_return e;
  }
  co_return std::nullopt;
}

Task<void> SleepForever() { co_await Sleep(kForever); }

Task<void> SleepForDuration(absl::Duration d) { co_await Sleep(d); }

Task<int> SleepThen(absl::Duration d, int v) {
  co_await Sleep(d);
  co_return v;
}

TEST(TaskTest, CancelledErrorIsNotCaughtAsAStdException) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string caught;
  absl::Status status = RunTest(loop.get(), [](std::string* caught) -> Task<void> {
    Task<void> t = CreateTask([](std::string* caught) -> Task<void> {
      try {
        co_await Sleep(kForever);
      } catch (const std::exception&) {
        *caught = "std::exception";  // What an everyday handler would do.
      }
    }(caught));
    co_await Sleep(absl::ZeroDuration());
    t.Cancel();
    std::optional<CancelledError> e = co_await CancellationOf(t);
    EXPECT_TRUE(e.has_value());
    EXPECT_TRUE(t.cancelled());
  }(&caught));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(caught, "");
}

TEST(TaskTest, test_task_cancel_message_getter) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> t = CreateTask([]() -> Task<void> { co_return; }());
    EXPECT_TRUE(t.Cancel("my message"));
    std::optional<CancelledError> e = co_await CancellationOf(t);
    EXPECT_TRUE(e.has_value());
    if (e.has_value()) {
      EXPECT_EQ(e->message(), "my message");
      EXPECT_STREQ(e->what(), "my message");
    }
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_other_loop_future) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ASYNCIO_LIKE_LOOP_OR_SKIP(other_loop, {});
  Task<void> other = other_loop->CreateTask(SleepForever());
  absl::StatusOr<std::string> result = RunTest(loop.get(), [](Task<void>* other) -> Task<std::string> {
    try {
      co_await *other;
    } catch (const std::logic_error& e) {
      co_return e.what();
    }
    co_return "awaited";
  }(&other));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "a task awaited a task that belongs to a different event loop");
  other_loop.reset();  // Destroys the never-run task with its loop.
  EXPECT_FALSE(other.valid());
}

TEST(TaskTest, test_task_awaits_on_itself) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result = RunTest(loop.get(), []() -> Task<std::string> {
    Task<std::string> task;
    task = CreateTask([](Task<std::string>* self) -> Task<std::string> {
      try {
        co_await *self;
      } catch (const std::logic_error& e) {
        co_return e.what();
      }
      co_return "awaited";
    }(&task));
    co_return co_await task;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "Task cannot await on itself");
}

TEST(TaskTest, test_cancelling) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> t = CreateTask(SleepForever());
    EXPECT_EQ(t.cancelling(), 0u);
    EXPECT_TRUE(t.Cancel());
    EXPECT_EQ(t.cancelling(), 1u);
    EXPECT_TRUE(t.Cancel());
    EXPECT_TRUE((co_await CancellationOf(t)).has_value());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_uncancel_basic) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> t = CreateTask([]() -> Task<void> {
      bool cancelled = false;
      try {
        co_await Sleep(kForever);
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) {
        CurrentTask().Uncancel();
        co_await Sleep(kForever);
      }
    }());
    co_await Sleep(absl::Milliseconds(1));
    // Cancel the first sleep.
    EXPECT_TRUE(t.Cancel());
    EXPECT_EQ(t.cancelling(), 1u);
    EXPECT_FALSE(t.cancelled());
    co_await Sleep(absl::Milliseconds(1));
    // After Uncancel().
    EXPECT_EQ(t.cancelling(), 0u);
    EXPECT_FALSE(t.cancelled());
    // Cancel the second sleep.
    EXPECT_TRUE(t.Cancel());
    EXPECT_EQ(t.cancelling(), 1u);
    EXPECT_FALSE(t.cancelled());
    EXPECT_TRUE((co_await CancellationOf(t)).has_value());
    EXPECT_TRUE(t.cancelled());
    EXPECT_TRUE(t.done());
    // No longer effective once the task is done.
    t.Uncancel();
    EXPECT_TRUE(t.cancelled());
    EXPECT_TRUE(t.done());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

struct TimeoutResult {
  bool timed_out = false;
  bool structured_block_finished = false;
  bool outer_code_reached = false;
};

// A structured block under a hand-made timeout, as asyncio.timeout does it
// with cancel() and uncancel().
Task<TimeoutResult> MakeRequestWithTimeout(absl::Duration sleep, absl::Duration timeout) {
  TaskRef task = CurrentTask();
  TimeoutResult r;
  auto on_timeout = [](absl::Duration d, TaskRef task, bool* timed_out) -> Task<void> {
    co_await Sleep(d);
    *timed_out = true;
    task.Cancel();
  };
  Task<void> timeout_handle = CreateTask(on_timeout(timeout, task, &r.timed_out));
  bool timeout_error = false;
  std::exception_ptr error;
  try {
    co_await Sleep(sleep);
    r.structured_block_finished = true;
  } catch (...) {
    error = std::current_exception();
  }
  timeout_handle.Cancel();
  if (r.timed_out && task.Uncancel() == 0 && error && internal::IsCancelledError(error)) {
    timeout_error = true;  // raise TimeoutError, caught outside
  } else if (error) {
    std::rethrow_exception(error);
  }
  if (timeout_error) {
    EXPECT_TRUE(r.timed_out);
  }
  r.outer_code_reached = true;
  co_await Sleep(absl::ZeroDuration());
  co_return r;
}

TEST(TaskTest, test_uncancel_structured_blocks) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<TimeoutResult> t1 = CreateTask(MakeRequestWithTimeout(kForever, absl::Milliseconds(10)));
    TimeoutResult r1 = co_await t1;
    EXPECT_TRUE(r1.timed_out);
    EXPECT_FALSE(r1.structured_block_finished);
    EXPECT_TRUE(r1.outer_code_reached);
    EXPECT_EQ(t1.cancelling(), 0u);

    Task<TimeoutResult> t2 = CreateTask(MakeRequestWithTimeout(absl::ZeroDuration(), kForever));
    TimeoutResult r2 = co_await t2;
    EXPECT_FALSE(r2.timed_out);
    EXPECT_TRUE(r2.structured_block_finished);
    EXPECT_TRUE(r2.outer_code_reached);
    EXPECT_EQ(t2.cancelling(), 0u);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_uncancel_resets_must_cancel) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<int> result = RunTest(loop.get(), []() -> Task<int> {
    SimpleFuture fut;
    Task<int> task = CreateTask([](SimpleFuture* fut) -> Task<int> {
      co_await Await(fut);
      co_return 42;
    }(&fut));
    co_await Sleep(absl::ZeroDuration());  // The task waits for fut.
    fut.SetResult(0);                      // The task is runnable.
    task.Cancel();                         // A cancellation is pending.
    EXPECT_EQ(task.cancelling(), 1u);
    task.Uncancel();  // Withdrawn: the task is not cancelled.
    EXPECT_EQ(task.cancelling(), 0u);
    co_return co_await task;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 42);
}

TEST(TaskTest, test_cancel) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<int> t = CreateTask([]() -> Task<int> {
      co_await Sleep(absl::Seconds(10));
      co_return 12;
    }());
    EventLoop::Current()->CallSoon([&t] { t.Cancel(); });
    EXPECT_TRUE((co_await CancellationOf(t)).has_value());
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(t.Cancel());  // Cancelling a done task does nothing.
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// Waits until `task` is done without awaiting it (asyncio.wait([task])).
Task<void> WaitDone(const TaskRef& task) {
  while (!task.done()) co_await Sleep(absl::ZeroDuration());
}

TEST(TaskTest, test_cancel_with_message_then_future_result) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  for (std::string message : {"", "my message"}) {
    absl::StatusOr<std::string> result = RunTest(loop.get(), [](std::string message) -> Task<std::string> {
      Task<void> task = CreateTask(SleepForever());
      co_await Sleep(absl::ZeroDuration());
      task.Cancel(message);
      co_await WaitDone(task);
      try {
        task.Result();
      } catch (const CancelledError& e) {
        co_return e.message();
      }
      co_return "no CancelledError";
    }(message));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result, message);
  }
}

TEST(TaskTest, test_cancel_with_message_then_future_exception) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  for (std::string message : {"", "my message"}) {
    absl::StatusOr<std::string> result = RunTest(loop.get(), [](std::string message) -> Task<std::string> {
      Task<void> task = CreateTask(SleepForever());
      co_await Sleep(absl::ZeroDuration());
      task.Cancel(message);
      co_await WaitDone(task);
      try {
        task.Exception();
      } catch (const CancelledError& e) {
        co_return e.message();
      }
      co_return "no CancelledError";
    }(message));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result, message);
  }
}

TEST(TaskTest, test_cancellation_exception_context) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result = RunTest(loop.get(), []() -> Task<std::string> {
    Event fut;
    Task<void> inner_task = CreateTask([](Event* fut) -> Task<void> {
      fut->Set();
      co_await Sleep(kForever);
    }(&fut));
    co_await fut.Wait();
    EventLoop::Current()->CallSoon([&inner_task] { inner_task.Cancel("msg"); });
    std::string seen;
    try {
      try {
        co_await inner_task;
      } catch (const CancelledError& ex) {
        seen = ex.message();
        throw std::invalid_argument("cancelled");
      }
    } catch (const std::invalid_argument& e) {
      co_return seen + "/" + e.what();
    }
    co_return "no error";
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "msg/cancelled");
}

TEST(TaskTest, test_cancel_with_message_before_starting_task) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result = RunTest(loop.get(), []() -> Task<std::string> {
    Task<void> task = CreateTask(SleepForever());
    task.Cancel("my message");  // Before the task's first step.
    co_await WaitDone(task);
    try {
      task.Exception();
    } catch (const CancelledError& e) {
      co_return e.message();
    }
    co_return "no CancelledError";
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "my message");
}

TEST(TaskTest, test_cancel_yield) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<int> t = CreateTask([]() -> Task<int> {
      co_await Sleep(absl::ZeroDuration());
      co_await Sleep(absl::ZeroDuration());
      co_return 12;
    }());
    co_await Sleep(absl::ZeroDuration());  // Start the task.
    t.Cancel();
    EXPECT_TRUE((co_await CancellationOf(t)).has_value());
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(t.Cancel());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_cancel_inner_future) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> f = CreateTask(SleepForever());
    Task<int> t = CreateTask([](Task<void>* f) -> Task<int> {
      co_await *f;
      co_return 12;
    }(&f));
    co_await RunBriefly();
    f.Cancel();
    EXPECT_TRUE((co_await CancellationOf(t)).has_value());
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(t.cancelled());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_cancel_both_task_and_inner_future) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> f = CreateTask(SleepForever());
    Task<int> t = CreateTask([](Task<void>* f) -> Task<int> {
      co_await *f;
      co_return 12;
    }(&f));
    co_await RunBriefly();
    f.Cancel();
    t.Cancel();
    EXPECT_TRUE((co_await CancellationOf(t)).has_value());
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(t.cancelled());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_cancel_task_catching) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    SimpleFuture fut1, fut2;
    Task<int> t = CreateTask([](SimpleFuture* fut1, SimpleFuture* fut2) -> Task<int> {
      co_await Await(fut1);
      try {
        co_await Await(fut2);
      } catch (const CancelledError&) {
        co_return 42;
      }
      co_return 0;
    }(&fut1, &fut2));
    co_await RunBriefly();
    fut1.SetResult(0);
    co_await RunBriefly();
    t.Cancel();
    EXPECT_EQ(co_await t, 42);
    EXPECT_FALSE(t.cancelled());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_cancel_task_ignoring) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    SimpleFuture fut1, fut2, fut3;
    Task<int> t = CreateTask(
        [](SimpleFuture* fut1, SimpleFuture* fut2, SimpleFuture* fut3) -> Task<int> {
          co_await Await(fut1);
          try {
            co_await Await(fut2);
          } catch (const CancelledError&) {
          }
          co_return co_await Await(fut3);
        }(&fut1, &fut2, &fut3));
    co_await RunBriefly();
    fut1.SetResult(0);
    co_await RunBriefly();
    t.Cancel();
    co_await RunBriefly();
    fut3.SetResult(42);
    EXPECT_EQ(co_await t, 42);
    EXPECT_FALSE(t.cancelled());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_cancel_current_task) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    bool slept = false;
    Task<int> t = CreateTask([](bool* slept) -> Task<int> {
      CurrentTask().Cancel();
      co_await Sleep(absl::Seconds(100));  // Cancelled at once.
      *slept = true;
      co_return 12;
    }(&slept));
    EXPECT_FALSE(t.cancelled());
    EXPECT_TRUE((co_await CancellationOf(t)).has_value());
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(t.Cancel());
    EXPECT_FALSE(slept);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_cancel_at_end) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<int> t = CreateTask([]() -> Task<int> {
      CurrentTask().Cancel();
      co_return 12;  // Ends right after the cancellation request.
    }());
    EXPECT_FALSE(t.cancelled());
    EXPECT_TRUE((co_await CancellationOf(t)).has_value());
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(t.Cancel());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_cancel_awaited_task) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> fut = CreateTask(SleepForever());
    Task<void> nested_task;
    Task<void> task = CreateTask([](Task<void>* fut, Task<void>* nested_task) -> Task<void> {
      *nested_task = CreateTask([](Task<void>* fut) -> Task<void> { co_await *fut; }(fut));
      co_await Sleep(absl::ZeroDuration());
      CurrentTask().Cancel();  // Not blocked now: a pending cancellation.
      co_await *nested_task;   // Which cancels what it blocks on.
    }(&fut, &nested_task));
    EXPECT_TRUE((co_await CancellationOf(task)).has_value());
    EXPECT_TRUE(task.cancelled());
    EXPECT_TRUE(nested_task.cancelled());
    EXPECT_TRUE(fut.cancelled());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// loop.stop() from a task: the pass ends, run_until_complete gives up with
// asyncio's RuntimeError message, and the task stays pending. The loop is
// given a coroutine awaiting t rather than t itself, so that the test keeps
// t's handle and can run it on afterwards. CPython's virtual clock reads
// 0.3 s at the end (the third sleep's deadline); here real time shows the
// two completed sleeps were honoured.
TEST(TaskTest, test_stop_while_run_in_complete) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  static constexpr absl::Duration kDelay = absl::Milliseconds(10);
  int x = 0;
  Task<void> t = loop->CreateTask([](EventLoop* loop, int* x) -> Task<void> {
    while (*x < 10) {
      co_await Sleep(kDelay);
      *x += 1;
      if (*x == 2) loop->Stop();
    }
  }(loop.get(), &x));
  auto await_t = [](Task<void>* t) -> Task<void> { co_await *t; };
  const int64_t start_ns = EventLoop::NowNanos();
  absl::Status status = loop->RunUntilComplete(await_t(&t));
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_EQ(status.message(), "Event loop stopped before Future completed.");
  EXPECT_FALSE(t.done());
  EXPECT_EQ(x, 2);
  EXPECT_GE(absl::Nanoseconds(EventLoop::NowNanos() - start_ns), 2 * kDelay);
  // The stop was spent on that run: the next one runs t to its end.
  status = loop->RunUntilComplete(await_t(&t));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(t.done());
  EXPECT_EQ(x, 10);
}

// asyncio.sleep(delay, result) returns result: SleepReturning. CPython's
// virtual clock reads exactly 0.1 s at the end; here the real delay is at
// least dt, and far less than the generous bound.
TEST(TaskTest, test_sleep) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  constexpr absl::Duration kDt = absl::Milliseconds(40);
  auto sleeper = [](absl::Duration dt, std::string arg) -> Task<std::string> {
    co_await Sleep(dt / 2);
    std::string res = co_await SleepReturning(dt / 2, std::move(arg));
    co_return res;
  };
  Task<std::string> t = loop->CreateTask(sleeper(kDt, "yeah"));
  auto await_t = [](Task<std::string>* t) -> Task<void> { co_await *t; };
  const int64_t start_ns = EventLoop::NowNanos();
  absl::Status status = RunTest(loop.get(), await_t(&t));
  const absl::Duration elapsed = absl::Nanoseconds(EventLoop::NowNanos() - start_ns);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(t.done());
  EXPECT_EQ(t.Result(), "yeah");
  EXPECT_GE(elapsed, kDt);
  EXPECT_LT(elapsed, kDt + absl::Seconds(10));
}

// A cancelled SleepReturning raises CancelledError, as Sleep does.
TEST(TaskTest, SleepReturningIsCancellable) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<int> t = CreateTask([]() -> Task<int> { co_return co_await SleepReturning(kForever, 5); }());
    co_await Sleep(absl::ZeroDuration());
    EXPECT_TRUE(t.Cancel());
    EXPECT_TRUE((co_await CancellationOf(t)).has_value());
    EXPECT_TRUE(t.cancelled());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_task_cancel_sleeping_task) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result = RunTest(loop.get(), []() -> Task<std::string> {
    Task<void> sleeper = CreateTask([]() -> Task<void> { co_await Sleep(absl::Seconds(5000)); }());
    Task<void> canceller = CreateTask([](Task<void>* sleeper) -> Task<void> {
      co_await Sleep(absl::Milliseconds(10));
      sleeper->Cancel();
    }(&sleeper));
    try {
      co_await sleeper;
    } catch (const CancelledError&) {
      co_return "cancelled";
    }
    co_return "slept in";
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "cancelled");
}

TEST(TaskTest, test_task_cancel_waiter_future) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> fut = CreateTask(SleepForever());
    Task<void> task = CreateTask([](Task<void>* fut) -> Task<void> { co_await *fut; }(&fut));
    co_await RunBriefly();
    task.Cancel();
    co_await RunBriefly();
    EXPECT_TRUE((co_await CancellationOf(task)).has_value());
    EXPECT_TRUE(fut.cancelled());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_current_task) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  EXPECT_FALSE(CurrentTask().valid());
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> task;
    task = CreateTask([](Task<void>* task) -> Task<void> {
      EXPECT_TRUE(CurrentTask() == *task);
      co_await Sleep(absl::ZeroDuration());
      EXPECT_TRUE(CurrentTask() == *task);
    }(&task));
    co_await task;
  }());
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_FALSE(CurrentTask().valid());
}

TEST(TaskTest, test_current_task_with_interleaving_tasks) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Event fut1, fut2;
    TaskRef ref1, ref2;
    Task<void> task1 = CreateTask([](TaskRef* self, Event* fut1, Event* fut2) -> Task<void> {
      EXPECT_TRUE(CurrentTask() == *self);
      co_await fut1->Wait();
      EXPECT_TRUE(CurrentTask() == *self);
      fut2->Set();
    }(&ref1, &fut1, &fut2));
    Task<void> task2 = CreateTask([](TaskRef* self, Event* fut1, Event* fut2) -> Task<void> {
      EXPECT_TRUE(CurrentTask() == *self);
      fut1->Set();
      co_await fut2->Wait();
      EXPECT_TRUE(CurrentTask() == *self);
    }(&ref2, &fut1, &fut2));
    ref1 = task1;
    ref2 = task2;
    co_await Gather(std::move(task1), std::move(task2));
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_yield_future_passes_cancel) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    int proof = 0;
    Task<void> waiter = CreateTask(SleepForever());
    auto inner = [](Task<void>* waiter, int* proof) -> Task<void> {
      try {
        co_await *waiter;
      } catch (const CancelledError&) {
        *proof += 1;
        throw;
      }
      ADD_FAILURE() << "got past the wait in inner()";
    };
    Task<void> f = CreateTask([](auto inner, Task<void>* waiter, int* proof) -> Task<void> {
      try {
        co_await inner(waiter, proof);
        *proof += 10;
      } catch (const CancelledError&) {
        *proof += 100;  // Expect this path.
      }
    }(inner, &waiter, &proof));
    co_await RunBriefly();
    f.Cancel();
    co_await f;
    EXPECT_EQ(proof, 101);
    EXPECT_TRUE(waiter.cancelled());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_shield_result) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<int> result = RunTest(loop.get(), []() -> Task<int> {
    SimpleFuture inner;
    Task<int> outer = CreateTask(Shield(Await(&inner)));
    inner.SetResult(42);
    co_return co_await outer;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 42);
}

TEST(TaskTest, test_shield_exception) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    SimpleFuture inner;
    Task<int> outer = CreateTask(Shield(Await(&inner)));
    co_await RunBriefly();
    inner.SetException(std::make_exception_ptr(std::runtime_error("expected")));
    co_await RunBriefly();
    EXPECT_TRUE(outer.done());
    try {
      std::rethrow_exception(outer.Exception());
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "expected");
    }
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_shield_cancel_inner) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> inner = CreateTask(SleepForever());
    Task<void> outer = CreateTask(Shield(inner));
    co_await RunBriefly();
    inner.Cancel();
    co_await RunBriefly();
    EXPECT_TRUE(outer.cancelled());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_shield_cancel_outer) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> inner = CreateTask(SleepForever());
    Task<void> outer = CreateTask(Shield(inner));
    co_await RunBriefly();
    outer.Cancel();
    co_await RunBriefly();
    EXPECT_TRUE(outer.cancelled());
    EXPECT_FALSE(inner.done());  // The inner task is not touched.
    EXPECT_EQ(inner.cancelling(), 0u);
    inner.Cancel();
    co_await CancellationOf(inner);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_shield_shortcut) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<int> result = RunTest(loop.get(), []() -> Task<int> {
    Task<int> fut = CreateTask([]() -> Task<int> { co_return 42; }());
    co_await RunBriefly();
    EXPECT_TRUE(fut.done());
    co_return co_await Shield(std::move(fut));
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 42);
}

TEST(TaskTest, test_shield_effect) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    int proof = 0;
    Event waiter;
    auto inner = [](Event* waiter, int* proof) -> Task<void> {
      co_await waiter->Wait();
      *proof += 1;
    };
    Task<void> f = CreateTask([](auto inner, Event* waiter, int* proof) -> Task<void> {
      co_await Shield(inner(waiter, proof));
      *proof += 100;
    }(inner, &waiter, &proof));
    co_await RunBriefly();
    f.Cancel();
    EXPECT_TRUE((co_await CancellationOf(f)).has_value());
    waiter.Set();
    co_await RunBriefly();
    EXPECT_EQ(proof, 1);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_shield_gather) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    SimpleFuture child1, child2;
    Task<std::tuple<int, int>> parent = CreateTask(Gather(Await(&child1), Await(&child2)));
    Task<std::tuple<int, int>> outer = CreateTask(Shield(parent));
    co_await RunBriefly();
    outer.Cancel();
    co_await RunBriefly();
    EXPECT_TRUE(outer.cancelled());
    child1.SetResult(1);
    child2.SetResult(2);
    co_await RunBriefly();
    EXPECT_EQ(parent.Result(), std::make_tuple(1, 2));
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_gather_shield) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<int> child1 = CreateTask(SleepThen(absl::Milliseconds(20), 1));
    Task<int> child2 = CreateTask(SleepThen(absl::Milliseconds(20), 2));
    Task<int> inner1 = CreateTask(Shield(child1));
    Task<int> inner2 = CreateTask(Shield(child2));
    TaskRef inner1_ref = inner1, inner2_ref = inner2;
    Task<std::tuple<int, int>> parent = CreateTask(Gather(std::move(inner1), std::move(inner2)));
    co_await RunBriefly();
    parent.Cancel();
    // This cancels inner1 and inner2, not child1 and child2.
    co_await RunBriefly();
    EXPECT_TRUE(parent.cancelled());
    EXPECT_TRUE(inner1_ref.cancelled());
    EXPECT_TRUE(inner2_ref.cancelled());
    EXPECT_EQ(co_await child1, 1);
    EXPECT_EQ(co_await child2, 2);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_cancel_gather_1) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    SimpleFuture fut;
    Task<int> child = CreateTask(Await(&fut));
    TaskRef child_ref = child;
    std::vector<Task<int>> children;
    children.push_back(std::move(child));
    Task<std::vector<int>> gather_task = CreateTask(Gather(std::move(children)));
    co_await RunBriefly();
    std::optional<bool> cancel_result;
    child_ref.AddDoneCallback([&](TaskRef) { cancel_result = gather_task.Cancel(); });
    fut.SetResult(42);
    std::vector<int> result = co_await gather_task;
    // The gathering task had all its children done: the cancellation came
    // too late (Python issue #26923).
    EXPECT_EQ(cancel_result, std::optional<bool>(false));
    EXPECT_FALSE(gather_task.cancelled());
    EXPECT_EQ(result, std::vector<int>{42});
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_cancel_gather_2) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  for (std::string message : {"", "my message"}) {
    absl::StatusOr<std::string> result = RunTest(loop.get(), [](std::string message) -> Task<std::string> {
      Task<void> qwe = CreateTask([]() -> Task<void> {
        for (int i = 0; i < 200; ++i) {
          co_await GatherOutcomes(SleepForDuration(absl::Milliseconds(5)));
        }
      }());
      co_await Sleep(absl::Milliseconds(20));
      qwe.Cancel(message);
      std::optional<CancelledError> e = co_await CancellationOf(qwe);
      co_return e.has_value() ? e->message() : "gather swallowed the CancelledError";
    }(message));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result, message);
  }
}

TEST(TaskTest, test_bare_create_task) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<int> result = RunTest(loop.get(), []() -> Task<int> {
    Task<int> task = CreateTask([]() -> Task<int> { co_return 1; }());
    co_return co_await task;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 1);
}

TEST(TaskTest, test_bare_create_named_task) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> task = CreateTask([]() -> Task<void> { co_return; }(), "No-op");
    EXPECT_EQ(task.name(), "No-op");
    task.SetName("renamed");
    EXPECT_EQ(task.name(), "renamed");
    co_await task;
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_current_task_no_running_loop) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  EXPECT_FALSE(CurrentTask().valid());
  EXPECT_TRUE(AllTasks().empty());
}

TEST(TaskTest, test_current_task_with_implicit_loop) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  TaskRef ref;
  Task<void> task = loop->CreateTask([](TaskRef* task) -> Task<void> {
    EXPECT_TRUE(CurrentTask() == *task);
    co_return;
  }(&ref));
  ref = task;
  absl::Status status = loop->RunUntilComplete(std::move(task));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_FALSE(CurrentTask().valid());
}

TEST(TaskTest, test_sleep_zero) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  int result = 0;
  absl::Status status = RunTest(loop.get(), [](int* result) -> Task<void> {
    EventLoop::Current()->CallSoon([result] { *result += 1; });
    EXPECT_EQ(*result, 0);
    const int num = co_await SleepReturning(absl::ZeroDuration(), 10);
    EXPECT_EQ(*result, 1);  // The callback ran during the yield.
    *result += num;
  }(&result));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(result, 11);
}

TEST(TaskTest, test_task_basics) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<int> result = RunTest(loop.get(), []() -> Task<int> {
    auto inner1 = []() -> Task<int> { co_return 42; };
    auto inner2 = []() -> Task<int> { co_return 1000; };
    int a = co_await inner1();
    int b = co_await inner2();
    co_return a + b;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 1042);
}

// CoroutineGatherTests.test_cancellation_broadcast: cancelling the task that
// awaits a gather cancels every child, and the wait they block on.
TEST(TaskTest, test_cancellation_broadcast) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    int proof = 0;
    Task<void> waiter = CreateTask(SleepForever());
    auto inner = [](Task<void>* waiter, int* proof) -> Task<void> {
      co_await *waiter;
      *proof += 1;
    };
    Task<void> child1 = CreateTask(inner(&waiter, &proof));
    Task<void> child2 = CreateTask(inner(&waiter, &proof));
    Task<void> f = CreateTask([](Task<void>* child1, Task<void>* child2, int* proof) -> Task<void> {
      co_await Gather(std::move(*child1), std::move(*child2));
      *proof += 100;
    }(&child1, &child2, &proof));
    co_await RunBriefly();
    EXPECT_TRUE(f.Cancel());
    EXPECT_TRUE((co_await CancellationOf(f)).has_value());
    EXPECT_TRUE(waiter.cancelled());
    co_await RunBriefly();
    EXPECT_EQ(proof, 0);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// FutureGatherTests.test_one_cancellation. Deliberately different in one
// point: the gathering task ends with the child's CancelledError, and a task
// that ends with CancelledError counts as cancelled() here, where asyncio's
// gathering future keeps it as its exception (cancelled() is False).
TEST(TaskTest, test_one_cancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    SimpleFuture a, c, e;
    Task<void> b = CreateTask(SleepForever());
    Task<void> d = CreateTask(SleepForever());
    auto as_int = [](Task<void>* t) -> Task<int> {
      co_await *t;
      co_return 0;
    };
    std::vector<Task<int>> children;
    children.push_back(Await(&a));
    children.push_back(as_int(&b));
    children.push_back(Await(&c));
    children.push_back(as_int(&d));
    children.push_back(Await(&e));
    Task<std::vector<int>> fut = CreateTask(Gather(std::move(children)));
    int callbacks = 0;
    fut.AddDoneCallback([&callbacks](TaskRef) { ++callbacks; });
    co_await RunBriefly();
    a.SetResult(1);
    b.Cancel();
    co_await RunBriefly();
    EXPECT_TRUE(fut.done());
    co_await Sleep(absl::ZeroDuration());  // Done callbacks run a pass later.
    EXPECT_EQ(callbacks, 1);
    EXPECT_TRUE(fut.cancelled());  // asyncio: False, with exception() a CancelledError.
    EXPECT_THROW(fut.Exception(), CancelledError);
    // Does nothing to the finished gather.
    c.SetResult(3);
    d.Cancel();
    e.SetException(std::make_exception_ptr(std::runtime_error("late")));
    co_await RunBriefly();
    EXPECT_EQ(callbacks, 1);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_result_exception_one_cancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    SimpleFuture a, b, d, f;
    Task<int> c = CreateTask(SleepThen(kForever, 0));
    Task<int> e = CreateTask(SleepThen(kForever, 0));
    std::vector<Task<int>> children;
    children.push_back(Await(&a));
    children.push_back(Await(&b));
    children.push_back(std::move(c));
    children.push_back(Await(&d));
    children.push_back(std::move(e));
    children.push_back(Await(&f));
    TaskRef c_ref = children[2], e_ref = children[4];
    Task<std::vector<Outcome<int>>> fut = CreateTask(GatherOutcomes(std::move(children)));
    int callbacks = 0;
    fut.AddDoneCallback([&callbacks](TaskRef) { ++callbacks; });
    a.SetResult(1);
    b.SetException(std::make_exception_ptr(ZeroDivisionLike()));
    c_ref.Cancel();
    co_await RunBriefly();
    EXPECT_FALSE(fut.done());
    d.SetResult(3);
    e_ref.Cancel();
    f.SetException(std::make_exception_ptr(std::logic_error("runtime")));
    std::vector<Outcome<int>> res = co_await fut;
    if (res.size() != 6u) {
      ADD_FAILURE() << res.size() << " outcomes";
      co_return;
    }
    EXPECT_EQ(res[0].value(), 1);
    EXPECT_THROW(std::rethrow_exception(res[1].exception()), ZeroDivisionLike);
    EXPECT_TRUE(res[2].cancelled());
    EXPECT_EQ(res[3].value(), 3);
    EXPECT_TRUE(res[4].cancelled());
    EXPECT_THROW(std::rethrow_exception(res[5].exception()), std::logic_error);
    co_await Sleep(absl::ZeroDuration());
    EXPECT_EQ(callbacks, 1);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// ----- Beyond CPython's tests: the rest of the introspection API -----

TEST(TaskTest, ResultAndExceptionBeforeDoneAreInvalidState) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<int> t = CreateTask(SleepThen(absl::Milliseconds(1), 5));
    EXPECT_THROW(t.Result(), InvalidStateError);
    EXPECT_THROW(t.Exception(), InvalidStateError);
    co_await WaitDone(t);
    EXPECT_EQ(t.Result(), 5);
    EXPECT_EQ(t.Exception(), nullptr);
    Task<void> failing = CreateTask(FailAfter(absl::ZeroDuration(), "boom"));
    co_await WaitDone(failing);
    EXPECT_NE(failing.Exception(), nullptr);
    EXPECT_THROW(failing.Result(), std::runtime_error);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, DoneCallbacksRunOnALaterPassAndCanBeRemoved) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    std::vector<std::string> calls;
    Task<int> t = CreateTask(SleepThen(absl::Milliseconds(1), 5), "worker");
    t.AddDoneCallback([&calls](TaskRef task) {
      calls.push_back("first:" + task.name() + ":" + std::to_string(task.done()));
    });
    uint64_t removed = t.AddDoneCallback([&calls](TaskRef) { calls.push_back("removed"); });
    t.AddDoneCallback([&calls](TaskRef) { calls.push_back("second"); });
    EXPECT_EQ(t.RemoveDoneCallback(removed), 1u);
    EXPECT_EQ(t.RemoveDoneCallback(removed), 0u);
    co_await WaitDone(t);
    EXPECT_TRUE(calls.empty());  // Not yet: on the next pass.
    co_await Sleep(absl::ZeroDuration());
    EXPECT_EQ(calls, (std::vector<std::string>{"first:worker:1", "second"}));
    // Added to a done task: runs on the next pass too.
    t.AddDoneCallback([&calls](TaskRef) { calls.push_back("late"); });
    co_await Sleep(absl::ZeroDuration());
    EXPECT_EQ(calls.back(), "late");
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// A dropped handle's frame stays until its callbacks have run (the callback
// reads the task), and is then freed: LSan checks the second half.
TEST(TaskTest, DoneCallbackOfADroppedTask) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string seen;
  absl::Status status = RunTest(loop.get(), [](std::string* seen) -> Task<void> {
    {
      Task<int> t = CreateTask(SleepThen(absl::Milliseconds(1), 5), "dropped");
      t.AddDoneCallback([seen](TaskRef task) { *seen = task.name(); });
    }
    for (int i = 0; i < 1000 && seen->empty(); ++i) co_await Sleep(absl::Milliseconds(1));
  }(&seen));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(seen, "dropped");
}

TEST(TaskTest, AllTasksListsThePendingTasks) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> a = CreateTask(SleepForever(), "a");
    Task<void> b = CreateTask(SleepForever(), "b");
    std::vector<std::string> names;
    for (const TaskRef& t : AllTasks()) names.push_back(t.name());
    std::sort(names.begin(), names.end());
    // The two, this test's task, and the WaitFor deadline's main task.
    EXPECT_EQ(names.size(), 3u);
    EXPECT_TRUE(std::find(names.begin(), names.end(), "a") != names.end());
    EXPECT_TRUE(std::find(names.begin(), names.end(), "b") != names.end());
    a.Cancel();
    co_await CancellationOf(a);
    EXPECT_EQ(AllTasks().size(), 2u);
    b.Cancel();
    co_await CancellationOf(b);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// ----- asyncio.wait -----

bool Contains(const std::vector<Waitable>& set, const Waitable& item) {
  return std::find(set.begin(), set.end(), item) != set.end();
}

Task<void> Raise(absl::Duration after) {
  if (after > absl::ZeroDuration()) co_await Sleep(after);
  throw ZeroDivisionLike();
}

TEST(TaskTest, test_wait) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> a = CreateTask(SleepForDuration(absl::Milliseconds(10)));
    Task<void> b = CreateTask(SleepForDuration(absl::Milliseconds(15)));
    for (int round = 0; round < 2; ++round) {  // the second finds them done
      WaitResult r = co_await Wait(Waitables(b, a));
      EXPECT_EQ(r.done.size(), 2u);
      EXPECT_TRUE(Contains(r.done, a) && Contains(r.done, b));
      EXPECT_TRUE(r.pending.empty());
    }
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_wait_duplicate_coroutines) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<int> c = CreateTask(SleepThen(absl::ZeroDuration(), 1));
    Task<int> spam = CreateTask(SleepThen(absl::ZeroDuration(), 2));
    WaitResult r = co_await Wait(Waitables(c, c, spam));
    EXPECT_TRUE(r.pending.empty());
    EXPECT_EQ(r.done.size(), 2u) << "the duplicate counts once";
    EXPECT_EQ(c.Result() + spam.Result(), 3);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_wait_errors) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    EXPECT_THROW(co_await Wait(std::vector<Waitable>()), std::invalid_argument);
    Task<void> sleeper = CreateTask(SleepForever());
    try {
      co_await Wait(Waitables(sleeper), absl::InfiniteDuration(), static_cast<ReturnWhen>(-1));
      ADD_FAILURE() << "no error for return_when=-1";
    } catch (const std::invalid_argument& e) {
      EXPECT_STREQ(e.what(), "Invalid return_when value: -1");
    }
    sleeper.Cancel();
    co_await CancellationOf(sleeper);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_wait_first_completed) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> a = CreateTask(SleepForever());
    Task<void> b = CreateTask(SleepForDuration(absl::Milliseconds(10)));
    WaitResult r = co_await Wait(Waitables(b, a), absl::InfiniteDuration(), ReturnWhen::kFirstCompleted);
    EXPECT_EQ(r.done, std::vector<Waitable>{b});
    EXPECT_EQ(r.pending, std::vector<Waitable>{a});
    EXPECT_FALSE(a.done()) << "wait never cancels";
    EXPECT_TRUE(b.done());
    a.Cancel();
    co_await CancellationOf(a);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_wait_really_done) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    auto coro1 = []() -> Task<void> { co_await Sleep(absl::ZeroDuration()); };
    auto coro2 = []() -> Task<void> {
      co_await Sleep(absl::ZeroDuration());
      co_await Sleep(absl::ZeroDuration());
    };
    Task<void> a = CreateTask(coro1());
    Task<void> b = CreateTask(coro2());
    WaitResult r = co_await Wait(Waitables(b, a), absl::InfiniteDuration(), ReturnWhen::kFirstCompleted);
    EXPECT_EQ(r.done.size(), 2u);
    EXPECT_TRUE(a.done());
    EXPECT_TRUE(b.done());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_wait_first_exception) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> a = CreateTask(SleepForever());
    Task<void> b = CreateTask(Raise(absl::ZeroDuration()));
    WaitResult r = co_await Wait(Waitables(b, a), absl::InfiniteDuration(), ReturnWhen::kFirstException);
    EXPECT_EQ(r.done, std::vector<Waitable>{b});
    EXPECT_EQ(r.pending, std::vector<Waitable>{a});
    EXPECT_NE(b.Exception(), nullptr);
    a.Cancel();
    co_await CancellationOf(a);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_wait_first_exception_in_wait) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> a = CreateTask(SleepForever());
    Task<void> c = CreateTask(SleepForDuration(absl::Milliseconds(1)));  // no exception
    Task<void> b = CreateTask(Raise(absl::Milliseconds(10)));
    WaitResult r = co_await Wait(Waitables(b, a, c), absl::InfiniteDuration(), ReturnWhen::kFirstException);
    EXPECT_EQ(r.done, (std::vector<Waitable>{b, c}));
    EXPECT_EQ(r.pending, std::vector<Waitable>{a});
    EXPECT_NE(b.Exception(), nullptr);
    a.Cancel();
    co_await CancellationOf(a);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_wait_with_exception) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> a = CreateTask(SleepForDuration(absl::Milliseconds(10)));
    Task<void> b = CreateTask(Raise(absl::Milliseconds(15)));
    for (int round = 0; round < 2; ++round) {
      WaitResult r = co_await Wait(Waitables(b, a));
      EXPECT_EQ(r.done.size(), 2u);
      EXPECT_TRUE(r.pending.empty());
      int errors = 0;
      for (const Waitable& w : r.done) errors += w.Exception() != nullptr;
      EXPECT_EQ(errors, 1);
    }
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_wait_with_timeout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> a = CreateTask(SleepForDuration(absl::Milliseconds(10)));
    Task<void> b = CreateTask(SleepForever());
    WaitResult r = co_await Wait(Waitables(b, a), absl::Milliseconds(30));
    EXPECT_EQ(r.done, std::vector<Waitable>{a});
    EXPECT_EQ(r.pending, std::vector<Waitable>{b});
    EXPECT_FALSE(b.done()) << "a timed-out wait cancels nothing";
    b.Cancel();
    co_await CancellationOf(b);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_wait_concurrent_complete) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> a = CreateTask(SleepForDuration(absl::Milliseconds(10)));
    Task<void> b = CreateTask(SleepForever());
    // The timeout and a's sleep end together: a, armed first (its task
    // runs before this one waits, as in CPython), is done.
    co_await Sleep(absl::ZeroDuration());
    WaitResult r = co_await Wait(Waitables(b, a), absl::Milliseconds(10));
    EXPECT_EQ(r.done, std::vector<Waitable>{a});
    EXPECT_EQ(r.pending, std::vector<Waitable>{b});
    b.Cancel();
    co_await CancellationOf(b);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_wait_generator) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 10; ++i) tasks.push_back(CreateTask(SleepThen(absl::ZeroDuration(), i)));
    std::vector<Waitable> aws(tasks.begin(), tasks.end());
    WaitResult r = co_await Wait(std::move(aws), absl::InfiniteDuration(), ReturnWhen::kAllCompleted);
    EXPECT_EQ(r.done.size(), 10u);
    EXPECT_TRUE(r.pending.empty());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_yield_wait_does_not_shield_cancel) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    int proof = 0;
    Future<void> waiter = CreateFuture<void>();
    auto inner = [](Future<void> waiter, int* proof) -> Task<void> {
      co_await waiter;
      *proof += 1;
    };
    auto outer = [&inner](Future<void> waiter, int* proof) -> Task<void> {
      Task<void> in = CreateTask(inner(waiter, proof));
      co_await Wait(Waitables(in));
      *proof += 100;
    };
    Task<void> f = CreateTask(outer(waiter, &proof));
    co_await RunBriefly();
    f.Cancel();
    EXPECT_TRUE((co_await CancellationOf(f)).has_value());
    waiter.SetResult();
    co_await RunBriefly();
    EXPECT_EQ(proof, 1);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// A single task or future is not a set: Wait(fut) does not compile, as
// asyncio.wait(fut) raises TypeError; nor does a set of unscheduled
// coroutines reach the loop.
template <typename A>
concept WaitAccepts = requires(A a) { Wait(a); };
static_assert(!WaitAccepts<Future<int>>);
static_assert(!WaitAccepts<Task<int>>);
static_assert(WaitAccepts<std::vector<Waitable>>);

TEST(TaskTest, test_wait_invalid_args) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    EXPECT_THROW(co_await Wait(std::vector<Waitable>()), std::invalid_argument);
    Task<int> coroutine = SleepThen(absl::ZeroDuration(), 1);
    EXPECT_THROW(Waitable{coroutine}, std::invalid_argument);
    co_await coroutine;
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, WaitAcceptsFuturesAndTasksTogether) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Future<int> f = CreateFuture<int>();
    Task<void> t = CreateTask(SleepForever());
    EventLoop::Current()->CallLater(absl::Milliseconds(5), [f] { f.SetResult(3); });
    WaitResult r = co_await Wait(Waitables(t, f), absl::InfiniteDuration(), ReturnWhen::kFirstCompleted);
    EXPECT_EQ(r.done, std::vector<Waitable>{f});
    EXPECT_EQ(r.pending, std::vector<Waitable>{t});
    EXPECT_EQ(f.Result(), 3);
    Future<int> g = CreateFuture<int>();
    g.SetException(std::make_exception_ptr(ZeroDivisionLike()));
    r = co_await Wait(Waitables(t, g), absl::InfiniteDuration(), ReturnWhen::kFirstException);
    EXPECT_EQ(r.done, std::vector<Waitable>{g});
    EXPECT_TRUE(r.done[0].failed());
    EXPECT_NE(r.done[0].Exception(), nullptr);
    t.Cancel();
    co_await CancellationOf(t);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, WaitRefusesAnUnownedTask) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    TaskRef unowned = CreateTask(SleepThen(absl::ZeroDuration(), 1));  // handle dropped
    EXPECT_THROW(Waitable{unowned}, std::invalid_argument);
    co_await RunBriefly();
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// ----- asyncio.as_completed -----

Task<std::string> SleepReturning(absl::Duration d, std::string value) {
  co_await Sleep(d);
  co_return value;
}

TEST(TaskTest, test_as_completed) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<std::string> a = CreateTask(SleepReturning(absl::Milliseconds(5), "a"));
    Task<std::string> b = CreateTask(SleepReturning(absl::Milliseconds(5), "b"));
    Task<std::string> c = CreateTask(SleepReturning(absl::Milliseconds(30), "c"));
    std::vector<std::string> values;
    AsCompleted completed({b, c, a});
    while (completed.HasNext()) {
      Waitable next = co_await completed.Next();
      values.push_back(next == a ? a.Result() : next == b ? b.Result() : c.Result());
    }
    EXPECT_EQ(values.size(), 3u);
    if (values.size() != 3u) co_return;
    EXPECT_TRUE(values[0] == "a" || values[1] == "a");
    EXPECT_TRUE(values[0] == "b" || values[1] == "b");
    EXPECT_EQ(values[2], "c");
    EXPECT_THROW(co_await completed.Next(), std::logic_error);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_as_completed_same_tasks_in_as_out) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<int> b = CreateTask(SleepThen(absl::ZeroDuration(), 1));
    Future<int> d = CreateFuture<int>();
    d.SetResult(2);
    std::vector<Waitable> out;
    AsCompleted completed({b, d});
    while (completed.HasNext()) out.push_back(co_await completed.Next());
    EXPECT_EQ(out.size(), 2u);
    EXPECT_TRUE(Contains(out, b));
    EXPECT_TRUE(Contains(out, d));
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_as_completed_with_timeout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<std::string> a = CreateTask(SleepReturning(absl::Milliseconds(5), "a"));
    Task<std::string> b = CreateTask(SleepReturning(absl::Hours(1), "b"));
    // A third (beyond CPython's two): every Next() after the timeout raises.
    Task<std::string> c = CreateTask(SleepReturning(absl::Hours(1), "c"));
    std::vector<std::string> values;
    AsCompleted completed({a, b, c}, absl::Milliseconds(30));
    while (completed.HasNext()) {
      try {
        Waitable next = co_await completed.Next();
        values.push_back(next == a ? a.Result() : "not a");
      } catch (const TimeoutError&) {
        values.push_back("timeout");
      }
    }
    EXPECT_EQ(values, (std::vector<std::string>{"a", "timeout", "timeout"}));
    EXPECT_FALSE(b.done()) << "the timeout cancels nothing";
    b.Cancel();
    c.Cancel();
    co_await CancellationOf(b);
    co_await CancellationOf(c);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_as_completed_with_unused_timeout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<std::string> a = CreateTask(SleepReturning(absl::Milliseconds(1), "a"));
    AsCompleted completed({a}, absl::Seconds(1));
    while (completed.HasNext()) {
      co_await completed.Next();
      EXPECT_EQ(a.Result(), "a");
    }
    EXPECT_EQ(EventLoop::Current()->live_timers(), 0u + 1u)
        << "only the test's own deadline is left: the unused timeout was disarmed";
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_as_completed_resume_iterator) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 4; ++i) tasks.push_back(CreateTask(SleepThen(absl::ZeroDuration(), i)));
    AsCompleted completed(std::vector<Waitable>(tasks.begin(), tasks.end()));
    int collected = 0;
    for (int i = 0; i < 2; ++i, ++collected) co_await completed.Next();
    EXPECT_EQ(completed.remaining(), 2u);
    while (completed.HasNext()) {
      co_await completed.Next();
      ++collected;
    }
    EXPECT_EQ(collected, 4);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_as_completed_concurrent) {
  // Two tasks may not wait in one AsCompleted at once (3.13's async
  // iterator hands each item out once; here a second waiter is an error).
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> slow = CreateTask(SleepForever());
    AsCompleted completed({slow});
    auto next = [](AsCompleted* c) -> Task<void> { co_await c->Next(); };
    Task<void> first = CreateTask(next(&completed));
    co_await RunBriefly();
    EXPECT_THROW(co_await completed.Next(), std::logic_error);
    first.Cancel();
    co_await CancellationOf(first);
    slow.Cancel();
    co_await CancellationOf(slow);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(TaskTest, test_as_completed_coroutine_without_loop) {
  Future<int> none;
  EXPECT_THROW(AsCompleted({}), std::invalid_argument);
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  Future<int> f(*loop);
  try {
    AsCompleted completed({f});
    ADD_FAILURE() << "AsCompleted outside a running loop did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "AsCompleted: no running event loop");
  }
}

TEST(TaskTest, test_as_completed_invalid_args) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<int> coroutine = SleepThen(absl::ZeroDuration(), 1);
    EXPECT_THROW(AsCompleted({coroutine}), std::invalid_argument);
    co_await coroutine;
  }());
  EXPECT_TRUE(status.ok()) << status;
}
static_assert(!std::is_constructible_v<AsCompleted, Future<int>>);

TEST(TaskTest, AsCompletedNextIsCancellableAndCancelsNothingElse) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Task<void> slow = CreateTask(SleepForever());
    AsCompleted completed({slow});
    auto next = [](AsCompleted* c) -> Task<void> { co_await c->Next(); };
    Task<void> waiter = CreateTask(next(&completed));
    co_await RunBriefly();
    waiter.Cancel();
    EXPECT_TRUE((co_await CancellationOf(waiter)).has_value());
    EXPECT_FALSE(slow.done());
    slow.Cancel();
    Waitable cancelled = co_await completed.Next();
    EXPECT_TRUE(cancelled.cancelled());
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// ----- asyncio.run_coroutine_threadsafe -----

Task<int> Add(int a, int b, bool fail, bool cancel, absl::Duration sleep) {
  co_await Sleep(sleep);
  if (fail) throw std::runtime_error("Fail!");
  if (cancel) {
    CurrentTask().Cancel();
    co_await Sleep(absl::ZeroDuration());
  }
  co_return a + b;
}
// Runs Add on the loop from another thread and blocks on the result
// (CPython's target()): the result, or the exception's description.
Task<std::string> Target(bool fail, bool cancel, absl::Duration timeout,
                         absl::Duration sleep = absl::Milliseconds(20)) {
  absl::StatusOr<LoopHandle> handle = LoopHandle::Current();
  if (!handle.ok()) co_return handle.status().ToString();
  auto target = [handle = *handle, fail, cancel, timeout, sleep]() -> std::string {
    ConcurrentFuture<int> future = RunCoroutineThreadsafe(Add(1, 2, fail, cancel, sleep), handle);
    std::string outcome;
    try {
      outcome = std::to_string(future.Result(timeout));
    } catch (const std::runtime_error& e) {
      outcome = std::string("RuntimeError: ") + e.what();
    } catch (const TimeoutError&) {
      outcome = "TimeoutError";
    } catch (const CancelledError&) {
      outcome = "CancelledError";
    }
    if (!future.Done()) future.Cancel();
    return outcome;
  };
  co_return co_await ToThread(std::move(target));
}

TEST(RunCoroutineThreadsafeTests, test_run_coroutine_threadsafe) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), Target(false, false, absl::InfiniteDuration()), "3");
}

TEST(RunCoroutineThreadsafeTests, test_run_coroutine_threadsafe_with_exception) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), Target(true, false, absl::InfiniteDuration()), "RuntimeError: Fail!");
}

TEST(RunCoroutineThreadsafeTests, test_run_coroutine_threadsafe_with_timeout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result = loop->RunUntilComplete([]() -> Task<std::string> {
    // The task would sleep an hour: only the thread's Cancel(), reaching it
    // through the loop, ends it.
    std::string outcome = co_await Target(false, false, absl::ZeroDuration(), absl::Hours(1));
    for (int i = 0; i < 5000 && AllTasks().size() > 1; ++i) co_await Sleep(absl::Milliseconds(1));
    for (const TaskRef& t : AllTasks()) {
      if (t != CurrentTask()) ADD_FAILURE() << "a task is left: " << t.name();
    }
    co_return outcome;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "TimeoutError");
}

TEST(RunCoroutineThreadsafeTests, test_run_coroutine_threadsafe_task_cancelled) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ExpectRunsTo(loop.get(), Target(false, true, absl::InfiniteDuration()), "CancelledError");
}

TEST(RunCoroutineThreadsafeTests, ResultAfterTheLoopIsDestroyedIsAnError) {
  std::optional<ConcurrentFuture<int>> future;
  {
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
    auto submit = [&]() -> Task<void> {
      absl::StatusOr<LoopHandle> handle = LoopHandle::Current();
      EXPECT_TRUE(handle.ok());
      // Submitted, started, then the loop goes with the task asleep.
      future.emplace(RunCoroutineThreadsafe(SleepThen(absl::Hours(1), 1), *handle));
      co_await RunBriefly();
    };
    ASSERT_TRUE(loop->RunUntilComplete(submit()).ok());
  }
  try {
    future->Result();
    ADD_FAILURE() << "no error";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "Event loop is closed");
  }
}

// asyncio wakes the tasks awaiting one task in the order they began to
// wait (its done callbacks run FIFO); four waiters, so that the list's
// head, middle and tail links are all used.
Task<void> AwaitThenRecord(Task<int>* target, int id, std::vector<int>* order) {
  int value = co_await *target;
  order->push_back(id * 10 + value);
}

TEST(TaskTest, WaitersOfOneTaskWakeInTheOrderTheyBeganToWait) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<int> order;
  absl::StatusOr<int> result = RunTest(loop.get(), [&]() -> Task<int> {
    Event release;
    Task<int> target = CreateTask([](Event* release) -> Task<int> {
      co_await release->Wait();
      co_return 7;
    }(&release));
    std::vector<Task<void>> waiters;
    for (int id = 1; id <= 4; ++id) {
      waiters.push_back(CreateTask(AwaitThenRecord(&target, id, &order)));
    }
    co_await RunBriefly();  // Every waiter is now waiting on `target`.
    release.Set();
    for (Task<void>& waiter : waiters) co_await waiter;
    co_return 0;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(order, (std::vector<int>{17, 27, 37, 47}));
}

}  // namespace
}  // namespace asyncio_like
