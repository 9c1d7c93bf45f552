#include "threadpool/future.h"

namespace threadpool::internal {

absl::Status CheckTimeout(absl::Duration timeout) {
  if (timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timeout must not be negative, got ", absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

absl::Status InvalidFutureError() {
  return absl::FailedPreconditionError(
      "the future is not valid (default-constructed or moved-from)");
}

absl::Status TimeoutError(absl::Duration timeout) {
  return absl::DeadlineExceededError(absl::StrCat(
      "the result is not ready within the ", absl::FormatDuration(timeout),
      " timeout"));
}

absl::Status CancelledFutureError() {
  return absl::CancelledError("the future was cancelled");
}

}  // namespace threadpool::internal
