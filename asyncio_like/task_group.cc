#include "asyncio_like/task_group.h"

#include <cxxabi.h>

#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace asyncio_like {
namespace {

std::string Demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 ? std::string(demangled.get()) : std::string(name);
}

// "type: what" of an error, for TaskGroupError's message.
std::string Describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return absl::StrCat(Demangle(typeid(e).name()), ": ", e.what());
  } catch (const CancelledError& e) {
    return absl::StrCat("asyncio_like::CancelledError: ", e.what());
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

TaskGroupError::TaskGroupError(std::vector<std::exception_ptr> errors)
    : errors_(std::move(errors)) {
  message_ = absl::StrCat("unhandled errors in a TaskGroup (", errors_.size(),
                          errors_.size() == 1 ? " sub-exception):" : " sub-exceptions):");
  for (const std::exception_ptr& error : errors_) {
    absl::StrAppend(&message_, " [", Describe(error), "]");
  }
}

std::pair<std::optional<TaskGroupError>, std::optional<TaskGroupError>>
TaskGroupError::SplitBy(bool (*matches)(const std::exception_ptr&)) const {
  std::vector<std::exception_ptr> match, rest;
  for (const std::exception_ptr& error : errors_) {
    if (matches(error)) {
      match.push_back(error);
      continue;
    }
    const TaskGroupError* nested = nullptr;
    try {
      std::rethrow_exception(error);
    } catch (const TaskGroupError& e) {
      nested = &e;  // The exception object lives as long as `error`.
    } catch (...) {
    }
    if (nested == nullptr) {
      rest.push_back(error);
      continue;
    }
    auto [nested_match, nested_rest] = nested->SplitBy(matches);
    if (nested_match) match.push_back(std::make_exception_ptr(*std::move(nested_match)));
    if (nested_rest) rest.push_back(std::make_exception_ptr(*std::move(nested_rest)));
  }
  std::pair<std::optional<TaskGroupError>, std::optional<TaskGroupError>> split;
  if (!match.empty()) split.first.emplace(std::move(match));
  if (!rest.empty()) split.second.emplace(std::move(rest));
  return split;
}

// `co_await AllDone(group)`: suspends Exit until the group has no running
// child. Cancelling the task wakes it with CancelledError.
class TaskGroup::AllDone : private internal::CancellableWait {
 public:
  explicit AllDone(TaskGroup* group) : group_(group) {}
  bool await_ready() const noexcept { return group_->running_ == 0; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    task_ = awaiting.promise().task();
    if (!task_->BeginWait(this)) return false;
    group_->awaiting_ = awaiting;
    return true;
  }
  void await_resume() {
    if (task_ != nullptr) task_->ThrowIfCancelled(cancelled_);
  }

 private:
  std::string Describe() const override {
    return "TaskGroup (" + std::to_string(group_->running_) + " tasks running)";
  }
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
  if (running_ == 0) return;
  if (!parent_->loop()->closing()) {
    std::fprintf(stderr,
                 "TaskGroup destroyed while %zu of its tasks still run: a TaskGroup "
                 "must outlive its Run()\n",
                 running_);
    std::abort();
  }
  // The loop is destroying every task: let go of the children.
  for (Member& member : members_) member.Unlink();
}

void TaskGroup::Enter(internal::PromiseBase* parent) {
  if (entered_) throw std::logic_error("TaskGroup has already been entered");
  entered_ = true;
  parent_ = parent;
}

void TaskGroup::CheckAccepting() const {
  if (!entered_) throw std::logic_error("TaskGroup has not been entered");
  if (exiting_ && running_ == 0) throw std::logic_error("TaskGroup is finished");
  if (aborting_) throw std::logic_error("TaskGroup is shutting down");
}

void TaskGroup::Add(internal::PromiseBase* task,
                    std::exception_ptr (*failure)(internal::PromiseBase*)) {
  Member* member;
  if (!free_members_.empty()) {
    member = free_members_.back();
    free_members_.pop_back();
  } else {
    member = &members_.emplace_back();
  }
  member->group = this;
  member->failure = failure;
  member->on_done = &TaskGroup::OnDone;
  member->awaiting_task = parent_;  // Python's TaskGroup links child to parent too
  task->AddDoneCallback(member);
  ++running_;
}

// asyncio's TaskGroup._on_task_done.
void TaskGroup::OnDone(internal::DoneCallback* callback,
                       internal::PromiseBase* finished) {
  Member* member = static_cast<Member*>(callback);
  TaskGroup* group = member->group;
  --group->running_;
  group->free_members_.push_back(member);
  if (group->running_ == 0 && group->awaiting_) {
    group->parent_->EndWait();
    group->parent_->loop()->Schedule(group->awaiting_, group->parent_);
    group->awaiting_ = nullptr;
  }
  std::exception_ptr failure = member->failure(finished);
  if (!failure) return;
  group->errors_.push_back(std::move(failure));
  if (!group->aborting_ && !group->parent_cancel_requested_) {
    // Stop the body too; Exit withdraws this request again.
    group->Abort();
    group->parent_cancel_requested_ = true;
    group->parent_->RequestCancel();
  }
}

void TaskGroup::Abort() {
  aborting_ = true;
  for (Member& member : members_) {
    if (member.target != nullptr) member.target->RequestCancel();
  }
}

Task<void> TaskGroup::Exit(std::exception_ptr body_error) {
  exiting_ = true;
  const bool body_cancelled = body_error && internal::IsCancelledError(body_error);
  std::exception_ptr propagate_cancellation = body_cancelled ? body_error : nullptr;
  if (body_error && !aborting_) Abort();
  while (running_ > 0) {
    std::exception_ptr cancelled;
    try {
      co_await AllDone(this);
    } catch (const CancelledError&) {
      cancelled = std::current_exception();
    }
    if (cancelled && !aborting_) {
      // The task running the group was cancelled from outside.
      propagate_cancellation = cancelled;
      Abort();
    }
  }
  if (parent_cancel_requested_ && parent_->Uncancel() == 0) {
    propagate_cancellation = nullptr;
  }
  if (propagate_cancellation && errors_.empty()) {
    std::rethrow_exception(propagate_cancellation);
  }
  if (body_error && !body_cancelled) errors_.push_back(body_error);
  if (!errors_.empty()) {
    // A cancellation from outside stays requested (and is raised at the
    // next await), with the count unchanged.
    if (parent_->cancel_requests() > 0) {
      parent_->Uncancel();
      parent_->RequestCancel(parent_->cancel_message());
    }
    throw TaskGroupError(std::move(errors_));
  }
}

}  // namespace asyncio_like
