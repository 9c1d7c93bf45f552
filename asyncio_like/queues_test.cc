// CPython 3.13's Lib/test/test_asyncio/test_queues.py, ported: each test is
// named after the original and asserts the same outcome. The mixin tests
// (_QueueJoinTestMixin, _QueueShutdownTestMixin) run once per queue class,
// as in CPython. See CONFORMANCE.md for what is not ported and why.
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/queue.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/sync_test_util.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timeout.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

using IntVector = std::vector<int>;

// Sleeps `delay`, then runs `action` (loop.call_later).
template <typename Action>
Task<void> CallLater(absl::Duration delay, Action action) {
  co_await Sleep(delay);
  action();
}

// ------------------------------------------------------------ QueueBasicTests

TEST(QueueBasicTests, test_empty) {
  RunAsync([]() -> Task<void> {
    Queue<int> q;
    EXPECT_TRUE(q.empty());
    co_await q.Put(1);
    EXPECT_FALSE(q.empty());
    EXPECT_EQ(co_await q.Get(), 1);
    EXPECT_TRUE(q.empty());
  }());
}

TEST(QueueBasicTests, test_full) {
  RunAsync([]() -> Task<void> {
    Queue<int> unbounded;
    EXPECT_FALSE(unbounded.full());
    Queue<int> q(1);
    co_await q.Put(1);
    EXPECT_TRUE(q.full());
  }());
}

TEST(QueueBasicTests, test_order) {
  RunAsync([]() -> Task<void> {
    Queue<int> q;
    for (int i : {1, 3, 2}) co_await q.Put(i);
    IntVector items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.Get());
    EXPECT_EQ(items, (IntVector{1, 3, 2}));
  }());
}

TEST(QueueBasicTests, test_maxsize) {
  RunAsync([]() -> Task<void> {
    Queue<int> q(2);
    EXPECT_EQ(q.maxsize(), 2u);
    IntVector have_been_put;
    auto putter = [](Queue<int>* q, IntVector* have_been_put) -> Task<bool> {
      for (int i = 0; i < 3; ++i) {
        co_await q->Put(i);
        have_been_put->push_back(i);
      }
      co_return true;
    };
    Task<bool> t = CreateTask(putter(&q, &have_been_put));
    for (int i = 0; i < 2; ++i) co_await Yield();
    // The putter is blocked after putting two items.
    EXPECT_EQ(have_been_put, (IntVector{0, 1}));
    EXPECT_EQ(co_await q.Get(), 0);
    // The putter resumes and puts the last item.
    co_await Yield();
    EXPECT_EQ(have_been_put, (IntVector{0, 1, 2}));
    EXPECT_EQ(co_await q.Get(), 1);
    EXPECT_EQ(co_await q.Get(), 2);
    EXPECT_TRUE(t.done() && co_await t);
  }());
}

// ------------------------------------------------------------- QueueGetTests

TEST(QueueGetTests, test_blocking_get) {
  RunAsync([]() -> Task<void> {
    Queue<int> q;
    EXPECT_TRUE(q.PutNowait(1).ok());
    EXPECT_EQ(co_await q.Get(), 1);
  }());
}

TEST(QueueGetTests, test_get_with_putters) {
  RunAsync([]() -> Task<void> {
    Queue<int> q(1);
    co_await q.Put(1);
    // A blocked putter (CPython plants a bare future in q._putters).
    Task<void> putter = CreateTask(q.Put(2));
    co_await Yield();
    EXPECT_EQ(q.waiting_putters(), 1u);
    EXPECT_EQ(co_await q.Get(), 1);
    EXPECT_EQ(q.waiting_putters(), 0u);  // Woken by the get.
    co_await putter;
    EXPECT_EQ(co_await q.Get(), 2);
  }());
}

TEST(QueueGetTests, test_blocking_get_wait) {
  RunAsync([]() -> Task<void> {
    Queue<int> q;
    Event started;
    bool finished = false;
    auto queue_get = [](Queue<int>* q, Event* started, bool* finished) -> Task<int> {
      started->Set();
      int res = co_await q->Get();
      *finished = true;
      co_return res;
    };
    Task<int> queue_get_task = CreateTask(queue_get(&q, &started, &finished));
    co_await started.Wait();
    EXPECT_FALSE(finished);
    Task<void> later = CreateTask(CallLater(absl::Milliseconds(10), [&q] {
      EXPECT_TRUE(q.PutNowait(1).ok());
    }));
    int res = co_await queue_get_task;
    EXPECT_TRUE(finished);
    EXPECT_EQ(res, 1);
    co_await later;
  }());
}

TEST(QueueGetTests, test_nonblocking_get) {
  Queue<int> q;
  EXPECT_TRUE(q.PutNowait(1).ok());
  absl::StatusOr<int> item = q.GetNowait();
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(*item, 1);
}

TEST(QueueGetTests, test_nonblocking_get_exception) {
  Queue<int> q;
  EXPECT_TRUE(absl::IsUnavailable(q.GetNowait().status()));  // QueueEmpty
}

TEST(QueueGetTests, test_get_cancelled_race) {
  RunAsync([]() -> Task<void> {
    Queue<std::string> q;
    Task<std::string> t1 = CreateTask(q.Get());
    Task<std::string> t2 = CreateTask(q.Get());
    co_await Yield();
    t1.Cancel();
    co_await Yield();
    EXPECT_TRUE(t1.done());
    co_await q.Put("a");
    co_await Yield();
    EXPECT_EQ(co_await t2, "a");
  }());
}

TEST(QueueGetTests, test_get_with_waiting_putters) {
  RunAsync([]() -> Task<void> {
    Queue<std::string> q(1);
    Task<void> a = CreateTask(q.Put("a"));
    Task<void> b = CreateTask(q.Put("b"));
    EXPECT_EQ(co_await q.Get(), "a");
    EXPECT_EQ(co_await q.Get(), "b");
    co_await a;
    co_await b;
  }());
}

TEST(QueueGetTests, test_why_are_getters_waiting) {
  RunAsync([]() -> Task<void> {
    constexpr int producer_num_items = 5;
    Queue<int> q(1);
    auto consumer = [](Queue<int>* q, int num_expected) -> Task<void> {
      for (int i = 0; i < num_expected; ++i) co_await q->Get();
    };
    auto producer = [](Queue<int>* q, int num_items) -> Task<void> {
      for (int i = 0; i < num_items; ++i) co_await q->Put(i);
    };
    std::vector<Task<void>> tasks;
    tasks.push_back(CreateTask(producer(&q, producer_num_items)));
    tasks.push_back(CreateTask(consumer(&q, producer_num_items)));
    co_await AwaitAll(tasks);
  }());
}

TEST(QueueGetTests, test_cancelled_getters_not_being_held_in_self_getters) {
  RunAsync([]() -> Task<void> {
    Queue<int> queue(5);
    EXPECT_THROW(co_await WaitFor(queue.Get(), absl::Milliseconds(20)), TimeoutError);
    EXPECT_EQ(queue.waiting_getters(), 0u);
  }());
}

// ------------------------------------------------------------- QueuePutTests

TEST(QueuePutTests, test_blocking_put) {
  RunAsync([]() -> Task<void> {
    Queue<int> q;
    co_await q.Put(1);  // No maxsize: does not block.
    EXPECT_EQ(co_await q.Get(), 1);
  }());
}

TEST(QueuePutTests, test_blocking_put_wait) {
  RunAsync([]() -> Task<void> {
    Queue<int> q(1);
    Event started;
    bool finished = false;
    auto queue_put = [](Queue<int>* q, Event* started, bool* finished) -> Task<void> {
      started->Set();
      co_await q->Put(1);
      co_await q->Put(2);
      *finished = true;
    };
    Task<void> later = CreateTask(CallLater(absl::Milliseconds(10), [&q] {
      EXPECT_TRUE(q.GetNowait().ok());
    }));
    Task<void> queue_put_task = CreateTask(queue_put(&q, &started, &finished));
    co_await started.Wait();
    EXPECT_FALSE(finished);
    co_await queue_put_task;
    EXPECT_TRUE(finished);
    co_await later;
  }());
}

TEST(QueuePutTests, test_nonblocking_put) {
  Queue<int> q;
  EXPECT_TRUE(q.PutNowait(1).ok());
  EXPECT_EQ(*q.GetNowait(), 1);
}

TEST(QueuePutTests, test_get_cancel_drop_one_pending_reader) {
  RunAsync([]() -> Task<void> {
    Queue<int> q;
    Task<int> reader = CreateTask(q.Get());
    co_await Yield();
    EXPECT_TRUE(q.PutNowait(1).ok());
    EXPECT_TRUE(q.PutNowait(2).ok());
    reader.Cancel();
    int result = 0;
    bool cancelled = false;
    try {
      result = co_await reader;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    if (cancelled) {  // Try again.
      reader = CreateTask(q.Get());
      result = co_await reader;
    }
    // 2 would mean that 1 was dropped.
    EXPECT_EQ(result, 1);
  }());
}

TEST(QueuePutTests, test_get_cancel_drop_many_pending_readers) {
  RunAsync([]() -> Task<void> {
    Queue<int> q;
    Task<int> reader1 = CreateTask(q.Get());
    Task<int> reader2 = CreateTask(q.Get());
    Task<int> reader3 = CreateTask(q.Get());
    co_await Yield();
    EXPECT_TRUE(q.PutNowait(1).ok());
    EXPECT_TRUE(q.PutNowait(2).ok());
    reader1.Cancel();
    EXPECT_TRUE(co_await EndsCancelled(reader1));
    int r3 = co_await reader3;
    int r2 = co_await reader2;
    // The order in which concurrent readers get items is unspecified.
    EXPECT_EQ((std::set<int>{r2, r3}), (std::set<int>{1, 2}));
  }());
}

TEST(QueuePutTests, test_put_cancel_drop) {
  RunAsync([]() -> Task<void> {
    Queue<int> q(1);
    EXPECT_TRUE(q.PutNowait(1).ok());
    // A second put has to block.
    Task<void> writer = CreateTask(q.Put(2));
    co_await Yield();
    EXPECT_EQ(*q.GetNowait(), 1);
    writer.Cancel();
    if (co_await EndsCancelled(writer)) {  // Try again.
      writer = CreateTask(q.Put(2));
      co_await writer;
    }
    EXPECT_EQ(*q.GetNowait(), 2);
    EXPECT_EQ(q.size(), 0u);
  }());
}

TEST(QueuePutTests, test_nonblocking_put_exception) {
  Queue<int> q(1);
  EXPECT_TRUE(q.PutNowait(1).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(q.PutNowait(2)));  // QueueFull
}

TEST(QueuePutTests, test_put_cancelled) {
  RunAsync([]() -> Task<void> {
    Queue<int> q;
    auto queue_put = [](Queue<int>* q) -> Task<bool> {
      co_await q->Put(1);
      co_return true;
    };
    Task<bool> t = CreateTask(queue_put(&q));
    EXPECT_EQ(co_await q.Get(), 1);
    EXPECT_TRUE(t.done() && co_await t);
  }());
}

TEST(QueuePutTests, test_put_cancelled_race) {
  RunAsync([]() -> Task<void> {
    Queue<std::string> q(1);
    Task<void> put_a = CreateTask(q.Put("a"));
    Task<void> put_b = CreateTask(q.Put("b"));
    Task<void> put_c = CreateTask(q.Put("X"));
    co_await Yield();
    EXPECT_TRUE(put_a.done());
    EXPECT_FALSE(put_b.done());
    put_c.Cancel();
    co_await Yield();
    EXPECT_TRUE(put_c.done());
    EXPECT_EQ(*q.GetNowait(), "a");
    co_await Yield();
    EXPECT_EQ(*q.GetNowait(), "b");
    co_await put_b;
  }());
}

TEST(QueuePutTests, test_put_with_waiting_getters) {
  RunAsync([]() -> Task<void> {
    Queue<std::string> q;
    Task<std::string> t = CreateTask(q.Get());
    co_await Yield();
    co_await q.Put("a");
    EXPECT_EQ(co_await t, "a");
  }());
}

TEST(QueuePutTests, test_why_are_putters_waiting) {
  RunAsync([]() -> Task<void> {
    Queue<int> queue(2);
    auto putter = [](Queue<int>* queue, int item) -> Task<void> {
      co_await queue->Put(item);
    };
    auto getter = [](Queue<int>* queue) -> Task<void> {
      co_await Yield();
      size_t num = queue->size();
      for (size_t i = 0; i < num; ++i) EXPECT_TRUE(queue->GetNowait().ok());
    };
    std::vector<Task<void>> tasks;
    tasks.push_back(CreateTask(getter(&queue)));
    for (int i = 0; i < 4; ++i) tasks.push_back(CreateTask(putter(&queue, i)));
    co_await AwaitAll(tasks);
  }());
}

TEST(QueuePutTests, test_cancelled_puts_not_being_held_in_self_putters) {
  RunAsync([]() -> Task<void> {
    Queue<int> queue(1);
    EXPECT_TRUE(queue.PutNowait(1).ok());
    Task<void> put_task = CreateTask(queue.Put(1));
    co_await Yield();
    EXPECT_EQ(queue.waiting_putters(), 1u);
    put_task.Cancel();
    EXPECT_TRUE(co_await EndsCancelled(put_task));
    EXPECT_EQ(queue.waiting_putters(), 0u);
  }());
}

TEST(QueuePutTests, test_cancelled_put_silence_value_error_exception) {
  RunAsync([]() -> Task<void> {
    Queue<int> queue(1);
    EXPECT_TRUE(queue.PutNowait(1).ok());
    Task<void> put_task = CreateTask(queue.Put(1));
    co_await Yield();
    // Takes the putter off the queue's list and wakes it...
    EXPECT_TRUE(queue.GetNowait().ok());
    // ...and it is cancelled before it runs: CancelledError, nothing else.
    put_task.Cancel();
    EXPECT_TRUE(co_await EndsCancelled(put_task));
    EXPECT_TRUE(queue.empty());
  }());
}

// ------------------------------------------- LifoQueueTests, PriorityQueueTests

TEST(LifoQueueTests, test_order) {
  RunAsync([]() -> Task<void> {
    LifoQueue<int> q;
    for (int i : {1, 3, 2}) co_await q.Put(i);
    IntVector items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.Get());
    EXPECT_EQ(items, (IntVector{2, 3, 1}));
  }());
}

TEST(PriorityQueueTests, test_order) {
  RunAsync([]() -> Task<void> {
    PriorityQueue<int> q;
    for (int i : {1, 3, 2}) co_await q.Put(i);
    IntVector items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.Get());
    EXPECT_EQ(items, (IntVector{1, 2, 3}));
  }());
}

// ------------------------------------------------------- _QueueJoinTestMixin

template <typename Q>
void TaskDoneUnderflow() {
  Q q;
  EXPECT_THROW(q.TaskDone(), std::invalid_argument);
}

template <typename Q>
Task<void> TaskDone() {
  Q q;
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(q.PutNowait(i).ok());
  int accumulator = 0;
  bool running = true;
  // Two workers get items and call TaskDone() after each.
  auto worker = [](Q* q, int* accumulator, bool* running) -> Task<void> {
    while (*running) {
      int item = co_await q->Get();
      *accumulator += item;
      q->TaskDone();
    }
  };
  std::vector<Task<void>> tasks;
  for (int i = 0; i < 2; ++i) {
    tasks.push_back(CreateTask(worker(&q, &accumulator, &running)));
  }
  co_await q.Join();
  EXPECT_EQ(accumulator, 99 * 100 / 2);
  // Let the workers finish.
  running = false;
  for (size_t i = 0; i < tasks.size(); ++i) EXPECT_TRUE(q.PutNowait(0).ok());
  co_await AwaitAll(tasks);
}

template <typename Q>
Task<void> JoinEmptyQueue() {
  Q q;
  // Join() of an empty queue returns at once (twice, for insurance).
  co_await q.Join();
  co_await q.Join();
}

#define QUEUE_JOIN_TESTS(Suite, QueueType)                                 \
  TEST(Suite, test_task_done_underflow) { TaskDoneUnderflow<QueueType>(); } \
  TEST(Suite, test_task_done) { RunAsync(TaskDone<QueueType>()); }          \
  TEST(Suite, test_join_empty_queue) { RunAsync(JoinEmptyQueue<QueueType>()); }

QUEUE_JOIN_TESTS(QueueJoinTests, Queue<int>)
QUEUE_JOIN_TESTS(LifoQueueJoinTests, LifoQueue<int>)
QUEUE_JOIN_TESTS(PriorityQueueJoinTests, PriorityQueue<int>)

// --------------------------------------------------- _QueueShutdownTestMixin

// Put(), PutNowait(), Get() and GetNowait() all report the shutdown.
template <typename Q>
Task<void> ExpectShutDown(Q& q) {
  EXPECT_THROW(co_await q.Put("data"), QueueShutDown);
  EXPECT_TRUE(absl::IsFailedPrecondition(q.PutNowait("data")));
  EXPECT_THROW(co_await q.Get(), QueueShutDown);
  EXPECT_TRUE(absl::IsFailedPrecondition(q.GetNowait().status()));
}

template <typename Q>
Task<void> ShutdownEmpty() {
  Q q;
  Task<std::string> get_task = CreateTask(q.Get());
  co_await Yield();  // The getter waits before the shutdown.
  q.Shutdown(/*immediate=*/false);
  EXPECT_EQ(q.size(), 0u);
  co_await q.Join();
  co_await Yield();
  EXPECT_TRUE(get_task.done());
  EXPECT_THROW(co_await get_task, QueueShutDown);
  co_await ExpectShutDown(q);
}

template <typename Q>
Task<void> ShutdownNonempty() {
  Q q(1);
  EXPECT_TRUE(q.PutNowait("data").ok());
  Task<void> join_task = CreateTask(q.Join());
  Task<void> put_task = CreateTask(q.Put("data2"));
  co_await Yield();
  EXPECT_FALSE(put_task.done());
  q.Shutdown(/*immediate=*/false);  // Unfinished tasks: 1 -> 1.
  EXPECT_EQ(q.size(), 1u);
  co_await Yield();
  EXPECT_TRUE(put_task.done());
  EXPECT_THROW(co_await put_task, QueueShutDown);
  // The item left can still be taken.
  EXPECT_EQ(co_await q.Get(), "data");
  co_await Yield();
  EXPECT_FALSE(join_task.done());
  co_await ExpectShutDown(q);
  // One unfinished task: marking it done ends the join.
  q.TaskDone();
  co_await Yield();
  EXPECT_TRUE(join_task.done());
  co_await join_task;
  EXPECT_THROW(q.TaskDone(), std::invalid_argument);
}

template <typename Q>
Task<void> ShutdownImmediate() {
  Q q;
  EXPECT_TRUE(q.PutNowait("data").ok());
  Task<void> join_task = CreateTask(q.Join());
  q.Shutdown(/*immediate=*/true);  // Unfinished tasks: 1 -> 0.
  EXPECT_EQ(q.size(), 0u);
  co_await Yield();
  EXPECT_TRUE(join_task.done());
  co_await join_task;
  co_await ExpectShutDown(q);
  EXPECT_THROW(q.TaskDone(), std::invalid_argument);
}

template <typename Q>
Task<void> ShutdownImmediateWithUnfinished() {
  Q q;
  EXPECT_TRUE(q.PutNowait("data").ok());
  EXPECT_TRUE(q.PutNowait("data").ok());
  Task<void> join_task = CreateTask(q.Join());
  EXPECT_EQ(co_await q.Get(), "data");
  q.Shutdown(/*immediate=*/true);  // Unfinished tasks: 2 -> 1.
  EXPECT_EQ(q.size(), 0u);
  co_await Yield();
  EXPECT_FALSE(join_task.done());
  co_await ExpectShutDown(q);
  q.TaskDone();
  EXPECT_THROW(q.TaskDone(), std::invalid_argument);
  co_await Yield();
  EXPECT_TRUE(join_task.done());
  co_await join_task;
}

#define QUEUE_SHUTDOWN_TESTS(Suite, QueueType)                                \
  TEST(Suite, test_shutdown_empty) { RunAsync(ShutdownEmpty<QueueType>()); }   \
  TEST(Suite, test_shutdown_nonempty) {                                        \
    RunAsync(ShutdownNonempty<QueueType>());                                   \
  }                                                                            \
  TEST(Suite, test_shutdown_immediate) {                                       \
    RunAsync(ShutdownImmediate<QueueType>());                                  \
  }                                                                            \
  TEST(Suite, test_shutdown_immediate_with_unfinished) {                       \
    RunAsync(ShutdownImmediateWithUnfinished<QueueType>());                    \
  }

QUEUE_SHUTDOWN_TESTS(QueueShutdownTests, Queue<std::string>)
QUEUE_SHUTDOWN_TESTS(LifoQueueShutdownTests, LifoQueue<std::string>)
QUEUE_SHUTDOWN_TESTS(PriorityQueueShutdownTests, PriorityQueue<std::string>)

}  // namespace
}  // namespace asyncio_like
