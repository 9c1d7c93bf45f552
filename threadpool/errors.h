// The errors of concurrent.futures, as C++ exceptions and as absl::Status.
//
// Most of the package reports errors as absl::Status; the exceptions below
// are what the throwing accessors (Future::ResultOrThrow) raise, and what a
// task may throw to fail with a given status. Each carries its status:
//
//   Python                               C++ exception        absl::Status
//   concurrent.futures.CancelledError    CancelledError       kCancelled
//   TimeoutError (from result(timeout))  TimeoutError         kDeadlineExceeded
//   concurrent.futures.InvalidStateError InvalidStateError    kFailedPrecondition
//                                                              + IsInvalidState()
//   concurrent.futures.thread.BrokenThreadPool
//                                        BrokenThreadPool     kFailedPrecondition
//                                                              + IsBrokenThreadPool()
//   (a task returned an error status)    StatusError          that status
//
// InvalidStateError and BrokenThreadPool share FailedPrecondition with other
// misuse (e.g. submitting after shutdown), so they are told apart by a
// payload on the status: test them with IsInvalidState / IsBrokenThreadPool.
//
//   try {
//     int v = future.ResultOrThrow();
//   } catch (const threadpool::CancelledError&) {
//     ...
//   } catch (const std::out_of_range& e) {   // what the task itself threw
//     ...
//   }

#ifndef THREADPOOL_ERRORS_H_
#define THREADPOOL_ERRORS_H_

#include <exception>
#include <stdexcept>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace threadpool {

// An error that carries an absl::Status; what() is its message.
class StatusError : public std::runtime_error {
 public:
  explicit StatusError(absl::Status status);
  const absl::Status& status() const noexcept { return status_; }

 private:
  absl::Status status_;
};

class CancelledError final : public StatusError {
 public:
  using StatusError::StatusError;
};
class TimeoutError final : public StatusError {
 public:
  using StatusError::StatusError;
};
class InvalidStateError final : public StatusError {
 public:
  using StatusError::StatusError;
};
class BrokenThreadPool final : public StatusError {
 public:
  using StatusError::StatusError;
};

// FailedPrecondition marked as Python's InvalidStateError / BrokenThreadPool.
absl::Status InvalidStateStatus(absl::string_view message);
absl::Status BrokenThreadPoolStatus(absl::string_view message);
bool IsInvalidState(const absl::Status& status);
bool IsBrokenThreadPool(const absl::Status& status);

// Throws `status` (not OK) as the most specific exception above: Cancelled
// as CancelledError, the marked FailedPreconditions as InvalidStateError or
// BrokenThreadPool, anything else as StatusError. DeadlineExceeded stays a
// StatusError: only a timeout of the caller's own wait is a TimeoutError.
[[noreturn]] void ThrowStatus(const absl::Status& status);

// `status` (not OK) as the exception ThrowStatus would throw.
std::exception_ptr ExceptionOfStatus(const absl::Status& status);

// The status view of an exception: a StatusError's own status, otherwise
// absl::UnknownError(what()) (or a fixed message for a non-std::exception).
absl::Status StatusOfException(const std::exception_ptr& exception);

}  // namespace threadpool

#endif  // THREADPOOL_ERRORS_H_
