// CallSoonThreadsafe: how other threads hand work to an event loop.
//
// A loop's thread sleeps in io_uring_enter when it has nothing to do, so a
// thread that wants something run on the loop must both queue it and wake
// the loop. As asyncio does with its self-pipe, the loop keeps a read of an
// eventfd in flight on its ring; another thread appends the callback to a
// mutex-protected queue and, if the queue was empty, writes the eventfd. The
// read completes, the loop moves the queued callbacks to its ready queue
// (call_soon) and arms the read again. No polling: an idle loop stays asleep
// in the kernel until a callback arrives.
//
// A LoopHandle is taken on the loop thread and may be copied to any thread:
//
//   LoopHandle handle = LoopHandle::Current();   // on the loop thread
//   std::thread worker([handle] {
//     int answer = Compute();
//     handle.CallSoonThreadsafe([answer] { Publish(answer); });   // runs on the loop
//   });
//
// Taking a handle arms the wakeup, which then counts as a pending kernel
// operation: from then on the loop no longer reports a deadlock while its
// main task waits, since another thread may still wake it. Once the loop is
// destroyed, CallSoonThreadsafe returns false and drops the callback
// (asyncio raises RuntimeError for a closed loop).
//
// RunCoroutineThreadsafe (asyncio.run_coroutine_threadsafe) builds on it:
// another thread submits a coroutine to the loop, which runs it as a task,
// and gets a ConcurrentFuture (concurrent.futures.Future) to block on:
//
//   ConcurrentFuture<int> answer = RunCoroutineThreadsafe(Compute(), handle);
//   int n = answer.Result(absl::Seconds(5));  // TimeoutError if not done by then
//
// As in asyncio, Cancel() on the ConcurrentFuture marks it cancelled at once
// (Result() then throws CancelledError) and cancels the task on its loop;
// a task that ends cancelled, or raises, makes Result() throw the same. A
// timed-out Result() cancels nothing. If the loop is destroyed before the
// task finishes, Result() throws std::logic_error("Event loop is closed").
#ifndef ASYNCIO_LIKE_THREADSAFE_CALLS_H_
#define ASYNCIO_LIKE_THREADSAFE_CALLS_H_

#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timeout.h"

namespace asyncio_like {

namespace internal {
class ThreadsafeCallQueue;
}  // namespace internal

class LoopHandle {
 public:
  // A handle to the loop running on this thread. Fails if no loop runs
  // here, or if the eventfd cannot be created (EMFILE).
  static absl::StatusOr<LoopHandle> Current();

  // Callable from any thread: schedules `callback` to run on the loop
  // thread (call_soon_threadsafe), in the order of the calls made through
  // this loop's handles. From the loop's own thread it joins the ready
  // queue at once, FIFO with CallSoon, as in asyncio; from another thread it
  // joins it when the loop next wakes (its eventfd read completes), so a
  // CallSoon made on the loop thread in between runs first. Returns false,
  // without running it, if the loop has been destroyed; throws
  // std::invalid_argument for an empty callback.
  bool CallSoonThreadsafe(absl::AnyInvocable<void()> callback) const;

 private:
  explicit LoopHandle(std::shared_ptr<internal::ThreadsafeCallQueue> queue)
      : queue_(std::move(queue)) {}

  std::shared_ptr<internal::ThreadsafeCallQueue> queue_;
};

namespace internal {

// The state a ConcurrentFuture shares with its task. The mutex guards the
// outcome; `task` belongs to the loop thread.
template <typename T>
class ConcurrentState {
 public:
  explicit ConcurrentState(LoopHandle loop) : loop(std::move(loop)) {}

  using Value = std::conditional_t<std::is_void_v<T>, bool, T>;
  enum class State { kPending, kCancelled, kFinished };

  // Each returns false, changing nothing, unless the state is pending.
  bool Finish(std::optional<Value> value, std::exception_ptr exception) {
    absl::MutexLock lock(&mu);
    if (state != State::kPending) return false;
    state = State::kFinished;
    this->value = std::move(value);
    this->exception = std::move(exception);
    return true;
  }
  bool SetCancelled() {
    absl::MutexLock lock(&mu);
    if (state != State::kPending) return state == State::kCancelled;
    state = State::kCancelled;
    return true;
  }
  // Blocks until done or `timeout` passes; throws what Result() throws
  // unless it finished with a value.
  void AwaitOutcome(absl::Duration timeout) {
    absl::MutexLock lock(&mu);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return state != State::kPending; };
    if (!mu.AwaitWithTimeout(absl::Condition(&done), timeout)) throw TimeoutError();
    if (state == State::kCancelled) throw CancelledError();
    if (exception) std::rethrow_exception(exception);
  }
  bool IsDone() {
    absl::MutexLock lock(&mu);
    return state != State::kPending;
  }
  bool IsCancelled() {
    absl::MutexLock lock(&mu);
    return state == State::kCancelled;
  }

  const LoopHandle loop;
  absl::Mutex mu;
  State state ABSL_GUARDED_BY(mu) = State::kPending;
  // Written once under `mu` while pending; read after the state is done.
  std::optional<Value> value;
  std::exception_ptr exception;
  PromiseBase* task = nullptr;  // Loop thread: the running task, or null.
};

// Completes the state with "Event loop is closed" if it is destroyed while
// still pending: the loop dropped the task, or the call that starts it.
template <typename T>
struct ClosedLoopGuard {
  explicit ClosedLoopGuard(std::shared_ptr<ConcurrentState<T>> state) : state(std::move(state)) {}
  ClosedLoopGuard(ClosedLoopGuard&&) noexcept = default;  // Leaves `state` null.
  ~ClosedLoopGuard() {
    if (state != nullptr) {
      state->Finish(std::nullopt,
                    std::make_exception_ptr(std::logic_error("Event loop is closed")));
    }
  }

  std::shared_ptr<ConcurrentState<T>> state;
};

}  // namespace internal

// concurrent.futures.Future for a coroutine submitted with
// RunCoroutineThreadsafe: usable from any thread.
template <typename T>
class ConcurrentFuture {
 public:
  explicit ConcurrentFuture(std::shared_ptr<internal::ConcurrentState<T>> state)
      : state_(std::move(state)) {}

  bool Done() const { return state_->IsDone(); }
  bool Cancelled() const { return state_->IsCancelled(); }
  // Cancels the future and, on its loop, the task (Future.cancel()). Returns
  // false if it had already finished.
  bool Cancel() const {
    if (!state_->SetCancelled()) return false;
    state_->loop.CallSoonThreadsafe([state = state_] {
      if (state->task != nullptr) TaskRef(state->task).Cancel();
    });
    return true;
  }
  // Blocks until the task is done, at most `timeout`, and gives its result:
  // TimeoutError if it is not done by then, CancelledError if cancelled, or
  // the task's exception.
  std::add_lvalue_reference_t<T> Result(absl::Duration timeout = absl::InfiniteDuration()) const {
    state_->AwaitOutcome(timeout);
    if constexpr (!std::is_void_v<T>) return *state_->value;
  }

 private:
  std::shared_ptr<internal::ConcurrentState<T>> state_;
};

// Submits `coro` to the loop behind `loop` from any thread
// (asyncio.run_coroutine_threadsafe); see the header comment.
template <typename T>
ConcurrentFuture<T> RunCoroutineThreadsafe(Task<T> coro, const LoopHandle& loop) {
  if (!coro.valid()) throw std::invalid_argument("RunCoroutineThreadsafe: empty Task");
  auto state = std::make_shared<internal::ConcurrentState<T>>(loop);
  auto start = [coro = std::move(coro),
                guard = internal::ClosedLoopGuard<T>(state)]() mutable {
    EventLoop* running = EventLoop::Current();
    std::shared_ptr<internal::ConcurrentState<T>> state = std::move(guard.state);
    Task<T> task = running->CreateTask(std::move(coro));
    // A Cancel() that came before this ran queued its call after this one
    // (the loop's FIFO), and will find the task here.
    state->task = task.promise();
    auto closed = std::make_shared<internal::ClosedLoopGuard<T>>(state);
    task.AddDoneCallback([closed](TaskRef done) {
      std::shared_ptr<internal::ConcurrentState<T>> state = std::move(closed->state);
      state->task = nullptr;
      auto* promise = static_cast<internal::TaskPromise<T>*>(done.promise());
      if (done.cancelled()) {
        promise->mark_exception_observed();
        state->SetCancelled();
      } else if (promise->exception()) {
        promise->mark_exception_observed();
        state->Finish(std::nullopt, promise->exception());
      } else if constexpr (std::is_void_v<T>) {
        state->Finish(true, nullptr);
      } else {
        state->Finish(std::move(promise->result()), nullptr);
      }
    });
  };
  ConcurrentFuture<T> future(state);
  loop.CallSoonThreadsafe(std::move(start));
  return future;
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_THREADSAFE_CALLS_H_
