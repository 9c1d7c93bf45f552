// Gather: run several tasks concurrently and collect their results
// (asyncio.gather).
//
//   auto [page, count] = co_await Gather(Fetch(url), Count(db));
//   std::vector<int> sizes = co_await Gather(std::move(fetches));
//   auto outcomes = co_await GatherOutcomes(Fetch(a), Fetch(b));
//   if (!std::get<0>(outcomes).ok()) ...
//
// Gather schedules every unscheduled task (CreateTask) when it is awaited,
// then waits for them. Results come back in argument order; a void task
// contributes std::monostate. As in asyncio:
//   - The first task to fail (throw, including CancelledError) makes Gather
//     rethrow that exception at once; the other tasks keep running, and an
//     exception they end with later counts as retrieved (it is not reported
//     as "never retrieved").
//   - GatherOutcomes is gather(..., return_exceptions=True): it waits for
//     every task and returns an Outcome per task, value or exception.
//   - Cancelling the task awaiting a Gather cancels every task it gathers;
//     once they have all finished, the awaiter gets CancelledError.
// A task whose result is an absl::Status is not "failed" by an error status:
// the status is its result, returned in its slot.
//
// Frameless awaitables (reader.Read(span), writer.Drain(), socket.SendAll)
// can be given beside tasks, as rvalues: each is moved into a task of its
// own (awaitable_task.h), `co_await Gather(a.Read(buf1), b.Read(buf2))`.
#ifndef ASYNCIO_LIKE_GATHER_H_
#define ASYNCIO_LIKE_GATHER_H_

#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "asyncio_like/awaitable_task.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

// The value a Task<T> produces, with void mapped to std::monostate.
template <typename T>
using ResultOf = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// A finished task's outcome: its value or its exception.
template <typename T>
class Outcome {
 public:
  explicit Outcome(ResultOf<T> value) : state_(std::move(value)) {}
  explicit Outcome(std::exception_ptr exception) : state_(std::move(exception)) {}

  bool ok() const { return state_.index() == 0; }
  // True if the task finished by being cancelled.
  bool cancelled() const {
    return !ok() && internal::IsCancelledError(std::get<1>(state_));
  }
  // The exception of a failed task; null if it succeeded.
  std::exception_ptr exception() const {
    return ok() ? nullptr : std::get<1>(state_);
  }
  // The value; rethrows the exception of a failed task.
  ResultOf<T>& value() {
    if (!ok()) std::rethrow_exception(std::get<1>(state_));
    return std::get<0>(state_);
  }

 private:
  std::variant<ResultOf<T>, std::exception_ptr> state_;
};

namespace internal {

// Waits for a fixed set of scheduled tasks, reporting each as it finishes.
class CompletionSet : private CancellableWait {
 public:
  explicit CompletionSet(std::vector<PromiseBase*> tasks);
  CompletionSet(const CompletionSet&) = delete;
  CompletionSet& operator=(const CompletionSet&) = delete;
  ~CompletionSet();

  bool all_reported() const { return reported_ == watches_.size(); }
  PromiseBase* task(size_t index) const { return watches_[index].task; }
  // True once the waiting task was cancelled while waiting here.
  bool cancel_requested() const { return cancel_requested_; }
  // Cancels every task, with the message of the cancellation that caused it.
  void CancelAll(const std::string& message);
  // Marks the exceptions of the tasks as retrieved, of those still running
  // once they finish: what asyncio's gather does for the children that
  // fail after it has failed, so they are not reported as never retrieved.
  void ObserveAllFailures();

  // `co_await set.Next()`: the index of the next task to finish.
  class NextAwaiter {
   public:
    explicit NextAwaiter(CompletionSet* set) : set_(set) {}
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
      return set_->Suspend(awaiting, awaiting.promise().task());
    }
    size_t await_resume() { return set_->Resume(); }

   private:
    CompletionSet* set_;
  };
  NextAwaiter Next() { return NextAwaiter(this); }

 private:
  struct Watch : DoneCallback {
    CompletionSet* set;
    PromiseBase* task;
    size_t index;
  };

  static void OnDone(DoneCallback* callback, PromiseBase* finished);
  bool Suspend(std::coroutine_handle<> awaiting, PromiseBase* task);
  size_t Resume();
  bool Cancel() override;
  std::string Describe() const override;

  std::vector<Watch> watches_;
  std::deque<size_t> finished_;
  size_t reported_ = 0;
  PromiseBase* waiter_ = nullptr;
  std::coroutine_handle<> awaiting_;
  bool cancel_requested_ = false;
};

// The waiting half of Gather and GatherOutcomes: returns once every task
// finished, or throws the first failure (unless return_exceptions), or
// CancelledError if the waiting task was cancelled.
Task<void> GatherWait(std::vector<PromiseBase*> tasks, bool return_exceptions);

template <typename T>
PromiseBase* Schedule(Task<T>& task) {
  if (!task.promise()->is_root()) task = CreateTask(std::move(task));
  return task.promise();
}

template <typename T>
ResultOf<T> TakeResult(Task<T>& task) {
  if constexpr (std::is_void_v<T>) {
    static_cast<TaskPromise<void>*>(task.promise())->result();
    return std::monostate();
  } else {
    return std::move(static_cast<TaskPromise<T>*>(task.promise())->result());
  }
}

template <typename T>
Outcome<T> TakeOutcome(Task<T>& task) {
  PromiseBase* promise = task.promise();
  if (promise->exception()) {
    promise->mark_exception_observed();
    return Outcome<T>(promise->exception());
  }
  return Outcome<T>(TakeResult(task));
}

}  // namespace internal

template <typename... T>
Task<std::tuple<ResultOf<T>...>> Gather(Task<T>... tasks) {
  std::vector<internal::PromiseBase*> promises{internal::Schedule(tasks)...};
  co_await internal::GatherWait(std::move(promises), false);
  co_return std::tuple<ResultOf<T>...>(internal::TakeResult(tasks)...);
}

template <typename T>
Task<std::vector<ResultOf<T>>> Gather(std::vector<Task<T>> tasks) {
  std::vector<internal::PromiseBase*> promises;
  promises.reserve(tasks.size());
  for (Task<T>& task : tasks) promises.push_back(internal::Schedule(task));
  co_await internal::GatherWait(std::move(promises), false);
  std::vector<ResultOf<T>> results;
  results.reserve(tasks.size());
  for (Task<T>& task : tasks) results.push_back(internal::TakeResult(task));
  co_return results;
}

template <typename... T>
Task<std::tuple<Outcome<T>...>> GatherOutcomes(Task<T>... tasks) {
  std::vector<internal::PromiseBase*> promises{internal::Schedule(tasks)...};
  co_await internal::GatherWait(std::move(promises), true);
  co_return std::tuple<Outcome<T>...>(internal::TakeOutcome(tasks)...);
}

template <typename T>
Task<std::vector<Outcome<T>>> GatherOutcomes(std::vector<Task<T>> tasks) {
  std::vector<internal::PromiseBase*> promises;
  promises.reserve(tasks.size());
  for (Task<T>& task : tasks) promises.push_back(internal::Schedule(task));
  co_await internal::GatherWait(std::move(promises), true);
  std::vector<Outcome<T>> outcomes;
  outcomes.reserve(tasks.size());
  for (Task<T>& task : tasks) outcomes.push_back(internal::TakeOutcome(task));
  co_return outcomes;
}

// Gather and GatherOutcomes over rvalue Tasks and frameless awaitables
// together (at least one awaitable; see the header comment).
template <typename... A>
  requires internal::MixedAwaitables<A...>
auto Gather(A&&... aws) {
  return Gather(internal::ToTask(std::forward<A>(aws))...);
}
template <typename... A>
  requires internal::MixedAwaitables<A...>
auto GatherOutcomes(A&&... aws) {
  return GatherOutcomes(internal::ToTask(std::forward<A>(aws))...);
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_GATHER_H_
