#include "threadpool/future.h"

namespace threadpool::internal {

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
