#include "asyncio_like/sync.h"

#include <coroutine>
#include <stdexcept>

#include "asyncio_like/event_loop.h"

namespace asyncio_like {
namespace internal {

WaitList::~WaitList() {
  while (head_ != nullptr) Unlink(head_);
}

bool WaitList::WakeOne() {
  if (head_ == nullptr) return false;
  Waiter* waiter = head_;
  Unlink(waiter);
  waiter->Wake(false);
  return true;
}

void WaitList::WakeAll() {
  while (WakeOne()) {
  }
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
}

WaitList::Waiter::~Waiter() {
  if (linked_) list_->Unlink(this);
}

bool WaitList::Waiter::Suspend(std::coroutine_handle<> awaiting, PromiseBase* task) {
  task_ = task;
  if (!task->BeginWait(this)) return false;
  awaiting_ = awaiting;
  prev_ = list_->tail_;
  if (list_->tail_ != nullptr) {
    list_->tail_->next_ = this;
  } else {
    list_->head_ = this;
  }
  list_->tail_ = this;
  linked_ = true;
  return true;
}

void WaitList::Waiter::Wake(bool cancelled) {
  woken_ = !cancelled;
  cancelled_ = cancelled;
  task_->EndWait();
  task_->loop()->Schedule(awaiting_, task_);
}

bool WaitList::Waiter::Cancel() {
  if (linked_) list_->Unlink(this);
  Wake(true);
  return true;
}

void WaitList::Waiter::await_resume() {
  if (woken_ && task_->cancel_pending() && list_->on_lost_wakeup_ != nullptr) {
    list_->on_lost_wakeup_(list_->owner_);
  }
  task_->ThrowIfCancelled(cancelled_);
}

}  // namespace internal

void Event::Set() {
  if (set_) return;
  set_ = true;
  waiters_.WakeAll();
}

Task<void> Event::Wait() {
  if (set_) co_return;
  co_await waiters_.Wait();
}

Task<void> Lock::Acquire() {
  if (!locked_ && waiters_.empty()) {
    locked_ = true;
    co_return;
  }
  // Release() hands the lock over: it stays locked, now on our behalf.
  co_await waiters_.Wait();
}

void Lock::Release() {
  if (!locked_) throw std::logic_error("Lock is not acquired");
  if (!waiters_.WakeOne()) locked_ = false;
}

Task<void> Semaphore::Acquire() {
  if (value_ > 0 && waiters_.empty()) {
    --value_;
    co_return;
  }
  // Release() hands its slot over without counting it.
  co_await waiters_.Wait();
}

void Semaphore::Release() {
  if (!waiters_.WakeOne()) ++value_;
}

}  // namespace asyncio_like
