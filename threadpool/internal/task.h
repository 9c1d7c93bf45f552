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
#include "threadpool/errors.h"
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

// Calls `fn` and turns whatever it produces or throws into a ResultOr<T>. A
// thrown exception is kept in `exception` (only then is it written), and
// its status view (StatusOfException) becomes the error.
template <typename T, typename Fn>
ResultOr<T> InvokeCapturingErrors(Fn&& fn, std::exception_ptr& exception) {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<Fn&&>>) {
      std::invoke(std::forward<Fn>(fn));
      return absl::OkStatus();
    } else {
      return std::invoke(std::forward<Fn>(fn));
    }
  } catch (const StatusError& e) {
    exception = std::current_exception();
    return e.status();
  } catch (const std::exception& e) {
    exception = std::current_exception();
    return absl::UnknownError(e.what());
  } catch (...) {
    exception = std::current_exception();
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
    std::exception_ptr exception;
    ResultOr<T> result = InvokeCapturingErrors<T>(std::move(*fn_), exception);
    fn_.reset();
    before_publish();
    this->SetResult(std::move(result), std::move(exception));
  }

 private:
  std::optional<Fn> fn_;
};

// A queue entry: a pointer to a table of what the task does, and 24 bytes of
// storage. A submitted task stores a pointer to its state; a scheduled
// task's callable is stored inline if it is trivially copyable and small (a
// lambda capturing up to three pointers or numbers), otherwise on the heap
// behind a pointer. Moving a task copies 32 bytes and never calls into the
// callable, and two tasks share a cache line: the lines of the queue are what
// a submitter and a worker hand to each other, task by task.
class Task {
 public:
  Task() = default;
  // Takes over one reference to `state`.
  explicit Task(FutureStateBase* state) : ops_(&kFutureStateOps) {
    StorePointer(state);
  }

  template <typename F>
  static Task FromCallable(F&& fn) {
    using Fn = std::decay_t<F>;
    Task task;
    if constexpr (std::is_trivially_copyable_v<Fn> &&
                  sizeof(Fn) <= kInlineSize &&
                  alignof(Fn) <= alignof(void*)) {
      ::new (static_cast<void*>(task.storage_)) Fn(std::forward<F>(fn));
      task.ops_ = &kInlineOps<Fn>;
    } else {
      task.StorePointer(new Fn(std::forward<F>(fn)));
      task.ops_ = &kHeapOps<Fn>;
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
  // future to go to and is reported on stderr. Leaves future_state()
  // unchanged, so that other threads may read it (under a lock the pool
  // holds) while the task runs.
  void Run(absl::FunctionRef<void()> before_publish) && {
    ops_->run(storage_, before_publish);
  }
  void Run() && {
    std::move(*this).Run([] {});
  }

  // The future's state, or nullptr for a scheduled task.
  FutureStateBase* future_state() const {
    return ops_ == &kFutureStateOps ? LoadPointer<FutureStateBase>() : nullptr;
  }

  // Resolves the task without running it (see FutureStateBase::Abandon). A
  // scheduled task is dropped.
  void Abandon(const absl::Status& why) && {
    if (FutureStateBase* state = future_state()) state->Abandon(why);
    Reset();
  }

 private:
  static constexpr size_t kInlineSize = 3 * sizeof(void*);

  struct Ops {
    // Runs the task. A heap-stored callable is destroyed, and its pointer
    // cleared, before the task counts as run.
    void (*run)(unsigned char* storage,
                absl::FunctionRef<void()> before_publish);
    // Releases what the storage holds, run or not; null when there is
    // nothing to release.
    void (*release)(unsigned char* storage);
  };

  template <typename T>
  static T* LoadPointer(const unsigned char* storage) {
    T* pointer;
    std::memcpy(&pointer, storage, sizeof(pointer));
    return pointer;
  }
  template <typename T>
  T* LoadPointer() const {
    return LoadPointer<T>(storage_);
  }
  template <typename T>
  static void StorePointer(unsigned char* storage, T* pointer) {
    std::memcpy(storage, &pointer, sizeof(pointer));
  }
  template <typename T>
  void StorePointer(T* pointer) {
    StorePointer(storage_, pointer);
  }

  // Calls a scheduled callable; what it throws has nowhere to go but stderr.
  template <typename Fn>
  static void CallScheduled(Fn&& fn) {
    try {
      std::forward<Fn>(fn)();
    } catch (...) {
      ReportEscapedException("a scheduled task");
    }
  }

  static constexpr Ops kFutureStateOps = {
      [](unsigned char* storage, absl::FunctionRef<void()> before_publish) {
        LoadPointer<FutureStateBase>(storage)->Run(before_publish);
      },
      [](unsigned char* storage) {
        LoadPointer<FutureStateBase>(storage)->Unref();
      }};

  // An inline callable is trivially copyable, so it needs no destruction.
  template <typename Fn>
  static constexpr Ops kInlineOps = {
      [](unsigned char* storage, absl::FunctionRef<void()> before_publish) {
        CallScheduled(std::move(*std::launder(reinterpret_cast<Fn*>(storage))));
        before_publish();
      },
      nullptr};

  template <typename Fn>
  static constexpr Ops kHeapOps = {
      [](unsigned char* storage, absl::FunctionRef<void()> before_publish) {
        {
          std::unique_ptr<Fn> owned(LoadPointer<Fn>(storage));
          StorePointer<Fn>(storage, nullptr);
          CallScheduled(std::move(*owned));
        }
        before_publish();
      },
      [](unsigned char* storage) { delete LoadPointer<Fn>(storage); }};

  void TakeFrom(Task& other) {
    ops_ = std::exchange(other.ops_, nullptr);
    std::memcpy(storage_, other.storage_, kInlineSize);
  }

  void Reset() {
    if (ops_ != nullptr && ops_->release != nullptr) ops_->release(storage_);
    ops_ = nullptr;
  }

  const Ops* ops_ = nullptr;
  alignas(void*) unsigned char storage_[kInlineSize];
};

static_assert(sizeof(Task) == 32, "two queue entries per cache line");

}  // namespace threadpool::internal

#endif  // THREADPOOL_INTERNAL_TASK_H_
