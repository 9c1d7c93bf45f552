// ToThread, RunInExecutor and CallSoonThreadsafe: results and exceptions
// come back to the loop thread, the loop keeps running meanwhile, and
// cancellation does not wait for the thread.
#include "asyncio_like/to_thread.h"

#include <atomic>
#include <concepts>
#include <functional>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/executor.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/threadsafe_calls.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

Task<void> ResultComesBackOnTheLoopThread() {
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id worker_thread;
  const int answer = co_await ToThread([&worker_thread] {
    worker_thread = std::this_thread::get_id();
    return 42;
  });
  EXPECT_EQ(answer, 42);
  EXPECT_NE(worker_thread, loop_thread);
  EXPECT_EQ(std::this_thread::get_id(), loop_thread);
}

TEST(ToThreadTest, ResultComesBackOnTheLoopThread) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(ResultComesBackOnTheLoopThread());
}

Task<void> ExceptionsComeBack() {
  const std::thread::id loop_thread = std::this_thread::get_id();
  bool caught = false;
  try {
    co_await ToThread([] { throw std::runtime_error("disk on fire"); });
  } catch (const std::runtime_error& e) {
    caught = true;
    EXPECT_STREQ(e.what(), "disk on fire");
    EXPECT_EQ(std::this_thread::get_id(), loop_thread);
  }
  EXPECT_TRUE(caught);
  // Statuses are plain values.
  absl::StatusOr<int> failed =
      co_await ToThread([]() -> absl::StatusOr<int> { return absl::NotFoundError("gone"); });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
}

TEST(ToThreadTest, ExceptionsComeBack) { ASYNCIO_LIKE_RUN_LOOP_TEST(ExceptionsComeBack()); }

Task<void> Tick(int* ticks, absl::Notification* enough) {
  while (*ticks < 20) {
    co_await Sleep(absl::Milliseconds(1));
    ++*ticks;
  }
  enough->Notify();
}

Task<void> LoopRunsWhileTheThreadWorks() {
  // The thread waits until a task on the loop has ticked 20 times: it can
  // only finish if the loop keeps running while the thread is busy.
  int ticks = 0;
  auto enough = std::make_shared<absl::Notification>();
  Task<void> ticker = CreateTask(Tick(&ticks, enough.get()), "ticker");
  // Lambdas with captures are named before co_await (see to_thread.h).
  auto wait = [enough] { return enough->WaitForNotificationWithTimeout(absl::Seconds(30)); };
  const bool released = co_await ToThread(std::move(wait));
  EXPECT_TRUE(released);
  EXPECT_EQ(ticks, 20);
  co_await ticker;
}

TEST(ToThreadTest, LoopRunsWhileTheThreadWorks) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(LoopRunsWhileTheThreadWorks());
}

Task<std::unique_ptr<int>> AwaitInExecutor(Executor& executor) {
  auto make = [] { return std::make_unique<int>(7); };
  co_return co_await RunInExecutor(executor, std::move(make));
}

Task<void> RunInOwnExecutor(ThreadExecutor* executor) {
  std::unique_ptr<int> moved = co_await AwaitInExecutor(*executor);
  EXPECT_EQ(*moved, 7);
  // Many at once, all resumed with their own results.
  std::vector<Task<int>> calls;
  for (int i = 0; i < 50; ++i) {
    auto square = [i] { return i * i; };
    calls.push_back(CreateTask(RunInExecutor(*executor, std::move(square))));
  }
  for (int i = 0; i < 50; ++i) EXPECT_EQ(co_await calls[i], i * i);
}

TEST(ToThreadTest, RunInExecutorWithAnotherExecutor) {
  ThreadExecutor executor(2);
  ASYNCIO_LIKE_RUN_LOOP_TEST(RunInOwnExecutor(&executor));
}

Task<void> CancelDoesNotWaitForTheThread(std::shared_ptr<std::atomic<bool>> finished) {
  auto release = std::make_shared<absl::Notification>();
  auto work = [release, finished] {
    release->WaitForNotificationWithTimeout(absl::Seconds(30));
    finished->store(true);
  };
  Task<void> call = CreateTask(ToThread(std::move(work)));
  co_await Sleep(absl::Milliseconds(5));
  const absl::Time start = absl::Now();
  EXPECT_TRUE(call.Cancel());
  bool cancelled = false;
  try {
    co_await call;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_FALSE(finished->load());  // the thread still runs...
  release->Notify();
  for (int i = 0; i < 2000 && !finished->load(); ++i) co_await Sleep(absl::Milliseconds(1));
  EXPECT_TRUE(finished->load());  // ...to its end; its result is dropped
  co_await Sleep(absl::Milliseconds(5));
}

TEST(ToThreadTest, CancelDoesNotWaitForTheThread) {
  auto finished = std::make_shared<std::atomic<bool>>(false);
  ASYNCIO_LIKE_RUN_LOOP_TEST(CancelDoesNotWaitForTheThread(finished));
}

Task<void> CallbacksFromAnotherThread(std::vector<int>* order, std::thread* poster) {
  absl::StatusOr<LoopHandle> handle = LoopHandle::Current();
  EXPECT_TRUE(handle.ok());
  const std::thread::id loop_thread = std::this_thread::get_id();
  *poster = std::thread([handle = *handle, order, loop_thread] {
    for (int i = 0; i < 100; ++i) {
      EXPECT_TRUE(handle.CallSoonThreadsafe([order, i, loop_thread] {
        EXPECT_EQ(std::this_thread::get_id(), loop_thread);
        order->push_back(i);
      }));
    }
  });
  for (int i = 0; i < 5000 && order->size() < 100; ++i) co_await Sleep(absl::Milliseconds(1));
}

TEST(CallSoonThreadsafeTest, RunsOnTheLoopInOrder) {
  std::vector<int> order;
  std::thread poster;
  ASYNCIO_LIKE_RUN_LOOP_TEST(CallbacksFromAnotherThread(&order, &poster));
  poster.join();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

// ----- CPython 3.13's test_asyncio/test_threads.py (ToThreadTests) -----

int Sum(const std::vector<int>& numbers) { return std::accumulate(numbers.begin(), numbers.end(), 0); }

Task<void> ToThreadSum() {
  const std::vector<int> numbers = {40, 2};  // named: see to_thread.h on GCC 12
  const int result = co_await ToThread(Sum, numbers);
  EXPECT_EQ(result, 42);
}

TEST(ToThreadTests, test_to_thread) { ASYNCIO_LIKE_RUN_LOOP_TEST(ToThreadSum()); }

Task<void> ToThreadRaises() {
  auto raise_runtime = []() { throw std::runtime_error("test"); };
  std::string raised;
  try {
    co_await ToThread(raise_runtime);
  } catch (const std::runtime_error& e) {
    raised = e.what();
  }
  EXPECT_EQ(raised, "test");
}

TEST(ToThreadTests, test_to_thread_exception) { ASYNCIO_LIKE_RUN_LOOP_TEST(ToThreadRaises()); }

Task<void> ToThreadCallsOnce() {
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto func = [calls] { ++*calls; };
  co_await ToThread(std::move(func));
  EXPECT_EQ(calls->load(), 1);
}

TEST(ToThreadTests, test_to_thread_once) { ASYNCIO_LIKE_RUN_LOOP_TEST(ToThreadCallsOnce()); }

// Python's list.append is safe under the GIL; here the calls run on several
// threads at once and append under a mutex.
struct Calls {
  absl::Mutex mu;
  std::vector<int> appended;
};

Task<void> ToThreadTenAtOnce(std::shared_ptr<Calls> calls) {
  std::vector<Task<void>> futs;
  for (int i = 0; i < 10; ++i) {
    auto func = [calls] {
      absl::MutexLock lock(&calls->mu);
      calls->appended.push_back(1);
    };
    futs.push_back(ToThread(std::move(func)));
  }
  co_await Gather(std::move(futs));
}

TEST(ToThreadTests, test_to_thread_concurrent) {
  auto calls = std::make_shared<Calls>();
  ASYNCIO_LIKE_RUN_LOOP_TEST(ToThreadTenAtOnce(calls));
  absl::MutexLock lock(&calls->mu);
  EXPECT_EQ(std::accumulate(calls->appended.begin(), calls->appended.end(), 0), 10);
}

// The mock's record of its calls: the arguments of each.
struct RecordedCalls {
  absl::Mutex mu;
  std::vector<std::pair<std::string, bool>> args;
};

// asyncio.to_thread(func, 'test', something=True): C++ has no keyword
// arguments, so `something` is the second positional one.
Task<void> ToThreadWithArguments(std::shared_ptr<RecordedCalls> recorded) {
  auto func = [recorded](std::string text, bool something) {
    absl::MutexLock lock(&recorded->mu);
    recorded->args.emplace_back(std::move(text), something);
  };
  const std::string text = "test";
  co_await ToThread(std::move(func), text, true);
}

TEST(ToThreadTests, test_to_thread_args_kwargs) {
  auto recorded = std::make_shared<RecordedCalls>();
  ASYNCIO_LIKE_RUN_LOOP_TEST(ToThreadWithArguments(recorded));
  absl::MutexLock lock(&recorded->mu);
  EXPECT_EQ(recorded->args, (std::vector<std::pair<std::string, bool>>{{"test", true}}));
}

// ----- ToThread(fn, args...) beyond CPython's tests -----

std::string Echo(std::string text) { return text; }

Task<void> CopiesArgumentsAtTheCall() {
  std::string text = "before";
  Task<std::string> echo = ToThread(Echo, text);  // not started yet
  text = "after";
  EXPECT_EQ(co_await echo, "before");
}

TEST(ToThreadTest, ArgumentsAreCopiedWhenToThreadIsCalled) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(CopiesArgumentsAtTheCall());
}

Task<void> MoveOnlyAndReferenceArguments() {
  auto read = [](std::unique_ptr<int> p) { return p != nullptr ? *p : -1; };
  auto seven = std::make_unique<int>(7);
  const int read_value = co_await ToThread(read, std::move(seven));
  EXPECT_EQ(read_value, 7);
  int counter = 0;
  auto increment = [](int& n, int by) { n += by; };
  co_await ToThread(increment, std::ref(counter), 5);
  EXPECT_EQ(counter, 5);
}

TEST(ToThreadTest, MoveOnlyArgumentsAndReferencesThroughStdRef) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(MoveOnlyAndReferenceArguments());
}

// Arguments the function cannot take are refused at compile time: a copy
// cannot bind to a non-const reference, as with std::thread.
template <typename F, typename... Args>
concept ToThreadAccepts = requires(F fn, Args... args) { ToThread(std::move(fn), std::move(args)...); };
struct TakesMutableReference {
  void operator()(int&) const {}
};
static_assert(!ToThreadAccepts<TakesMutableReference, int>);
static_assert(ToThreadAccepts<TakesMutableReference, std::reference_wrapper<int>>);
static_assert(!ToThreadAccepts<decltype(&Sum), std::string>);

Task<absl::StatusOr<LoopHandle>> TakeHandle() { co_return LoopHandle::Current(); }

TEST(CallSoonThreadsafeTest, ClosedLoopRefusesCallbacks) {
  std::optional<LoopHandle> handle;
  {
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
    absl::StatusOr<absl::StatusOr<LoopHandle>> taken = loop->RunUntilComplete(TakeHandle());
    ASSERT_TRUE(taken.ok() && taken->ok());
    handle.emplace(**taken);
  }
  bool ran = false;
  EXPECT_FALSE(handle->CallSoonThreadsafe([&ran] { ran = true; }));
  EXPECT_FALSE(ran);
  EXPECT_FALSE(LoopHandle::Current().ok());  // no loop runs on this thread
}

// Another thread stops the loop through CallSoonThreadsafe; the LoopHandle
// it holds keeps RunForever from reporting a deadlock meanwhile.
TEST(CallSoonThreadsafeTest, AnotherThreadStopsRunForever) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  EventLoop* l = loop.get();
  std::thread stopper;
  loop->CallSoon([l, &stopper] {
    absl::StatusOr<LoopHandle> handle = LoopHandle::Current();
    ASSERT_TRUE(handle.ok()) << handle.status();
    stopper = std::thread([handle = *handle, l] {
      EXPECT_TRUE(handle.CallSoonThreadsafe([l] { l->Stop(); }));
    });
  });
  absl::Status status = loop->RunForever();
  if (stopper.joinable()) stopper.join();
  EXPECT_TRUE(status.ok()) << status;
}

}  // namespace
}  // namespace asyncio_like
