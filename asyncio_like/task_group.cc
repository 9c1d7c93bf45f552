#include "asyncio_like/task_group.h"

#include <coroutine>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace asyncio_like {

TaskGroupError::TaskGroupError(std::vector<std::exception_ptr> errors)
    : errors_(std::move(errors)) {
  message_ = absl::StrCat(errors_.size(), " task(s) of a TaskGroup failed:");
  for (const std::exception_ptr& error : errors_) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      absl::StrAppend(&message_, " [", e.what(), "]");
    } catch (...) {
      absl::StrAppend(&message_, " [unknown exception]");
    }
  }
}

// `co_await AllDone(group)`: suspends until the group has no running task.
// Cancelling the waiting task wakes it with CancelledError.
class TaskGroup::AllDone : private internal::CancellableWait {
 public:
  explicit AllDone(TaskGroup* group) : group_(group) {}
  bool await_ready() const noexcept { return group_->running_ == 0; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    task_ = awaiting.promise().task();
    if (!task_->BeginWait(this)) return false;
    group_->waiter_ = task_;
    group_->awaiting_ = awaiting;
    return true;
  }
  void await_resume() {
    if (task_ != nullptr) task_->ThrowIfCancelled(cancelled_);
  }

 private:
  bool Cancel() override {
    cancelled_ = true;
    task_->EndWait();
    task_->loop()->Schedule(group_->awaiting_, task_);
    group_->awaiting_ = nullptr;
    return true;
  }

  TaskGroup* group_;
  internal::PromiseBase* task_ = nullptr;
  bool cancelled_ = false;
};

TaskGroup::~TaskGroup() {
  for (Member& member : members_) {
    if (member.target != nullptr) {
      internal::PromiseBase* task = member.target;
      member.Unlink();
      task->RequestCancel();
    }
  }
}

void TaskGroup::Add(internal::PromiseBase* task,
                    std::exception_ptr (*failure)(internal::PromiseBase*)) {
  Member& member = members_.emplace_back();
  member.group = this;
  member.failure = failure;
  member.on_done = &TaskGroup::OnDone;
  task->AddDoneCallback(&member);
  ++running_;
}

void TaskGroup::OnDone(internal::DoneCallback* callback,
                       internal::PromiseBase* finished) {
  Member* member = static_cast<Member*>(callback);
  TaskGroup* group = member->group;
  --group->running_;
  if (std::exception_ptr failure = member->failure(finished)) {
    group->errors_.push_back(std::move(failure));
    group->Abort();
  }
  if (group->running_ == 0 && group->awaiting_) {
    group->waiter_->EndWait();
    group->waiter_->loop()->Schedule(group->awaiting_, group->waiter_);
    group->awaiting_ = nullptr;
  }
}

void TaskGroup::Abort() {
  if (aborting_) return;
  aborting_ = true;
  for (Member& member : members_) {
    if (member.target != nullptr) member.target->RequestCancel();
  }
}

Task<void> TaskGroup::Wait() {
  bool cancelled = false;
  while (running_ > 0) {
    bool cancelled_now = false;
    try {
      co_await AllDone(this);
    } catch (const CancelledError&) {
      cancelled_now = true;
    }
    if (cancelled_now) {
      cancelled = true;
      Abort();
    }
  }
  finished_ = true;
  if (!errors_.empty()) throw TaskGroupError(std::move(errors_));
  if (cancelled) throw CancelledError();
}

}  // namespace asyncio_like
