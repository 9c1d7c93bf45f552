// Wait and AsCompleted: wait for some of several tasks and futures
// (asyncio.wait and asyncio.as_completed).
//
// Gather (gather.h) waits for all of its tasks and gives their results.
// These give the tasks and futures themselves, as they finish, and leave the
// caller to decide what to do with the rest:
//
//   Task<std::string> a = CreateTask(Fetch("a"));
//   Task<std::string> b = CreateTask(Fetch("b"));
//   Future<int> f = CreateFuture<int>();
//
//   // done, pending = await asyncio.wait({a, b, f}, timeout=1,
//   //                                    return_when=FIRST_COMPLETED)
//   WaitResult r = co_await Wait(Waitables(a, b, f), absl::Seconds(1),
//                                ReturnWhen::kFirstCompleted);
//   for (Waitable& w : r.pending) w.Cancel();
//
//   // async for t in asyncio.as_completed([a, b], timeout=5): ...
//   AsCompleted completed({a, b}, absl::Seconds(5));
//   while (completed.HasNext()) {
//     Waitable first = co_await completed.Next();   // TimeoutError after 5 s
//     if (first == a) Use(a.Result());
//   }
//
// A Waitable is a scheduled task (any Task<T> or TaskRef), a Future<T>, or
// a frameless awaitable given as an rvalue (reader.Read(span),
// writer.Drain(), socket.SendAll): Wait schedules that as a task the
// Waitable owns (awaitable_task.h), whose value Result<T>() gives.
// As in asyncio 3.12+, an unscheduled coroutine is refused
// (std::invalid_argument: schedule it with CreateTask first), and
// duplicates count once. Because Wait returns the tasks themselves, a task
// must be owned by a Task handle (std::invalid_argument otherwise), and
// that handle must outlive the use of the result.
//
// Wait returns when `return_when` is met or `timeout` passes, whichever is
// first, with `done` and `pending` in the order given. It never cancels
// anything: on timeout the pending ones keep running, and cancelling the
// waiting task raises CancelledError in it and leaves them alone.
// kFirstException returns when one finishes by raising (a cancellation is
// not an exception here), else when all are done. An empty set is
// std::invalid_argument("Set of Tasks/Futures is empty."), as asyncio's
// ValueError.
//
// AsCompleted starts watching, and its timeout starts running, when it is
// constructed. Next() gives each input once, in the order they finish. After
// the timeout, the ones finished before it still come first, then each
// remaining Next() throws TimeoutError. Next() with nothing remaining throws
// std::logic_error (StopAsyncIteration). Cancelling the task in Next()
// raises CancelledError there and cancels nothing else.
#ifndef ASYNCIO_LIKE_WAIT_H_
#define ASYNCIO_LIKE_WAIT_H_

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "asyncio_like/awaitable_task.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/future.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timeout.h"
#include "asyncio_like/timer_wheel.h"

namespace asyncio_like {

// A scheduled task or a future, as Wait and AsCompleted take and return it.
class Waitable {
 public:
  // A scheduled task owned by a Task handle; std::invalid_argument otherwise.
  Waitable(const TaskRef& task);  // NOLINT: implicit, as in Wait({a, b})
  template <typename T>
  Waitable(const Future<T>& future)  // NOLINT: implicit
      : future_(future.shared_state()), type_(&typeid(T)) {
    if (future_ == nullptr) internal::ThrowUninitializedFuture();
  }
  // A scheduled task given as an rvalue (Waitables(CreateTask(...))): the
  // Waitable and its copies own it, and Result<T>() gives its value.
  template <typename T>
  Waitable(Task<T>&& task)  // NOLINT: implicit
      : Waitable(std::make_shared<Task<T>>(std::move(task))) {}
  // Schedules `op` as a task of its own, which this Waitable (and its
  // copies) own.
  template <FramelessAwaitable A>
    requires std::move_constructible<A> && (!std::is_lvalue_reference_v<A>)
  Waitable(A&& op)  // NOLINT: implicit
      : Waitable(std::make_shared<Task<AwaitResult<A>>>(CreateTask(AsTask(std::move(op))))) {}

  // The value of a done future, or of a task made from an awaitable, whose
  // value type is T: the exception rethrown, CancelledError if cancelled,
  // InvalidStateError if pending. std::logic_error for another T, or for a
  // task given by handle (use the handle's Result()).
  template <typename T>
  std::add_lvalue_reference_t<T> Result() const {
    if (type_ == nullptr || *type_ != typeid(T)) {
      throw std::logic_error("Waitable::Result<T>: not a future or an awaitable of this type");
    }
    if (future_ != nullptr) {
      return Future<T>::FromState(std::static_pointer_cast<internal::FutureState<T>>(future_))
          .Result();
    }
    return static_cast<Task<T>*>(owned_task_.get())->Result();
  }

  bool done() const;
  bool cancelled() const;
  // Done with an exception other than a cancellation; retrieves nothing.
  bool failed() const;
  // As Task/Future::Exception(): the exception or null; InvalidStateError if
  // pending, CancelledError if cancelled.
  std::exception_ptr Exception() const;
  // Requests cancellation (Task.cancel / Future.cancel).
  bool Cancel(std::string message = {}) const;
  // The task, or an empty TaskRef for a future.
  TaskRef task() const { return TaskRef(task_); }

  friend bool operator==(const Waitable& a, const Waitable& b) {
    return a.task_ == b.task_ && a.future_ == b.future_;
  }

 internal::PromiseBase* promise() const { return task_; }
  const std::shared_ptr<internal::FutureStateBase>& future_state() const { return future_; }

 private:
  template <typename T>
  explicit Waitable(std::shared_ptr<Task<T>> task)
      : Waitable(static_cast<const TaskRef&>(*task)) {
    owned_task_ = std::move(task);
    type_ = &typeid(T);
  }

  internal::PromiseBase* task_ = nullptr;
  std::shared_ptr<internal::FutureStateBase> future_;
  std::shared_ptr<void> owned_task_;  // A Task<T> made from an awaitable.
  const std::type_info* type_ = nullptr;  // T of a future or an owned task.
};

// The vector Wait and AsCompleted take, from tasks and futures:
// `co_await Wait(Waitables(a, b, f))`. (GCC 12 cannot compile a braced list
// inside a co_await expression, `co_await Wait({a, b})`; outside one, as
// `AsCompleted completed({a, b})`, the braces work.)
template <typename... A>
std::vector<Waitable> Waitables(A&&... items) {
  return {Waitable(std::forward<A>(items))...};
}

enum class ReturnWhen { kFirstCompleted, kFirstException, kAllCompleted };

struct WaitResult {
  std::vector<Waitable> done;
  std::vector<Waitable> pending;
};

namespace internal {

// Watches a set of Waitables and reports each as it finishes: the part
// Wait and AsCompleted share.
class WaitWatches {
 public:
  // Drops duplicates; throws std::invalid_argument for an empty set.
  explicit WaitWatches(std::vector<Waitable> items);
  WaitWatches(const WaitWatches&) = delete;
  WaitWatches& operator=(const WaitWatches&) = delete;
  virtual ~WaitWatches() { StopWatching(); }

  const std::vector<Waitable>& items() const { return items_; }
  // Starts watching the pending items; OnItemDone runs as each finishes.
  // `waiter` is the task waiting on them, if known (the call graph's link).
  void StartWatching(PromiseBase* waiter = nullptr);
  void StopWatching();

 protected:
  virtual void OnItemDone(size_t index) = 0;

 private:
  struct Watch : internal::DoneCallback, internal::FutureWaiter {
    WaitWatches* owner = nullptr;
    size_t index = 0;
  };
  static void OnTaskDone(internal::DoneCallback* callback, internal::PromiseBase*);
  static void OnFutureDone(internal::FutureWaiter* waiter);

  std::vector<Waitable> items_;
  std::vector<Watch> watches_;
};

// The suspension inside Wait.
class WaitAwaiter final : private WaitWatches, private CancellableWait, private Timer {
 public:
  WaitAwaiter(std::vector<Waitable> items, absl::Duration timeout, ReturnWhen return_when);
  ~WaitAwaiter() override;

  bool await_ready() const noexcept { return satisfied_; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    return Suspend(awaiting, awaiting.promise().task());
  }
  WaitResult await_resume();

 private:
  bool Suspend(std::coroutine_handle<> awaiting, PromiseBase* task);
  void OnItemDone(size_t index) override;
  void Fire() override;
  bool Cancel() override;
  std::string Describe() const override { return "Wait"; }
  // Stops watching and the timer, and ends the task's wait; the caller
  // schedules the task.
  void Wake();
  bool Satisfies(const Waitable& finished) const;

  absl::Duration timeout_;
  ReturnWhen return_when_;
  size_t done_count_ = 0;
  bool satisfied_ = false;
  bool cancelled_ = false;
  bool armed_ = false;
  PromiseBase* waiter_ = nullptr;
  std::coroutine_handle<> awaiting_;
};

}  // namespace internal

// asyncio.wait(aws, timeout=..., return_when=...). absl::InfiniteDuration()
// is timeout=None.
Task<WaitResult> Wait(std::vector<Waitable> aws,
                      absl::Duration timeout = absl::InfiniteDuration(),
                      ReturnWhen return_when = ReturnWhen::kAllCompleted);

// asyncio.as_completed(aws, timeout=...), iterated as 3.13's `async for`,
// which yields the original tasks and futures. Construct it on the loop
// thread; it must outlive every Next() awaited on it.
class AsCompleted final : private internal::WaitWatches,
                          private internal::CancellableWait,
                          private internal::Timer {
 public:
  explicit AsCompleted(std::vector<Waitable> aws,
                       absl::Duration timeout = absl::InfiniteDuration());
  ~AsCompleted() override;

  // How many inputs Next() has not returned (or timed out) yet.
  size_t remaining() const { return remaining_; }
  bool HasNext() const { return remaining_ > 0; }

  class NextAwaiter {
   public:
    explicit NextAwaiter(AsCompleted* owner) : owner_(owner) {}
    bool await_ready() const noexcept { return owner_->Ready(); }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
      return owner_->Suspend(awaiting, awaiting.promise().task());
    }
    Waitable await_resume() { return owner_->Resume(); }

   private:
    AsCompleted* owner_;
  };
  // `co_await completed.Next()`: see the header comment.
  NextAwaiter Next() { return NextAwaiter(this); }

 private:
  bool Ready() const { return !finished_.empty() || timed_out_ || remaining_ == 0; }
  bool Suspend(std::coroutine_handle<> awaiting, internal::PromiseBase* task);
  Waitable Resume();
  void OnItemDone(size_t index) override;
  void Fire() override;
  bool Cancel() override;
  void Wake();

  EventLoop* loop_ = nullptr;
  std::deque<size_t> finished_;
  size_t remaining_ = 0;
  bool timed_out_ = false;
  bool armed_ = false;
  bool cancelled_ = false;
  internal::PromiseBase* waiter_ = nullptr;
  std::coroutine_handle<> awaiting_;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_WAIT_H_
