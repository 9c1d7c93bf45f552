// A unit of work in the pool's queue. Internal to the package.
//
// A submitted task (ThreadPoolExecutor::Submit) is a TaskState: the future's
// shared state with the callable stored in the same allocation, so a task
// with a future costs one heap allocation. A scheduled task
// (ThreadPoolExecutor::Schedule) has no future and is just the callable,
// stored inline in the queue entry when it is small.

#ifndef THREADPOOL_INTERNAL_TASK_H_
#define THREADPOOL_INTERNAL_TASK_H_

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "threadpool/internal/future_state.h"

namespace threadpool::internal {

// The value type of the future for a task returning R: a task returning
// absl::Status has no value, one returning absl::StatusOr<U> has a U, and any
// other result is stored by value.
template <typename R>
struct FutureValue {
  using type = std::remove_cvref_t<R>;
};
template <>
struct FutureValue<absl::Status> {
  using type = void;
};
template <typename U>
struct FutureValue<absl::StatusOr<U>> {
  using type = U;
};
template <typename R>
using FutureValueT = typename FutureValue<std::remove_cvref_t<R>>::type;

// Calls `fn` and turns whatever it produces or throws into a ResultOr<T>.
// A thrown exception becomes absl::UnknownError carrying its what() message.
template <typename T, typename Fn>
ResultOr<T> InvokeCapturingErrors(Fn&& fn) {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<Fn&&>>) {
      std::invoke(std::forward<Fn>(fn));
      return absl::OkStatus();
    } else {
      return std::invoke(std::forward<Fn>(fn));
    }
  } catch (const std::exception& e) {
    return absl::UnknownError(e.what());
  } catch (...) {
    return absl::UnknownError(
        "the task threw an exception not derived from std::exception");
  }
}

// True for a null function pointer and an empty std::function or
// AnyInvocable: callables that cannot be called.
template <typename F>
bool IsEmptyCallable(const F& fn) {
  if constexpr (requires { fn == nullptr; }) {
    return fn == nullptr;
  } else {
    return false;
  }
}

template <typename T, typename Fn>
class TaskState final : public FutureState<T> {
 public:
  explicit TaskState(Fn fn) : fn_(std::move(fn)) {}

  void Run(absl::FunctionRef<void()> before_publish) override {
    // The callable is destroyed as soon as it is no longer needed, so the
    // resources it captured are not kept alive by an unread future.
    if (!this->SetRunning()) {
      fn_.reset();
      return;
    }
    ResultOr<T> result = InvokeCapturingErrors<T>(std::move(*fn_));
    fn_.reset();
    before_publish();
    this->SetResult(std::move(result));
  }

 private:
  std::optional<Fn> fn_;
};

class Task {
 public:
  Task() = default;
  // Takes over one reference to `state`.
  explicit Task(FutureStateBase* state) : state_(state) {}
  explicit Task(absl::AnyInvocable<void() &&> fn) : fn_(std::move(fn)) {}

  Task(Task&& other) noexcept
      : state_(std::exchange(other.state_, nullptr)),
        fn_(std::move(other.fn_)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (state_ != nullptr) state_->Unref();
      state_ = std::exchange(other.state_, nullptr);
      fn_ = std::move(other.fn_);
    }
    return *this;
  }
  ~Task() {
    if (state_ != nullptr) state_->Unref();
  }

  // Runs the task unless its future was cancelled (see
  // FutureStateBase::Run). An exception escaping a scheduled task has no
  // future to go to and is reported on stderr.
  void Run(absl::FunctionRef<void()> before_publish) && {
    if (state_ != nullptr) {
      state_->Run(before_publish);
      return;
    }
    try {
      std::move(fn_)();
    } catch (...) {
      ReportEscapedException("a scheduled task");
    }
    fn_ = nullptr;
    before_publish();
  }

  // The future's state, or nullptr for a scheduled task.
  FutureStateBase* future_state() const { return state_; }

  // Resolves the task without running it (see FutureStateBase::Abandon). A
  // scheduled task is dropped.
  void Abandon(const absl::Status& why) && {
    if (state_ != nullptr) state_->Abandon(why);
    fn_ = nullptr;
  }

 private:
  FutureStateBase* state_ = nullptr;
  absl::AnyInvocable<void() &&> fn_;
};

}  // namespace threadpool::internal

#endif  // THREADPOOL_INTERNAL_TASK_H_
