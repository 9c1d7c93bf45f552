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
constexpr absl::string_view kPartialPayload = "asyncio_like/incomplete_read/partial";
// The expected byte count in decimal, empty for Python's None.
constexpr absl::string_view kExpectedPayload = "asyncio_like/incomplete_read/expected";
// "<consumed> <limit>".
constexpr absl::string_view kLimitOverrunPayload = "asyncio_like/limit_overrun";

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

bool IsFileNotFound(const absl::Status& status) { return ErrnoOf(status) == ENOENT; }

absl::Status IncompleteReadError(absl::string_view partial, std::optional<size_t> expected) {
  const std::string expected_text =
      expected.has_value() ? absl::StrCat(*expected) : std::string("undefined");
  absl::Status status = absl::OutOfRangeError(
      absl::StrCat(partial.size(), " bytes read on a total of ", expected_text,
                   " expected bytes [IncompleteReadError]"));
  status.SetPayload(kPartialPayload, absl::Cord(partial));
  status.SetPayload(kExpectedPayload,
                    absl::Cord(expected.has_value() ? expected_text : std::string()));
  return status;
}

std::optional<IncompleteRead> IncompleteReadOf(const absl::Status& status) {
  const auto partial = status.GetPayload(kPartialPayload);
  const auto expected = status.GetPayload(kExpectedPayload);
  if (!partial || !expected) return std::nullopt;
  IncompleteRead result{std::string(*partial), std::nullopt};
  size_t count = 0;
  if (!expected->empty() && absl::SimpleAtoi(std::string(*expected), &count)) {
    result.expected = count;
  }
  return result;
}

absl::Status LimitOverrunError(absl::string_view message, size_t consumed, size_t limit) {
  absl::Status status = absl::ResourceExhaustedError(absl::StrCat(
      message, " (consumed ", consumed, ", limit ", limit, ") [LimitOverrunError]"));
  status.SetPayload(kLimitOverrunPayload, absl::Cord(absl::StrCat(consumed, " ", limit)));
  return status;
}

std::optional<LimitOverrun> LimitOverrunOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kLimitOverrunPayload);
  if (!payload) return std::nullopt;
  const std::string text(*payload);
  const size_t space = text.find(' ');
  LimitOverrun result;
  if (space == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(text).substr(0, space), &result.consumed) ||
      !absl::SimpleAtoi(absl::string_view(text).substr(space + 1), &result.limit)) {
    return std::nullopt;
  }
  return result;
}

}  // namespace asyncio_like
