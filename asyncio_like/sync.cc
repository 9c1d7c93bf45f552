#include "asyncio_like/sync.h"

#include <coroutine>
#include <cstddef>
#include <exception>
#include <stdexcept>

#include "asyncio_like/event_loop.h"

namespace asyncio_like {
namespace internal {

WaitList::~WaitList() {
  while (head_ != nullptr) Unlink(head_);
}

bool WaitList::AllCancelled() const {
  for (Waiter* w = head_; w != nullptr; w = w->next_) {
    if (!w->cancelled()) return false;
  }
  return true;
}

bool WaitList::Wake(Waiter* waiter) {
  if (waiter->done()) return false;
  waiter->Resume(Waiter::State::kWoken);
  return true;
}

bool WaitList::WakeFirstPending() {
  for (Waiter* w = head_; w != nullptr; w = w->next_) {
    if (Wake(w)) return true;
  }
  return false;
}

void WaitList::WakePending(size_t n) {
  for (Waiter* w = head_; w != nullptr && n > 0; w = w->next_) {
    if (Wake(w)) --n;
  }
}

bool WaitList::PopAndWakeNext() {
  while (head_ != nullptr) {
    Waiter* waiter = head_;
    Unlink(waiter);
    if (Wake(waiter)) return true;
  }
  return false;
}

void WaitList::PopAndWakeAll() {
  while (head_ != nullptr) {
    Waiter* waiter = head_;
    Unlink(waiter);
    Wake(waiter);
  }
}

void WaitList::Append(Waiter* waiter) {
  waiter->prev_ = tail_;
  waiter->next_ = nullptr;
  if (tail_ != nullptr) {
    tail_->next_ = waiter;
  } else {
    head_ = waiter;
  }
  tail_ = waiter;
  waiter->linked_ = true;
  ++size_;
}

void WaitList::Unlink(Waiter* waiter) {
  if (waiter->prev_ != nullptr) {
    waiter->prev_->next_ = waiter->next_;
  } else {
    head_ = waiter->next_;
  }
  if (waiter->next_ != nullptr) {
    waiter->next_->prev_ = waiter->prev_;
  } else {
    tail_ = waiter->prev_;
  }
  waiter->prev_ = waiter->next_ = nullptr;
  waiter->linked_ = false;
  --size_;
}

WaitList::Waiter::~Waiter() {
  if (linked_) list_->Unlink(this);
}

bool WaitList::Waiter::Suspend(std::coroutine_handle<> awaiting, PromiseBase* task) {
  task_ = task;
  if (!task->BeginWait(this)) return false;
  awaiting_ = awaiting;
  list_->Append(this);
  return true;
}

void WaitList::Waiter::Resume(State state) {
  state_ = state;
  task_->EndWait();
  task_->loop()->Schedule(awaiting_, task_);
}

bool WaitList::Waiter::Cancel() {
  // Only a pending waiter is still the task's wait: a woken one ended it.
  Resume(State::kCancelled);
  return true;
}

void WaitList::Waiter::await_resume() {
  if (linked_) list_->Unlink(this);
  task_->ThrowIfCancelled(cancelled());
}

}  // namespace internal

void Event::Set() {
  if (set_) return;
  set_ = true;
  internal::WaitList::Waiter* w = waiters_.front();
  for (; w != nullptr; w = w->next()) internal::WaitList::Wake(w);
}

Task<void> Event::Wait() {
  if (set_) co_return;
  co_await waiters_.Wait();
}

bool Lock::TryAcquire() {
  // Fairness: a free lock is taken at once only if nobody (still) waits.
  if (locked_ || !waiters_.AllCancelled()) return false;
  locked_ = true;
  return true;
}

Task<void> Lock::Acquire() {
  if (TryAcquire()) co_return;
  try {
    co_await waiters_.Wait();
  } catch (...) {
    // Woken by Release() but cancelled before running, or cancelled while
    // the lock is free: make sure the next waiter gets its turn.
    if (!locked_) WakeUpFirst();
    throw;
  }
  locked_ = true;
}

void Lock::Release() {
  if (!locked_) throw std::logic_error("Lock is not acquired");
  locked_ = false;
  WakeUpFirst();
}

void Lock::WakeUpFirst() {
  // Only the head: if it is already woken (or cancelled), it will run and
  // either take the lock or pass it on.
  if (!waiters_.empty()) internal::WaitList::Wake(waiters_.front());
}

Task<void> Condition::Wait() {
  if (!locked()) throw std::logic_error("cannot wait on un-acquired lock");
  Release();
  std::exception_ptr error;
  try {
    co_await waiters_.Wait();
  } catch (...) {
    error = std::current_exception();
  }
  // The lock must be held again on the way out, even when cancelled; a
  // cancellation while re-acquiring is remembered and raised afterwards.
  // TryAcquire() first spares the frame of an Acquire() that would not wait.
  while (!lock_->TryAcquire()) {
    try {
      co_await Acquire();
      break;
    } catch (const CancelledError&) {
      error = std::current_exception();
    } catch (...) {
      waiters_.WakePending(1);
      throw;
    }
  }
  if (error) {
    // This waiter may have been notified: pass the notification on.
    waiters_.WakePending(1);
    std::rethrow_exception(error);
  }
}

void Condition::Notify(size_t n) {
  if (!locked()) throw std::logic_error("cannot notify on un-acquired lock");
  waiters_.WakePending(n);
}

Semaphore::Semaphore(int64_t value) : value_(value) {
  if (value < 0) {
    throw std::invalid_argument("Semaphore initial value must be >= 0");
  }
}

bool Semaphore::locked() const {
  return value_ == 0 || !waiters_.AllCancelled();
}

Task<void> Semaphore::Acquire() {
  if (!locked()) {
    --value_;
    co_return;
  }
  internal::WaitList::Waiter waiter = waiters_.Wait();
  try {
    co_await waiter;
  } catch (...) {
    // Woken (and counted) by Release(), but not acquiring after all.
    if (waiter.woken()) ++value_;
    while (value_ > 0 && WakeUpNext()) {
    }
    throw;
  }
  // Waiters that arrived meanwhile queued behind us: wake as many as the
  // value allows.
  while (value_ > 0 && WakeUpNext()) {
  }
}

void Semaphore::Release() {
  ++value_;
  WakeUpNext();
}

bool Semaphore::WakeUpNext() {
  for (internal::WaitList::Waiter* w = waiters_.front(); w != nullptr; w = w->next()) {
    if (!w->done()) {
      --value_;
      internal::WaitList::Wake(w);
      return true;
    }
  }
  return false;
}

void BoundedSemaphore::Release() {
  if (value_ >= bound_) {
    throw std::invalid_argument("BoundedSemaphore released too many times");
  }
  Semaphore::Release();
}

Barrier::Barrier(int64_t parties) : parties_(parties) {
  if (parties < 1) throw std::invalid_argument("parties must be > 0");
}

Task<size_t> Barrier::Wait() {
  LockGuard<Condition> held = co_await ScopedLock(condition_);
  // Wait while the previous round drains or resets.
  co_await condition_.WaitFor([this] {
    return state_ != State::kDraining && state_ != State::kResetting;
  });
  if (state_ == State::kBroken) throw BrokenBarrierError("Barrier aborted");
  const size_t index = static_cast<size_t>(count_++);
  try {
    if (static_cast<int64_t>(index) + 1 == parties_) {
      state_ = State::kDraining;
      condition_.NotifyAll();
    } else {
      co_await condition_.WaitFor([this] { return state_ != State::kFilling; });
      if (state_ == State::kBroken || state_ == State::kResetting) {
        throw BrokenBarrierError("Abort or reset of barrier");
      }
    }
  } catch (...) {
    --count_;
    Exit();
    throw;
  }
  --count_;
  Exit();
  co_return index;
}

void Barrier::Exit() {
  if (count_ == 0) {
    if (state_ == State::kResetting || state_ == State::kDraining) {
      state_ = State::kFilling;
    }
    condition_.NotifyAll();
  }
}

Task<void> Barrier::Reset() {
  LockGuard<Condition> held = co_await ScopedLock(condition_);
  if (count_ > 0) {
    state_ = State::kResetting;
  } else {
    state_ = State::kFilling;
  }
  condition_.NotifyAll();
}

Task<void> Barrier::Abort() {
  LockGuard<Condition> held = co_await ScopedLock(condition_);
  state_ = State::kBroken;
  condition_.NotifyAll();
}

}  // namespace asyncio_like
