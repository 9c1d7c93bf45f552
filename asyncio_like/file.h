// Files through io_uring: open, read and write at offsets, sync and close,
// each one kernel operation awaited by the task (no thread pool involved).
//
// Python's asyncio has no file API (it points at threads, e.g.
// asyncio.to_thread(path.read_bytes)); io_uring reads and writes regular
// files asynchronously, so here they are plain awaits:
//
//   Task<absl::Status> CopyHeader(std::string from, std::string to) {
//     absl::StatusOr<File> in = co_await File::Open(from, O_RDONLY);
//     if (!in.ok()) co_return in.status();            // [FileNotFoundError], ...
//     char header[512];
//     absl::StatusOr<size_t> n = co_await in->ReadAt(0, absl::MakeSpan(header));
//     if (!n.ok()) co_return n.status();
//     absl::StatusOr<File> out = co_await File::Open(to, O_WRONLY | O_CREAT | O_TRUNC);
//     if (!out.ok()) co_return out.status();
//     if (absl::Status s = co_await out->WriteAt(0, {header, *n}); !s.ok()) co_return s;
//     co_return co_await out->Close();
//   }
//
// Errors are OsError statuses (tcp_errors.h) carrying the errno. Reads and
// writes name their offset explicitly (pread/pwrite): there is no shared file
// position, so concurrent tasks may use one File.
#ifndef ASYNCIO_LIKE_FILE_H_
#define ASYNCIO_LIKE_FILE_H_

#include <fcntl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

class File {
 public:
  // open(2) through io_uring (IORING_OP_OPENAT); `flags` as for open(2),
  // O_CLOEXEC is always added; `mode` applies with O_CREAT.
  static Task<absl::StatusOr<File>> Open(std::string path, int flags, mode_t mode = 0644);

  File(File&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  File& operator=(File&& other) noexcept;
  // Closes the descriptor (synchronously) if Close() was not awaited.
  ~File();

  bool is_open() const { return fd_ >= 0; }

  // Reads up to buffer.size() bytes at `offset`; 0 at end of file.
  Task<absl::StatusOr<size_t>> ReadAt(uint64_t offset, absl::Span<char> buffer);
  // Writes all of `data` at `offset`, continuing after short writes.
  Task<absl::Status> WriteAt(uint64_t offset, absl::Span<const char> data);
  // fsync(2): the data and metadata reach the device.
  Task<absl::Status> Sync();
  // close(2) through io_uring. Idempotent.
  Task<absl::Status> Close();

 private:
  explicit File(int fd) : fd_(fd) {}

  int fd_ = -1;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_FILE_H_
