// ToThread and RunInExecutor: run a blocking function on another thread and
// await its result without blocking the loop (asyncio.to_thread and
// loop.run_in_executor).
//
// The awaiting task suspends; the function runs on an executor thread; when
// it returns, the executor thread hands the outcome back through
// CallSoonThreadsafe (threadsafe_calls.h), which wakes the loop through its
// ring, and the task resumes on the loop thread with the result, or with the
// function's exception rethrown. Meanwhile the loop runs its other tasks.
//
//   Task<void> Main() {
//     // Blocking calls (file system, DNS, CPU-heavy work) go to a thread:
//     std::string text = co_await ToThread([] { return ReadWholeFile("/etc/hosts"); });
//     std::string also = co_await ToThread(ReadWholeFile, path);   // a copy of path goes along
//     ThreadExecutor pool(2);
//     int sum = co_await RunInExecutor(pool, [] { return Crunch(); });
//   }
//
// As in asyncio, a thread cannot be interrupted: cancelling the awaiting
// task raises CancelledError in it at once, and the function runs on to its
// end, its result dropped. Whatever the function captures must stay valid
// until then; capture by value.
//
// GCC 12 destroys a lambda written inside a co_await expression twice when
// it captures something with a destructor (a compiler bug, seen here under
// AddressSanitizer). Name such a lambda first:
//
//   auto load = [path] { return ReadWholeFile(path); };   // path: std::string
//   std::string text = co_await ToThread(std::move(load));
//
// ToThread uses a process-wide default executor: a ThreadExecutor of
// min(32, cores + 4) threads, as asyncio's default ThreadPoolExecutor,
// started on first use. Any other Executor (executor.h) can be passed to
// RunInExecutor.
//
// The function carries the call graph of the task that offloaded it:
// CaptureCallGraph() on the executor thread, inside the function, returns
// that task's chain (call_graph.h).
#ifndef ASYNCIO_LIKE_TO_THREAD_H_
#define ASYNCIO_LIKE_TO_THREAD_H_

#include <concepts>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "asyncio_like/call_graph.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/executor.h"
#include "asyncio_like/task.h"
#include "asyncio_like/threadsafe_calls.h"

namespace asyncio_like {

// The executor ToThread uses.
Executor& DefaultExecutor();

namespace internal {

template <typename R>
using StoredResult = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

// What the executor thread hands back to the loop.
template <typename R>
struct ThreadCallOutcome {
  std::optional<StoredResult<R>> value;
  std::exception_ptr exception;
};

// `co_await ThreadCall<R>(executor, fn)`: suspends, runs fn on the executor,
// resumes on the loop thread.
template <typename R, typename F>
class ThreadCall : private CancellableWait {
 public:
  ThreadCall(Executor& executor, F fn) : executor_(executor), fn_(std::move(fn)) {}

  bool await_ready() const noexcept { return false; }

  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    task_ = awaiting.promise().task();
    absl::StatusOr<LoopHandle> loop = LoopHandle::Current();
    if (!loop.ok()) throw std::runtime_error(std::string(loop.status().message()));
    if (!task_->BeginWait(this)) return false;
    state_ = std::make_shared<State>();
    state_->awaiting = awaiting;
    state_->task = task_;
    // The awaiting chain travels with the work: CaptureCallGraph() in fn
    // returns it (call_graph.h).
    auto chain = std::make_shared<const CallGraph>(CaptureTaskGraph(task_, nullptr));
    executor_.Execute([state = state_, fn = std::move(fn_), loop = *loop,
                       chain = std::move(chain)]() mutable {
      try {
        ScopedOffloadedGraph offloaded(chain.get());
        if constexpr (std::is_void_v<R>) {
          fn();
          state->outcome.value.emplace();
        } else {
          state->outcome.value.emplace(fn());
        }
      } catch (...) {
        state->outcome.exception = std::current_exception();
      }
      // The queue's mutex orders these writes before the loop reads them.
      loop.CallSoonThreadsafe([state] {
        if (state->abandoned) return;  // the task was cancelled meanwhile
        state->task->EndWait();
        state->task->loop()->Schedule(state->awaiting, state->task);
      });
    });
    return true;
  }

  R await_resume() {
    task_->ThrowIfCancelled(cancelled_);
    if (state_->outcome.exception) std::rethrow_exception(state_->outcome.exception);
    if constexpr (!std::is_void_v<R>) return std::move(*state_->outcome.value);
  }

 private:
  struct State {
    ThreadCallOutcome<R> outcome;
    std::coroutine_handle<> awaiting;
    PromiseBase* task = nullptr;
    bool abandoned = false;  // loop thread only
  };

  std::string Describe() const override { return "work on an executor thread"; }
  // asyncio cancels the future the task waits on; the thread runs on.
  bool Cancel() override {
    cancelled_ = true;
    state_->abandoned = true;
    task_->EndWait();
    task_->loop()->Schedule(state_->awaiting, task_);
    return true;
  }

  Executor& executor_;
  F fn_;
  PromiseBase* task_ = nullptr;
  std::shared_ptr<State> state_;
  bool cancelled_ = false;
};

}  // namespace internal

// loop.run_in_executor(executor, fn): runs fn() on `executor`, returns its
// result (or rethrows its exception) on the loop thread. `executor` must
// outlive the call.
template <typename F, typename R = std::invoke_result_t<F&>>
Task<R> RunInExecutor(Executor& executor, F fn) {
  if constexpr (std::is_void_v<R>) {
    co_await internal::ThreadCall<R, F>(executor, std::move(fn));
  } else {
    co_return co_await internal::ThreadCall<R, F>(executor, std::move(fn));
  }
}

// asyncio.to_thread(fn): RunInExecutor on the default executor.
template <typename F, typename R = std::invoke_result_t<F&>>
Task<R> ToThread(F fn) {
  return RunInExecutor(DefaultExecutor(), std::move(fn));
}

// asyncio.to_thread(fn, *args): runs fn(args...) on the default executor.
// As std::thread does, the arguments are copied (or moved) here, on the
// calling thread, and handed to fn as rvalues on the executor thread: a
// later change to the caller's variables does not reach fn, and a
// move-only argument (std::unique_ptr) moves through. To pass a reference,
// wrap it in std::ref; what it refers to must then outlive the call.
// Arguments fn cannot take that way do not compile. Python's keyword
// arguments have no counterpart.
template <typename F, typename... Args>
  requires(sizeof...(Args) > 0 && std::invocable<F, Args...>)
Task<std::decay_t<std::invoke_result_t<F, Args...>>> ToThread(F fn, Args... args) {
  auto call = [fn = std::move(fn), ... args = std::move(args)]() mutable {
    return std::invoke(std::move(fn), std::move(args)...);
  };
  return RunInExecutor(DefaultExecutor(), std::move(call));
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TO_THREAD_H_
