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
// End of stream is not an error: reads return 0 bytes. The two errors of
// asyncio's stream reader are statuses too, carrying what Python's
// exceptions carry:
//
//   absl::StatusOr<std::string> header = co_await reader.ReadExactly(16);
//   if (std::optional<IncompleteRead> cut = IncompleteReadOf(header.status())) {
//     // cut->partial: the bytes that did arrive; cut->expected: 16
//   }
//   absl::StatusOr<std::string> line = co_await reader.ReadUntil("\r\n");
//   if (std::optional<LimitOverrun> over = LimitOverrunOf(line.status())) {
//     // over->consumed, over->limit; the bytes are still buffered
//   }
#ifndef ASYNCIO_LIKE_TCP_ERRORS_H_
#define ASYNCIO_LIKE_TCP_ERRORS_H_

#include <cstddef>
#include <optional>
#include <string>

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
bool IsFileNotFound(const absl::Status& status);       // ENOENT

// asyncio.IncompleteReadError: the stream ended before the bytes a read
// needed arrived. OUT_OF_RANGE, with Python's message ("18 bytes read on a
// total of 36 expected bytes [IncompleteReadError]"); `expected` is
// std::nullopt where Python's is None (ReadUntil: "undefined expected").
absl::Status IncompleteReadError(absl::string_view partial, std::optional<size_t> expected);

// What an IncompleteReadError carries (its .partial and .expected).
struct IncompleteRead {
  std::string partial;
  std::optional<size_t> expected;
};
// The IncompleteRead of a status from IncompleteReadError, if it is one.
std::optional<IncompleteRead> IncompleteReadOf(const absl::Status& status);

// asyncio.LimitOverrunError: a separator was not found within the reader's
// limit. RESOURCE_EXHAUSTED, with Python's `message`, the number of bytes
// to consume (.consumed) and the limit that was exceeded.
absl::Status LimitOverrunError(absl::string_view message, size_t consumed, size_t limit);

struct LimitOverrun {
  size_t consumed = 0;
  size_t limit = 0;
};
// The LimitOverrun of a status from LimitOverrunError, if it is one.
std::optional<LimitOverrun> LimitOverrunOf(const absl::Status& status);

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TCP_ERRORS_H_
