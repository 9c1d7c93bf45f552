#include "asyncio_like/task.h"

#include <coroutine>
#include <cstdio>
#include <exception>
#include <string>

#include "absl/strings/str_cat.h"
#include "asyncio_like/event_loop.h"

namespace asyncio_like {
namespace internal {
namespace {

// asyncio logs "Task exception was never retrieved" when a failed task is
// garbage-collected unobserved; here that is when its frame is freed.
void ReportUnobservedException(const PromiseBase& task) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(task.exception());
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::fprintf(stderr, "Task exception was never retrieved: <Task name='%s'>: %s\n",
               task.name().c_str(), what.c_str());
}

}  // namespace

bool IsCancelledError(const std::exception_ptr& exception) {
  try {
    std::rethrow_exception(exception);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

void DoneCallback::Unlink() {
  if (target == nullptr) return;
  if (prev != nullptr) {
    prev->next = next;
  } else {
    target->callbacks_head_ = next;
  }
  if (next != nullptr) {
    next->prev = prev;
  } else {
    target->callbacks_tail_ = prev;
  }
  prev = next = nullptr;
  target = nullptr;
}

PromiseBase::~PromiseBase() {
  for (DoneCallback* c = callbacks_head_; c != nullptr;) {
    DoneCallback* next = c->next;
    c->target = nullptr;
    c->prev = c->next = nullptr;
    c = next;
  }
  if (owner_ != nullptr) *owner_ = nullptr;
  if (root_ && done_ && exception_ && !exception_observed_ &&
      !IsCancelledError(exception_)) {
    ReportUnobservedException(*this);
  }
}

std::string PromiseBase::name() const {
  if (name_ != nullptr) return *name_;
  return absl::StrCat("Task-", id_);
}

bool PromiseBase::finished_with_cancellation() const {
  return done_ && exception_ && IsCancelledError(exception_);
}

bool PromiseBase::RequestCancel() {
  if (done_) return false;
  ++cancel_requests_;
  if (waiting_on_ != nullptr && waiting_on_->Cancel()) return true;
  must_cancel_ = true;
  return true;
}

uint32_t PromiseBase::Uncancel() {
  if (cancel_requests_ > 0) --cancel_requests_;
  if (cancel_requests_ == 0) must_cancel_ = false;
  return cancel_requests_;
}

void PromiseBase::AddDoneCallback(DoneCallback* callback) {
  callback->target = this;
  callback->next = nullptr;
  callback->prev = callbacks_tail_;
  if (callbacks_tail_ != nullptr) {
    callbacks_tail_->next = callback;
  } else {
    callbacks_head_ = callback;
  }
  callbacks_tail_ = callback;
}

void PromiseBase::ThrowIfCancelledBeforeStart() {
  if (root_ && must_cancel_) {
    must_cancel_ = false;
    throw CancelledError();
  }
}

std::coroutine_handle<> PromiseBase::Finish() noexcept {
  done_ = true;
  if (!root_) {
    return continuation_ ? continuation_ : std::noop_coroutine();
  }
  waiting_on_ = nullptr;
  loop_->OnRootFinished(this);
  while (callbacks_head_ != nullptr) {
    DoneCallback* callback = callbacks_head_;
    callback->Unlink();
    callback->on_done(callback, this);
  }
  if (owner_ == nullptr) handle_.destroy();
  return std::noop_coroutine();
}

void TaskBase::Release() noexcept {
  if (promise_ == nullptr) return;
  PromiseBase* promise = promise_;
  promise_ = nullptr;
  promise->owner_ = nullptr;
  // A running root keeps running and frees itself when it finishes.
  if (promise->root_ && !promise->done_) return;
  promise->handle_.destroy();
}

void ScheduleFromTask(PromiseBase* task, std::coroutine_handle<> handle) {
  task->loop()->Schedule(handle, task);
}

}  // namespace internal
}  // namespace asyncio_like
