#include "asyncio_like/wait.h"

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace asyncio_like {

Waitable::Waitable(const TaskRef& task) : task_(task.promise()) {
  if (task_ == nullptr) throw std::invalid_argument("Wait/AsCompleted: empty Task");
  if (!task_->is_root()) {
    throw std::invalid_argument(
        "Passing coroutines is forbidden, use tasks explicitly (CreateTask).");
  }
  if (!task_->owned()) {  // A Task handle owns it, or a Waitable's copy of one.
    throw std::invalid_argument(
        "Wait/AsCompleted return the tasks themselves: pass tasks owned by a Task handle");
  }
}

bool Waitable::done() const { return task_ != nullptr ? task_->done() : future_->done(); }

bool Waitable::cancelled() const {
  return task_ != nullptr ? task_->finished_with_cancellation() : future_->cancelled();
}

bool Waitable::failed() const {
  if (task_ != nullptr) return task_->done() && task_->exception() && !cancelled();
  return future_->failed();
}

std::exception_ptr Waitable::Exception() const {
  return task_ != nullptr ? TaskRef(task_).Exception() : future_->Exception();
}

bool Waitable::Cancel(std::string message) const {
  return task_ != nullptr ? TaskRef(task_).Cancel(std::move(message))
                          : future_->Cancel(std::move(message));
}

namespace internal {

WaitWatches::WaitWatches(std::vector<Waitable> items) {
  if (items.empty()) throw std::invalid_argument("Set of Tasks/Futures is empty.");
  absl::flat_hash_set<const void*> seen;
  items_.reserve(items.size());
  for (Waitable& item : items) {
    const void* identity = item.promise() != nullptr
                               ? static_cast<const void*>(item.promise())
                               : static_cast<const void*>(item.future_state().get());
    if (seen.insert(identity).second) items_.push_back(std::move(item));
  }
  watches_.resize(items_.size());
}

void WaitWatches::StartWatching(PromiseBase* waiter) {
  for (size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].done()) continue;
    Watch& watch = watches_[i];
    watch.owner = this;
    watch.index = i;
    watch.DoneCallback::awaiting_task = waiter;
    watch.FutureWaiter::awaiting_task = waiter;
    if (PromiseBase* task = items_[i].promise()) {
      watch.DoneCallback::on_done = &WaitWatches::OnTaskDone;
      task->AddDoneCallback(&watch);
    } else {
      watch.FutureWaiter::on_done = &WaitWatches::OnFutureDone;
      items_[i].future_state()->AddWaiter(&watch);
    }
  }
}

void WaitWatches::StopWatching() {
  for (Watch& watch : watches_) {
    watch.DoneCallback::Unlink();
    watch.FutureWaiter::Unlink();
  }
}

void WaitWatches::OnTaskDone(DoneCallback* callback, PromiseBase*) {
  Watch* watch = static_cast<Watch*>(callback);
  watch->owner->OnItemDone(watch->index);
}

void WaitWatches::OnFutureDone(FutureWaiter* waiter) {
  Watch* watch = static_cast<Watch*>(waiter);
  watch->owner->OnItemDone(watch->index);
}

WaitAwaiter::WaitAwaiter(std::vector<Waitable> items, absl::Duration timeout,
                         ReturnWhen return_when)
    : WaitWatches(std::move(items)), timeout_(timeout), return_when_(return_when) {
  if (return_when != ReturnWhen::kFirstCompleted && return_when != ReturnWhen::kFirstException &&
      return_when != ReturnWhen::kAllCompleted) {
    throw std::invalid_argument(
        absl::StrCat("Invalid return_when value: ", static_cast<int>(return_when)));
  }
  for (const Waitable& item : this->items()) {
    if (!item.done()) continue;
    ++done_count_;
    if (Satisfies(item)) satisfied_ = true;
  }
}

WaitAwaiter::~WaitAwaiter() {
  if (armed_) waiter_->loop()->CancelTimer(this);
}

bool WaitAwaiter::Satisfies(const Waitable& finished) const {
  return done_count_ == items().size() || return_when_ == ReturnWhen::kFirstCompleted ||
         (return_when_ == ReturnWhen::kFirstException && finished.failed());
}

bool WaitAwaiter::Suspend(std::coroutine_handle<> awaiting, PromiseBase* task) {
  waiter_ = task;
  if (!task->BeginWait(this)) return false;
  awaiting_ = awaiting;
  if (timeout_ != absl::InfiniteDuration()) {
    int64_t delay_ns = absl::ToInt64Nanoseconds(timeout_);
    const int64_t now = EventLoop::NowNanos();
    if (delay_ns > INT64_MAX - now) delay_ns = INT64_MAX - now;
    task->loop()->AddTimer(now + delay_ns, this);
    armed_ = true;
  }
  StartWatching(task);
  return true;
}

void WaitAwaiter::OnItemDone(size_t index) {
  ++done_count_;
  if (!Satisfies(items()[index])) return;
  // As asyncio, where the completion runs wait's callback on the next pass
  // and that callback wakes the task on the pass after: tasks finishing
  // meanwhile are in `done` too.
  Wake();
  EventLoop* loop = waiter_->loop();
  loop->CallSoon([loop, awaiting = awaiting_, waiter = waiter_] { loop->Schedule(awaiting, waiter); });
}

// The timeout: return what is done so far.
void WaitAwaiter::Fire() {
  armed_ = false;
  Wake();
  waiter_->loop()->Schedule(awaiting_, waiter_);
}

// Cancelling the waiting task ends the wait and nothing else.
bool WaitAwaiter::Cancel() {
  cancelled_ = true;
  Wake();
  waiter_->loop()->Schedule(awaiting_, waiter_);
  return true;
}

void WaitAwaiter::Wake() {
  StopWatching();
  if (armed_) {
    armed_ = false;
    waiter_->loop()->CancelTimer(this);
  }
  waiter_->EndWait();
}

WaitResult WaitAwaiter::await_resume() {
  if (waiter_ != nullptr) waiter_->ThrowIfCancelled(cancelled_);
  WaitResult result;
  for (const Waitable& item : items()) {
    (item.done() ? result.done : result.pending).push_back(item);
  }
  return result;
}

}  // namespace internal

Task<WaitResult> Wait(std::vector<Waitable> aws, absl::Duration timeout,
                      ReturnWhen return_when) {
  internal::WaitAwaiter waiter(std::move(aws), timeout, return_when);
  co_return co_await waiter;
}

AsCompleted::AsCompleted(std::vector<Waitable> aws, absl::Duration timeout)
    : WaitWatches(std::move(aws)), loop_(EventLoop::Current()) {
  if (loop_ == nullptr) throw std::logic_error("AsCompleted: no running event loop");
  remaining_ = items().size();
  for (size_t i = 0; i < items().size(); ++i) {
    if (items()[i].done()) finished_.push_back(i);
  }
  StartWatching();
  if (timeout != absl::InfiniteDuration() && finished_.size() < items().size()) {
    int64_t delay_ns = absl::ToInt64Nanoseconds(timeout);
    const int64_t now = EventLoop::NowNanos();
    if (delay_ns > INT64_MAX - now) delay_ns = INT64_MAX - now;
    loop_->AddTimer(now + delay_ns, this);
    armed_ = true;
  }
}

AsCompleted::~AsCompleted() {
  if (armed_) loop_->CancelTimer(this);
}

bool AsCompleted::Suspend(std::coroutine_handle<> awaiting, internal::PromiseBase* task) {
  if (awaiting_) throw std::logic_error("AsCompleted: Next() is already awaited by a task");
  if (task->loop() != loop_) internal::ThrowOtherLoop();
  waiter_ = task;
  cancelled_ = false;
  if (!task->BeginWait(this)) return false;
  awaiting_ = awaiting;
  return true;
}

Waitable AsCompleted::Resume() {
  if (waiter_ != nullptr) {
    internal::PromiseBase* waiter = waiter_;
    waiter_ = nullptr;
    waiter->ThrowIfCancelled(cancelled_);
  }
  if (remaining_ == 0) throw std::logic_error("AsCompleted: no more items (StopAsyncIteration)");
  --remaining_;
  if (finished_.empty()) throw TimeoutError();
  const size_t index = finished_.front();
  finished_.pop_front();
  return items()[index];
}

void AsCompleted::OnItemDone(size_t index) {
  finished_.push_back(index);
  if (finished_.size() == remaining_ && armed_) {
    armed_ = false;
    loop_->CancelTimer(this);
  }
  Wake();
}

// The timeout: what has not finished by now times out.
void AsCompleted::Fire() {
  armed_ = false;
  timed_out_ = true;
  StopWatching();
  Wake();
}

bool AsCompleted::Cancel() {
  cancelled_ = true;
  Wake();
  return true;
}

void AsCompleted::Wake() {
  if (!awaiting_) return;
  waiter_->EndWait();
  loop_->Schedule(std::exchange(awaiting_, nullptr), waiter_);
}

}  // namespace asyncio_like
