// Future<T>: a result that some code will set later, awaited by tasks
// (asyncio.Future, made by loop.create_future()).
//
// A task is a coroutine that produces its own result; a future is a result
// slot with no code behind it. Whoever holds a handle can complete it once,
// with SetResult, SetException or Cancel, and every task awaiting it wakes.
// It is how callback-style code (a timer, a protocol, another thread through
// CallSoonThreadsafe) hands a value to coroutines:
//
//   Task<void> Main() {
//     Future<int> answer = CreateFuture<int>();          // loop.create_future()
//     EventLoop::Current()->CallLater(absl::Seconds(1),
//                                     [answer] { answer.SetResult(42); });
//     int n = co_await answer;                             // 42, a second later
//   }
//
// As in asyncio:
//   - A handle is a reference: copies share one future. Any number of tasks
//     may await it; each gets the result (a reference to the one stored
//     value), the exception rethrown, or CancelledError if it was cancelled.
//   - SetResult/SetException on a done future, and Result()/Exception() on
//     a pending one, throw InvalidStateError ("invalid state", "Result is not
//     set.", "Exception is not set."). Cancel() on a done future returns
//     false and changes nothing.
//   - Done callbacks (AddDoneCallback) run on a later loop pass (call_soon),
//     in the order they were added, with the future as argument; one added
//     to a done future is scheduled at once. Tasks awaiting the future are
//     woken in the same order, interleaved with the callbacks.
//   - Cancelling a task while it awaits a future cancels the future (with
//     the task's cancel message); the other tasks awaiting it then get
//     CancelledError too. Use Shield (shield.h) on a task to avoid that.
//   - A future that finished with an exception nobody retrieved (Result(),
//     Exception() or an await) reports "Future exception was never
//     retrieved" on stderr when its last handle goes.
//
// Differences: callbacks are removed by the id AddDoneCallback returned (C++
// functions cannot be compared for equality as Python's are). A future
// belongs to its loop and its thread: complete it from another thread only
// through LoopHandle::CallSoonThreadsafe, and not after the loop is
// destroyed. A default-constructed handle refers to no future; using it
// throws std::logic_error("Future object is not initialized.").
#ifndef ASYNCIO_LIKE_FUTURE_H_
#define ASYNCIO_LIKE_FUTURE_H_

#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

template <typename T = void>
class Future;

namespace internal {

class FutureStateBase;

// Interest in a future's completion: an intrusive list node, run once, in
// list order, when the future completes (after it has been unlinked).
struct FutureWaiter {
  void (*on_done)(FutureWaiter* self) = nullptr;
  FutureWaiter* prev = nullptr;
  FutureWaiter* next = nullptr;
  FutureStateBase* target = nullptr;  // Set while linked.
  // The task that waits through this waiter, if one does (call_graph.h).
  PromiseBase* awaiting_task = nullptr;

  void Unlink();
};

// The part of a future's state that does not depend on T.
class FutureStateBase : public std::enable_shared_from_this<FutureStateBase> {
 public:
  explicit FutureStateBase(EventLoop* loop) : loop_(loop) {}
  FutureStateBase(const FutureStateBase&) = delete;
  FutureStateBase& operator=(const FutureStateBase&) = delete;
  virtual ~FutureStateBase();

  EventLoop* loop() const { return loop_; }
  bool done() const { return state_ != State::kPending; }
  bool cancelled() const { return state_ == State::kCancelled; }
  // True if done with an exception (not a cancellation); retrieves nothing.
  bool failed() const { return state_ == State::kFinished && exception_ != nullptr; }
  bool Cancel(std::string message);
  void SetException(std::exception_ptr exception);
  // The stored exception (null if it has a result); InvalidStateError if
  // pending, CancelledError if cancelled.
  std::exception_ptr Exception();
  // Throws what Result() throws for a future without a value: InvalidStateError,
  // CancelledError or the stored exception.
  void ThrowUnlessResult();
  // Throws InvalidStateError unless pending; called before storing a value.
  void CheckPending() const;
  // Marks the future done with the value already stored, and wakes.
  void FinishWithResult();

  uint64_t AddCallback(std::function<void(FutureStateBase&)> fn);
  size_t RemoveCallback(uint64_t id);
  void AddWaiter(FutureWaiter* waiter);

 private:
  friend struct FutureWaiter;
  enum class State { kPending, kCancelled, kFinished };
  struct UserCallback;

  void Complete(State state);

  EventLoop* loop_;
  State state_ = State::kPending;
  std::exception_ptr exception_;
  std::string cancel_message_;
  bool log_traceback_ = false;  // An exception nobody has retrieved yet.
  FutureWaiter* head_ = nullptr;
  FutureWaiter* tail_ = nullptr;
  uint64_t next_callback_id_ = 0;
};

template <typename T>
class FutureState final : public FutureStateBase {
 public:
  using FutureStateBase::FutureStateBase;
  std::optional<T> value;
};

template <>
class FutureState<void> final : public FutureStateBase {
 public:
  using FutureStateBase::FutureStateBase;
};

[[noreturn]] void ThrowUninitializedFuture();
void CheckFutureLoop(EventLoop* future_loop, PromiseBase* waiter);

// `co_await future`: suspends the task until the future is done.
// kCopy: the awaited handle was an rvalue, so the result is copied out
// rather than referenced (the reference would outlive the handle).
template <typename T, bool kCopy>
class FutureAwaiter : private CancellableWait, private FutureWaiter {
 public:
  explicit FutureAwaiter(std::shared_ptr<FutureState<T>> state) : state_(std::move(state)) {}
  FutureAwaiter(const FutureAwaiter&) = delete;
  FutureAwaiter& operator=(const FutureAwaiter&) = delete;
  ~FutureAwaiter() { Unlink(); }

  bool await_ready() const noexcept { return state_->done(); }

  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    waiter_ = awaiting.promise().task();
    CheckFutureLoop(state_->loop(), waiter_);
    if (!waiter_->BeginWait(this)) {
      // asyncio: a cancellation pending when the task blocks on a future
      // cancels that future.
      state_->Cancel(waiter_->cancel_message());
      return false;
    }
    awaiting_ = awaiting;
    on_done = &FutureAwaiter::OnDone;
    awaiting_task = waiter_;
    state_->AddWaiter(this);
    return true;
  }

  decltype(auto) await_resume() {
    if (waiter_ != nullptr) waiter_->ThrowIfCancelled(false);
    state_->ThrowUnlessResult();
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (kCopy) {
      return T(*state_->value);
    } else {
      return static_cast<T&>(*state_->value);
    }
  }

 private:
  static void OnDone(FutureWaiter* self) {
    auto* awaiter = static_cast<FutureAwaiter*>(self);
    awaiter->waiter_->EndWait();
    awaiter->state_->loop()->Schedule(awaiter->awaiting_, awaiter->waiter_);
  }
  // Cancelling the awaiting task cancels the future (Task.cancel forwards
  // to the future it waits on); the future's completion wakes the task.
  bool Cancel() override { return state_->Cancel(waiter_->cancel_message()); }
  std::string Describe() const override { return "Future"; }

  std::shared_ptr<FutureState<T>> state_;
  PromiseBase* waiter_ = nullptr;
  std::coroutine_handle<> awaiting_;
};

}  // namespace internal

template <typename T>
class Future {
 public:
  using value_type = T;

  // No future; see the header comment. Use CreateFuture<T>().
  Future() = default;
  // A pending future of `loop` (loop.create_future()).
  explicit Future(EventLoop& loop)
      : state_(std::make_shared<internal::FutureState<T>>(&loop)) {}

  // True if this handle refers to a future.
  bool valid() const { return state_ != nullptr; }
  // True once a result, an exception or a cancellation was set.
  bool Done() const { return state().done(); }
  bool Cancelled() const { return state().cancelled(); }
  EventLoop* GetLoop() const { return state().loop(); }

  // Completes the future with `value` (set_result). Throws InvalidStateError
  // if it is done.
  template <typename U = T>
    requires(!std::is_void_v<T> && std::is_constructible_v<T, U &&>)
  void SetResult(U&& value) const {
    state().CheckPending();
    state_->value.emplace(std::forward<U>(value));
    state_->FinishWithResult();
  }
  void SetResult() const
    requires std::is_void_v<T>
  {
    state().CheckPending();
    state_->FinishWithResult();
  }
  // Completes the future with an exception (set_exception). Throws
  // InvalidStateError if it is done, std::invalid_argument if null.
  void SetException(std::exception_ptr exception) const {
    state().SetException(std::move(exception));
  }
  // Cancels a pending future (cancel(msg)): returns false if it is done.
  bool Cancel(std::string message = {}) const {
    return state().Cancel(std::move(message));
  }

  // The result (result()): throws InvalidStateError if pending,
  // CancelledError if cancelled, or the stored exception.
  std::add_lvalue_reference_t<T> Result() const {
    state().ThrowUnlessResult();
    if constexpr (!std::is_void_v<T>) return *state_->value;
  }
  // The exception, or null after a result (exception()): throws
  // InvalidStateError if pending, CancelledError if cancelled.
  std::exception_ptr Exception() const { return state().Exception(); }

  // Runs `fn(future)` on a later loop pass once the future is done
  // (add_done_callback). Returns an id for RemoveDoneCallback.
  uint64_t AddDoneCallback(std::function<void(Future<T>)> fn) const {
    return state().AddCallback([fn = std::move(fn)](internal::FutureStateBase& base) {
      fn(Future<T>(std::static_pointer_cast<internal::FutureState<T>>(base.shared_from_this())));
    });
  }
  // Removes a callback that has not been scheduled yet; returns how many
  // were removed (0 or 1).
  size_t RemoveDoneCallback(uint64_t id) const { return state().RemoveCallback(id); }

  // Lvalue: a reference to the stored result. Rvalue: a copy, so awaiting
  // a temporary handle of a move-only T does not compile instead of
  // dangling.
  auto operator co_await() const& {
    return internal::FutureAwaiter<T, false>(checked_state());
  }
  auto operator co_await() const&& requires(std::is_void_v<T> || std::is_copy_constructible_v<T>) {
    return internal::FutureAwaiter<T, true>(checked_state());
  }
  auto operator co_await() const&& requires(!std::is_void_v<T> && !std::is_copy_constructible_v<T>)
  = delete;

  friend bool operator==(const Future& a, const Future& b) { return a.state_ == b.state_; }
  const std::shared_ptr<internal::FutureState<T>>& shared_state() const { return state_; }
  static Future FromState(std::shared_ptr<internal::FutureState<T>> state) {
    return Future(std::move(state));
  }

 private:
  explicit Future(std::shared_ptr<internal::FutureState<T>> state) : state_(std::move(state)) {}
  internal::FutureState<T>& state() const {
    if (state_ == nullptr) internal::ThrowUninitializedFuture();
    return *state_;
  }
  const std::shared_ptr<internal::FutureState<T>>& checked_state() const {
    state();
    return state_;
  }

  std::shared_ptr<internal::FutureState<T>> state_;
};

// A pending future of the loop running on this thread (asyncio.Future()).
// Throws std::logic_error("no running event loop") outside a loop.
template <typename T = void>
Future<T> CreateFuture() {
  EventLoop* loop = EventLoop::Current();
  if (loop == nullptr) throw std::logic_error("no running event loop");
  return Future<T>(*loop);
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_FUTURE_H_
