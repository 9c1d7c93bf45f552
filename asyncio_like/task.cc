#include "asyncio_like/task.h"

#include <coroutine>
#include <cstdio>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <cxxabi.h>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "asyncio_like/call_graph.h"
#include "asyncio_like/event_loop.h"

namespace asyncio_like {
namespace internal {

// The rarely used part of a root's state, allocated on first use.
struct TaskExtras {
  std::string name;
  std::string cancel_message;
  std::vector<std::pair<uint64_t, std::function<void(TaskRef)>>> done_callbacks;
  uint64_t next_callback_id = 0;
  // Queued runs of done callbacks that still need the frame.
  int pins = 0;
  // The call graph where `error_for`, the exception the task ends with,
  // escaped its frame (ErrorCallGraph).
  std::shared_ptr<const CallGraph> error_graph;
  std::exception_ptr error_for;
  absl::Status error_status;  // or the error status it returned
};

namespace {

// asyncio logs "Task exception was never retrieved" when a failed task is
// garbage-collected unobserved; here that is when its frame is freed.
void ReportUnobservedException(const PromiseBase& task) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(task.exception());
  } catch (const std::exception& e) {
    what = e.what();
  } catch (const CancelledError& e) {
    what = e.what();
  } catch (...) {
  }
  std::fprintf(stderr, "Task exception was never retrieved: <Task name='%s'>: %s\n",
               task.name().c_str(), what.c_str());
  CallGraph graph = ErrorCallGraph(TaskRef(const_cast<PromiseBase*>(&task)));
  if (!graph.empty()) {
    std::fprintf(stderr, "Raised at:\n%s", FormatCallGraph(graph).c_str());
  }
}

// The graph of the latest exception to escape a frame on this thread: the
// frames it then escapes reuse it, so each exception is captured once, at
// its innermost frame.
struct LastErrorGraph {
  std::exception_ptr exception;
  std::shared_ptr<const CallGraph> graph;
};
thread_local LastErrorGraph last_error_graph;

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
  DoneCallback*& head = target->callbacks_head_;
  if (this == head) {
    head = next;
    if (head != nullptr) head->prev = prev;  // The tail.
  } else {
    prev->next = next;
    (next != nullptr ? next : head)->prev = prev;
  }
  prev = next = nullptr;
  target = nullptr;
}

void PromiseBase::ReleaseState() noexcept {
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
  delete extras_;
}

void PromiseBase::unhandled_exception() noexcept {
  exception_ = std::current_exception();
  // Cancellation is not an error: it is not recorded (and is frequent).
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type != nullptr && *type == typeid(CancelledError)) return;
  try {
    if (last_error_graph.exception != exception_) {
      last_error_graph.graph =
          std::make_shared<const CallGraph>(CaptureTaskGraph(task(), nullptr));
      last_error_graph.exception = exception_;
    }
    TaskExtras& extras = task()->extras();
    extras.error_graph = last_error_graph.graph;
    extras.error_for = exception_;
  } catch (...) {
    // Out of memory: the exception goes on without its graph.
  }
}

// As LastErrorGraph, for error statuses, which have no identity: an equal
// status returned again on this thread is taken for the same one.
struct LastErrorStatus {
  absl::Status status;
  std::shared_ptr<const CallGraph> graph;
};
thread_local LastErrorStatus last_error_status;

void RecordErrorStatus(const absl::Status& status, PromiseBase* frame) {
  try {
    if (last_error_status.graph == nullptr || last_error_status.status != status) {
      last_error_status.graph =
          std::make_shared<const CallGraph>(CaptureTaskGraph(frame->task(), nullptr));
      last_error_status.status = status;
    }
    TaskExtras& extras = frame->task()->extras();
    extras.error_graph = last_error_status.graph;
    extras.error_status = status;
  } catch (...) {
    // Out of memory: the status goes on without its graph.
  }
}

bool AttachErrorCallGraph(absl::Status& status, const PromiseBase* task) {
  const TaskExtras* extras = task->extras_;
  if (extras == nullptr || extras->error_graph == nullptr || extras->error_status != status) {
    return false;
  }
  status.SetPayload(kCallGraphPayload, absl::Cord(FormatCallGraph(*extras->error_graph)));
  return true;
}

TaskExtras& PromiseBase::extras() {
  if (extras_ == nullptr) extras_ = new TaskExtras;
  return *extras_;
}

bool PromiseBase::pinned() const { return extras_ != nullptr && extras_->pins > 0; }

std::string PromiseBase::name() const {
  if (extras_ != nullptr && !extras_->name.empty()) return extras_->name;
  return absl::StrCat("Task-", id_);
}

void PromiseBase::SetName(std::string name) { task()->extras().name = std::move(name); }

std::string PromiseBase::cancel_message() const {
  return extras_ != nullptr ? extras_->cancel_message : std::string();
}

void PromiseBase::ThrowCancelled() const {
  throw CancelledError(task()->cancel_message());
}

uint64_t PromiseBase::AddUserDoneCallback(std::function<void(TaskRef)> fn) {
  TaskExtras& extras = this->extras();
  uint64_t id = ++extras.next_callback_id;
  extras.done_callbacks.emplace_back(id, std::move(fn));
  if (done_) ScheduleUserCallbacks();
  return id;
}

size_t PromiseBase::RemoveUserDoneCallback(uint64_t id) {
  if (extras_ == nullptr) return 0;
  auto& callbacks = extras_->done_callbacks;
  for (auto it = callbacks.begin(); it != callbacks.end(); ++it) {
    if (it->first == id) {
      callbacks.erase(it);
      return 1;
    }
  }
  return 0;
}

// A queued run of a finished task's done callbacks (taken from the task
// when it is queued, as asyncio's call_soon takes them). It pins the frame;
// the last pin of a frame that no handle owns frees it, whether the run ran
// or was dropped (a loop destroyed with it still queued).
class PromiseBase::UserCallbackRun {
 public:
  explicit UserCallbackRun(PromiseBase* task)
      : task_(task), callbacks_(std::move(task->extras_->done_callbacks)) {
    task->extras_->done_callbacks.clear();
    ++task->extras_->pins;
  }
  UserCallbackRun(UserCallbackRun&& other) noexcept
      : task_(std::exchange(other.task_, nullptr)),
        callbacks_(std::move(other.callbacks_)) {}
  UserCallbackRun& operator=(UserCallbackRun&&) = delete;
  ~UserCallbackRun() {
    if (task_ != nullptr) Unpin(task_);
  }

  void operator()() {
    // If a callback throws, the destructor unpins.
    for (auto& [id, fn] : callbacks_) fn(TaskRef(task_));
    Unpin(std::exchange(task_, nullptr));
  }

 private:
  static void Unpin(PromiseBase* task) {
    if (--task->extras_->pins == 0 && task->owner_ == nullptr) task->handle_.destroy();
  }

  PromiseBase* task_;
  std::vector<std::pair<uint64_t, std::function<void(TaskRef)>>> callbacks_;
};

void PromiseBase::ScheduleUserCallbacks() {
  if (extras_ == nullptr || extras_->done_callbacks.empty()) return;
  loop_->CallSoon(UserCallbackRun(this));
}


bool PromiseBase::finished_with_cancellation() const {
  return done_ && exception_ && IsCancelledError(exception_);
}

bool PromiseBase::RequestCancel(std::string message) {
  if (done_) return false;
  ++cancel_requests_;
  if (!message.empty() || extras_ != nullptr) extras().cancel_message = std::move(message);
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
  if (callbacks_head_ == nullptr) {
    callback->prev = callback;
    callbacks_head_ = callback;
  } else {
    DoneCallback* tail = callbacks_head_->prev;
    tail->next = callback;
    callback->prev = tail;
    callbacks_head_->prev = callback;
  }
}

std::coroutine_handle<> PromiseBase::Finish() noexcept {
  done_ = true;
  if (!root_) {
    if (parent_ == nullptr) return std::noop_coroutine();
    if (task_->root_) task_->innermost_ = parent_;
    return parent_->handle_;
  }
  if (must_cancel_ && !exception_) {
    // Cancelled after its last await: it ends cancelled, as in asyncio.
    must_cancel_ = false;
    exception_ = std::make_exception_ptr(CancelledError(cancel_message()));
  }
  waiting_on_ = nullptr;
  loop_->OnRootFinished(this);
  while (callbacks_head_ != nullptr) {
    DoneCallback* callback = callbacks_head_;
    callback->Unlink();
    callback->on_done(callback, this);
  }
  // Most tasks have no extras: they skip both calls.
  if (extras_ != nullptr) ScheduleUserCallbacks();
  if (owner_ == nullptr && (extras_ == nullptr || !pinned())) handle_.destroy();
  return std::noop_coroutine();
}

bool PromiseBase::EndIfCancelledBeforeStart(std::coroutine_handle<> step) {
  if (!must_cancel_ || step != handle_ || suspended_at_.line() != 0) return false;
  // The frame waits at its initial suspend point. Finish() does what its
  // final_suspend would: it turns the pending cancellation into the task's
  // CancelledError, wakes the waiters and frees the frame if no handle owns
  // it (destroying a frame at its initial suspend point is allowed).
  Finish();
  return true;
}

void ScheduleFromTask(PromiseBase* task, std::coroutine_handle<> handle) {
  task->loop()->Schedule(handle, task);
}

void ThrowOtherLoop() {
  throw std::logic_error("a task awaited a task that belongs to a different event loop");
}

}  // namespace internal

bool TaskRef::done() const { return promise_ != nullptr && promise_->done(); }

bool TaskRef::cancelled() const {
  return done() && promise_->finished_with_cancellation();
}

bool TaskRef::Cancel(std::string message) {
  return promise_ != nullptr && promise_->is_root() &&
         promise_->RequestCancel(std::move(message));
}

uint32_t TaskRef::cancelling() const {
  return promise_ != nullptr ? promise_->cancel_requests() : 0;
}

uint32_t TaskRef::Uncancel() {
  return promise_ != nullptr ? promise_->Uncancel() : 0;
}

std::string TaskRef::name() const { return promise_ != nullptr ? promise_->name() : ""; }

void TaskRef::SetName(std::string name) {
  if (promise_ != nullptr) promise_->SetName(std::move(name));
}

uint64_t TaskRef::AddDoneCallback(std::function<void(TaskRef)> fn) {
  if (promise_ == nullptr || !promise_->is_root()) {
    throw std::logic_error("AddDoneCallback needs a scheduled task");
  }
  return promise_->AddUserDoneCallback(std::move(fn));
}

size_t TaskRef::RemoveDoneCallback(uint64_t id) {
  return promise_ != nullptr ? promise_->RemoveUserDoneCallback(id) : 0;
}

void TaskRef::CheckDone(const char* what) const {
  if (!done()) throw InvalidStateError(what);
}

CallGraph ErrorCallGraph(TaskRef task) {
  const internal::PromiseBase* promise = task.promise();
  if (promise == nullptr || promise->extras_ == nullptr || !promise->exception() ||
      promise->extras_->error_for != promise->exception() ||
      promise->extras_->error_graph == nullptr) {
    return CallGraph();
  }
  return *promise->extras_->error_graph;
}

std::exception_ptr TaskRef::Exception() const {
  CheckDone("Exception is not set.");
  const std::exception_ptr& exception = promise_->exception();
  if (!exception) return nullptr;
  promise_->mark_exception_observed();
  if (internal::IsCancelledError(exception)) std::rethrow_exception(exception);
  return exception;
}
}  // namespace asyncio_like
