#include "asyncio_like/future.h"

#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace asyncio_like {
namespace internal {

// A done callback given to AddDoneCallback: a heap node in the same list as
// the awaiting tasks, so that both run in the order they were added.
struct FutureStateBase::UserCallback : FutureWaiter {
  uint64_t id = 0;
  std::function<void(FutureStateBase&)> fn;
  FutureStateBase* owner = nullptr;

  static void OnDone(FutureWaiter* self) {
    std::unique_ptr<UserCallback> callback(static_cast<UserCallback*>(self));
    FutureStateBase* owner = callback->owner;
    // call_soon keeps the future alive until the callback has run.
    owner->loop_->CallSoon(
        [state = owner->shared_from_this(), fn = std::move(callback->fn)] { fn(*state); });
  }
};

void FutureWaiter::Unlink() {
  if (target == nullptr) return;
  (prev != nullptr ? prev->next : target->head_) = next;
  (next != nullptr ? next->prev : target->tail_) = prev;
  prev = next = nullptr;
  target = nullptr;
}

FutureStateBase::~FutureStateBase() {
  // Awaiters and Wait hold the state alive: only user callbacks are left.
  while (head_ != nullptr) {
    FutureWaiter* waiter = head_;
    waiter->Unlink();
    if (waiter->on_done == &UserCallback::OnDone) delete static_cast<UserCallback*>(waiter);
  }
  if (!log_traceback_) return;
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(exception_);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::fprintf(stderr, "Future exception was never retrieved: %s\n", what.c_str());
}

void ThrowUninitializedFuture() {
  throw std::logic_error("Future object is not initialized.");
}

void CheckFutureLoop(EventLoop* future_loop, PromiseBase* waiter) {
  if (waiter->loop() != future_loop) {
    throw std::logic_error("Task got Future attached to a different loop");
  }
}

void FutureStateBase::CheckPending() const {
  if (done()) throw InvalidStateError("invalid state");
}

bool FutureStateBase::Cancel(std::string message) {
  log_traceback_ = false;
  if (done()) return false;
  cancel_message_ = std::move(message);
  Complete(State::kCancelled);
  return true;
}

void FutureStateBase::SetException(std::exception_ptr exception) {
  CheckPending();
  if (!exception) throw std::invalid_argument("SetException: null exception_ptr");
  exception_ = std::move(exception);
  log_traceback_ = true;
  Complete(State::kFinished);
}

void FutureStateBase::FinishWithResult() { Complete(State::kFinished); }

std::exception_ptr FutureStateBase::Exception() {
  if (state_ == State::kPending) throw InvalidStateError("Exception is not set.");
  if (state_ == State::kCancelled) throw CancelledError(cancel_message_);
  log_traceback_ = false;
  return exception_;
}

void FutureStateBase::ThrowUnlessResult() {
  if (state_ == State::kPending) throw InvalidStateError("Result is not set.");
  if (state_ == State::kCancelled) throw CancelledError(cancel_message_);
  log_traceback_ = false;
  if (exception_) std::rethrow_exception(exception_);
}

void FutureStateBase::Complete(State state) {
  state_ = state;
  // Unlink each waiter before it runs: it may destroy itself or add more.
  while (head_ != nullptr) {
    FutureWaiter* waiter = head_;
    waiter->Unlink();
    waiter->on_done(waiter);
  }
}

void FutureStateBase::AddWaiter(FutureWaiter* waiter) {
  waiter->target = this;
  waiter->next = nullptr;
  waiter->prev = tail_;
  (tail_ != nullptr ? tail_->next : head_) = waiter;
  tail_ = waiter;
}

uint64_t FutureStateBase::AddCallback(std::function<void(FutureStateBase&)> fn) {
  auto callback = std::make_unique<UserCallback>();
  callback->id = ++next_callback_id_;
  callback->fn = std::move(fn);
  callback->owner = this;
  callback->on_done = &UserCallback::OnDone;
  const uint64_t id = callback->id;
  if (done()) {
    UserCallback::OnDone(callback.release());
  } else {
    AddWaiter(callback.release());
  }
  return id;
}

size_t FutureStateBase::RemoveCallback(uint64_t id) {
  for (FutureWaiter* waiter = head_; waiter != nullptr; waiter = waiter->next) {
    if (waiter->on_done != &UserCallback::OnDone) continue;
    auto* callback = static_cast<UserCallback*>(waiter);
    if (callback->id != id) continue;
    callback->Unlink();
    delete callback;
    return 1;
  }
  return 0;
}

}  // namespace internal
}  // namespace asyncio_like
