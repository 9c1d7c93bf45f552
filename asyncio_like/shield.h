// Shield: protect a task from its awaiter's cancellation (asyncio.shield).
//
//   Task<Receipt> commit = CreateTask(Commit(order));
//   Receipt r = co_await Shield(std::move(commit));
//
// Shield schedules `inner` if it is not scheduled yet, and waits for it. If
// the awaiting task is cancelled, only the wait ends (with CancelledError);
// the inner task is not cancelled and runs on to completion (if the Shield
// took the only handle, it then frees itself, and an exception nobody
// retrieved is reported as for any dropped task). If the inner task itself
// is cancelled, or fails, the Shield rethrows its CancelledError or error.
// The overload taking an lvalue leaves the handle with the caller, who must
// keep it alive while the Shield runs; the result is then copied.
#ifndef ASYNCIO_LIKE_SHIELD_H_
#define ASYNCIO_LIKE_SHIELD_H_

#include <coroutine>
#include <utility>

#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"

namespace asyncio_like {
namespace internal {

// Waits for a scheduled task to finish; cancelling the waiter ends the wait
// and leaves the task alone.
class ShieldWait : private CancellableWait, private DoneCallback {
 public:
  explicit ShieldWait(PromiseBase* target) : target_(target) {}
  ShieldWait(const ShieldWait&) = delete;
  ShieldWait& operator=(const ShieldWait&) = delete;
  ~ShieldWait() { Unlink(); }

  bool await_ready() const noexcept { return target_->done(); }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    waiter_ = awaiting.promise().task();
    if (!waiter_->BeginWait(this)) return false;
    awaiting_ = awaiting;
    on_done = &ShieldWait::OnDone;
    awaiting_task = waiter_;
    target_->AddDoneCallback(this);
    return true;
  }
  void await_resume() {
    if (waiter_ != nullptr) waiter_->ThrowIfCancelled(cancelled_);
  }

 private:
  static void OnDone(DoneCallback* self, PromiseBase*) {
    auto* wait = static_cast<ShieldWait*>(self);
    wait->waiter_->EndWait();
    ScheduleFromTask(wait->waiter_, wait->awaiting_);
  }
  std::string Describe() const override {
    return "Shield of Task '" + target_->name() + "'";
  }
  bool Cancel() override {
    cancelled_ = true;
    Unlink();
    waiter_->EndWait();
    ScheduleFromTask(waiter_, awaiting_);
    return true;
  }

  PromiseBase* target_;
  PromiseBase* waiter_ = nullptr;
  std::coroutine_handle<> awaiting_;
  bool cancelled_ = false;
};

template <typename T>
Task<T> ShieldOwned(Task<T> inner) {
  if (!inner.promise()->is_root()) inner = CreateTask(std::move(inner));
  co_await ShieldWait(inner.promise());
  co_return co_await std::move(inner);
}

}  // namespace internal

template <typename T>
Task<T> Shield(Task<T>&& inner) {
  return internal::ShieldOwned(std::move(inner));
}

template <typename T>
Task<T> Shield(Task<T>& inner) {
  if (!inner.promise()->is_root()) inner = CreateTask(std::move(inner));
  co_await internal::ShieldWait(inner.promise());
  co_return co_await inner;
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_SHIELD_H_
