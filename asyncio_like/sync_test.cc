#include "asyncio_like/sync.h"

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/queue.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

Task<void> WaitAndLog(Event* event, std::vector<int>* log, int id) {
  co_await event->Wait();
  log->push_back(id);
}

TEST(EventTest, SetWakesEveryWaiterInOrder) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<int> log;
  auto status = loop->RunUntilComplete([](std::vector<int>* log) -> Task<void> {
    Event event;
    std::vector<Task<void>> waiters;
    for (int i = 0; i < 3; ++i) waiters.push_back(CreateTask(WaitAndLog(&event, log, i)));
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_TRUE(log->empty());
    event.Set();
    co_await Gather(std::move(waiters));
    co_await event.Wait();  // Already set: no wait.
    event.Clear();
    EXPECT_FALSE(event.is_set());
  }(&log));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2}));
}

TEST(EventTest, CancelledWaiterLeavesTheQueue) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<int> log;
  auto status = loop->RunUntilComplete([](std::vector<int>* log) -> Task<void> {
    Event event;
    Task<void> a = CreateTask(WaitAndLog(&event, log, 1));
    Task<void> b = CreateTask(WaitAndLog(&event, log, 2));
    co_await Sleep(absl::Milliseconds(1));
    a.Cancel();
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_TRUE(a.cancelled());
    event.Set();
    co_await b;
  }(&log));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(log, (std::vector<int>{2}));
}

// Holds the lock across an await and checks nobody else is inside.
Task<void> Critical(Lock* lock, int* inside, std::vector<int>* order, int id) {
  co_await lock->Acquire();
  ++*inside;
  if (*inside != 1) throw std::logic_error("two tasks inside the lock");
  order->push_back(id);
  co_await Sleep(absl::Milliseconds(1));
  --*inside;
  lock->Release();
}

TEST(LockTest, MutualExclusionAndFifoHandOff) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<int> order;
  auto status = loop->RunUntilComplete([](std::vector<int>* order) -> Task<void> {
    Lock lock;
    int inside = 0;
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(Critical(&lock, &inside, order, i));
    co_await Gather(std::move(tasks));
    EXPECT_FALSE(lock.locked());
  }(&order));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(LockTest, WaiterCancelledAfterHandOffPassesTheLockOn) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<int> order;
  auto status = loop->RunUntilComplete([](std::vector<int>* order) -> Task<void> {
    Lock lock;
    int inside = 0;
    co_await lock.Acquire();
    Task<void> first = CreateTask(Critical(&lock, &inside, order, 1));
    Task<void> second = CreateTask(Critical(&lock, &inside, order, 2));
    co_await Sleep(absl::Milliseconds(1));  // Both wait now.
    lock.Release();                         // Handed to `first`...
    first.Cancel();                         // ...which is cancelled before it runs.
    co_await second;
    EXPECT_TRUE(first.cancelled());
    EXPECT_FALSE(lock.locked());
  }(&order));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(order, (std::vector<int>{2}));
}

TEST(LockTest, ReleasingAnUnlockedLockThrows) {
  Lock lock;
  EXPECT_THROW(lock.Release(), std::logic_error);
}

TEST(SemaphoreTest, LimitsConcurrency) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  int max_inside = 0;
  auto status = loop->RunUntilComplete([](int* max_inside) -> Task<void> {
    Semaphore slots(3);
    int inside = 0;
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 10; ++i) {
      tasks.push_back([](Semaphore* slots, int* inside, int* max_inside) -> Task<void> {
        co_await slots->Acquire();
        ++*inside;
        if (*inside > *max_inside) *max_inside = *inside;
        co_await Sleep(absl::Milliseconds(1));
        --*inside;
        slots->Release();
      }(&slots, &inside, max_inside));
    }
    co_await Gather(std::move(tasks));
    EXPECT_EQ(slots.value(), 3);
  }(&max_inside));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(max_inside, 3);
}

TEST(SemaphoreTest, WaiterCancelledAfterHandOffPassesTheSlotOn) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<int> order;
  auto status = loop->RunUntilComplete([](std::vector<int>* order) -> Task<void> {
    Semaphore slots(0);
    auto take = [](Semaphore* slots, std::vector<int>* order, int id) -> Task<void> {
      co_await slots->Acquire();
      order->push_back(id);
    };
    Task<void> first = CreateTask(take(&slots, order, 1));
    Task<void> second = CreateTask(take(&slots, order, 2));
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_TRUE(slots.locked());
    slots.Release();  // Handed to `first`...
    first.Cancel();   // ...which is cancelled before it runs.
    co_await second;
    EXPECT_TRUE(first.cancelled());
    EXPECT_EQ(slots.value(), 0);
    slots.Release();
    EXPECT_EQ(slots.value(), 1);
  }(&order));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(order, (std::vector<int>{2}));
}

TEST(QueueTest, BoundedPutWaitsAndGetIsFifo) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto status = loop->RunUntilComplete([](std::vector<std::string>* log) -> Task<void> {
    Queue<int> queue(2);
    Task<void> producer = CreateTask([](Queue<int>* queue, std::vector<std::string>* log) -> Task<void> {
      for (int i = 0; i < 5; ++i) {
        co_await queue->Put(i);
        log->push_back("put " + std::to_string(i));
      }
    }(&queue, log));
    co_await Sleep(absl::Milliseconds(1));
    // The producer stopped at the bound.
    EXPECT_EQ(queue.size(), 2u);
    EXPECT_TRUE(queue.full());
    for (int i = 0; i < 5; ++i) {
      int item = co_await queue.Get();
      log->push_back("got " + std::to_string(item));
    }
    co_await producer;
  }(&log));
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(log.size(), 10u);
  EXPECT_EQ(log[0], "put 0");
  EXPECT_EQ(log[1], "put 1");
  std::vector<std::string> gets;
  for (const std::string& entry : log) {
    if (entry.rfind("got", 0) == 0) gets.push_back(entry);
  }
  EXPECT_EQ(gets, (std::vector<std::string>{"got 0", "got 1", "got 2", "got 3", "got 4"}));
}

TEST(QueueTest, NowaitReportsFullAndEmpty) {
  Queue<std::unique_ptr<int>> queue(1);
  EXPECT_TRUE(absl::IsUnavailable(queue.GetNowait().status()));
  EXPECT_TRUE(queue.PutNowait(std::make_unique<int>(1)).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(queue.PutNowait(std::make_unique<int>(2))));
  absl::StatusOr<std::unique_ptr<int>> item = queue.GetNowait();
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(**item, 1);
}

TEST(QueueTest, JoinWaitsForTaskDone) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<int> processed;
  auto status = loop->RunUntilComplete([](std::vector<int>* processed) -> Task<void> {
    Queue<int> queue;
    for (int i = 0; i < 3; ++i) co_await queue.Put(i);
    Task<void> worker = CreateTask([](Queue<int>* queue, std::vector<int>* processed) -> Task<void> {
      while (true) {
        int item = co_await queue->Get();
        co_await Sleep(absl::Milliseconds(1));
        processed->push_back(item);
        queue->TaskDone();
      }
    }(&queue, processed));
    co_await queue.Join();
    EXPECT_EQ(processed->size(), 3u);
    worker.Cancel();
    try {
      co_await worker;
    } catch (const CancelledError&) {
    }
    EXPECT_THROW(queue.TaskDone(), std::logic_error);
  }(&processed));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(processed, (std::vector<int>{0, 1, 2}));
}

TEST(QueueTest, GetterCancelledAfterWakeupPassesTheItemOn) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<int> {
    Queue<int> queue;
    Task<int> first = CreateTask(queue.Get());
    Task<int> second = CreateTask(queue.Get());
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_TRUE(queue.PutNowait(42).ok());  // Wakes `first`...
    first.Cancel();                         // ...cancelled before it runs.
    int value = co_await second;
    EXPECT_TRUE(first.cancelled());
    co_return value;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 42);
}

// `async with`: the guard releases on the way out, however the body ends.
TEST(LockGuardTest, ReleasesOnExceptionAndCancellation) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto status = loop->RunUntilComplete([]() -> Task<void> {
    Lock lock;
    auto throws = [](Lock* lock) -> Task<void> {
      auto held = co_await ScopedLock(*lock);
      throw std::runtime_error("body failed");
    };
    EXPECT_THROW(co_await throws(&lock), std::runtime_error);
    EXPECT_FALSE(lock.locked());

    auto sleeps = [](Lock* lock) -> Task<void> {
      auto held = co_await ScopedLock(*lock);
      co_await Sleep(absl::Hours(1));
    };
    Task<void> holder = CreateTask(sleeps(&lock));
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_TRUE(lock.locked());
    Task<void> next = CreateTask(lock.Acquire());
    co_await Sleep(absl::Milliseconds(1));
    holder.Cancel();
    try {
      co_await holder;
    } catch (const CancelledError&) {
    }
    co_await next;  // The cancelled holder's guard let the lock go.
    EXPECT_TRUE(lock.locked());
    lock.Release();
  }());
  ASSERT_TRUE(status.ok()) << status;
}

TEST(LockGuardTest, MovesAndUnlocksEarly) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto status = loop->RunUntilComplete([]() -> Task<void> {
    BoundedSemaphore slots(2);
    LockGuard<BoundedSemaphore> a = co_await ScopedLock(slots);
    LockGuard<BoundedSemaphore> b = std::move(a);
    EXPECT_FALSE(a.owns_lock());
    EXPECT_TRUE(b.owns_lock());
    EXPECT_EQ(slots.value(), 1);
    b.Unlock();
    EXPECT_FALSE(b.owns_lock());
    EXPECT_EQ(slots.value(), 2);  // Released once, not twice.
  }());
  ASSERT_TRUE(status.ok()) << status;
}

TEST(ConditionTest, GuardStaysValidWhenWaitIsCancelled) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto status = loop->RunUntilComplete([]() -> Task<void> {
    Condition cond;
    auto waits = [](Condition* cond) -> Task<void> {
      auto held = co_await ScopedLock(*cond);
      co_await cond->Wait();
    };
    Task<void> waiter = CreateTask(waits(&cond));
    co_await Sleep(absl::Milliseconds(1));
    co_await cond.Acquire();  // Contend: the waiter must wait for the lock.
    waiter.Cancel();
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_FALSE(waiter.done());  // Still re-acquiring.
    cond.Release();
    try {
      co_await waiter;
    } catch (const CancelledError&) {
    }
    EXPECT_TRUE(waiter.cancelled());
    EXPECT_FALSE(cond.locked());  // Re-acquired, then released by the guard.
  }());
  ASSERT_TRUE(status.ok()) << status;
}

TEST(BadInputTest, ErrorsSayWhatWentWrong) {
  Lock lock;
  try {
    lock.Release();
    ADD_FAILURE() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "Lock is not acquired");
  }
  BoundedSemaphore bounded(1);
  try {
    bounded.Release();
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "BoundedSemaphore released too many times");
  }
  EXPECT_EQ(bounded.value(), 1);
  try {
    Semaphore negative(-1);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "Semaphore initial value must be >= 0");
  }
  try {
    Barrier none(0);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "parties must be > 0");
  }
  Condition cond;
  EXPECT_THROW(cond.Notify(), std::logic_error);
}

TEST(BarrierTest, AbortBreaksEveryWaiter) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto status = loop->RunUntilComplete([]() -> Task<void> {
    Barrier barrier(4);
    std::vector<Task<size_t>> waiters;
    for (int i = 0; i < 3; ++i) waiters.push_back(CreateTask(barrier.Wait()));
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_EQ(barrier.n_waiting(), 3);
    co_await barrier.Abort();
    for (Task<size_t>& waiter : waiters) {
      EXPECT_THROW(co_await waiter, BrokenBarrierError);
    }
    EXPECT_TRUE(barrier.broken());
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_THROW(co_await barrier.Wait(), BrokenBarrierError);
    co_await barrier.Reset();
    EXPECT_FALSE(barrier.broken());
  }());
  ASSERT_TRUE(status.ok()) << status;
}

TEST(QueueTest, ShutdownWakesEveryBlockedGetterAndPutter) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto status = loop->RunUntilComplete([]() -> Task<void> {
    Queue<std::unique_ptr<int>> empty;
    std::vector<Task<std::unique_ptr<int>>> getters;
    for (int i = 0; i < 3; ++i) getters.push_back(CreateTask(empty.Get()));
    Queue<std::unique_ptr<int>> full(1);
    EXPECT_TRUE(full.PutNowait(std::make_unique<int>(1)).ok());
    Task<void> putter = CreateTask(full.Put(std::make_unique<int>(2)));
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_EQ(empty.waiting_getters(), 3u);
    EXPECT_EQ(full.waiting_putters(), 1u);
    empty.Shutdown();
    full.Shutdown(/*immediate=*/true);
    for (auto& getter : getters) EXPECT_THROW(co_await getter, QueueShutDown);
    EXPECT_THROW(co_await putter, QueueShutDown);
    EXPECT_EQ(full.size(), 0u);  // Discarded (and freed: LSan checks).
    EXPECT_EQ(full.unfinished_tasks(), 0u);
  }());
  ASSERT_TRUE(status.ok()) << status;
}

TEST(QueueTest, PriorityQueueTakesACustomOrder) {
  PriorityQueue<int, std::greater<int>> largest_first;
  for (int i : {2, 5, 1, 4}) ASSERT_TRUE(largest_first.PutNowait(i).ok());
  std::vector<int> out;
  while (!largest_first.empty()) out.push_back(*largest_first.GetNowait());
  EXPECT_EQ(out, (std::vector<int>{5, 4, 2, 1}));
}

TEST(EventTest, LoopShutdownWithWaitersOfAnEventInAnotherFrame) {
  Event* shared = nullptr;
  {
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
    // The waiter is created first, so shutdown frees the event's frame
    // (the newer task) before the waiter's frame.
    loop->CreateTask([](Event** shared) -> Task<void> {
      while (*shared == nullptr) co_await Sleep(absl::ZeroDuration());
      co_await (*shared)->Wait();
    }(&shared));
    loop->CreateTask([](Event** shared) -> Task<void> {
      Event event;
      *shared = &event;
      co_await Sleep(absl::Hours(1));
    }(&shared));
    ASSERT_TRUE(loop->RunUntilComplete([]() -> Task<void> {
      co_await Sleep(absl::Milliseconds(1));
    }()).ok());
    EXPECT_EQ(loop->pending_tasks(), 2u);
  }
  // Both frames were freed; under ASan, touching the freed event fails here.
}

}  // namespace
}  // namespace asyncio_like
