#include "threadpool/errors.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace threadpool {
namespace {

constexpr absl::string_view kKindPayload = "threadpool.error_kind";
constexpr absl::string_view kInvalidState = "InvalidStateError";
constexpr absl::string_view kBrokenThreadPool = "BrokenThreadPool";

absl::Status Marked(absl::string_view message, absl::string_view kind) {
  absl::Status status = absl::FailedPreconditionError(message);
  status.SetPayload(kKindPayload, absl::Cord(kind));
  return status;
}

bool HasKind(const absl::Status& status, absl::string_view kind) {
  auto payload = status.GetPayload(kKindPayload);
  return payload.has_value() && *payload == kind;
}

}  // namespace

StatusError::StatusError(absl::Status status)
    : std::runtime_error(std::string(status.message())),
      status_(std::move(status)) {}

absl::Status InvalidStateStatus(absl::string_view message) {
  return Marked(message, kInvalidState);
}

absl::Status BrokenThreadPoolStatus(absl::string_view message) {
  return Marked(message, kBrokenThreadPool);
}

bool IsInvalidState(const absl::Status& status) {
  return HasKind(status, kInvalidState);
}

bool IsBrokenThreadPool(const absl::Status& status) {
  return HasKind(status, kBrokenThreadPool);
}

void ThrowStatus(const absl::Status& status) {
  if (absl::IsCancelled(status)) throw CancelledError(status);
  if (IsInvalidState(status)) throw InvalidStateError(status);
  if (IsBrokenThreadPool(status)) throw BrokenThreadPool(status);
  throw StatusError(status);
}

std::exception_ptr ExceptionOfStatus(const absl::Status& status) {
  try {
    ThrowStatus(status);
  } catch (...) {
    return std::current_exception();
  }
}

absl::Status StatusOfException(const std::exception_ptr& exception) {
  try {
    std::rethrow_exception(exception);
  } catch (const StatusError& e) {
    return e.status();
  } catch (const std::exception& e) {
    return absl::UnknownError(e.what());
  } catch (...) {
    return absl::UnknownError(
        "the task threw an exception not derived from std::exception");
  }
}

}  // namespace threadpool
