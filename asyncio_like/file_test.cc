// Files through io_uring: writes and reads at offsets, end of file, clear
// errors, and many concurrent operations on one file.
#include "asyncio_like/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "asyncio_like/event_loop.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

std::string TempPath(const char* name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

Task<void> WriteThenReadAtOffsets(std::string path) {
  absl::StatusOr<File> file = co_await File::Open(path, O_RDWR | O_CREAT | O_TRUNC);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) co_return;
  const std::string hello = "hello, ";
  const std::string world = "world";
  // Out of order: the second half first.
  EXPECT_TRUE((co_await file->WriteAt(hello.size(), {world.data(), world.size()})).ok());
  EXPECT_TRUE((co_await file->WriteAt(0, {hello.data(), hello.size()})).ok());
  EXPECT_TRUE((co_await file->Sync()).ok());
  char buffer[64];
  absl::StatusOr<size_t> n = co_await file->ReadAt(0, absl::MakeSpan(buffer));
  EXPECT_EQ(n.value_or(0), 12u);
  EXPECT_EQ(std::string(buffer, n.value_or(0)), "hello, world");
  n = co_await file->ReadAt(7, absl::MakeSpan(buffer, 3));
  EXPECT_EQ(std::string(buffer, n.value_or(0)), "wor");
  n = co_await file->ReadAt(12, absl::MakeSpan(buffer));  // end of file
  EXPECT_TRUE(n.ok());
  EXPECT_EQ(n.value_or(99), 0u);
  EXPECT_TRUE((co_await file->Close()).ok());
  EXPECT_FALSE(file->is_open());
  EXPECT_EQ((co_await file->ReadAt(0, absl::MakeSpan(buffer))).status().code(),
            absl::StatusCode::kFailedPrecondition);  // EBADF
}

TEST(FileTest, WriteThenReadAtOffsets) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(WriteThenReadAtOffsets(TempPath("a")));
}

Task<void> MissingFileIsFileNotFound() {
  absl::StatusOr<File> file = co_await File::Open("/nonexistent/dir/file", O_RDONLY);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoOf(file.status()), ENOENT);
  EXPECT_NE(file.status().message().find("[FileNotFoundError]"), absl::string_view::npos);
  EXPECT_NE(file.status().message().find("/nonexistent/dir/file"), absl::string_view::npos);
}

TEST(FileTest, MissingFileIsFileNotFound) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(MissingFileIsFileNotFound());
}

Task<void> WriteBlock(File* file, int block, size_t block_size) {
  const std::string data(block_size, static_cast<char>('a' + block % 26));
  EXPECT_TRUE((co_await file->WriteAt(static_cast<uint64_t>(block) * block_size, {data.data(), data.size()}))
                  .ok());
}

Task<void> ConcurrentWritesLandAtTheirOffsets(std::string path) {
  constexpr int kBlocks = 64;
  constexpr size_t kBlockSize = 4096;
  absl::StatusOr<File> file = co_await File::Open(path, O_RDWR | O_CREAT | O_TRUNC);
  EXPECT_TRUE(file.ok());
  if (!file.ok()) co_return;
  std::vector<Task<void>> writes;
  for (int b = 0; b < kBlocks; ++b) {
    writes.push_back(CreateTask(WriteBlock(&*file, b, kBlockSize)));
  }
  for (Task<void>& write : writes) co_await write;
  std::string all(kBlocks * kBlockSize, '\0');
  absl::StatusOr<size_t> n = co_await file->ReadAt(0, absl::MakeSpan(all));
  EXPECT_EQ(n.value_or(0), all.size());
  for (int b = 0; b < kBlocks; ++b) {
    EXPECT_EQ(all.substr(b * kBlockSize, kBlockSize),
              std::string(kBlockSize, static_cast<char>('a' + b % 26)));
  }
}

TEST(FileTest, ConcurrentWritesLandAtTheirOffsets) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(ConcurrentWritesLandAtTheirOffsets(TempPath("b")));
}

}  // namespace
}  // namespace asyncio_like
