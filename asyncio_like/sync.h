// Synchronization between tasks of one loop: Event, Lock, Semaphore
// (asyncio.Event, asyncio.Lock, asyncio.Semaphore). Queue is in queue.h.
//
//   Event ready;
//   co_await ready.Wait();        // elsewhere: ready.Set();
//
//   Lock lock;
//   co_await lock.Acquire();
//   ... // at most one task here, even across awaits
//   lock.Release();
//
//   Semaphore slots(10);
//   co_await slots.Acquire();  ...  slots.Release();
//
// These are for tasks on the same loop; they are not thread-safe, and they
// never block the thread: a task that must wait suspends and the loop runs
// others. Waiters are woken in FIFO order. Lock and Semaphore hand
// ownership directly to the first waiter on Release(), so a task arriving
// later cannot overtake it. Waiting is a cancellation point: a cancelled
// waiter leaves the queue with CancelledError, and a waiter cancelled after
// it was handed the lock (but before it ran) passes it on to the next one.
#ifndef ASYNCIO_LIKE_SYNC_H_
#define ASYNCIO_LIKE_SYNC_H_

#include <coroutine>
#include <cstdint>

#include "asyncio_like/task.h"

namespace asyncio_like {
namespace internal {

// A FIFO of suspended tasks, the building block of the primitives here.
class WaitList {
 public:
  // Called when a woken waiter was cancelled before it ran, so the owner
  // can pass on whatever the wakeup granted.
  using LostWakeup = void (*)(void* owner);

  WaitList(LostWakeup on_lost_wakeup, void* owner)
      : on_lost_wakeup_(on_lost_wakeup), owner_(owner) {}
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;
  // Forgets its waiters (which then never wake): only a loop shutting down
  // destroys a primitive that tasks still wait on.
  ~WaitList();

  bool empty() const { return head_ == nullptr; }
  // Wakes the longest-waiting task; false if there is none.
  bool WakeOne();
  void WakeAll();

  // `co_await list.Wait()`.
  class Waiter : private CancellableWait {
   public:
    explicit Waiter(WaitList* list) : list_(list) {}
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    ~Waiter();

    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
      return Suspend(awaiting, awaiting.promise().task());
    }
    void await_resume();

   private:
    friend class WaitList;
    bool Suspend(std::coroutine_handle<> awaiting, PromiseBase* task);
    void Wake(bool cancelled);
    bool Cancel() override;

    WaitList* list_;
    PromiseBase* task_ = nullptr;
    std::coroutine_handle<> awaiting_;
    Waiter* prev_ = nullptr;
    Waiter* next_ = nullptr;
    bool linked_ = false;
    bool woken_ = false;
    bool cancelled_ = false;
  };
  Waiter Wait() { return Waiter(this); }

 private:
  void Unlink(Waiter* waiter);

  LostWakeup on_lost_wakeup_;
  void* owner_;
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

}  // namespace internal

// asyncio.Event: Wait() suspends until Set(); Set() wakes every waiter.
class Event {
 public:
  Event() : waiters_(nullptr, nullptr) {}

  bool is_set() const { return set_; }
  void Set();
  void Clear() { set_ = false; }
  // `co_await event.Wait()`; returns at once if the event is set.
  Task<void> Wait();

 private:
  bool set_ = false;
  internal::WaitList waiters_;
};

// asyncio.Lock: a non-reentrant mutual exclusion lock for tasks.
class Lock {
 public:
  Lock() : waiters_(&Lock::PassOn, this) {}

  bool locked() const { return locked_; }
  // `co_await lock.Acquire()`.
  Task<void> Acquire();
  // Releases the lock, handing it to the first waiter. Throws
  // std::logic_error if the lock is not held (asyncio raises RuntimeError).
  void Release();

 private:
  static void PassOn(void* lock) { static_cast<Lock*>(lock)->Release(); }

  bool locked_ = false;
  internal::WaitList waiters_;
};

// asyncio.Semaphore: a counter of available slots.
class Semaphore {
 public:
  explicit Semaphore(int64_t value) : value_(value), waiters_(&Semaphore::PassOn, this) {}

  // True if Acquire() would wait.
  bool locked() const { return value_ == 0 || !waiters_.empty(); }
  int64_t value() const { return value_; }
  // `co_await semaphore.Acquire()`: takes a slot, waiting for one if none.
  Task<void> Acquire();
  // Returns a slot, handing it to the first waiter if there is one.
  void Release();

 private:
  static void PassOn(void* semaphore) {
    static_cast<Semaphore*>(semaphore)->Release();
  }

  int64_t value_;
  internal::WaitList waiters_;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_SYNC_H_
