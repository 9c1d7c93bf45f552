#include "asyncio_like/gather.h"

#include <coroutine>
#include <cstddef>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace asyncio_like {
namespace internal {

CompletionSet::CompletionSet(std::vector<PromiseBase*> tasks)
    : watches_(tasks.size()) {
  for (size_t i = 0; i < tasks.size(); ++i) {
    Watch& watch = watches_[i];
    watch.set = this;
    watch.task = tasks[i];
    watch.index = i;
    if (tasks[i]->done()) {
      finished_.push_back(i);
    } else {
      watch.on_done = &CompletionSet::OnDone;
      tasks[i]->AddDoneCallback(&watch);
    }
  }
}

CompletionSet::~CompletionSet() {
  for (Watch& watch : watches_) watch.Unlink();
}

void CompletionSet::CancelAll(const std::string& message) {
  for (Watch& watch : watches_) watch.task->RequestCancel(message);
}

void CompletionSet::ObserveAllFailures() {
  for (Watch& watch : watches_) {
    if (watch.task->done()) {
      watch.task->mark_exception_observed();
    } else {
      watch.task->AddUserDoneCallback(
          [](TaskRef task) { task.promise()->mark_exception_observed(); });
    }
  }
}

void CompletionSet::OnDone(DoneCallback* callback, PromiseBase*) {
  Watch* watch = static_cast<Watch*>(callback);
  CompletionSet* set = watch->set;
  set->finished_.push_back(watch->index);
  if (set->awaiting_) {
    set->waiter_->EndWait();
    set->waiter_->loop()->Schedule(set->awaiting_, set->waiter_);
    set->awaiting_ = nullptr;
  }
}

bool CompletionSet::Suspend(std::coroutine_handle<> awaiting, PromiseBase* task) {
  if (waiter_ == nullptr) {
    for (Watch& watch : watches_) watch.awaiting_task = task;  // the call graph's link
  }
  waiter_ = task;
  if (!finished_.empty()) return false;
  if (!task->BeginWait(this)) return false;
  awaiting_ = awaiting;
  return true;
}

size_t CompletionSet::Resume() {
  waiter_->ThrowIfCancelled(false);
  size_t index = finished_.front();
  finished_.pop_front();
  ++reported_;
  return index;
}

std::string CompletionSet::Describe() const {
  return "Gather (" + std::to_string(watches_.size() - finished_.size() - reported_) + " of " +
         std::to_string(watches_.size()) + " tasks pending)";
}

// asyncio's _GatheringFuture.cancel(): cancel the children and keep waiting
// for them; the gather then ends with CancelledError.
bool CompletionSet::Cancel() {
  cancel_requested_ = true;
  CancelAll(waiter_->cancel_message());
  return true;
}

Task<void> GatherWait(std::vector<PromiseBase*> tasks, bool return_exceptions) {
  PromiseBase* waiter = co_await CurrentTask();
  CompletionSet set(std::move(tasks));
  bool cancelled = false;
  while (!set.all_reported()) {
    size_t index = 0;
    bool cancelled_while_ready = false;
    try {
      index = co_await set.Next();
    } catch (const CancelledError&) {
      cancelled_while_ready = true;
    }
    if (cancelled_while_ready) {
      // The cancellation arrived while this task was not suspended in the
      // set: forward it to the children as well.
      cancelled = true;
      set.CancelAll(waiter->cancel_message());
      continue;
    }
    if (set.cancel_requested()) cancelled = true;
    PromiseBase* finished = set.task(index);
    if (!cancelled && !return_exceptions && finished->exception()) {
      set.ObserveAllFailures();
      std::rethrow_exception(finished->exception());
    }
  }
  // asyncio's gather passes the cancel message on.
  if (cancelled) throw CancelledError(waiter->cancel_message());
}

}  // namespace internal
}  // namespace asyncio_like
