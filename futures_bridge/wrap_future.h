// Where asyncio_like meets threadpool: awaiting a threadpool::Future from an
// asyncio_like task (Python's asyncio.wrap_future), and running a function
// on a threadpool executor from a task (loop.run_in_executor(pool, fn)).
//
//   Task<void> Main(threadpool::ThreadPoolExecutor& pool) {
//     // A future from anywhere: the task suspends, the loop runs on.
//     int n = co_await futures_bridge::WrapFuture(pool.Submit(CountRows));
//     // Or in one step, with fn's result returned exactly as fn returns it:
//     absl::Status s = co_await futures_bridge::RunInExecutor(pool, Flush);
//   }
//
// How it waits. Awaiting registers a done callback on the future and
// suspends the task; no thread blocks and nothing polls. When the future
// completes, the callback (running in the pool's worker, or in whichever
// thread resolved the future) hands the wakeup to the loop with
// CallSoonThreadsafe, and the task resumes on its loop thread with the
// value, or with the exception the pool's task threw (the original object,
// rethrown), or with threadpool::StatusError for a returned error status.
//
// Python's rules, kept:
//   * Cancelling the awaiting task cancels the future if its work has not
//     started (the task sees asyncio_like::CancelledError at once; work
//     already running runs on, its result dropped).
//   * A future that is cancelled (Future::Cancel, or the pool shut down with
//     cancel_futures) raises asyncio_like::CancelledError in the awaiting
//     task, as awaiting a wrapped cancelled future does in asyncio.
//   * A submit that failed (the pool is shut down or broken: Python's
//     run_in_executor raises RuntimeError / BrokenThreadPool) is thrown at
//     the await as threadpool::StatusError (BrokenThreadPool for a broken
//     pool; errors.h).
//   * A pool destroyed while its future is awaited first runs its queued
//     work (its destructor is Shutdown(wait=true)), so the awaiting task
//     gets the result.
//
// Await from a task running on a loop (asyncio_like::Run / CreateTask); each
// WrapFuture(...) is awaited once, as a Python coroutine is. The loop must
// outlive the futures it awaits, or their wakeups are dropped (its tasks
// are cancelled when it closes). GCC 12 destroys a capturing lambda written
// inside a co_await expression twice (asyncio_like/README.md): name such a
// lambda before passing it to RunInExecutor.

#ifndef FUTURES_BRIDGE_WRAP_FUTURE_H_
#define FUTURES_BRIDGE_WRAP_FUTURE_H_

#if __cplusplus < 202002L
#error "futures_bridge needs C++20: build with -std=c++20 (see futures_bridge/README.md)"
#endif

#include <coroutine>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/call_graph.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/threadsafe_calls.h"
#include "threadpool/errors.h"
#include "threadpool/executor.h"
#include "threadpool/future.h"

namespace futures_bridge {
namespace internal {

// `co_await WrapFuture(f)`: suspends the task until `f` is done.
template <typename T>
class FutureAwaiter : private asyncio_like::internal::CancellableWait {
 public:
  explicit FutureAwaiter(absl::StatusOr<threadpool::Future<T>> future)
      : future_(std::move(future)) {}

  bool await_ready() const {
    return !future_.ok() || !future_->valid() || future_->Done();
  }

  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    absl::StatusOr<asyncio_like::LoopHandle> loop =
        asyncio_like::LoopHandle::Current();
    if (!loop.ok()) throw threadpool::StatusError(loop.status());
    task_ = awaiting.promise().task();
    if (!task_->BeginWait(this)) {
      // A cancellation is pending: it is delivered at once, and reaches the
      // future as a cancellation would while suspended.
      future_->Cancel();
      return false;
    }
    wake_ = std::make_shared<Wake>(awaiting, task_);
    absl::Status added = future_->AddDoneCallback(
        [wake = wake_, loop = *std::move(loop)](const threadpool::Future<T>&) {
          loop.CallSoonThreadsafe([wake] {
            if (wake->abandoned) return;  // the task was cancelled meanwhile
            wake->task->EndWait();
            wake->task->loop()->Schedule(wake->awaiting, wake->task);
          });
        });
    // Cannot fail: the future is valid and the callback is not empty.
    (void)added;
    return true;
  }

  T await_resume() {
    if (task_ != nullptr) task_->ThrowIfCancelled(cancelled_);
    if (!future_.ok()) threadpool::ThrowStatus(future_.status());
    if (future_->Cancelled()) throw asyncio_like::CancelledError();
    return std::move(*future_).ResultOrThrow(absl::ZeroDuration());
  }

 private:
  // Shared with the done callback, which may outlive the awaiter; touched
  // on the loop thread only.
  struct Wake {
    Wake(std::coroutine_handle<> awaiting, asyncio_like::internal::PromiseBase* task)
        : awaiting(awaiting), task(task) {}
    std::coroutine_handle<> awaiting;
    asyncio_like::internal::PromiseBase* task;
    bool abandoned = false;
  };

  // asyncio cancels the wrapped future, which cancels the concurrent one if
  // it has not started; the task wakes at once either way.
  bool Cancel() override {
    cancelled_ = true;
    wake_->abandoned = true;
    future_->Cancel();
    task_->EndWait();
    task_->loop()->Schedule(wake_->awaiting, task_);
    return true;
  }

  absl::StatusOr<threadpool::Future<T>> future_;
  asyncio_like::internal::PromiseBase* task_ = nullptr;
  std::shared_ptr<Wake> wake_;
  bool cancelled_ = false;
};

// Carries a function's result through the pool unchanged: a Future<T> would
// take an absl::Status(Or) result as the future's own error.
template <typename R>
struct Boxed {
  R value;
};

}  // namespace internal

// asyncio.wrap_future(future), awaited: `co_await WrapFuture(f)` gives the
// future's value or throws (see the file comment).
template <typename T>
internal::FutureAwaiter<T> WrapFuture(threadpool::Future<T> future) {
  return internal::FutureAwaiter<T>(std::move(future));
}
// The same for what Executor::Submit returns; a failed submit is thrown at
// the await.
template <typename T>
internal::FutureAwaiter<T> WrapFuture(
    absl::StatusOr<threadpool::Future<T>> future) {
  return internal::FutureAwaiter<T>(std::move(future));
}

// loop.run_in_executor(executor, fn): runs fn() on `executor` (a
// ThreadPoolExecutor or any threadpool::Executor) and returns its result on
// the loop thread exactly as fn returned it (an absl::Status is a value
// here), or rethrows what fn threw. `executor` must outlive the call.
template <typename F, typename R = std::invoke_result_t<F&>>
asyncio_like::Task<R> RunInExecutor(threadpool::Executor& executor, F fn) {
  // The work carries the awaiting task's chain (asyncio_like/call_graph.h).
  auto chain = std::make_shared<const asyncio_like::CallGraph>(asyncio_like::CaptureCallGraph());
  if constexpr (std::is_void_v<R>) {
    auto traced = [fn = std::move(fn), chain]() mutable {
      asyncio_like::ScopedOffloadedGraph offloaded(chain.get());
      fn();
    };
    co_await WrapFuture(executor.Submit(std::move(traced)));
  } else {
    auto boxed = [fn = std::move(fn), chain]() mutable {
      asyncio_like::ScopedOffloadedGraph offloaded(chain.get());
      return internal::Boxed<R>{fn()};
    };
    internal::Boxed<R> result =
        co_await WrapFuture(executor.Submit(std::move(boxed)));
    co_return std::move(result.value);
  }
}

}  // namespace futures_bridge

#endif  // FUTURES_BRIDGE_WRAP_FUTURE_H_
