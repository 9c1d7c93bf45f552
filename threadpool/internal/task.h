// A unit of work in the pool's queue. Internal to the package.
//
// A submitted task (ThreadPoolExecutor::Submit) is a TaskState: the future's
// shared state with the callable stored in the same allocation, so a task
// with a future costs one heap allocation. A scheduled task
// (ThreadPoolExecutor::Schedule) has no future and is just the callable,
// stored inline in the queue entry when it is small and trivially copyable.

#ifndef THREADPOOL_INTERNAL_TASK_H_
#define THREADPOOL_INTERNAL_TASK_H_

#include <cstddef>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <new>
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

// A queue entry. Tasks are moved by copying their bytes: a submitted task is
// a pointer to its state, and a scheduled task's callable is stored inline
// if it is trivially copyable and small (a lambda capturing a few pointers or
// numbers), otherwise on the heap behind a pointer. Moving a task through the
// queue therefore never calls into the callable.
class Task {
 public:
  Task() = default;
  // Takes over one reference to `state`.
  explicit Task(FutureStateBase* state) : state_(state) {}

  template <typename F>
  static Task FromCallable(F&& fn) {
    using Fn = std::decay_t<F>;
    Task task;
    if constexpr (std::is_trivially_copyable_v<Fn> &&
                  sizeof(Fn) <= kInlineSize &&
                  alignof(Fn) <= alignof(std::max_align_t)) {
      ::new (static_cast<void*>(task.storage_)) Fn(std::forward<F>(fn));
      task.run_ = [](unsigned char* storage) {
        std::move(*std::launder(reinterpret_cast<Fn*>(storage)))();
      };
    } else {
      Fn* heap = new Fn(std::forward<F>(fn));
      std::memcpy(task.storage_, &heap, sizeof(heap));
      task.run_ = [](unsigned char* storage) {
        std::unique_ptr<Fn> owned(HeapCallable<Fn>(storage));
        std::move (*owned)();
      };
      task.discard_ = [](unsigned char* storage) {
        delete HeapCallable<Fn>(storage);
      };
    }
    return task;
  }

  Task(Task&& other) noexcept { TakeFrom(other); }
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      Reset();
      TakeFrom(other);
    }
    return *this;
  }
  ~Task() { Reset(); }

  // Runs the task unless its future was cancelled (see
  // FutureStateBase::Run). An exception escaping a scheduled task has no
  // future to go to and is reported on stderr.
  void Run(absl::FunctionRef<void()> before_publish) && {
    if (state_ != nullptr) {
      state_->Run(before_publish);
      return;
    }
    void (*run)(unsigned char*) = std::exchange(run_, nullptr);
    discard_ = nullptr;  // `run` destroys the callable, even if it throws
    try {
      run(storage_);
    } catch (...) {
      ReportEscapedException("a scheduled task");
    }
    before_publish();
  }

  // The future's state, or nullptr for a scheduled task.
  FutureStateBase* future_state() const { return state_; }

  // Resolves the task without running it (see FutureStateBase::Abandon). A
  // scheduled task is dropped.
  void Abandon(const absl::Status& why) && {
    if (state_ != nullptr) state_->Abandon(why);
    Reset();
  }

 private:
  static constexpr size_t kInlineSize = 3 * sizeof(void*);

  template <typename Fn>
  static Fn* HeapCallable(unsigned char* storage) {
    Fn* heap;
    std::memcpy(&heap, storage, sizeof(heap));
    return heap;
  }

  void TakeFrom(Task& other) {
    state_ = std::exchange(other.state_, nullptr);
    run_ = std::exchange(other.run_, nullptr);
    discard_ = std::exchange(other.discard_, nullptr);
    std::memcpy(storage_, other.storage_, kInlineSize);
  }

  void Reset() {
    if (state_ != nullptr) state_->Unref();
    if (discard_ != nullptr) discard_(storage_);
    state_ = nullptr;
    run_ = nullptr;
    discard_ = nullptr;
  }

  FutureStateBase* state_ = nullptr;
  // Runs, then destroys, the scheduled callable.
  void (*run_)(unsigned char*) = nullptr;
  // Destroys a heap-stored callable that was not run; null when inline.
  void (*discard_)(unsigned char*) = nullptr;
  alignas(std::max_align_t) unsigned char storage_[kInlineSize];
};

}  // namespace threadpool::internal

#endif  // THREADPOOL_INTERNAL_TASK_H_
