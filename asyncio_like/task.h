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
// where it is suspended (or at its next one, if it is not suspended). The
// task may catch it, clean up and rethrow, or even carry on.
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

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace asyncio_like {

class EventLoop;

// Thrown at a cancelled task's await point (asyncio.CancelledError).
class CancelledError : public std::exception {
 public:
  const char* what() const noexcept override { return "task was cancelled"; }
};

template <typename T = void>
class Task;

namespace internal {

class PromiseBase;

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

 protected:
  ~CancellableWait() = default;
};

// Interest in a scheduled task's completion: an intrusive list node in the
// task's promise. `on_done` runs when the task finishes, once, after the node
// has been unlinked.
struct DoneCallback {
  void (*on_done)(DoneCallback* self, PromiseBase* finished) = nullptr;
  DoneCallback* prev = nullptr;
  DoneCallback* next = nullptr;
  PromiseBase* target = nullptr;  // Set while linked.

  void Unlink();
};

// The part of every Task<T> promise that does not depend on T. A frame that
// was scheduled with CreateTask is a "root" and carries the state of Python's
// asyncio.Task (cancellation, name, completion callbacks); frames awaited
// inline point at the root they run in through `task()`.
class PromiseBase {
 public:
  PromiseBase() = default;
  PromiseBase(const PromiseBase&) = delete;
  PromiseBase& operator=(const PromiseBase&) = delete;
  ~PromiseBase();

  // The scheduled task this frame runs in (itself for a root).
  PromiseBase* task() const { return task_; }
  EventLoop* loop() const { return task_->loop_; }
  bool is_root() const { return root_; }
  bool done() const { return done_; }
  bool started() const { return started_; }
  std::coroutine_handle<> handle() const { return handle_; }
  uint64_t id() const { return id_; }
  // "Task-<id>" unless a name was given.
  std::string name() const;
  bool finished_with_cancellation() const;
  const std::exception_ptr& exception() const { return exception_; }
  void mark_exception_observed() { exception_observed_ = true; }

  // Python's Task.cancel(), Task.cancelling() and Task.uncancel().
  bool RequestCancel();
  uint32_t cancel_requests() const { return cancel_requests_; }
  uint32_t Uncancel();

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
      throw CancelledError();
    }
  }

  void AddDoneCallback(DoneCallback* callback);

  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

 protected:
  friend class ::asyncio_like::EventLoop;
  template <typename T>
  friend class ::asyncio_like::Task;
  friend class TaskBase;
  template <typename T, bool kMove>
  friend class TaskAwaiter;
  friend struct InitialAwaiter;
  friend struct FinalAwaiter;
  friend struct DoneCallback;

  // Runs at final_suspend: resumes the awaiting frame (inline task), or
  // wakes the completion callbacks and frees an unowned root.
  std::coroutine_handle<> Finish() noexcept;
  // Called when a root starts: a cancellation requested before the first
  // step is raised before the body runs.
  void ThrowIfCancelledBeforeStart();

  std::coroutine_handle<> handle_;
  std::coroutine_handle<> continuation_;  // The frame awaiting an inline task.
  PromiseBase* task_ = this;
  PromiseBase** owner_ = nullptr;  // The Task handle that owns this frame.
  std::exception_ptr exception_;

  // Root state (Python's asyncio.Task).
  EventLoop* loop_ = nullptr;
  CancellableWait* waiting_on_ = nullptr;
  DoneCallback* callbacks_head_ = nullptr;
  DoneCallback* callbacks_tail_ = nullptr;
  PromiseBase* live_prev_ = nullptr;  // The loop's list of pending roots.
  PromiseBase* live_next_ = nullptr;
  uint64_t id_ = 0;
  // Out of line: most tasks have no name, and every byte here is paid by
  // each of a million concurrent tasks.
  std::unique_ptr<std::string> name_;
  uint32_t cancel_requests_ = 0;
  bool root_ : 1 = false;
  bool started_ : 1 = false;
  bool done_ : 1 = false;
  bool must_cancel_ : 1 = false;
  bool exception_observed_ : 1 = false;
};

struct InitialAwaiter {
  PromiseBase* promise;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  void await_resume() const { promise->ThrowIfCancelledBeforeStart(); }
};

struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <typename P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    return h.promise().Finish();
  }
  void await_resume() const noexcept {}
};

template <typename T>
class TaskPromise : public PromiseBase {
 public:
  Task<T> get_return_object() noexcept;
  InitialAwaiter initial_suspend() noexcept { return {this}; }
  FinalAwaiter final_suspend() noexcept { return {}; }

  template <typename U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) {
    value_.emplace(std::forward<U>(value));
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
  InitialAwaiter initial_suspend() noexcept { return {this}; }
  FinalAwaiter final_suspend() noexcept { return {}; }
  void return_void() noexcept {}
  void result() {
    if (exception_) {
      exception_observed_ = true;
      std::rethrow_exception(exception_);
    }
  }
};

// Owns a task frame: destroys an unscheduled or finished one, detaches from
// a running one (which then frees itself when it finishes).
class TaskBase {
 public:
  TaskBase() = default;
  explicit TaskBase(PromiseBase* promise) : promise_(promise) {
    promise_->owner_ = &promise_;
  }
  TaskBase(TaskBase&& other) noexcept : promise_(other.promise_) {
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

  PromiseBase* promise() const { return promise_; }

 protected:
  void Release() noexcept;

  PromiseBase* promise_ = nullptr;
};

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
      target_->continuation_ = awaiting;
      target_->task_ = parent.task();
      return target_->handle_;
    }
    waiter_ = parent.task();
    if (!waiter_->BeginWait(this)) return awaiting;
    awaiting_ = awaiting;
    on_done = &TaskAwaiter::OnDone;
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
    target_->RequestCancel();
    return true;
  }

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

  // True if this handle refers to a task frame.
  bool valid() const { return promise_ != nullptr; }
  // True once the task finished: returned, threw, or was cancelled.
  bool done() const { return promise_ != nullptr && promise_->done(); }
  // True if the task finished by letting a CancelledError escape.
  bool cancelled() const {
    return done() && promise_->finished_with_cancellation();
  }
  // Requests cancellation (asyncio.Task.cancel). Returns false if the task
  // has finished or was never scheduled (an unscheduled coroutine has no
  // await point to cancel).
  bool Cancel() {
    return promise_ != nullptr && promise_->is_root() &&
           promise_->RequestCancel();
  }
  // The task's name for diagnostics ("Task-<id>" unless one was given).
  std::string name() const { return promise_ ? promise_->name() : ""; }

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
