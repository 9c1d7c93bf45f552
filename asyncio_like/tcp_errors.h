// Socket and file errors as absl::Status, named the way Python raises them.
//
// Python turns a failing system call into an OSError subclass chosen by the
// errno: ConnectionRefusedError, ConnectionResetError, BrokenPipeError,
// TimeoutError, FileNotFoundError, PermissionError, and plain OSError for the
// rest (EMFILE: "Too many open files"). Here every such failure is an absl::Status whose code is the
// canonical one for the errno (absl::ErrnoToStatusCode: refused and reset are
// UNAVAILABLE, timed out is DEADLINE_EXCEEDED, too many open files is
// RESOURCE_EXHAUSTED, ...), whose message names the operation, the errno's
// text and the Python exception, and which carries the errno itself so that
// callers can tell the cases apart:
//
//   absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", 9);
//   if (IsConnectionRefused(stream.status())) { ... }
//   // stream.status().message():
//   //   "connect to 127.0.0.1:9: Connection refused [ConnectionRefusedError]"
//
// End of stream is not an error: reads return 0 bytes (or, for ReadExactly,
// an OUT_OF_RANGE status naming IncompleteReadError).
#ifndef ASYNCIO_LIKE_TCP_ERRORS_H_
#define ASYNCIO_LIKE_TCP_ERRORS_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace asyncio_like {

// The status for a system call (or io_uring operation) of `operation` that
// failed with `error_number`.
absl::Status OsError(int error_number, absl::string_view operation);

// The errno a status from OsError carries, if any.
std::optional<int> ErrnoOf(const absl::Status& status);

bool IsConnectionRefused(const absl::Status& status);  // ECONNREFUSED
bool IsConnectionReset(const absl::Status& status);    // ECONNRESET
bool IsBrokenPipe(const absl::Status& status);         // EPIPE, ESHUTDOWN
bool IsTimedOut(const absl::Status& status);           // ETIMEDOUT
bool IsTooManyOpenFiles(const absl::Status& status);   // EMFILE, ENFILE

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TCP_ERRORS_H_
