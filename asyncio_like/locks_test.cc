// CPython 3.13's Lib/test/test_asyncio/test_locks.py, ported: each test is
// named after the original and asserts the same outcome. See
// CONFORMANCE.md for the tests that are not ported and why.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/sync_test_util.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timeout.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

using IntVector = std::vector<int>;

// ---------------------------------------------------------------- LockTests

Task<bool> AcquireAndLog(Lock* lock, IntVector* result, int id) {
  co_await lock->Acquire();
  result->push_back(id);
  co_return true;
}

TEST(LockTests, test_acquire) {
  RunAsync([]() -> Task<void> {
    Lock lock;
    IntVector result;
    co_await lock.Acquire();
    Task<bool> t1 = CreateTask(AcquireAndLog(&lock, &result, 1));
    Task<bool> t2 = CreateTask(AcquireAndLog(&lock, &result, 2));
    co_await Yield();
    EXPECT_EQ(result, IntVector{});
    lock.Release();
    co_await Yield();
    EXPECT_EQ(result, IntVector{1});
    co_await Yield();
    EXPECT_EQ(result, IntVector{1});
    Task<bool> t3 = CreateTask(AcquireAndLog(&lock, &result, 3));
    lock.Release();
    co_await Yield();
    EXPECT_EQ(result, (IntVector{1, 2}));
    lock.Release();
    co_await Yield();
    EXPECT_EQ(result, (IntVector{1, 2, 3}));
    EXPECT_TRUE(t1.done() && co_await t1);
    EXPECT_TRUE(t2.done() && co_await t2);
    EXPECT_TRUE(t3.done() && co_await t3);
  }());
}

TEST(LockTests, test_acquire_cancel) {
  RunAsync([]() -> Task<void> {
    Lock lock;
    co_await lock.Acquire();
    Task<void> task = CreateTask(lock.Acquire());
    EventLoop::Current()->CallSoon([&task] { task.Cancel(); });
    EXPECT_TRUE(co_await EndsCancelled(task));
    EXPECT_EQ(lock.waiters(), 0u);
  }());
}

// Acquires, waits for `blocker` (if any), releases.
Task<void> LockIt(Lock* lock, Event* blocker) {
  co_await lock->Acquire();
  try {
    if (blocker != nullptr) co_await blocker->Wait();
  } catch (...) {
    lock->Release();
    throw;
  }
  lock->Release();
}

TEST(LockTests, test_cancel_race) {
  RunAsync([]() -> Task<void> {
    Lock lock;
    Event fa;
    Task<void> ta = CreateTask(LockIt(&lock, &fa));
    co_await Yield();
    EXPECT_TRUE(lock.locked());
    Task<void> tb = CreateTask(LockIt(&lock, nullptr));
    co_await Yield();
    EXPECT_EQ(lock.waiters(), 1u);
    Task<void> tc = CreateTask(LockIt(&lock, nullptr));
    co_await Yield();
    EXPECT_EQ(lock.waiters(), 2u);
    // A finishes (and will release) while B is cancelled.
    fa.Set();
    tb.Cancel();
    co_await Yield();
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(ta.done());
    EXPECT_TRUE(tb.cancelled());
    co_await tc;
  }());
}

TEST(LockTests, test_cancel_release_race) {
  RunAsync([]() -> Task<void> {
    Lock lock;
    int lock_count = 0;
    int call_count = 0;
    auto lockit = [](Lock* lock, int* lock_count, int* call_count) -> Task<void> {
      ++*call_count;
      co_await lock->Acquire();
      ++*lock_count;
    };
    co_await lock.Acquire();
    Task<void> t1 = CreateTask(lockit(&lock, &lock_count, &call_count));
    Task<void> t2 = CreateTask(lockit(&lock, &lock_count, &call_count));
    Task<void> t3 = CreateTask(lockit(&lock, &lock_count, &call_count));
    co_await Yield();
    EventLoop::Current()->CallSoon([&] {
      t1.Cancel();
      lock.Release();
    });
    EXPECT_TRUE(co_await EndsCancelled(t1));
    EXPECT_EQ(lock_count, 1);  // Only one task took the lock.
    EXPECT_EQ(call_count, 3);
    EXPECT_TRUE(t1.cancelled() && t2.done());
    t3.Cancel();
    co_await Yield();
    EXPECT_TRUE(t3.cancelled());
  }());
}

TEST(LockTests, test_finished_waiter_cancelled) {
  RunAsync([]() -> Task<void> {
    Lock lock;
    co_await lock.Acquire();
    EXPECT_TRUE(lock.locked());
    Task<void> tb = CreateTask(lock.Acquire());
    co_await Yield();
    EXPECT_EQ(lock.waiters(), 1u);
    // A second waiter arrives; the first is woken and cancelled.
    Task<void> tc = CreateTask(lock.Acquire());
    tb.Cancel();
    lock.Release();
    co_await Yield();
    EXPECT_TRUE(lock.locked());
    EXPECT_TRUE(tb.cancelled());
    co_await tc;
  }());
}

TEST(LockTests, test_release_not_acquired) {
  Lock lock;
  EXPECT_THROW(lock.Release(), std::logic_error);
}

TEST(LockTests, test_release_no_waiters) {
  RunAsync([]() -> Task<void> {
    Lock lock;
    co_await lock.Acquire();
    EXPECT_TRUE(lock.locked());
    lock.Release();
    EXPECT_FALSE(lock.locked());
  }());
}

TEST(LockTests, test_context_manager) {
  RunAsync([]() -> Task<void> {
    Lock lock;
    EXPECT_FALSE(lock.locked());
    {
      LockGuard<Lock> held = co_await ScopedLock(lock);
      EXPECT_TRUE(lock.locked());
    }
    EXPECT_FALSE(lock.locked());
  }());
}

// --------------------------------------------------------------- EventTests

Task<void> WaitEventAndLog(Event* event, IntVector* result, int id) {
  co_await event->Wait();
  result->push_back(id);
}

TEST(EventTests, test_wait) {
  RunAsync([]() -> Task<void> {
    Event ev;
    EXPECT_FALSE(ev.is_set());
    IntVector result;
    Task<void> t1 = CreateTask(WaitEventAndLog(&ev, &result, 1));
    Task<void> t2 = CreateTask(WaitEventAndLog(&ev, &result, 2));
    co_await Yield();
    EXPECT_EQ(result, IntVector{});
    Task<void> t3 = CreateTask(WaitEventAndLog(&ev, &result, 3));
    ev.Set();
    co_await Yield();
    EXPECT_EQ(result, (IntVector{3, 1, 2}));
    EXPECT_TRUE(t1.done());
    EXPECT_TRUE(t2.done());
    EXPECT_TRUE(t3.done());
  }());
}

TEST(EventTests, test_wait_on_set) {
  RunAsync([]() -> Task<void> {
    Event ev;
    ev.Set();
    co_await ev.Wait();
    EXPECT_TRUE(ev.is_set());
  }());
}

TEST(EventTests, test_wait_cancel) {
  RunAsync([]() -> Task<void> {
    Event ev;
    Task<void> wait = CreateTask(ev.Wait());
    EventLoop::Current()->CallSoon([&wait] { wait.Cancel(); });
    EXPECT_TRUE(co_await EndsCancelled(wait));
    EXPECT_EQ(ev.waiters(), 0u);
  }());
}

TEST(EventTests, test_clear) {
  Event ev;
  EXPECT_FALSE(ev.is_set());
  ev.Set();
  EXPECT_TRUE(ev.is_set());
  ev.Clear();
  EXPECT_FALSE(ev.is_set());
}

TEST(EventTests, test_clear_with_waiters) {
  RunAsync([]() -> Task<void> {
    Event ev;
    IntVector result;
    Task<void> t = CreateTask(WaitEventAndLog(&ev, &result, 1));
    co_await Yield();
    EXPECT_EQ(result, IntVector{});
    ev.Set();
    ev.Clear();
    EXPECT_FALSE(ev.is_set());
    ev.Set();
    ev.Set();
    EXPECT_EQ(ev.waiters(), 1u);
    co_await Yield();
    EXPECT_EQ(result, IntVector{1});
    EXPECT_EQ(ev.waiters(), 0u);
    EXPECT_TRUE(t.done());
  }());
}

// ----------------------------------------------------------- ConditionTests

// Acquires, waits once, logs; keeps the lock.
Task<bool> ConditionWaitAndLog(Condition* cond, IntVector* result, int id) {
  co_await cond->Acquire();
  co_await cond->Wait();
  result->push_back(id);
  co_return true;
}

// Acquires, waits once, logs and releases.
Task<bool> ConditionWaitLogRelease(Condition* cond, IntVector* result, int id) {
  co_await cond->Acquire();
  co_await cond->Wait();
  result->push_back(id);
  cond->Release();
  co_return true;
}

TEST(ConditionTests, test_wait) {
  RunAsync([]() -> Task<void> {
    Condition cond;
    IntVector result;
    Task<bool> t1 = CreateTask(ConditionWaitAndLog(&cond, &result, 1));
    Task<bool> t2 = CreateTask(ConditionWaitAndLog(&cond, &result, 2));
    Task<bool> t3 = CreateTask(ConditionWaitAndLog(&cond, &result, 3));
    co_await Yield();
    EXPECT_EQ(result, IntVector{});
    EXPECT_FALSE(cond.locked());
    co_await cond.Acquire();
    cond.Notify();
    co_await Yield();
    EXPECT_EQ(result, IntVector{});
    EXPECT_TRUE(cond.locked());
    cond.Release();
    co_await Yield();
    EXPECT_EQ(result, IntVector{1});
    EXPECT_TRUE(cond.locked());
    cond.Notify(2);
    co_await Yield();
    EXPECT_EQ(result, IntVector{1});
    EXPECT_TRUE(cond.locked());
    cond.Release();
    co_await Yield();
    EXPECT_EQ(result, (IntVector{1, 2}));
    EXPECT_TRUE(cond.locked());
    cond.Release();
    co_await Yield();
    EXPECT_EQ(result, (IntVector{1, 2, 3}));
    EXPECT_TRUE(cond.locked());
    EXPECT_TRUE(t1.done() && co_await t1);
    EXPECT_TRUE(t2.done() && co_await t2);
    EXPECT_TRUE(t3.done() && co_await t3);
  }());
}

TEST(ConditionTests, test_wait_cancel) {
  RunAsync([]() -> Task<void> {
    Condition cond;
    co_await cond.Acquire();
    Task<void> wait = CreateTask(cond.Wait());
    EventLoop::Current()->CallSoon([&wait] { wait.Cancel(); });
    EXPECT_TRUE(co_await EndsCancelled(wait));
    EXPECT_EQ(cond.waiters(), 0u);
    EXPECT_TRUE(cond.locked());
  }());
}

TEST(ConditionTests, test_wait_cancel_contested) {
  RunAsync([]() -> Task<void> {
    Condition cond;
    co_await cond.Acquire();
    EXPECT_TRUE(cond.locked());
    Task<void> wait_task = CreateTask(cond.Wait());
    co_await Yield();
    EXPECT_FALSE(cond.locked());
    // Notify, but contest the lock before cancelling.
    co_await cond.Acquire();
    EXPECT_TRUE(cond.locked());
    cond.Notify();
    EventLoop::Current()->CallSoon([&wait_task] { wait_task.Cancel(); });
    EventLoop::Current()->CallSoon([&cond] { cond.Release(); });
    co_await EndsCancelled(wait_task);
    // The waiter holds the lock again, cancelled or not.
    EXPECT_TRUE(cond.locked());
  }());
}

TEST(ConditionTests, test_wait_cancel_after_notify) {
  RunAsync([]() -> Task<void> {
    bool waited = false;
    Condition cond;
    auto wait_on_cond = [](Condition* cond, bool* waited) -> Task<void> {
      LockGuard<Condition> held = co_await ScopedLock(*cond);
      *waited = true;
      co_await cond->Wait();
    };
    Task<void> waiter = CreateTask(wait_on_cond(&cond, &waited));
    co_await Yield();  // Start waiting.
    co_await cond.Acquire();
    cond.Notify();
    co_await Yield();  // Get to Acquire().
    waiter.Cancel();
    co_await Yield();  // Activate the cancellation.
    cond.Release();
    co_await Yield();  // The cancellation comes out.
    EXPECT_TRUE(waiter.cancelled());
    EXPECT_TRUE(waited);
    EXPECT_FALSE(cond.locked());
  }());
}

TEST(ConditionTests, test_wait_unacquired) {
  RunAsync([]() -> Task<void> {
    Condition cond;
    EXPECT_THROW(co_await cond.Wait(), std::logic_error);
  }());
}

TEST(ConditionTests, test_wait_for) {
  RunAsync([]() -> Task<void> {
    Condition cond;
    bool presult = false;
    IntVector result;
    auto c1 = [](Condition* cond, bool* presult, IntVector* result) -> Task<bool> {
      co_await cond->Acquire();
      if (co_await cond->WaitFor([presult] { return *presult; })) {
        result->push_back(1);
        cond->Release();
      }
      co_return true;
    };
    Task<bool> t = CreateTask(c1(&cond, &presult, &result));
    co_await Yield();
    EXPECT_EQ(result, IntVector{});
    co_await cond.Acquire();
    cond.Notify();
    cond.Release();
    co_await Yield();
    EXPECT_EQ(result, IntVector{});
    presult = true;
    co_await cond.Acquire();
    cond.Notify();
    cond.Release();
    co_await Yield();
    EXPECT_EQ(result, IntVector{1});
    EXPECT_TRUE(t.done() && co_await t);
  }());
}

TEST(ConditionTests, test_wait_for_unacquired) {
  RunAsync([]() -> Task<void> {
    Condition cond;
    // A predicate that holds at once needs no lock.
    EXPECT_TRUE(co_await cond.WaitFor([] { return true; }));
    EXPECT_THROW(co_await cond.WaitFor([] { return false; }), std::logic_error);
  }());
}

TEST(ConditionTests, test_notify) {
  RunAsync([]() -> Task<void> {
    Condition cond;
    IntVector result;
    Task<bool> t1 = CreateTask(ConditionWaitLogRelease(&cond, &result, 1));
    Task<bool> t2 = CreateTask(ConditionWaitLogRelease(&cond, &result, 2));
    Task<bool> t3 = CreateTask(ConditionWaitLogRelease(&cond, &result, 3));
    co_await Yield();
    EXPECT_EQ(result, IntVector{});
    co_await cond.Acquire();
    cond.Notify(1);
    cond.Release();
    co_await Yield();
    EXPECT_EQ(result, IntVector{1});
    co_await cond.Acquire();
    cond.Notify(1);
    cond.Notify(2048);
    cond.Release();
    co_await Yield();
    EXPECT_EQ(result, (IntVector{1, 2, 3}));
    EXPECT_TRUE(t1.done() && co_await t1);
    EXPECT_TRUE(t2.done() && co_await t2);
    EXPECT_TRUE(t3.done() && co_await t3);
  }());
}

TEST(ConditionTests, test_notify_all) {
  RunAsync([]() -> Task<void> {
    Condition cond;
    IntVector result;
    Task<bool> t1 = CreateTask(ConditionWaitLogRelease(&cond, &result, 1));
    Task<bool> t2 = CreateTask(ConditionWaitLogRelease(&cond, &result, 2));
    co_await Yield();
    EXPECT_EQ(result, IntVector{});
    co_await cond.Acquire();
    cond.NotifyAll();
    cond.Release();
    co_await Yield();
    EXPECT_EQ(result, (IntVector{1, 2}));
    EXPECT_TRUE(t1.done() && co_await t1);
    EXPECT_TRUE(t2.done() && co_await t2);
  }());
}

TEST(ConditionTests, test_notify_unacquired) {
  Condition cond;
  EXPECT_THROW(cond.Notify(), std::logic_error);
}

TEST(ConditionTests, test_notify_all_unacquired) {
  Condition cond;
  EXPECT_THROW(cond.NotifyAll(), std::logic_error);
}

TEST(ConditionTests, test_context_manager) {
  RunAsync([]() -> Task<void> {
    Condition cond;
    EXPECT_FALSE(cond.locked());
    {
      auto held = co_await ScopedLock(cond);
      EXPECT_TRUE(cond.locked());
    }
    EXPECT_FALSE(cond.locked());
  }());
}

Task<void> CheckExplicitLock(Lock* lock, Condition* cond) {
  EXPECT_EQ(&cond->lock(), lock);
  EXPECT_FALSE(lock->locked());
  EXPECT_FALSE(cond->locked());
  {
    auto held = co_await ScopedLock(*cond);
    EXPECT_TRUE(lock->locked());
    EXPECT_TRUE(cond->locked());
  }
  EXPECT_FALSE(lock->locked());
  EXPECT_FALSE(cond->locked());
  {
    auto held = co_await ScopedLock(*lock);
    EXPECT_TRUE(lock->locked());
    EXPECT_TRUE(cond->locked());
  }
  EXPECT_FALSE(lock->locked());
  EXPECT_FALSE(cond->locked());
}

TEST(ConditionTests, test_explicit_lock) {
  RunAsync([]() -> Task<void> {
    Condition own;
    co_await CheckExplicitLock(&own.lock(), &own);
    Lock lock;
    Condition shared(&lock);
    co_await CheckExplicitLock(&lock, &shared);
  }());
}

TEST(ConditionTests, test_timeout_in_block) {
  RunAsync([]() -> Task<void> {
    Condition condition;
    auto held = co_await ScopedLock(condition);
    EXPECT_THROW(co_await WaitFor(condition.Wait(), absl::Milliseconds(20)),
                 TimeoutError);
    EXPECT_TRUE(condition.locked());  // Re-acquired on the way out.
  }());
}

// Waits for `*wake` under the condition, records the CancelledError it gets
// and lets that same exception out.
Task<void> WaitForWakeRecordingCancel(Condition* cond, bool* wake,
                                      const void** raised) {
  auto held = co_await ScopedLock(*cond);
  try {
    co_await cond->WaitFor([wake] { return *wake; });
    ADD_FAILURE() << "WaitFor returned instead of raising CancelledError";
  } catch (const CancelledError& e) {
    *raised = &e;
    throw;
  }
}

TEST(ConditionTests, test_cancelled_error_wakeup) {
  RunAsync([]() -> Task<void> {
    bool wake = false;
    const void* raised = nullptr;
    Condition cond;
    Task<void> task = CreateTask(WaitForWakeRecordingCancel(&cond, &wake, &raised));
    co_await Yield();
    task.Cancel();  // While it waits on the condition.
    const void* seen = nullptr;
    try {
      co_await task;
    } catch (const CancelledError& e) {
      seen = &e;
    }
    EXPECT_NE(seen, nullptr);
    EXPECT_EQ(seen, raised);  // The same exception object, unmodified.
    EXPECT_FALSE(cond.locked());
  }());
}

TEST(ConditionTests, test_cancelled_error_re_aquire) {
  RunAsync([]() -> Task<void> {
    bool wake = false;
    const void* raised = nullptr;
    Condition cond;
    Task<void> task = CreateTask(WaitForWakeRecordingCancel(&cond, &wake, &raised));
    co_await Yield();
    co_await cond.Acquire();
    wake = true;
    cond.Notify();
    co_await Yield();
    task.Cancel();  // While it re-acquires the lock.
    cond.Release();
    const void* seen = nullptr;
    try {
      co_await task;
    } catch (const CancelledError& e) {
      seen = &e;
    }
    EXPECT_NE(seen, nullptr);
    EXPECT_EQ(seen, raised);
    EXPECT_FALSE(cond.locked());
  }());
}

// Consumes `*state` units under the condition until it turns negative.
Task<void> ConditionConsumer(Condition* condition, int* state) {
  auto held = co_await ScopedLock(*condition);
  while (true) {
    co_await condition->WaitFor([state] { return *state != 0; });
    if (*state < 0) co_return;
    --*state;
  }
}

// test_cancelled_wakeup and test_cancelled_wakeup_relock; `relock`
// cancels the notified consumer while it re-acquires the lock.
Task<void> CancelledWakeupIsNotLost(bool relock) {
  Condition condition;
  int state = 0;
  Task<void> c0 = CreateTask(ConditionConsumer(&condition, &state));
  Task<void> c1 = CreateTask(ConditionConsumer(&condition, &state));
  co_await Yield();
  {
    auto held = co_await ScopedLock(condition);
    ++state;
    condition.Notify(1);
    if (relock) co_await Yield();
    c0.Cancel();
    // The other consumer takes the item, without notifying anyone: as in
    // CPython, the wait ends at the deadline.
    try {
      Timeout bound(absl::Milliseconds(50));
      co_await bound.Run(condition.WaitFor([&state] { return state == 0; }));
    } catch (const TimeoutError&) {
    }
    EXPECT_EQ(state, 0);
    state = -1;
    condition.NotifyAll();
  }
  co_await c1;
  EXPECT_TRUE(co_await EndsCancelled(c0));
}

TEST(ConditionTests, test_cancelled_wakeup) {
  RunAsync(CancelledWakeupIsNotLost(/*relock=*/false));
}

TEST(ConditionTests, test_cancelled_wakeup_relock) {
  RunAsync(CancelledWakeupIsNotLost(/*relock=*/true));
}

// ----------------------------------------------------------- SemaphoreTests

TEST(SemaphoreTests, test_initial_value_zero) {
  Semaphore sem(0);
  EXPECT_TRUE(sem.locked());
}

TEST(SemaphoreTests, test_semaphore) {
  Semaphore sem;
  EXPECT_EQ(sem.value(), 1);
  EXPECT_FALSE(sem.locked());
}

TEST(SemaphoreTests, test_semaphore_value) {
  EXPECT_THROW(Semaphore(-1), std::invalid_argument);
}

Task<bool> SemaphoreAcquireAndLog(Semaphore* sem, IntVector* result, int id) {
  co_await sem->Acquire();
  result->push_back(id);
  co_return true;
}

TEST(SemaphoreTests, test_acquire) {
  RunAsync([]() -> Task<void> {
    Semaphore sem(3);
    IntVector result;
    co_await sem.Acquire();
    co_await sem.Acquire();
    EXPECT_FALSE(sem.locked());
    Task<bool> t1 = CreateTask(SemaphoreAcquireAndLog(&sem, &result, 1));
    Task<bool> t2 = CreateTask(SemaphoreAcquireAndLog(&sem, &result, 2));
    Task<bool> t3 = CreateTask(SemaphoreAcquireAndLog(&sem, &result, 3));
    co_await Yield();
    EXPECT_EQ(result, IntVector{1});
    EXPECT_TRUE(sem.locked());
    EXPECT_EQ(sem.waiters(), 2u);
    EXPECT_EQ(sem.value(), 0);
    Task<bool> t4 = CreateTask(SemaphoreAcquireAndLog(&sem, &result, 4));
    sem.Release();
    sem.Release();
    EXPECT_EQ(sem.value(), 0);
    co_await Yield();
    EXPECT_EQ(sem.value(), 0);
    EXPECT_EQ(result.size(), 3u);
    EXPECT_TRUE(sem.locked());
    EXPECT_EQ(sem.waiters(), 1u);
    EXPECT_EQ(sem.value(), 0);
    EXPECT_TRUE(t1.done() && co_await t1);
    int done = t2.done() + t3.done() + t4.done();
    EXPECT_EQ(done, 2);
    sem.Release();
    std::vector<Task<bool>> race_tasks;
    race_tasks.push_back(std::move(t2));
    race_tasks.push_back(std::move(t3));
    race_tasks.push_back(std::move(t4));
    co_await AwaitAll(race_tasks);
  }());
}

TEST(SemaphoreTests, test_acquire_cancel) {
  RunAsync([]() -> Task<void> {
    Semaphore sem;
    co_await sem.Acquire();
    Task<void> acquire = CreateTask(sem.Acquire());
    EventLoop::Current()->CallSoon([&acquire] { acquire.Cancel(); });
    EXPECT_TRUE(co_await EndsCancelled(acquire));
    EXPECT_EQ(sem.waiters(), 0u);
  }());
}

TEST(SemaphoreTests, test_acquire_cancel_before_awoken) {
  RunAsync([]() -> Task<void> {
    Semaphore sem(0);
    Task<void> t1 = CreateTask(sem.Acquire());
    Task<void> t2 = CreateTask(sem.Acquire());
    Task<void> t3 = CreateTask(sem.Acquire());
    Task<void> t4 = CreateTask(sem.Acquire());
    co_await Yield();
    t1.Cancel();
    t2.Cancel();
    sem.Release();
    co_await Yield();
    co_await Yield();
    EXPECT_EQ(t3.done() + t4.done(), 1);
    EXPECT_TRUE(t3.done());
    EXPECT_FALSE(t4.done());
    t3.Cancel();
    t4.Cancel();
    co_await Yield();
    EXPECT_TRUE(t4.cancelled());
  }());
}

TEST(SemaphoreTests, test_acquire_hang) {
  RunAsync([]() -> Task<void> {
    Semaphore sem(0);
    Task<void> t1 = CreateTask(sem.Acquire());
    Task<void> t2 = CreateTask(sem.Acquire());
    co_await Yield();
    t1.Cancel();
    sem.Release();
    co_await Yield();
    co_await Yield();
    EXPECT_TRUE(sem.locked());
    EXPECT_TRUE(t2.done());
  }());
}

TEST(SemaphoreTests, test_acquire_no_hang) {
  RunAsync([]() -> Task<void> {
    Semaphore sem(1);
    Task<void> t2;
    auto c1 = [](Semaphore* sem, Task<void>* t2) -> Task<void> {
      {
        auto slot = co_await ScopedLock(*sem);
        co_await Yield();
      }
      t2->Cancel();
    };
    auto c2 = [](Semaphore* sem) -> Task<void> {
      auto slot = co_await ScopedLock(*sem);
      ADD_FAILURE() << "c2 got the slot";
    };
    Task<void> t1 = CreateTask(c1(&sem, &t2));
    t2 = CreateTask(c2(&sem));
    co_await t1;
    EXPECT_TRUE(co_await EndsCancelled(t2));
    co_await WaitFor(sem.Acquire(), absl::Seconds(1));
  }());
}

TEST(SemaphoreTests, test_release_not_acquired) {
  BoundedSemaphore sem;
  EXPECT_THROW(sem.Release(), std::invalid_argument);
}

TEST(SemaphoreTests, test_release_no_waiters) {
  RunAsync([]() -> Task<void> {
    Semaphore sem;
    co_await sem.Acquire();
    EXPECT_TRUE(sem.locked());
    sem.Release();
    EXPECT_FALSE(sem.locked());
  }());
}

TEST(SemaphoreTests, test_acquire_fifo_order) {
  RunAsync([]() -> Task<void> {
    Semaphore sem(1);
    std::vector<std::string> result;
    auto coro = [](Semaphore* sem, std::vector<std::string>* result,
                   std::string tag) -> Task<void> {
      co_await sem->Acquire();
      result->push_back(tag + "_1");
      co_await Sleep(absl::Milliseconds(1));
      sem->Release();
      co_await sem->Acquire();
      result->push_back(tag + "_2");
      co_await Sleep(absl::Milliseconds(1));
      sem->Release();
    };
    std::vector<Task<void>> tasks;
    for (const char* tag : {"c1", "c2", "c3"}) {
      tasks.push_back(CreateTask(coro(&sem, &result, tag)));
    }
    co_await AwaitAll(tasks);
    EXPECT_EQ(result, (std::vector<std::string>{"c1_1", "c2_1", "c3_1", "c1_2",
                                                "c2_2", "c3_2"}));
  }());
}

TEST(SemaphoreTests, test_acquire_fifo_order_2) {
  RunAsync([]() -> Task<void> {
    Semaphore sem(1);
    IntVector result;
    auto c2 = [](Semaphore* sem, IntVector* result) -> Task<bool> {
      co_await sem->Acquire();
      result->push_back(2);
      sem->Release();
      co_await sem->Acquire();
      result->push_back(4);
      co_return true;
    };
    std::vector<Task<bool>> tasks;
    tasks.push_back(CreateTask(SemaphoreAcquireAndLog(&sem, &result, 1)));
    tasks.push_back(CreateTask(c2(&sem, &result)));
    tasks.push_back(CreateTask(SemaphoreAcquireAndLog(&sem, &result, 3)));
    co_await Yield();
    sem.Release();
    sem.Release();
    co_await AwaitAll(tasks);
    EXPECT_EQ(result, (IntVector{1, 2, 3, 4}));
  }());
}

TEST(SemaphoreTests, test_acquire_fifo_order_3) {
  RunAsync([]() -> Task<void> {
    Semaphore sem(0);
    IntVector result;
    std::vector<Task<bool>> tasks;
    for (int id : {1, 2, 3}) {
      tasks.push_back(CreateTask(SemaphoreAcquireAndLog(&sem, &result, id)));
    }
    co_await Yield();
    tasks[0].Cancel();
    co_await Yield();
    sem.Release();
    sem.Release();
    try {
      co_await AwaitAll(tasks);
    } catch (const CancelledError&) {
    }
    EXPECT_EQ(result, (IntVector{2, 3}));
  }());
}

struct FifoOrder4 {
  Semaphore sem{0};
  IntVector result;
  Task<bool> t4;
};

Task<bool> FifoOrder4C4(FifoOrder4* s) {
  s->result.push_back(4);
  co_return true;
}

Task<bool> FifoOrder4C1(FifoOrder4* s) {
  EXPECT_EQ(s->sem.value(), 0);
  co_await s->sem.Acquire();
  // Everyone the releases allow was woken.
  EXPECT_EQ(s->sem.value(), 0);
  // A fourth task, which runs after c3, not c2.
  s->t4 = CreateTask(FifoOrder4C4(s));
  s->result.push_back(1);
  co_return true;
}

Task<bool> FifoOrder4C2(FifoOrder4* s) {
  s->sem.Release();
  s->sem.Release();
  s->sem.Release();
  EXPECT_EQ(s->sem.value(), 2);
  // Locked: c1 was woken but has not run yet.
  EXPECT_TRUE(s->sem.locked());
  co_await s->sem.Acquire();
  s->result.push_back(2);
  co_return true;
}

Task<bool> FifoOrder4C3(FifoOrder4* s) {
  co_await s->sem.Acquire();
  EXPECT_TRUE(s->sem.locked());
  s->result.push_back(3);
  co_return true;
}

TEST(SemaphoreTests, test_acquire_fifo_order_4) {
  RunAsync([]() -> Task<void> {
    FifoOrder4 s;
    std::vector<Task<bool>> tasks;
    tasks.push_back(CreateTask(FifoOrder4C1(&s)));
    tasks.push_back(CreateTask(FifoOrder4C2(&s)));
    tasks.push_back(CreateTask(FifoOrder4C3(&s)));
    co_await Yield();
    // Three tasks queue; the first has not woken yet.
    EXPECT_EQ(s.sem.value(), 2);
    EXPECT_EQ(s.sem.waiters(), 3u);
    co_await Yield();
    co_await AwaitAll(tasks);
    EXPECT_TRUE(s.t4.valid());
    co_await s.t4;
    EXPECT_EQ(s.result, (IntVector{1, 2, 3, 4}));
  }());
}

// ------------------------------------------------------------- BarrierTests

constexpr int kN = 5;

std::vector<Task<void>> MakeTasks(int n, Task<void> (*coro)(void*), void* state) {
  std::vector<Task<void>> tasks;
  for (int i = 0; i < n; ++i) tasks.push_back(CreateTask(coro(state)));
  return tasks;
}

TEST(BarrierTests, test_barrier_parties) {
  EXPECT_THROW(Barrier(0), std::invalid_argument);
  EXPECT_THROW(Barrier(-4), std::invalid_argument);
  Barrier barrier(kN);
  EXPECT_EQ(barrier.parties(), kN);
}

TEST(BarrierTests, test_context_manager) {
  RunAsync([]() -> Task<void> {
    constexpr int n = 3;
    Barrier barrier(n);
    std::vector<size_t> results;
    auto coro = [](Barrier* barrier, std::vector<size_t>* results) -> Task<void> {
      results->push_back(co_await barrier->Wait());
    };
    std::vector<Task<void>> tasks;
    for (int i = 0; i < n; ++i) tasks.push_back(CreateTask(coro(&barrier, &results)));
    co_await AwaitAll(tasks);
    std::sort(results.begin(), results.end());
    EXPECT_EQ(results, (std::vector<size_t>{0, 1, 2}));
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_FALSE(barrier.broken());
  }());
}

TEST(BarrierTests, test_filling_one_task) {
  RunAsync([]() -> Task<void> {
    Barrier barrier(1);
    EXPECT_EQ(co_await barrier.Wait(), 0u);
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_FALSE(barrier.broken());
  }());
}

TEST(BarrierTests, test_filling_one_task_twice) {
  RunAsync([]() -> Task<void> {
    Barrier barrier(1);
    Task<size_t> t1 = CreateTask(barrier.Wait());
    co_await Yield();
    EXPECT_EQ(barrier.n_waiting(), 0);
    Task<size_t> t2 = CreateTask(barrier.Wait());
    co_await Yield();
    EXPECT_TRUE(t1.done());
    EXPECT_TRUE(t2.done());
    EXPECT_EQ(co_await t1, co_await t2);
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_FALSE(barrier.broken());
  }());
}

TEST(BarrierTests, test_filling_task_by_task) {
  RunAsync([]() -> Task<void> {
    Barrier barrier(3);
    Task<size_t> t1 = CreateTask(barrier.Wait());
    co_await Yield();
    EXPECT_EQ(barrier.n_waiting(), 1);
    Task<size_t> t2 = CreateTask(barrier.Wait());
    co_await Yield();
    EXPECT_EQ(barrier.n_waiting(), 2);
    Task<size_t> t3 = CreateTask(barrier.Wait());
    co_await Yield();
    co_await t1;
    co_await t2;
    co_await t3;
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_FALSE(barrier.broken());
  }());
}

struct BarrierAndResults {
  Barrier barrier{kN};
  std::vector<bool> results;
  std::vector<bool> results2;
  std::vector<size_t> indices;
};

TEST(BarrierTests, test_filling_tasks_wait_twice) {
  RunAsync([]() -> Task<void> {
    BarrierAndResults s;
    auto tasks = MakeTasks(kN, [](void* p) -> Task<void> {
      auto* s = static_cast<BarrierAndResults*>(p);
      co_await s->barrier.Wait();
      s->results.push_back(true);
      co_await s->barrier.Wait();
      s->results.push_back(false);
    }, &s);
    co_await AwaitAll(tasks);
    EXPECT_EQ(s.results.size(), 2u * kN);
    EXPECT_EQ(std::count(s.results.begin(), s.results.end(), true), kN);
    EXPECT_EQ(std::count(s.results.begin(), s.results.end(), false), kN);
    EXPECT_EQ(s.barrier.n_waiting(), 0);
    EXPECT_FALSE(s.barrier.broken());
  }());
}

TEST(BarrierTests, test_filling_tasks_check_return_value) {
  RunAsync([]() -> Task<void> {
    BarrierAndResults s;
    auto tasks = MakeTasks(kN, [](void* p) -> Task<void> {
      auto* s = static_cast<BarrierAndResults*>(p);
      co_await s->barrier.Wait();
      s->results.push_back(true);
      size_t i = co_await s->barrier.Wait();
      s->results2.push_back(true);
      s->indices.push_back(i);
    }, &s);
    co_await AwaitAll(tasks);
    EXPECT_EQ(s.results.size(), size_t{kN});
    EXPECT_EQ(s.results2.size(), size_t{kN});
    std::sort(s.indices.begin(), s.indices.end());
    EXPECT_EQ(s.indices, (std::vector<size_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(s.barrier.n_waiting(), 0);
    EXPECT_FALSE(s.barrier.broken());
  }());
}

struct BlockingWhileDraining {
  Barrier barrier{kN};
  Barrier barrier_nowaiting{kN - 2};
  int rewait_n = 2;
};

TEST(BarrierTests, test_blocking_tasks_while_draining) {
  RunAsync([]() -> Task<void> {
    BlockingWhileDraining s;
    auto tasks = MakeTasks(kN, [](void* p) -> Task<void> {
      auto* s = static_cast<BlockingWhileDraining*>(p);
      co_await s->barrier.Wait();
      if (s->rewait_n > 0) {
        --s->rewait_n;
        co_await s->barrier.Wait();  // Only the re-waiting tasks.
      } else {
        co_await s->barrier_nowaiting.Wait();  // Until draining ends.
        co_await s->barrier.Wait();
      }
    }, &s);
    // Succeeds if barrier_nowaiting was waited for exactly N-2 times.
    co_await AwaitAll(tasks);
    EXPECT_EQ(s.barrier.n_waiting(), 0);
    EXPECT_FALSE(s.barrier.broken());
  }());
}

TEST(BarrierTests, test_filling_tasks_cancel_one) {
  RunAsync([]() -> Task<void> {
    Barrier barrier(3);
    std::vector<bool> results;
    auto coro = [](Barrier* barrier, std::vector<bool>* results) -> Task<void> {
      co_await barrier->Wait();
      results->push_back(true);
    };
    Task<void> t1 = CreateTask(coro(&barrier, &results));
    co_await Yield();
    EXPECT_EQ(barrier.n_waiting(), 1);
    Task<void> t2 = CreateTask(coro(&barrier, &results));
    co_await Yield();
    EXPECT_EQ(barrier.n_waiting(), 2);
    t1.Cancel();
    co_await Yield();
    EXPECT_EQ(barrier.n_waiting(), 1);
    EXPECT_TRUE(co_await EndsCancelled(t1));
    EXPECT_TRUE(t1.cancelled());
    Task<void> t3 = CreateTask(coro(&barrier, &results));
    co_await Yield();
    EXPECT_EQ(barrier.n_waiting(), 2);
    Task<void> t4 = CreateTask(coro(&barrier, &results));
    co_await t2;
    co_await t3;
    co_await t4;
    EXPECT_EQ(results.size(), 3u);
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_FALSE(barrier.broken());
  }());
}

TEST(BarrierTests, test_reset_barrier) {
  RunAsync([]() -> Task<void> {
    Barrier barrier(1);
    Task<void> reset = CreateTask(barrier.Reset());
    co_await Yield();
    EXPECT_TRUE(reset.done());
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_FALSE(barrier.broken());
  }());
}

TEST(BarrierTests, test_reset_barrier_while_tasks_waiting) {
  RunAsync([]() -> Task<void> {
    BarrierAndResults s;
    auto tasks = MakeTasks(kN - 1, [](void* p) -> Task<void> {
      auto* s = static_cast<BarrierAndResults*>(p);
      try {
        co_await s->barrier.Wait();
      } catch (const BrokenBarrierError&) {
        s->results.push_back(true);
      }
    }, &s);
    co_await Yield();
    Task<void> reset = CreateTask(s.barrier.Reset());
    co_await AwaitAll(tasks);
    EXPECT_EQ(s.results.size(), size_t{kN - 1});
    EXPECT_EQ(s.barrier.n_waiting(), 0);
    EXPECT_FALSE(s.barrier.broken());
    // Not left resetting: a full round passes.
    auto again = MakeTasks(kN, [](void* p) -> Task<void> {
      co_await static_cast<BarrierAndResults*>(p)->barrier.Wait();
    }, &s);
    co_await AwaitAll(again);
  }());
}

struct HalfDraining {
  Barrier barrier{kN};
  std::vector<bool> results1;
  std::vector<bool> results2;
  int returned = 0;  // Tasks that left the first Wait() normally.
  int count = 0;
};

TEST(BarrierTests, test_reset_barrier_when_tasks_half_draining) {
  RunAsync([]() -> Task<void> {
    HalfDraining s;
    auto tasks = MakeTasks(kN, [](void* p) -> Task<void> {
      auto* s = static_cast<HalfDraining*>(p);
      constexpr int rest_of_tasks = kN / 2;
      bool broken = false;
      try {
        co_await s->barrier.Wait();
      } catch (const BrokenBarrierError&) {
        broken = true;
        s->results1.push_back(true);
      }
      // barrier._count: the tasks that have not left the barrier yet.
      if (!broken && rest_of_tasks == kN - ++s->returned) {
        co_await s->barrier.Reset();
      }
    }, &s);
    co_await AwaitAll(tasks);
    // The two tasks still draining out of Wait() are broken by the reset.
    EXPECT_EQ(s.results1, std::vector<bool>(kN / 2, true));
    EXPECT_EQ(s.barrier.n_waiting(), 0);
    EXPECT_FALSE(s.barrier.broken());
  }());
}

TEST(BarrierTests, test_reset_barrier_when_tasks_half_draining_half_blocking) {
  RunAsync([]() -> Task<void> {
    HalfDraining s;
    auto tasks = MakeTasks(kN, [](void* p) -> Task<void> {
      auto* s = static_cast<HalfDraining*>(p);
      constexpr int blocking_tasks = kN / 2;
      bool broken = false;
      try {
        co_await s->barrier.Wait();
      } catch (const BrokenBarrierError&) {
        broken = true;
        s->results1.push_back(true);
      }
      if (broken) {
        co_await s->barrier.Wait();  // Waits again to fill the barrier.
        co_return;
      }
      if (++s->count > blocking_tasks) {
        // Reset: the waiting tasks get BrokenBarrierError.
        co_await s->barrier.Reset();
        co_await s->barrier.Wait();
      } else {
        try {
          co_await s->barrier.Wait();
        } catch (const BrokenBarrierError&) {
          s->results2.push_back(true);
        }
      }
    }, &s);
    co_await AwaitAll(tasks);
    EXPECT_EQ(s.results1, std::vector<bool>(kN / 2, true));
    EXPECT_EQ(s.results2, std::vector<bool>{});
    EXPECT_EQ(s.barrier.n_waiting(), 0);
    EXPECT_FALSE(s.barrier.broken());
  }());
}

TEST(BarrierTests, test_reset_barrier_while_tasks_waiting_and_waiting_again) {
  RunAsync([]() -> Task<void> {
    BarrierAndResults s;
    auto tasks = MakeTasks(kN - 1, [](void* p) -> Task<void> {
      auto* s = static_cast<BarrierAndResults*>(p);
      try {
        co_await s->barrier.Wait();
      } catch (const BrokenBarrierError&) {
        s->results.push_back(true);
      }
      // The original's `finally:`.
      co_await s->barrier.Wait();
      s->results2.push_back(true);
    }, &s);
    // Reset: the N-1 waiting tasks get BrokenBarrierError.
    Task<void> reset = CreateTask(s.barrier.Reset());
    co_await Yield();
    // Completes the waiting tasks in their `finally`.
    Task<void> last = CreateTask([](BarrierAndResults* s) -> Task<void> {
      co_await s->barrier.Wait();
      s->results2.push_back(true);
    }(&s));
    co_await AwaitAll(tasks);
    co_await last;
    EXPECT_FALSE(s.barrier.broken());
    EXPECT_EQ(s.results.size(), size_t{kN - 1});
    EXPECT_EQ(s.results2.size(), size_t{kN});
    EXPECT_EQ(s.barrier.n_waiting(), 0);
  }());
}

struct WhileDraining {
  Barrier barrier{kN};
  std::vector<bool> results1;
  std::vector<bool> results2;
  std::vector<bool> results3;
  int count = 0;
};

TEST(BarrierTests, test_reset_barrier_while_tasks_draining) {
  RunAsync([]() -> Task<void> {
    WhileDraining s;
    auto tasks = MakeTasks(kN, [](void* p) -> Task<void> {
      auto* s = static_cast<WhileDraining*>(p);
      co_await s->barrier.Wait();
      if (++s->count == kN) {
        // The last task out of the barrier resets it and waits again.
        co_await s->barrier.Reset();
        co_await s->barrier.Wait();
      } else {
        try {
          co_await s->barrier.Wait();
          s->results1.push_back(true);
        } catch (...) {
          s->results2.push_back(true);
        }
      }
      co_await s->barrier.Wait();
      s->results3.push_back(true);
    }, &s);
    co_await AwaitAll(tasks);
    EXPECT_FALSE(s.barrier.broken());
    EXPECT_EQ(s.results1.size(), size_t{kN - 1});
    EXPECT_EQ(s.results2.size(), 0u);
    EXPECT_EQ(s.results3.size(), size_t{kN});
    EXPECT_EQ(s.barrier.n_waiting(), 0);
  }());
}

TEST(BarrierTests, test_abort_barrier) {
  RunAsync([]() -> Task<void> {
    Barrier barrier(1);
    Task<void> abort = CreateTask(barrier.Abort());
    co_await Yield();
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_TRUE(barrier.broken());
    EXPECT_THROW(co_await barrier.Wait(), BrokenBarrierError);
  }());
}

TEST(BarrierTests, test_abort_barrier_when_tasks_half_draining_half_blocking) {
  RunAsync([]() -> Task<void> {
    HalfDraining s;
    auto tasks = MakeTasks(kN, [](void* p) -> Task<void> {
      auto* s = static_cast<HalfDraining*>(p);
      constexpr int blocking_tasks = kN / 2;
      try {
        co_await s->barrier.Wait();
      } catch (const BrokenBarrierError&) {
        s->results1.push_back(true);
        co_return;
      }
      if (++s->count > blocking_tasks) {
        co_await s->barrier.Abort();  // All tasks get BrokenBarrierError.
      } else {
        try {
          co_await s->barrier.Wait();
        } catch (const BrokenBarrierError&) {
          s->results2.push_back(true);  // The blocked (drained) tasks.
        }
      }
    }, &s);
    co_await AwaitAll(tasks);
    EXPECT_TRUE(s.barrier.broken());
    // Broken out: the tasks still draining out of their first Wait(), and
    // those blocked waiting for the drain to end.
    EXPECT_EQ(s.results1, std::vector<bool>(kN / 2, true));
    EXPECT_EQ(s.results2, std::vector<bool>(kN - kN / 2 - 1, true));
    EXPECT_EQ(s.barrier.n_waiting(), 0);
  }());
}

TEST(BarrierTests, test_abort_barrier_when_exception) {
  RunAsync([]() -> Task<void> {
    BarrierAndResults s;
    auto tasks = MakeTasks(kN, [](void* p) -> Task<void> {
      auto* s = static_cast<BarrierAndResults*>(p);
      bool failed = false;
      try {
        size_t i = co_await s->barrier.Wait();
        if (i == kN / 2) throw std::runtime_error("fail");
        co_await s->barrier.Wait();
        s->results.push_back(true);
      } catch (const BrokenBarrierError&) {
        s->results2.push_back(true);
      } catch (const std::runtime_error&) {
        failed = true;
      }
      if (failed) co_await s->barrier.Abort();
    }, &s);
    co_await AwaitAll(tasks);
    EXPECT_TRUE(s.barrier.broken());
    EXPECT_EQ(s.results.size(), 0u);
    EXPECT_EQ(s.results2.size(), size_t{kN - 1});
    EXPECT_EQ(s.barrier.n_waiting(), 0);
  }());
}

struct AbortThenReset {
  Barrier barrier1{kN};
  Barrier barrier2{kN};
  std::vector<bool> results1;
  std::vector<bool> results2;
  std::vector<bool> results3;
};

TEST(BarrierTests, test_abort_barrier_when_exception_then_resetting) {
  RunAsync([]() -> Task<void> {
    AbortThenReset s;
    auto tasks = MakeTasks(kN, [](void* p) -> Task<void> {
      auto* s = static_cast<AbortThenReset*>(p);
      bool failed = false;
      try {
        size_t i = co_await s->barrier1.Wait();
        if (i == kN / 2) throw std::runtime_error("fail");
        co_await s->barrier1.Wait();
        s->results1.push_back(true);
      } catch (const BrokenBarrierError&) {
        s->results2.push_back(true);
      } catch (const std::runtime_error&) {
        failed = true;
      }
      if (failed) co_await s->barrier1.Abort();
      // Synchronize, reset, synchronize again: nobody is inside barrier1
      // during the reset.
      size_t i = co_await s->barrier2.Wait();
      if (i == kN / 2) co_await s->barrier1.Reset();
      co_await s->barrier2.Wait();
      co_await s->barrier1.Wait();
      s->results3.push_back(true);
    }, &s);
    co_await AwaitAll(tasks);
    EXPECT_FALSE(s.barrier1.broken());
    EXPECT_EQ(s.results1.size(), 0u);
    EXPECT_EQ(s.results2.size(), size_t{kN - 1});
    EXPECT_EQ(s.results3.size(), size_t{kN});
    EXPECT_EQ(s.barrier1.n_waiting(), 0);
  }());
}

}  // namespace
}  // namespace asyncio_like
