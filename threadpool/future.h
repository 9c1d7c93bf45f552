// Future<T>: the eventual result of a task submitted to an Executor (such as
// ThreadPoolExecutor), the C++ form of Python's concurrent.futures.Future.
//
// A future is a shared handle: copies refer to the same task, as several
// Python names can refer to one Future object. It is PENDING until a worker
// picks the task up, RUNNING while the task executes, and then done: either
// FINISHED (with a value or an error) or CANCELLED (only a pending future can
// be cancelled). It can be read two ways:
//
//   absl::StatusOr<Future<int>> f = pool->Submit([] { return 6 * 7; });
//   if (!f.ok()) return f.status();           // e.g. the pool is shut down
//   absl::StatusOr<int> v = f->Result();      // waits; v == 42
//   int w = f->ResultOrThrow();               // Python's result(): 42, or
//                                             // rethrows what the task threw
//
// What Result() returns, in Python's terms:
//   * the task's return value (T), or OK for a Future<void>;
//   * the task's error, message intact: a task returning an error
//     absl::Status / absl::StatusOr<U> gives that status, and a task that
//     throws gives the exception's status view (errors.h StatusOfException:
//     absl::UnknownError(e.what()), or a StatusError's own status);
//   * absl::CancelledError if the future was cancelled (CancelledError);
//   * absl::DeadlineExceededError if `timeout` passed first (TimeoutError);
//   * absl::FailedPreconditionError for a default-constructed future.
// ResultOrThrow() is Python's result(): it returns the value or throws: the
// very exception the task threw (same type, same object), a StatusError for
// a returned error status, CancelledError, or TimeoutError (errors.h).
// Exception() returns just the error as a status: OK if the task succeeded
// (Python's exception() returning None); ExceptionPtr() returns the
// exception object itself (null on success).
//
// A negative timeout counts as zero, as in Python.
//
// A future can also be created and resolved by its user, as custom
// executors and Python's own tests do:
//
//   Future<int> f = Future<int>::Create();     // PENDING
//   f.SetRunningOrNotifyCancel();              // optional: RUNNING
//   f.SetResult(42);                           // FINISHED; a second Set*
//                                              // is InvalidStateError
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
#include <exception>
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
#include "threadpool/errors.h"
#include "threadpool/internal/future_state.h"

namespace threadpool {

namespace internal {
struct FutureAccess;

// Python treats a negative timeout as zero.
inline absl::Duration NonNegative(absl::Duration timeout) {
  return timeout < absl::ZeroDuration() ? absl::ZeroDuration() : timeout;
}

// Shared errors of the Future accessors.
absl::Status InvalidFutureError();
absl::Status TimeoutError(absl::Duration timeout);
absl::Status CancelledFutureError();
}  // namespace internal

template <typename T>
class Future {
 public:
  // An invalid future (valid() is false); every accessor reports that.
  Future() = default;

  // A new PENDING future with no task behind it, resolved by the setters
  // below or by Cancel() (Python's Future()).
  static Future Create() { return Future(new internal::UserFutureState<T>()); }

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

  // Python's result(): waits up to `timeout` and returns the value, or
  // throws (see the file comment). std::move(f).ResultOrThrow() moves the
  // value out.
  T ResultOrThrow(absl::Duration timeout = absl::InfiniteDuration()) const&
    requires(std::is_void_v<T> || std::is_copy_constructible_v<T>)
  {
    ThrowUnlessFinished(timeout);
    return ValueOrThrow(state_->CopyResult());
  }
  T ResultOrThrow(absl::Duration timeout = absl::InfiniteDuration()) && {
    ThrowUnlessFinished(timeout);
    return ValueOrThrow(state_->TakeResult());
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

  // Python's exception() as an object: waits up to `timeout` and returns
  // what the task threw (the original object), an exception for a returned
  // error status (ExceptionOfStatus in errors.h), or null if the task
  // succeeded; the same errors as Exception() if there is no outcome.
  absl::StatusOr<std::exception_ptr> ExceptionPtr(
      absl::Duration timeout = absl::InfiniteDuration()) const {
    if (absl::Status s = WaitForOutcome(timeout); !s.ok()) return s;
    if (state_->exception()) return state_->exception();
    absl::Status error = state_->ErrorStatus();
    if (error.ok()) return std::exception_ptr();
    return ExceptionOfStatus(error);
  }

  // Python's set_result / set_exception, for a future made by Create(): the
  // first one on a PENDING or RUNNING future resolves it and runs its
  // callbacks; on a cancelled or finished future, InvalidStateError (a
  // FailedPrecondition that IsInvalidState() recognises).
  template <typename U = T>
    requires(!std::is_void_v<U>)
  absl::Status SetResult(std::type_identity_t<U> value) {
    if (state_ == nullptr) return internal::InvalidFutureError();
    return state_->SetOutcome(std::move(value), nullptr);
  }
  absl::Status SetResult()
    requires std::is_void_v<T>
  {
    if (state_ == nullptr) return internal::InvalidFutureError();
    return state_->SetOutcome(absl::OkStatus(), nullptr);
  }
  // The future fails with `exception` (not null): ResultOrThrow rethrows it
  // and Result gives its status view.
  absl::Status SetException(std::exception_ptr exception) {
    if (state_ == nullptr) return internal::InvalidFutureError();
    if (exception == nullptr) {
      return absl::InvalidArgumentError("SetException: the exception is null");
    }
    absl::Status error = StatusOfException(exception);
    return state_->SetOutcome(std::move(error), std::move(exception));
  }
  // The future fails with `error` (not OK), as if its task returned it.
  absl::Status SetException(absl::Status error) {
    if (state_ == nullptr) return internal::InvalidFutureError();
    if (error.ok()) {
      return absl::InvalidArgumentError("SetException: the status is OK");
    }
    return state_->SetOutcome(std::move(error), nullptr);
  }

  // Python's set_running_or_notify_cancel, for a future made by Create():
  // true if it was PENDING and is now RUNNING, false if it was cancelled
  // (whoever waits on it already knows); FailedPrecondition "Future in
  // unexpected state" if it is running or finished (Python's RuntimeError).
  absl::StatusOr<bool> SetRunningOrNotifyCancel() {
    if (state_ == nullptr) return internal::InvalidFutureError();
    if (!state_->settable()) {
      return absl::FailedPreconditionError(
          "only a future made by Future::Create can be marked running; the "
          "executor runs the futures it returns");
    }
    if (static_cast<internal::UserFutureState<T>*>(state_)->MarkRunning()) {
      return true;
    }
    if (Cancelled()) return false;
    return absl::FailedPreconditionError("Future in unexpected state");
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
    timeout = internal::NonNegative(timeout);
    if (!state_->done() && !state_->WaitUntil(absl::Now() + timeout)) {
      return internal::TimeoutError(timeout);
    }
    if (Cancelled()) return internal::CancelledFutureError();
    return absl::OkStatus();
  }

  // Throws what keeps ResultOrThrow from reading an outcome, and what the
  // task threw.
  void ThrowUnlessFinished(absl::Duration timeout) const {
    if (absl::Status s = WaitForOutcome(timeout); !s.ok()) {
      if (absl::IsDeadlineExceeded(s)) throw TimeoutError(std::move(s));
      ThrowStatus(s);
    }
    if (state_->exception()) std::rethrow_exception(state_->exception());
  }
  static T ValueOrThrow(ResultOr<T> result) {
    if constexpr (std::is_void_v<T>) {
      if (!result.ok()) ThrowStatus(result);
    } else {
      if (!result.ok()) ThrowStatus(result.status());
      return *std::move(result);
    }
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
