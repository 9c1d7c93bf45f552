#include "asyncio_like/tcp_errors.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace asyncio_like {
namespace {

constexpr absl::string_view kErrnoPayload = "asyncio_like/errno";

// The OSError subclass Python raises for `error_number`.
absl::string_view PythonExceptionFor(int error_number) {
  switch (error_number) {
    case ECONNREFUSED: return "ConnectionRefusedError";
    case ECONNRESET: return "ConnectionResetError";
    case ECONNABORTED: return "ConnectionAbortedError";
    case EPIPE:
    case ESHUTDOWN: return "BrokenPipeError";
    case ETIMEDOUT: return "TimeoutError";
    case ENOENT: return "FileNotFoundError";
    case EEXIST: return "FileExistsError";
    case EISDIR: return "IsADirectoryError";
    case EACCES:
    case EPERM: return "PermissionError";
    default: return "OSError";
  }
}

}  // namespace

absl::Status OsError(int error_number, absl::string_view operation) {
  absl::Status status(absl::ErrnoToStatusCode(error_number),
                      absl::StrCat(operation, ": ", std::strerror(error_number), " [",
                                   PythonExceptionFor(error_number), "]"));
  status.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(error_number)));
  return status;
}

std::optional<int> ErrnoOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kErrnoPayload);
  int error_number = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &error_number)) {
    return std::nullopt;
  }
  return error_number;
}

bool IsConnectionRefused(const absl::Status& status) {
  return ErrnoOf(status) == ECONNREFUSED;
}
bool IsConnectionReset(const absl::Status& status) {
  return ErrnoOf(status) == ECONNRESET;
}
bool IsBrokenPipe(const absl::Status& status) {
  const std::optional<int> error_number = ErrnoOf(status);
  return error_number == EPIPE || error_number == ESHUTDOWN;
}
bool IsTimedOut(const absl::Status& status) { return ErrnoOf(status) == ETIMEDOUT; }
bool IsTooManyOpenFiles(const absl::Status& status) {
  const std::optional<int> error_number = ErrnoOf(status);
  return error_number == EMFILE || error_number == ENFILE;
}

}  // namespace asyncio_like
