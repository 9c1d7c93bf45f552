// Synchronization between tasks of one loop: Event, Lock, Condition,
// Semaphore, BoundedSemaphore and Barrier (asyncio.Event, asyncio.Lock, ...).
// Queues are in queue.h.
//
//   Event ready;
//   co_await ready.Wait();        // elsewhere: ready.Set();
//
//   Lock lock;
//   {
//     LockGuard<Lock> held = co_await ScopedLock(lock);   // async with lock:
//     ...  // at most one task here, even across awaits
//   }  // released here, also when an exception or cancellation unwinds
//
//   Condition changed(&lock);          // or Condition changed; (own lock)
//   auto held = co_await ScopedLock(changed);
//   co_await changed.WaitFor([&] { return !jobs.empty(); });
//   changed.NotifyAll();                        // by whoever holds the lock
//
//   Semaphore slots(10);
//   auto slot = co_await ScopedLock(slots);     // async with slots:
//
//   Barrier start(3);
//   size_t index = co_await start.Wait();   // 0..2, once all 3 arrived
//
// These are for tasks on the same loop; they are not thread-safe, and they
// never block the thread: a task that must wait suspends and the loop runs
// others. Their behaviour is CPython 3.13's, decision for decision: waiters
// are woken FIFO; a waiter that is woken stays queued until it runs, so
// Lock::Release() leaves the lock unlocked (locked() is false) until the
// woken task takes it, and a task arriving meanwhile still queues behind it
// (fairness). Waiting is a cancellation point: a cancelled waiter leaves
// with CancelledError, and one cancelled after it was woken, but before it
// ran, passes the wakeup on, so no release is lost.
//
// Errors where asyncio raises: RuntimeError is std::logic_error (releasing
// an unheld Lock, Condition::Wait/Notify without the lock), ValueError is
// std::invalid_argument (a negative Semaphore value, a BoundedSemaphore
// released above its initial value, a Barrier of fewer than one party),
// and asyncio.BrokenBarrierError is BrokenBarrierError.
#ifndef ASYNCIO_LIKE_SYNC_H_
#define ASYNCIO_LIKE_SYNC_H_

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <utility>

#include "asyncio_like/task.h"

namespace asyncio_like {
namespace internal {

// A FIFO of suspended tasks, each with the state of the asyncio future it
// would await in CPython: pending, done (woken) or cancelled. A woken or
// cancelled waiter stays queued until its task runs and leaves (CPython's
// `finally: self._waiters.remove(fut)`), unless the waker pops it, as
// Queue's wakeups do.
class WaitList {
 public:
  class Waiter;

  // `what` names the primitive for the call graph ("Lock", "Queue.get").
  explicit WaitList(const char* what = "a wait list") : what_(what) {}
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;
  // Forgets its waiters (which then never wake): only a loop shutting down
  // destroys a primitive that tasks still wait on.
  ~WaitList();

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  Waiter* front() const { return head_; }
  // True if every queued waiter was cancelled (or there is none).
  bool AllCancelled() const;

  // Wakes `waiter` if it is still pending (fut.set_result); false if not.
  static bool Wake(Waiter* waiter);
  // Wakes the first pending waiter; false if there is none.
  bool WakeFirstPending();
  // Wakes up to `n` pending waiters, FIFO.
  void WakePending(size_t n);
  // Pops waiters until one was pending and wakes it (Queue._wakeup_next).
  bool PopAndWakeNext();
  // Pops every waiter, waking the pending ones.
  void PopAndWakeAll();

  // The awaiter: `auto waiter = list.Wait(); co_await waiter;`. Throws
  // CancelledError if the task was cancelled while waiting or after it was
  // woken; the waiter then tells which (woken()).
  class Waiter final : private CancellableWait {
   public:
    explicit Waiter(WaitList* list) : list_(list) {}
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    ~Waiter();

    bool woken() const { return state_ == State::kWoken; }
    bool cancelled() const { return state_ == State::kCancelled; }
    bool done() const { return state_ != State::kPending; }
    Waiter* next() const { return next_; }

    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
      return Suspend(awaiting, awaiting.promise().task());
    }
    void await_resume();

   private:
    friend class WaitList;
    enum class State : uint8_t { kPending, kWoken, kCancelled };

    bool Suspend(std::coroutine_handle<> awaiting, PromiseBase* task);
    void Resume(State state);
    bool Cancel() override;
    std::string Describe() const override { return list_->what_; }

    WaitList* list_;
    PromiseBase* task_ = nullptr;
    std::coroutine_handle<> awaiting_;
    Waiter* prev_ = nullptr;
    Waiter* next_ = nullptr;
    bool linked_ = false;
    State state_ = State::kPending;
  };
  Waiter Wait() { return Waiter(this); }

 private:
  void Append(Waiter* waiter);
  void Unlink(Waiter* waiter);

  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  size_t size_ = 0;
  const char* what_;
};

}  // namespace internal

// asyncio.BrokenBarrierError: Barrier::Wait on a barrier that was aborted,
// or reset while the task waited.
class BrokenBarrierError : public std::runtime_error {
 public:
  explicit BrokenBarrierError(const char* what) : std::runtime_error(what) {}
};

// asyncio.Event: Wait() suspends until Set(); Set() wakes every waiter.
class Event {
 public:
  Event() = default;

  bool is_set() const { return set_; }
  void Set();
  void Clear() { set_ = false; }
  // `co_await event.Wait()`; returns at once if the event is set.
  Task<void> Wait();

  // Tasks queued in Wait(), including woken ones that have not run yet.
  size_t waiters() const { return waiters_.size(); }

 private:
  bool set_ = false;
  internal::WaitList waiters_{"Event"};
};

// asyncio.Lock: a non-reentrant mutual exclusion lock for tasks. It is not
// owned by a task: any task may release it.
class Lock {
 public:
  Lock() = default;

  bool locked() const { return locked_; }
  // `co_await lock.Acquire()`: takes the lock, waiting in FIFO order. A
  // task arriving while others wait queues behind them even if the lock is
  // free at that moment, unless every one of them was cancelled.
  Task<void> Acquire();
  // Unlocks and wakes the first waiter, which takes the lock when it runs.
  // Throws std::logic_error if the lock is not locked (RuntimeError).
  void Release();

  size_t waiters() const { return waiters_.size(); }

 private:
  friend class Condition;

  // Acquire()'s path that does not wait; false if Acquire() would wait.
  bool TryAcquire();
  void WakeUpFirst();

  bool locked_ = false;
  internal::WaitList waiters_{"Lock"};
};

// asyncio.Condition: tasks wait until notified, around a Lock (its own, or
// one shared with other conditions).
class Condition {
 public:
  // Uses `lock` (which must outlive the condition), or a lock of its own.
  explicit Condition(Lock* lock = nullptr) : lock_(lock ? lock : &own_lock_) {}

  // The lock's locked(), Acquire() and Release().
  bool locked() const { return lock_->locked(); }
  Task<void> Acquire() { return lock_->Acquire(); }
  void Release() { lock_->Release(); }
  Lock& lock() { return *lock_; }

  // Releases the lock, waits until notified, and re-acquires the lock
  // before returning or throwing, even when cancelled (the cancellation is
  // raised once the lock is held again). A waiter that leaves with an
  // exception after it was notified notifies the next one instead. Throws
  // std::logic_error if the lock is not held. Like asyncio's, it may wake
  // spuriously: check the state again (WaitFor does).
  Task<void> Wait();
  // Waits until `predicate()` is true; returns its final value.
  template <typename Predicate>
  Task<bool> WaitFor(Predicate predicate);
  // Wakes up to `n` waiters; they return once they get the lock, which the
  // caller still holds. Throws std::logic_error if the lock is not held.
  void Notify(size_t n = 1);
  void NotifyAll() { Notify(waiters_.size()); }

  size_t waiters() const { return waiters_.size(); }

 private:
  Lock own_lock_;
  Lock* lock_;
  internal::WaitList waiters_{"Condition"};
};

// asyncio.Semaphore: a counter of available slots.
class Semaphore {
 public:
  // Throws std::invalid_argument if `value` is negative (ValueError).
  explicit Semaphore(int64_t value = 1);

  // True if Acquire() would wait: no slot, or tasks (not cancelled) queue.
  bool locked() const;
  int64_t value() const { return value_; }
  // `co_await semaphore.Acquire()`: takes a slot, waiting FIFO for one.
  Task<void> Acquire();
  // Returns a slot, waking the first waiter if there is one.
  void Release();

  size_t waiters() const { return waiters_.size(); }

 protected:
  int64_t value_;

 private:
  bool WakeUpNext();

  internal::WaitList waiters_{"Semaphore"};
};

// asyncio.BoundedSemaphore: a Semaphore that refuses to grow above its
// initial value.
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(int64_t value = 1) : Semaphore(value), bound_(value) {}

  // Throws std::invalid_argument if the value would exceed the initial one
  // ("BoundedSemaphore released too many times", ValueError).
  void Release();

 private:
  int64_t bound_;
};

// asyncio.Barrier: `parties` tasks wait for each other; Wait() returns once
// all have arrived, giving each a distinct index in 0..parties-1.
class Barrier {
 public:
  // Throws std::invalid_argument if `parties` is less than 1 (ValueError).
  explicit Barrier(int64_t parties);

  // Waits for the barrier to fill. Throws BrokenBarrierError if the barrier
  // is aborted, or reset while waiting. A task arriving while the previous
  // round drains (or resets) waits for it to finish first.
  Task<size_t> Wait();
  // Back to the empty state; tasks waiting get BrokenBarrierError.
  Task<void> Reset();
  // Breaks the barrier: current and future Wait() calls throw
  // BrokenBarrierError until Reset().
  Task<void> Abort();

  int64_t parties() const { return parties_; }
  // Tasks waiting for the barrier to fill (0 while draining or resetting).
  int64_t n_waiting() const { return state_ == State::kFilling ? count_ : 0; }
  bool broken() const { return state_ == State::kBroken; }

 private:
  enum class State { kFilling, kDraining, kResetting, kBroken };

  void Exit();

  Condition condition_;
  int64_t parties_;
  State state_ = State::kFilling;
  int64_t count_ = 0;
};

// The RAII form of `async with`: holds a Lock, Condition or Semaphore
// (slot) and releases it when destroyed, including on exception or
// cancellation. Move-only.
template <typename Primitive>
class [[nodiscard]] LockGuard {
 public:
  explicit LockGuard(Primitive* primitive) : primitive_(primitive) {}
  LockGuard(LockGuard&& other) noexcept
      : primitive_(std::exchange(other.primitive_, nullptr)) {}
  LockGuard& operator=(LockGuard&& other) noexcept {
    if (this != &other) {
      Unlock();
      primitive_ = std::exchange(other.primitive_, nullptr);
    }
    return *this;
  }
  // Releasing what the guard holds cannot fail unless it was released
  // behind the guard's back, which is a bug: std::terminate then.
  ~LockGuard() { Unlock(); }

  bool owns_lock() const { return primitive_ != nullptr; }
  // Releases early.
  void Unlock() {
    if (primitive_ != nullptr) std::exchange(primitive_, nullptr)->Release();
  }

 private:
  Primitive* primitive_;
};

// `auto held = co_await ScopedLock(x);`: acquires `x` and returns a guard
// that releases it (asyncio's `async with x:`).
template <typename Primitive>
Task<LockGuard<Primitive>> ScopedLock(Primitive& primitive) {
  co_await primitive.Acquire();
  co_return LockGuard<Primitive>(&primitive);
}

template <typename Predicate>
Task<bool> Condition::WaitFor(Predicate predicate) {
  bool result = static_cast<bool>(predicate());
  while (!result) {
    co_await Wait();
    result = static_cast<bool>(predicate());
  }
  co_return result;
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_SYNC_H_
