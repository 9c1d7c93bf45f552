// Task<T>: a coroutine that runs on an EventLoop, like a Python coroutine
// function (`async def`) and the asyncio.Task that drives it.
//
// A function returning Task<T> is a coroutine. Calling it creates a suspended
// frame and runs nothing ("lazy"), just as calling an `async def` returns a
// coroutine object. There are two ways to run it:
//
//   - `co_await SomeTask()` runs it inline in the awaiting task (Python's
//     `await coro()`): control transfers straight to it and back, with no
//     trip through the loop.
//   - `CreateTask(SomeTask(), "name")` schedules it as a task of its own
//     (Python's `asyncio.create_task`). It starts on a later loop pass and
//     runs concurrently with its creator. The returned Task<T> is a handle:
//     `co_await handle` waits for the result, `handle.Cancel()` cancels it.
//     Dropping the handle does not stop the task; it runs to completion and
//     frees itself.
//
//   Task<std::string> FetchData() {
//     co_await Sleep(absl::Seconds(1));
//     co_return "data ready";
//   }
//   Task<void> Main() {
//     Task<std::string> a = CreateTask(FetchData(), "fetch-a");
//     std::string b = co_await FetchData();   // runs inline
//     std::string r = co_await a;             // waits for the scheduled task
//   }
//
// Results, errors and cancellation: `co_return v` delivers v to the awaiter;
// an exception thrown by the body is rethrown at the `co_await`. A task whose
// result type is absl::Status or absl::StatusOr<U> reports errors as values,
// which the awaiter receives unchanged. Cancellation follows asyncio: Cancel()
// requests it, and the task sees a CancelledError thrown at the await point
// where it is suspended (or at its next one, if it is not suspended; a task
// that returns before another await ends cancelled). The task may catch it,
// clean up and rethrow, or even carry on.
//
// CancelledError deliberately does not derive from std::exception, for the
// reason Python 3.8 moved asyncio.CancelledError from Exception to
// BaseException: cancellation is a request to stop, not an error, and the
// everyday `catch (const std::exception&)` (Python's `except Exception`)
// must not swallow it, or a cancelled task would carry on as if nothing had
// happened and whoever cancelled it would wait forever. Catch it by name to
// clean up, then rethrow; `catch (...)` still sees it.
//
// Introspection follows asyncio.Task: Cancel(msg), cancelling(), Uncancel(),
// Result() and Exception() on a finished task (InvalidStateError before),
// SetName(), AddDoneCallback(). CurrentTask() and AllTasks() (event_loop.h)
// give TaskRef views of running tasks; Shield() protects a task from its
// awaiter's cancellation.
//
// Awaited lvalues give a reference to the result (`T& r = co_await task`),
// awaited rvalues move it out (`T r = co_await std::move(task)`), so
// move-only results work. A Task that has not been scheduled can be awaited
// only once.
//
// Everything here is single-threaded: a task and its handle belong to the
// thread running its loop.
#ifndef ASYNCIO_LIKE_TASK_H_
#define ASYNCIO_LIKE_TASK_H_

#if __cplusplus < 202002L
#error "asyncio_like needs C++20: build with -std=c++20 (see asyncio_like/README.md)"
#endif

#include <concepts>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "asyncio_like/frame_allocator.h"
#include "asyncio_like/source_location.h"

namespace asyncio_like {

class EventLoop;

// Thrown at a cancelled task's await point (asyncio.CancelledError). Not a
// std::exception: see the header comment.
class CancelledError {
 public:
  CancelledError() = default;
  // `message` is the one given to Task::Cancel(msg) (Python's
  // CancelledError.args[0]).
  explicit CancelledError(std::string message) : message_(std::move(message)) {}
  // The cancel message; empty if none was given.
  const std::string& message() const { return message_; }
  // The message, or "cancelled" without one.
  const char* what() const noexcept {
    return message_.empty() ? "cancelled" : message_.c_str();
  }

 private:
  std::string message_;
};

// Result() or Exception() of a task that has not finished
// (asyncio.InvalidStateError).
class InvalidStateError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

template <typename T = void>
class Task;
class TaskRef;
struct CallGraph;
CallGraph ErrorCallGraph(TaskRef task);

namespace internal {

class PromiseBase;
struct TaskExtras;

// A suspension point at which a task can be cancelled: a timer, a wait list,
// a kernel operation, another task. While a task is suspended on one, the
// task's `waiting_on` points to it.
class CancellableWait {
 public:
  // Called by Task::Cancel(). Returns true if the wait takes charge of
  // delivering the cancellation (it wakes the task, which then throws
  // CancelledError, or forwards the cancellation to a task it waits for);
  // false if it cannot, in which case the task gets a pending cancellation
  // that its next await point raises.
  virtual bool Cancel() = 0;
  // What the task waits on, for the call graph and the task tree
  // (call_graph.h): "sleep 0.250s", "io_uring recv fd 7", "Lock". Only read
  // when a graph is captured, so it costs nothing while tasks run.
  virtual std::string Describe() const { return "an await point"; }

 protected:
  ~CancellableWait() = default;
};

// Interest in a scheduled task's completion: an intrusive list node in the
// task's promise. `on_done` runs when the task finishes, once, after the node
// has been unlinked.
struct DoneCallback {
  void (*on_done)(DoneCallback* self, PromiseBase* finished) = nullptr;
  DoneCallback* prev = nullptr;  // The first node's is the last node.
  DoneCallback* next = nullptr;  // Null at the last node.
  PromiseBase* target = nullptr;  // Set while linked.
  // The task that waits through this callback, if one does: the target's
  // "awaited by" in the call graph (Python's future_add_to_awaited_by).
  PromiseBase* awaiting_task = nullptr;

  void Unlink();
};

// ---- Call graph: the await_transform wrapper ----
// The awaiter of `co_await a`: what a.operator co_await() returns, or `a`
// itself (as a reference: the operand outlives the suspension).
template <typename A>
decltype(auto) GetAwaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
    return std::forward<A>(a).operator co_await();
  } else {
    return std::forward<A>(a);
  }
}
template <typename A>
using AwaiterOf = decltype(GetAwaiter(std::declval<A>()));

// What await_transform returns: the awaiter, held by value or by reference.
// GCC 12 copies an awaiter that await_transform returns by reference
// (rejecting the non-copyable ones), so the reference travels inside this
// value instead.
template <typename Awaiter>
class TracedAwait {
 public:
  template <typename Get>
  explicit TracedAwait(Get&& get) : awaiter_(get()) {}
  bool await_ready() { return awaiter_.await_ready(); }
  template <typename P>
  decltype(auto) await_suspend(std::coroutine_handle<P> awaiting) {
    return awaiter_.await_suspend(awaiting);
  }
  decltype(auto) await_resume() { return awaiter_.await_resume(); }

 private:
  Awaiter awaiter_;
};
// ---- end of the call graph wrapper ----

// The part of every Task<T> promise that does not depend on T. A frame that
// was scheduled with CreateTask is a "root" and carries the state of Python's
// asyncio.Task (cancellation, name, completion callbacks); frames awaited
// inline point at the root they run in through `task()`.
class PromiseBase {
 public:
  PromiseBase() : task_(this), parent_(nullptr) {}
  PromiseBase(const PromiseBase&) = delete;
  PromiseBase& operator=(const PromiseBase&) = delete;
  // Most frames end with nothing to report or unlink: only those that have
  // something pay for a call.
  ~PromiseBase() {
    if (callbacks_head_ != nullptr || owner_ != nullptr || exception_ || extras_ != nullptr) {
      ReleaseState();
    }
  }

  // Task frames come from the per-thread frame recycler (frame_allocator.h).
  static void* operator new(size_t size) { return FrameAllocator::Allocate(size); }
  static void operator delete(void* frame, size_t size) noexcept {
    FrameAllocator::Free(frame, size);
  }

  // The scheduled task this frame runs in (itself for a root; itself too
  // for a frame not started yet).
  PromiseBase* task() const { return root_ ? const_cast<PromiseBase*>(this) : task_; }
  // The loop of the task this frame runs in; null before it is scheduled.
  EventLoop* loop() const {
    const PromiseBase* task = this->task();
    return task->root_ ? task->loop_ : nullptr;
  }
  bool is_root() const { return root_; }
  bool done() const { return done_; }
  bool started() const { return started_; }
  // True while a Task handle owns the frame (it outlives the task then).
  bool owned() const { return owner_ != nullptr; }
  std::coroutine_handle<> handle() const { return handle_; }
  uint64_t id() const { return id_; }
  // "Task-<id>" unless a name was given.
  std::string name() const;
  void SetName(std::string name);
  bool finished_with_cancellation() const;
  const std::exception_ptr& exception() const { return exception_; }
  void mark_exception_observed() { exception_observed_ = true; }

  // Python's Task.cancel(msg), Task.cancelling() and Task.uncancel().
  bool RequestCancel(std::string message = {});
  uint32_t cancel_requests() const { return cancel_requests_; }
  uint32_t Uncancel();
  // The message of the latest cancellation request ("" if none).
  std::string cancel_message() const;

  // Python's Task.add_done_callback(fn) and remove_done_callback: `fn` runs
  // on a later loop pass (call_soon) once the task has finished. Returns an
  // id for RemoveDoneCallback, which returns how many it removed.
  uint64_t AddUserDoneCallback(std::function<void(TaskRef)> fn);
  size_t RemoveUserDoneCallback(uint64_t id);

  // Await points: BeginWait() returns false when a cancellation is pending,
  // in which case the awaiter must not suspend (its await_resume throws).
  bool BeginWait(CancellableWait* wait) {
    if (must_cancel_) return false;
    waiting_on_ = wait;
    return true;
  }
  void EndWait() { waiting_on_ = nullptr; }
  bool cancel_pending() const { return must_cancel_; }
  // Throws CancelledError if this await point was cancelled or a
  // cancellation is pending; consumes the pending cancellation.
  void ThrowIfCancelled(bool cancelled_here) {
    if (cancelled_here || must_cancel_) {
      must_cancel_ = false;
      ThrowCancelled();
    }
  }
  [[noreturn]] void ThrowCancelled() const;

  void AddDoneCallback(DoneCallback* callback);

  // Also records the call graph at the point the exception escapes
  // (ErrorCallGraph in call_graph.h).
  void unhandled_exception() noexcept;

  // ---- Call graph hooks (call_graph.h) ----
  // Every co_await in a Task coroutine passes through here, so each frame
  // knows the expression it is suspended at: one store per await.
  template <typename A>
  auto await_transform(A&& awaitable,
                       SourceLocation where = SourceLocation::current()) {
    suspended_at_ = where;
    return TracedAwait<AwaiterOf<A>>([&]() -> AwaiterOf<A> {
      return GetAwaiter(std::forward<A>(awaitable));
    });
  }
  const SourceLocation& suspended_at() const { return suspended_at_; }
  // The frame awaiting this one inline (null for a root).
  PromiseBase* parent() const { return root_ ? nullptr : parent_; }
  // Of a root: its deepest inline frame, the one running or suspended
  // (any other frame: itself).
  PromiseBase* innermost() const {
    return root_ ? innermost_ : const_cast<PromiseBase*>(this);
  }
  CancellableWait* waiting_on() const { return waiting_on_; }
  DoneCallback* done_callbacks() const { return callbacks_head_; }
  // ---- end of call graph hooks ----

 protected:
  friend class ::asyncio_like::EventLoop;
  template <typename T>
  friend class ::asyncio_like::Task;
  friend class TaskBase;
  template <typename T, bool kMove>
  friend class TaskAwaiter;
  friend struct FinalAwaiter;
  friend struct DoneCallback;
  friend class ::asyncio_like::TaskRef;
  friend CallGraph asyncio_like::ErrorCallGraph(TaskRef task);
  friend bool AttachErrorCallGraph(absl::Status& status, const PromiseBase* task);
  friend void RecordErrorStatus(const absl::Status& status, PromiseBase* frame);

  // Runs at final_suspend: resumes the awaiting frame (inline task), or
  // wakes the completion callbacks and frees an unowned root.
  std::coroutine_handle<> Finish() noexcept;
  // Called by the loop before it resumes `step` for this root: if the root
  // has not begun (this is its first step: no co_await recorded yet) and a
  // cancellation is pending, it ends cancelled without running its body,
  // as an asyncio task cancelled before its first step does, and true is
  // returned. Deciding here rather than in the initial awaiter keeps that
  // awaiter empty: it holds nothing in every frame.
  bool EndIfCancelledBeforeStart(std::coroutine_handle<> step);
  // The destructor's work for a frame with callbacks, an owner, an
  // exception or extras.
  void ReleaseState() noexcept;
  // Queues the user's done callbacks (AddUserDoneCallback) on the loop and
  // keeps the frame until they have run.
  void ScheduleUserCallbacks();
  // A finished root's frame is kept while user callbacks are queued for it.
  bool pinned() const;
  class UserCallbackRun;
  TaskExtras& extras();

  std::coroutine_handle<> handle_;
  // A frame is either a root or an inline frame (or neither yet), never
  // both, and each pair below holds what one kind needs in the same word:
  // every one of a million concurrent tasks pays for each word here.
  // Which member is live follows root_ (set once, by StartRoot).
  union {
    PromiseBase* task_;  // Inline: the root it runs in.
    EventLoop* loop_;           // Root: its loop.
  };
  union {
    PromiseBase* parent_;  // Inline: the frame awaiting it.
    PromiseBase* innermost_;         // Root, call graph: its deepest frame.
  };
  SourceLocation suspended_at_;  // Call graph: the latest co_await.
  PromiseBase** owner_ = nullptr;  // The Task handle that owns this frame.
  std::exception_ptr exception_;

  // Root state (Python's asyncio.Task).
  CancellableWait* waiting_on_ = nullptr;
  // In the order added; the head's `prev` is the tail, so one word finds
  // both ends.
  DoneCallback* callbacks_head_ = nullptr;
  PromiseBase* live_prev_ = nullptr;  // The loop's list of pending roots.
  PromiseBase* live_next_ = nullptr;
  uint64_t id_ = 0;
  // Out of line (name, cancel message, user callbacks): most tasks have
  // none, and every byte here is paid by each of a million concurrent tasks.
  // Owned; deleted by ~PromiseBase (a raw pointer keeps the inline
  // constructor free of the incomplete type).
  TaskExtras* extras_ = nullptr;
  uint32_t cancel_requests_ = 0;
  bool root_ : 1 = false;
  bool started_ : 1 = false;
  bool done_ : 1 = false;
  bool must_cancel_ : 1 = false;
  bool exception_observed_ : 1 = false;
};

struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <typename P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    return h.promise().Finish();
  }
  void await_resume() const noexcept {}
};

// Call graph: records the chain of `frame`, returning the error `status`,
// in its task, unless this status was recorded already (the innermost
// return wins): RunUntilComplete attaches it to main's error as the payload
// kCallGraphPayload (AttachErrorCallGraph).
void RecordErrorStatus(const absl::Status& status, PromiseBase* frame);
// Adds the graph recorded for `status` in `task` as its payload; false if
// there is none.
bool AttachErrorCallGraph(absl::Status& status, const PromiseBase* task);
template <typename T>
concept StatusOrLike = requires(const T& v) {
  { v.status() } -> std::same_as<const absl::Status&>;
  { v.ok() } -> std::convertible_to<bool>;
} && std::is_constructible_v<T, absl::Status>;

template <typename T>
class TaskPromise : public PromiseBase {
 public:
  Task<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() noexcept { return {}; }
  FinalAwaiter final_suspend() noexcept { return {}; }

  template <typename U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) {
    value_.emplace(std::forward<U>(value));
    // Call graph: the chain where an error status was first returned.
    if constexpr (std::is_same_v<T, absl::Status>) {
      if (!value_->ok()) RecordErrorStatus(*value_, this);
    } else if constexpr (StatusOrLike<T>) {
      if (!value_->ok()) RecordErrorStatus(value_->status(), this);
    }
  }

  T& result() {
    if (exception_) {
      exception_observed_ = true;
      std::rethrow_exception(exception_);
    }
    return *value_;
  }

 private:
  std::optional<T> value_;
};

template <>
class TaskPromise<void> : public PromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  std::suspend_always initial_suspend() noexcept { return {}; }
  FinalAwaiter final_suspend() noexcept { return {}; }
  void return_void() noexcept {}
  void result() {
    if (exception_) {
      exception_observed_ = true;
      std::rethrow_exception(exception_);
    }
  }
};

}  // namespace internal

// A non-owning reference to a task: what asyncio code holds as a Task
// object when it did not create it (CurrentTask(), AllTasks(), a done
// callback's argument, or a copy of a Task<T> handle). It stays valid while
// the task is pending, and after that while a Task<T> handle owns the task.
class TaskRef {
 public:
  TaskRef() = default;
  explicit TaskRef(internal::PromiseBase* promise) : promise_(promise) {}

  // True if this refers to a task frame.
  bool valid() const { return promise_ != nullptr; }
  // True once the task finished: returned, threw, or was cancelled.
  bool done() const;
  // True if the task finished by letting a CancelledError escape.
  bool cancelled() const;
  // Requests cancellation (asyncio.Task.cancel(msg)): the task sees a
  // CancelledError carrying `message` at its await point. Returns false if
  // the task has finished or was never scheduled (an unscheduled coroutine
  // has no await point to cancel).
  bool Cancel(std::string message = {});
  // The number of cancellation requests not yet withdrawn by Uncancel()
  // (asyncio.Task.cancelling()).
  uint32_t cancelling() const;
  // Withdraws one cancellation request and returns how many remain
  // (asyncio.Task.uncancel()). At zero, a cancellation not yet delivered is
  // dropped.
  uint32_t Uncancel();
  // The task's name ("Task-<id>" unless one was given).
  std::string name() const;
  void SetName(std::string name);
  // Runs `fn(task)` on a later loop pass once the task has finished (at
  // once on the next pass if it has). Returns an id for RemoveDoneCallback.
  uint64_t AddDoneCallback(std::function<void(TaskRef)> fn);
  // Removes a callback not yet run; returns how many were removed (0 or 1).
  size_t RemoveDoneCallback(uint64_t id);
  // The exception the task finished with, or null if it returned
  // (asyncio.Task.exception()). Throws InvalidStateError if the task has not
  // finished, and its CancelledError if it was cancelled.
  std::exception_ptr Exception() const;

  friend bool operator==(const TaskRef& a, const TaskRef& b) {
    return a.promise_ == b.promise_;
  }
  internal::PromiseBase* promise() const { return promise_; }

 protected:
  void CheckDone(const char* what) const;

  internal::PromiseBase* promise_ = nullptr;
};

namespace internal {

// Owns a task frame: destroys an unscheduled or finished one, detaches from
// a running one (which then frees itself when it finishes).
class TaskBase : public TaskRef {
 public:
  TaskBase() = default;
  explicit TaskBase(PromiseBase* promise) : TaskRef(promise) {
    promise_->owner_ = &promise_;
  }
  TaskBase(TaskBase&& other) noexcept : TaskRef(other.promise_) {
    other.promise_ = nullptr;
    if (promise_ != nullptr) promise_->owner_ = &promise_;
  }
  TaskBase& operator=(TaskBase&& other) noexcept {
    if (this != &other) {
      Release();
      promise_ = other.promise_;
      other.promise_ = nullptr;
      if (promise_ != nullptr) promise_->owner_ = &promise_;
    }
    return *this;
  }
  ~TaskBase() { Release(); }

 protected:
  // A running root keeps running and frees itself when it finishes.
  void Release() noexcept {
    if (promise_ == nullptr) return;
    PromiseBase* promise = promise_;
    promise_ = nullptr;
    promise->owner_ = nullptr;
    if (promise->root_ && (!promise->done_ || promise->pinned())) return;
    promise->handle_.destroy();
  }
};

// asyncio's "Task got Future attached to a different loop" (RuntimeError).
[[noreturn]] void ThrowOtherLoop();

// `co_await task`: runs an unscheduled task inline (symmetric transfer), or
// waits for a scheduled one; kMove selects moving the result out.
template <typename T, bool kMove>
class TaskAwaiter : private CancellableWait, private DoneCallback {
 public:
  explicit TaskAwaiter(TaskPromise<T>* target) : target_(target) {}
  TaskAwaiter(const TaskAwaiter&) = delete;
  TaskAwaiter& operator=(const TaskAwaiter&) = delete;
  ~TaskAwaiter() { Unlink(); }

  bool await_ready() const noexcept { return target_->done_; }

  template <typename P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> awaiting) {
    PromiseBase& parent = awaiting.promise();
    if (!target_->root_) {
      if (target_->started_) {
        throw std::logic_error("an unscheduled Task can be awaited only once");
      }
      target_->started_ = true;
      target_->parent_ = &parent;  // its handle_ is `awaiting`
      PromiseBase* task = parent.task();
      target_->task_ = task;
      // (A frame resumed outside any task has no root to record it in.)
      if (task->root_) task->innermost_ = target_;
      return target_->handle_;
    }
    waiter_ = parent.task();
    if (target_ == waiter_) throw std::logic_error("Task cannot await on itself");
    if (target_->loop_ != waiter_->loop_) ThrowOtherLoop();
    // asyncio: a cancellation pending when the task blocks goes to the task
    // it blocks on, and the wait ends when that one has finished.
    if (waiter_->must_cancel_ && target_->RequestCancel(waiter_->cancel_message())) {
      waiter_->must_cancel_ = false;
    }
    if (!waiter_->BeginWait(this)) return awaiting;
    awaiting_ = awaiting;
    on_done = &TaskAwaiter::OnDone;
    awaiting_task = waiter_;
    target_->AddDoneCallback(this);
    return std::noop_coroutine();
  }

  decltype(auto) await_resume() {
    if (waiter_ != nullptr) waiter_->ThrowIfCancelled(false);
    if constexpr (std::is_void_v<T>) {
      target_->result();
    } else if constexpr (kMove) {
      return T(std::move(target_->result()));
    } else {
      return static_cast<T&>(target_->result());
    }
  }

 private:
  static void OnDone(DoneCallback* self, PromiseBase* finished);
  // Cancelling the awaiting task cancels the awaited one (asyncio forwards
  // the cancellation to the future a task waits on).
  bool Cancel() override {
    target_->RequestCancel(waiter_->cancel_message());
    return true;
  }
  std::string Describe() const override { return "Task '" + target_->name() + "'"; }

  TaskPromise<T>* target_;
  PromiseBase* waiter_ = nullptr;
  std::coroutine_handle<> awaiting_;
};

void ScheduleFromTask(PromiseBase* task, std::coroutine_handle<> handle);

template <typename T, bool kMove>
void TaskAwaiter<T, kMove>::OnDone(DoneCallback* self, PromiseBase*) {
  auto* awaiter = static_cast<TaskAwaiter*>(self);
  awaiter->waiter_->EndWait();
  ScheduleFromTask(awaiter->waiter_, awaiter->awaiting_);
}

// `co_await CurrentTask()` gives the scheduled task the awaiting frame runs
// in, without suspending.
class CurrentTask {
 public:
  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) noexcept {
    task_ = awaiting.promise().task();
    return false;
  }
  PromiseBase* await_resume() const noexcept { return task_; }

 private:
  PromiseBase* task_ = nullptr;
};

bool IsCancelledError(const std::exception_ptr& exception);

}  // namespace internal

template <typename T>
class Task : public internal::TaskBase {
 public:
  using promise_type = internal::TaskPromise<T>;
  using value_type = T;

  Task() = default;
  Task(Task&&) noexcept = default;
  Task& operator=(Task&&) noexcept = default;

  // valid(), done(), cancelled(), Cancel(msg), cancelling(), Uncancel(),
  // name(), SetName(), AddDoneCallback(), RemoveDoneCallback() and
  // Exception() come from TaskRef.

  // The result of a finished task (asyncio.Task.result()): a reference to
  // the value, or the task's exception rethrown (its CancelledError if it
  // was cancelled). Throws InvalidStateError if it has not finished.
  std::add_lvalue_reference_t<T> Result() {
    CheckDone("Result is not set.");
    return typed()->result();
  }

  auto operator co_await() & { return internal::TaskAwaiter<T, false>(typed()); }
  auto operator co_await() && { return internal::TaskAwaiter<T, true>(typed()); }

 private:
  friend class internal::TaskPromise<T>;
  friend class EventLoop;
  explicit Task(promise_type* promise) : internal::TaskBase(promise) {}
  promise_type* typed() const { return static_cast<promise_type*>(promise_); }
};

namespace internal {

template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  handle_ = std::coroutine_handle<TaskPromise>::from_promise(*this);
  return Task<T>(this);
}

inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  handle_ = std::coroutine_handle<TaskPromise>::from_promise(*this);
  return Task<void>(this);
}

}  // namespace internal
}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TASK_H_
