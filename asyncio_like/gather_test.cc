#include "asyncio_like/gather.h"

#include <exception>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/future.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// Records "start N" and "end N" around a sleep.
Task<int> Logged(std::vector<std::string>* log, int id, absl::Duration d) {
  log->push_back("start " + std::to_string(id));
  co_await Sleep(d);
  log->push_back("end " + std::to_string(id));
  co_return id;
}


TEST(GatherTest, RunsConcurrentlyAndKeepsArgumentOrder) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete(
      [](std::vector<std::string>* log) -> Task<std::tuple<int, int, std::monostate>> {
        co_return co_await Gather(Logged(log, 1, absl::Milliseconds(20)),
                                  Logged(log, 2, absl::Milliseconds(1)),
                                  [](std::vector<std::string>* log) -> Task<void> {
                                    co_await Logged(log, 3, absl::Milliseconds(10));
                                  }(log));
      }(&log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(std::get<0>(*result), 1);
  EXPECT_EQ(std::get<1>(*result), 2);
  // All three started before any finished, and they finished by deadline.
  EXPECT_EQ(log, (std::vector<std::string>{"start 1", "start 2", "start 3", "end 2",
                                           "end 3", "end 1"}));
}

TEST(GatherTest, RangeFormReturnsResultsInOrder) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete([](std::vector<std::string>* log) -> Task<std::vector<int>> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(Logged(log, i, absl::Milliseconds(5 - i)));
    co_return co_await Gather(std::move(tasks));
  }(&log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(GatherTest, FirstErrorPropagatesAndTheOthersKeepRunning) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete([](std::vector<std::string>* log) -> Task<std::string> {
    Event release;
    auto wait_then_log = [](Event* release, std::vector<std::string>* log) -> Task<void> {
      co_await release->Wait();
      log->push_back("end 1");
    };
    std::string seen;
    try {
      co_await Gather(wait_then_log(&release, log), FailAfter(absl::Milliseconds(1), "first"),
                      FailAfter(absl::Milliseconds(10), "second"));
    } catch (const std::runtime_error& e) {
      seen = e.what();
    }
    seen += log->empty() ? " (1 still running)" : " (1 finished)";
    release.Set();
    co_await Sleep(absl::Milliseconds(20));  // "second" fails unobserved meanwhile.
    seen += " then " + log->back();
    co_return seen;
  }(&log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "first (1 still running) then end 1");
}

TEST(GatherTest, OutcomesCollectEveryResultAndError) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  std::string how;
  auto result = loop->RunUntilComplete(
      [](std::vector<std::string>* log, std::string* how) -> Task<std::string> {
        Task<void> doomed = CreateTask(SleepRecording(how));
        doomed.Cancel();
        auto [a, b, c] = co_await GatherOutcomes(Logged(log, 1, absl::Milliseconds(5)),
                                                 FailAfter(absl::Milliseconds(1), "bad"),
                                                 std::move(doomed));
        std::string out = std::to_string(a.value());
        try {
          b.value();
        } catch (const std::runtime_error& e) {
          out += std::string(" ") + e.what();
        }
        out += c.cancelled() ? " cancelled" : " not cancelled";
        out += a.ok() && !b.ok() && !c.ok() ? " ok" : " wrong";
        co_return out;
      }(&log, &how));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "1 bad cancelled ok");
  // Cancelled before its first step, its body never ran.
  EXPECT_EQ(how, "");
}

TEST(GatherTest, CancellingTheGatherCancelsItsChildren) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string first, second;
  auto result = loop->RunUntilComplete([](std::string* first, std::string* second) -> Task<std::string> {
    Task<std::tuple<std::monostate, std::monostate>> gather =
        CreateTask(Gather(SleepRecording(first), SleepRecording(second)));
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_TRUE(gather.Cancel());
    EXPECT_TRUE(gather.Cancel());  // Twice: still one cancellation each.
    try {
      co_await gather;
    } catch (const CancelledError&) {
      co_return "gather cancelled";
    }
    co_return "gather finished";
  }(&first, &second));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "gather cancelled");
  EXPECT_EQ(first, "cancelled");
  EXPECT_EQ(second, "cancelled");
}

TEST(GatherTest, CancellingTheGatherWhileItIsReadyStillCancelsChildren) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string first, second;
  auto result = loop->RunUntilComplete([](std::string* first, std::string* second) -> Task<std::string> {
    Task<std::tuple<std::monostate, std::monostate>> gather =
        CreateTask(Gather(SleepRecording(first), SleepRecording(second)));
    gather.Cancel();  // Before the gather's first step: it never starts them.
    try {
      co_await gather;
    } catch (const CancelledError&) {
      co_return "gather cancelled";
    }
    co_return "gather finished";
  }(&first, &second));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "gather cancelled");
  EXPECT_EQ(first, "");
  EXPECT_EQ(second, "");
}

TEST(GatherTest, ACancelledChildIsTheGathersError) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string how;
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete(
      [](std::string* how, std::vector<std::string>* log) -> Task<std::string> {
        Task<void> child = CreateTask(SleepRecording(how));
        co_await Sleep(absl::Milliseconds(1));
        child.Cancel();
        std::string out;
        try {
          co_await Gather(std::move(child), Logged(log, 1, absl::Milliseconds(5)));
        } catch (const CancelledError&) {
          out = "gather raised CancelledError";
        }
        co_return out;
      }(&how, &log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "gather raised CancelledError");
  EXPECT_EQ(how, "cancelled");
  // The awaiting task itself was not cancelled: it went on normally.
}

TEST(GatherTest, CancelAfterCompletionHasNoEffect) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete([](std::vector<std::string>* log) -> Task<int> {
    Task<std::tuple<int, int>> gather =
        CreateTask(Gather(Logged(log, 1, absl::ZeroDuration()), Logged(log, 2, absl::ZeroDuration())));
    auto [a, b] = co_await gather;
    EXPECT_FALSE(gather.Cancel());
    EXPECT_FALSE(gather.cancelled());
    co_return a + b;
  }(&log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 3);
}

TEST(GatherTest, GathersTasksThatAlreadyFinished) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete([](std::vector<std::string>* log) -> Task<int> {
    Task<int> a = CreateTask(Logged(log, 4, absl::ZeroDuration()));
    Task<int> b = CreateTask(Logged(log, 5, absl::ZeroDuration()));
    co_await Sleep(absl::Milliseconds(1));
    auto [x, y] = co_await Gather(std::move(a), std::move(b));
    co_return x * 10 + y;
  }(&log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 45);
}

// ----- CPython 3.13's test_tasks.py: GatherTestsBase, CoroutineGatherTests -----
//
// GatherTestsBase's tests run in CPython twice: FutureGatherTests gathers
// bare futures, CoroutineGatherTests wraps each future in a coroutine that
// awaits it. Gather takes tasks, so the ports are CoroutineGatherTests'
// flavour, with Future<int> (future.h) as the futures.

struct ZeroDivisionLike : std::runtime_error {
  ZeroDivisionLike() : std::runtime_error("division by zero") {}
};

// CoroutineGatherTests.wrap_futures.
Task<int> AwaitFuture(Future<int> future) { co_return co_await future; }

std::vector<Task<int>> WrapFutures(const std::vector<Future<int>>& futures) {
  std::vector<Task<int>> coros;
  for (const Future<int>& future : futures) coros.push_back(AwaitFuture(future));
  return coros;
}

// test_utils.run_briefly: a few loop passes.
Task<void> RunBriefly() {
  for (int i = 0; i < 3; ++i) co_await Sleep(absl::ZeroDuration());
}

// GatherTestsBase._run_loop runs passes until nothing is ready: here, more
// passes than a future's waiter, the gather and its done callbacks take in
// turn.
Task<void> RunLoop() {
  for (int i = 0; i < 10; ++i) co_await Sleep(absl::ZeroDuration());
}

// gather(*coros, return_exceptions=...), every result read as an int.
Task<std::vector<int>> GatherInts(std::vector<Task<int>> coros, bool return_exceptions) {
  if (!return_exceptions) co_return co_await Gather(std::move(coros));
  std::vector<Outcome<int>> outcomes = co_await GatherOutcomes(std::move(coros));
  std::vector<int> values;
  for (Outcome<int>& outcome : outcomes) values.push_back(outcome.value());
  co_return values;
}

// GatherTestsBase._check_success.
Task<void> CheckSuccess(bool return_exceptions) {
  Future<int> a = CreateFuture<int>(), b = CreateFuture<int>(), c = CreateFuture<int>();
  Task<std::vector<int>> fut = CreateTask(GatherInts(WrapFutures({a, b, c}), return_exceptions));
  std::vector<TaskRef> cb;  // test_utils.MockCallback: the arguments of each call
  fut.AddDoneCallback([&cb](TaskRef done) { cb.push_back(done); });
  b.SetResult(1);
  a.SetResult(2);
  co_await RunLoop();
  EXPECT_TRUE(cb.empty());
  EXPECT_FALSE(fut.done());
  c.SetResult(3);
  co_await RunLoop();
  EXPECT_EQ(cb, std::vector<TaskRef>{fut});
  EXPECT_EQ(fut.Result(), (std::vector<int>{2, 1, 3}));
}

// gather() and gather(return_exceptions=False), which CPython checks in
// turn, are both Gather.
TEST(CoroutineGatherTests, test_success) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), CheckSuccess(/*return_exceptions=*/false));
  EXPECT_TRUE(status.ok()) << status;
}

TEST(CoroutineGatherTests, test_result_exception_success) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), CheckSuccess(/*return_exceptions=*/true));
  EXPECT_TRUE(status.ok()) << status;
}

TEST(CoroutineGatherTests, test_one_exception) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ::testing::internal::CaptureStderr();
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Future<int> a = CreateFuture<int>(), b = CreateFuture<int>(), c = CreateFuture<int>(),
                d = CreateFuture<int>(), e = CreateFuture<int>();
    Task<std::vector<int>> fut = CreateTask(Gather(WrapFutures({a, b, c, d, e})));
    std::vector<TaskRef> cb;
    fut.AddDoneCallback([&cb](TaskRef done) { cb.push_back(done); });
    const std::exception_ptr exc = std::make_exception_ptr(ZeroDivisionLike());
    a.SetResult(1);
    b.SetException(exc);
    co_await RunLoop();
    EXPECT_TRUE(fut.done());
    EXPECT_EQ(cb, std::vector<TaskRef>{fut});
    EXPECT_EQ(fut.Exception(), exc);  // the very exception (assertIs)
    // Does nothing
    c.SetResult(3);
    d.Cancel();
    e.SetException(std::make_exception_ptr(std::runtime_error("late")));
    e.Exception();
    co_await RunLoop();
    EXPECT_EQ(cb.size(), 1u);
    EXPECT_EQ(fut.Exception(), exc);
  }());
  const std::string reported = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(status.ok()) << status;
  // The gather marks the exceptions of the children that fail after it
  // finished as retrieved, as asyncio's does (test_exception_marking).
  EXPECT_EQ(reported.find("never retrieved"), std::string::npos) << reported;
}

TEST(CoroutineGatherTests, test_return_exceptions) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Future<int> a = CreateFuture<int>(), b = CreateFuture<int>(), c = CreateFuture<int>(),
                d = CreateFuture<int>();
    Task<std::vector<Outcome<int>>> fut = CreateTask(GatherOutcomes(WrapFutures({a, b, c, d})));
    std::vector<TaskRef> cb;
    fut.AddDoneCallback([&cb](TaskRef done) { cb.push_back(done); });
    const std::exception_ptr exc = std::make_exception_ptr(ZeroDivisionLike());
    const std::exception_ptr exc2 = std::make_exception_ptr(std::runtime_error("runtime"));
    b.SetResult(1);
    c.SetException(exc);
    a.SetResult(3);
    co_await RunLoop();
    EXPECT_FALSE(fut.done());
    d.SetException(exc2);
    co_await RunLoop();
    EXPECT_TRUE(fut.done());
    EXPECT_EQ(cb, std::vector<TaskRef>{fut});
    std::vector<Outcome<int>>& res = fut.Result();
    if (res.size() != 4u) {
      ADD_FAILURE() << res.size() << " outcomes";
      co_return;
    }
    EXPECT_EQ(res[0].value(), 3);
    EXPECT_EQ(res[1].value(), 1);
    EXPECT_EQ(res[2].exception(), exc);
    EXPECT_EQ(res[3].exception(), exc2);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// "Mark exception retrieved": the child that fails after the gather has
// already failed is not reported as an exception nobody retrieved.
TEST(CoroutineGatherTests, test_exception_marking) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ::testing::internal::CaptureStderr();
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    auto inner = [](Future<void> f) -> Task<void> {
      co_await f;
      throw std::runtime_error("should not be ignored");
    };
    Future<void> a = CreateFuture<void>(), b = CreateFuture<void>();
    auto outer = [](Task<void> first, Task<void> second) -> Task<void> {
      co_await Gather(std::move(first), std::move(second));
    };
    Task<void> f = CreateTask(outer(inner(a), inner(b)));
    co_await RunBriefly();
    a.SetResult();
    co_await RunBriefly();
    b.SetResult();
    co_await RunBriefly();
    EXPECT_TRUE(f.done());
    EXPECT_THROW(std::rethrow_exception(f.Exception()), std::runtime_error);
  }());
  const std::string reported = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(reported.find("never retrieved"), std::string::npos) << reported;
}

// CoroutineGatherTests.test_duplicate_coroutines and test_issue46672 have
// no counterpart: a Task is move-only, so the same coroutine cannot be
// passed twice, and an argument that is not awaitable (asyncio's TypeError)
// does not compile.
template <typename... A>
concept GatherAccepts = requires(A&&... aws) { Gather(std::forward<A>(aws)...); };
static_assert(GatherAccepts<Task<int>, Task<int>>);
static_assert(!GatherAccepts<Task<int>&, Task<int>&>);
static_assert(!GatherAccepts<Task<int>, std::map<int, int>>);

}  // namespace
}  // namespace asyncio_like
