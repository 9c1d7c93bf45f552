// CPython 3.13's Lib/test/test_asyncio/test_pep492.py, ported where its
// behaviour exists here: `async with` on the locks is ScopedLock (sync.h),
// `async for line in reader` is a ReadLine loop, an `async def` awaiting
// another is a Task awaiting another, and Task.get_stack is the task's call
// graph (call_graph.h). The tests of the coroutine object itself
// (iscoroutine, types.coroutine, origin tracking) have no C++ counterpart;
// see CONFORMANCE.md.
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "asyncio_like/call_graph.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/sync_test_util.h"
#include "asyncio_like/task.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// `with await lock` is a TypeError ("can't be used in 'await' expression"):
// whether a primitive can be awaited by itself, through a member or free
// operator co_await or as an awaiter.
template <typename T>
concept DirectlyAwaitable = requires(T& t) { t.operator co_await(); } ||
                            requires(T& t) { operator co_await(t); } ||
                            requires(T& t) { t.await_ready(); };

// The `test(lock)` coroutine of test_context_manager_async_with.
template <typename Primitive>
Task<void> HoldAcrossSleeps(Primitive& lock) {
  co_await Sleep(absl::Milliseconds(10));
  EXPECT_FALSE(lock.locked());
  {
    auto held = co_await ScopedLock(lock);  // async with lock:
    EXPECT_TRUE(lock.locked());
    co_await Sleep(absl::Milliseconds(10));
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
}

TEST(LockTests, test_context_manager_async_with) {
  Lock lock;
  Condition condition;
  Semaphore semaphore;
  BoundedSemaphore bounded_semaphore;
  RunAsync(HoldAcrossSleeps(lock));
  EXPECT_FALSE(lock.locked());
  RunAsync(HoldAcrossSleeps(condition));
  EXPECT_FALSE(condition.locked());
  RunAsync(HoldAcrossSleeps(semaphore));
  EXPECT_FALSE(semaphore.locked());
  RunAsync(HoldAcrossSleeps(bounded_semaphore));
  EXPECT_FALSE(bounded_semaphore.locked());
}

TEST(LockTests, test_context_manager_with_await) {
  static_assert(!DirectlyAwaitable<Lock>);
  static_assert(!DirectlyAwaitable<Condition>);
  static_assert(!DirectlyAwaitable<Semaphore>);
  static_assert(!DirectlyAwaitable<BoundedSemaphore>);
  // What can be awaited is the acquisition.
  static_assert(DirectlyAwaitable<decltype(ScopedLock(std::declval<Lock&>()))>);
  Lock lock;
  RunAsync([](Lock* lock) -> Task<void> {
    co_await Sleep(absl::Milliseconds(10));
    EXPECT_FALSE(lock->locked());
  }(&lock));
  EXPECT_FALSE(lock.locked());
}

TEST(StreamReaderTests, test_readline) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData("line1\nline2\nline3");
    stream.FeedEof();
    // async for line in stream: StreamReader.__anext__ is readline() until
    // it returns b''.
    std::vector<std::string> data;
    for (;;) {
      absl::StatusOr<std::string> line = co_await stream.ReadLine();
      EXPECT_TRUE(line.ok()) << line.status();
      if (!line.ok() || line->empty()) break;
      data.push_back(*line);
    }
    EXPECT_EQ(data, (std::vector<std::string>{"line1\n", "line2\n", "line3"}));
  }());
}

Task<std::string> Bar() { co_return "spam"; }
Task<std::string> Foo() { co_return co_await Bar(); }

TEST(CoroutineTests, test_async_def_coroutines) {
  // production mode
  absl::StatusOr<std::string> data = asyncio_like::Run(Foo());
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, "spam");

  // debug mode
  LoopOptions debug;
  debug.debug = true;
  data = asyncio_like::Run(Foo(), debug);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, "spam");
}

// foo() of test_task_print_stack: T.get_stack(limit=1)[0] is foo's frame.
// T is the running task, whose graph CaptureCallGraph() captures with the
// line it is called from (CaptureCallGraph(T) by handle leaves out a frame
// that has not suspended yet: it has no line to show).
Task<void> PrintStackFoo(const Task<void>* t) {
  EXPECT_EQ(CurrentTask(), TaskRef(*t));
  CallGraph graph = CaptureCallGraph();
  EXPECT_FALSE(graph.call_stack.empty());
  if (!graph.call_stack.empty()) {
    EXPECT_TRUE(absl::EndsWith(graph.call_stack.front().function, "PrintStackFoo"))
        << graph.call_stack.front().function;
  }
  co_return;
}

TEST(CoroutineTests, test_task_print_stack) {
  RunAsync([]() -> Task<void> {
    Task<void> t;
    t = CreateTask(PrintStackFoo(&t));
    co_await t;
  }());
}

}  // namespace
}  // namespace asyncio_like
