#include "asyncio_like/file.h"

#include <liburing.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/uring.h"

namespace asyncio_like {

Task<absl::StatusOr<File>> File::Open(std::string path, int flags, mode_t mode) {
  const int result = co_await KernelOp([&](io_uring_sqe* sqe) {
    io_uring_prep_openat(sqe, AT_FDCWD, path.c_str(), flags | O_CLOEXEC, mode);
  });
  if (result < 0) co_return OsError(-result, absl::StrCat("open ", path));
  co_return File(result);
}

namespace {

// Closes `fd` at once, after handing the kernel any queued operation that
// names it.
void CloseNow(int fd) {
  if (fd < 0) return;
  EventLoop::SubmitQueuedBeforeClose(fd);
  close(fd);
}

}  // namespace

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    CloseNow(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

File::~File() { CloseNow(fd_); }

Task<absl::StatusOr<size_t>> File::ReadAt(uint64_t offset, absl::Span<char> buffer) {
  if (fd_ < 0) co_return OsError(EBADF, "read from a closed file");
  const int fd = fd_;
  const int result = co_await KernelOp([&](io_uring_sqe* sqe) {
    io_uring_prep_read(sqe, fd, buffer.data(), buffer.size(), offset);
  });
  if (result < 0) co_return OsError(-result, "read");
  co_return static_cast<size_t>(result);
}

Task<absl::Status> File::WriteAt(uint64_t offset, absl::Span<const char> data) {
  while (!data.empty()) {
    if (fd_ < 0) co_return OsError(EBADF, "write to a closed file");
    const int fd = fd_;
    const int result = co_await KernelOp([&](io_uring_sqe* sqe) {
      io_uring_prep_write(sqe, fd, data.data(), data.size(), offset);
    });
    if (result < 0) co_return OsError(-result, "write");
    if (result == 0) co_return OsError(EIO, "write made no progress");
    data.remove_prefix(static_cast<size_t>(result));
    offset += static_cast<uint64_t>(result);
  }
  co_return absl::OkStatus();
}

Task<absl::Status> File::Sync() {
  if (fd_ < 0) co_return OsError(EBADF, "fsync of a closed file");
  const int fd = fd_;
  const int result = co_await KernelOp([&](io_uring_sqe* sqe) { io_uring_prep_fsync(sqe, fd, 0); });
  if (result < 0) co_return OsError(-result, "fsync");
  co_return absl::OkStatus();
}

Task<absl::Status> File::Close() {
  if (fd_ < 0) co_return absl::OkStatus();
  const int fd = std::exchange(fd_, -1);
  const int result = co_await KernelOp([&](io_uring_sqe* sqe) { io_uring_prep_close(sqe, fd); });
  if (result < 0) co_return OsError(-result, "close");
  co_return absl::OkStatus();
}

}  // namespace asyncio_like
