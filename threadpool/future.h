// Future<T>: the eventual result of a task submitted to a ThreadPoolExecutor,
// the C++ form of Python's concurrent.futures.Future.
//
// A future is a shared handle: copies refer to the same task, as several
// Python names can refer to one Future object. It is PENDING until a worker
// picks the task up, RUNNING while the task executes, and then done: either
// FINISHED (with a value or an error) or CANCELLED (only a pending future can
// be cancelled). Reading it never throws:
//
//   absl::StatusOr<Future<int>> f = pool->Submit([] { return 6 * 7; });
//   if (!f.ok()) return f.status();           // e.g. the pool is shut down
//   absl::StatusOr<int> v = f->Result();      // waits; v == 42
//   absl::StatusOr<int> w = f->Result(absl::Milliseconds(10));
//   // w is DeadlineExceeded if the task is not done within 10 ms.
//
// What Result() returns, in Python's terms:
//   * the task's return value (T), or OK for a Future<void>;
//   * the task's error, message intact: a task returning an error
//     absl::Status / absl::StatusOr<U> gives that status, and a task that
//     throws gives absl::UnknownError(e.what()) (Python's result() re-raises
//     the exception; the C++ exception object itself is not kept);
//   * absl::CancelledError if the future was cancelled (CancelledError);
//   * absl::DeadlineExceededError if `timeout` passed first (TimeoutError);
//   * absl::InvalidArgumentError for a negative timeout, and
//     absl::FailedPreconditionError for a default-constructed future.
// Exception() returns just the error: OK if the task succeeded (Python's
// exception() returning None), the task's error otherwise, and the same
// cancellation and timeout errors as Result().
//
// Results are read by copy (Result() on an lvalue, T must be copyable) or
// moved out (std::move(f).Result(), for move-only T); once moved out, every
// handle of that future reads FailedPrecondition instead of a moved-from
// value.

#ifndef THREADPOOL_FUTURE_H_
#define THREADPOOL_FUTURE_H_

#if __cplusplus < 202002L
#error "threadpool needs C++20: build with -std=c++20 (see threadpool/README.md)"
#endif

#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "threadpool/internal/future_state.h"

namespace threadpool {

namespace internal {
struct FutureAccess;

// Shared checks of the Future accessors.
absl::Status CheckTimeout(absl::Duration timeout);
absl::Status InvalidFutureError();
absl::Status TimeoutError(absl::Duration timeout);
absl::Status CancelledFutureError();
}  // namespace internal

template <typename T>
class Future {
 public:
  // An invalid future (valid() is false); every accessor reports that.
  Future() = default;

  Future(const Future& other) : state_(other.state_) {
    if (state_ != nullptr) state_->Ref();
  }
  Future(Future&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  Future& operator=(Future other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~Future() {
    if (state_ != nullptr) state_->Unref();
  }

  bool valid() const { return state_ != nullptr; }

  // Cancels the task if it has not started. Returns true if the future is
  // (now or already) cancelled, false if it is running or finished.
  bool Cancel() { return state_ != nullptr && state_->Cancel(); }
  bool Cancelled() const {
    return state_ != nullptr &&
           state_->status() == internal::FutureStateBase::kCancelled;
  }
  bool Running() const {
    return state_ != nullptr &&
           state_->status() == internal::FutureStateBase::kRunning;
  }
  // Finished or cancelled.
  bool Done() const { return state_ != nullptr && state_->done(); }

  // Waits up to `timeout` and returns the result (see the file comment).
  ResultOr<T> Result(absl::Duration timeout = absl::InfiniteDuration()) const&
    requires(std::is_void_v<T> || std::is_copy_constructible_v<T>)
  {
    if (absl::Status s = WaitForOutcome(timeout); !s.ok()) return s;
    return state_->CopyResult();
  }
  ResultOr<T> Result(absl::Duration timeout = absl::InfiniteDuration()) && {
    if (absl::Status s = WaitForOutcome(timeout); !s.ok()) return s;
    return state_->TakeResult();
  }

  // Waits up to `timeout` and returns the task's error, or OK if it
  // succeeded; if there is no outcome to report, why (Cancelled,
  // DeadlineExceeded, InvalidArgument, FailedPrecondition, as for Result).
  // Check Done() to tell a task's own DeadlineExceeded from a timeout.
  absl::Status Exception(
      absl::Duration timeout = absl::InfiniteDuration()) const {
    if (absl::Status s = WaitForOutcome(timeout); !s.ok()) return s;
    return state_->ErrorStatus();
  }

  // Calls `fn(future)` once the future is done (finished or cancelled), in
  // the thread that completes it, or at once in this thread if it is already
  // done. An exception thrown by `fn` is reported on stderr and ignored.
  absl::Status AddDoneCallback(absl::AnyInvocable<void(const Future&)> fn) {
    if (state_ == nullptr) return internal::InvalidFutureError();
    if (fn == nullptr) {
      return absl::InvalidArgumentError("AddDoneCallback: the callback is empty");
    }
    state_->AddCallback(
        [fn = std::move(fn)](internal::FutureStateBase& state) mutable {
          fn(Future(static_cast<internal::FutureState<T>*>(&state),
                    kAddReference));
        });
    return absl::OkStatus();
  }

  // Futures compare equal if they are handles of the same task.
  friend bool operator==(const Future& a, const Future& b) {
    return a.state_ == b.state_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Future& f) {
    return H::combine(std::move(h), f.state_);
  }

 private:
  friend struct internal::FutureAccess;

  enum AddReference { kAddReference };
  // Takes over one reference.
  explicit Future(internal::FutureState<T>* state) : state_(state) {}
  Future(internal::FutureState<T>* state, AddReference) : state_(state) {
    state_->Ref();
  }

  absl::Status WaitForOutcome(absl::Duration timeout) const {
    if (state_ == nullptr) return internal::InvalidFutureError();
    if (absl::Status s = internal::CheckTimeout(timeout); !s.ok()) return s;
    if (!state_->WaitUntil(absl::Now() + timeout)) {
      return internal::TimeoutError(timeout);
    }
    if (Cancelled()) return internal::CancelledFutureError();
    return absl::OkStatus();
  }

  internal::FutureState<T>* state_ = nullptr;
};

namespace internal {
// How the rest of the package reaches a future's state.
struct FutureAccess {
  template <typename T>
  static FutureStateBase* State(const Future<T>& future) {
    return future.state_;
  }
  // Wraps a new state, taking over its one reference.
  template <typename T>
  static Future<T> Adopt(FutureState<T>* state) {
    return Future<T>(state);
  }
  // Another handle of `state`, which must belong to a Future<T>.
  template <typename T>
  static Future<T> Share(FutureStateBase* state) {
    return Future<T>(static_cast<FutureState<T>*>(state),
                     Future<T>::kAddReference);
  }
};
}  // namespace internal

}  // namespace threadpool

#endif  // THREADPOOL_FUTURE_H_
