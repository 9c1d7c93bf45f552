// An io_uring NOP round trip through liburing: submit a NOP carrying a tag,
// and read back a completion with that tag and a zero result.
#include <liburing.h>

#include <cerrno>
#include <cstring>

#include "gtest/gtest.h"

namespace {

TEST(LiburingSmokeTest, NopRoundTrip) {
  io_uring ring;
  int rc = io_uring_queue_init(8, &ring, 0);
  if (rc == -ENOSYS || rc == -EPERM) {
    GTEST_SKIP() << "io_uring is unavailable on this kernel (io_uring_queue_init: "
                 << std::strerror(-rc)
                 << "); it may be disabled by the kernel.io_uring_disabled sysctl "
                    "or blocked by a seccomp profile";
  }
  ASSERT_EQ(rc, 0) << "io_uring_queue_init: " << std::strerror(-rc);

  constexpr unsigned long long kTag = 0xC0FFEE;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  ASSERT_NE(sqe, nullptr);
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, kTag);
  ASSERT_EQ(io_uring_submit(&ring), 1);

  io_uring_cqe* cqe = nullptr;
  ASSERT_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
  EXPECT_EQ(io_uring_cqe_get_data64(cqe), kTag);
  EXPECT_EQ(cqe->res, 0);
  io_uring_cqe_seen(&ring, cqe);
  io_uring_queue_exit(&ring);
}

}  // namespace
