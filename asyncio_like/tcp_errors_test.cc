#include "asyncio_like/tcp_errors.h"

#include <cerrno>

#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

TEST(SocketErrorTest, CarriesCodeMessageAndErrno) {
  const absl::Status refused = SocketError(ECONNREFUSED, "connect to 127.0.0.1:9");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(refused.message(),
            "connect to 127.0.0.1:9: Connection refused [ConnectionRefusedError]");
  EXPECT_EQ(ErrnoOf(refused), ECONNREFUSED);
  EXPECT_TRUE(IsConnectionRefused(refused));
  EXPECT_FALSE(IsConnectionReset(refused));
}

TEST(SocketErrorTest, ClassifiesAsPythonDoes) {
  EXPECT_TRUE(IsConnectionReset(SocketError(ECONNRESET, "recv")));
  EXPECT_TRUE(IsBrokenPipe(SocketError(EPIPE, "send")));
  EXPECT_TRUE(IsBrokenPipe(SocketError(ESHUTDOWN, "send")));
  EXPECT_TRUE(IsTimedOut(SocketError(ETIMEDOUT, "connect")));
  EXPECT_EQ(SocketError(ETIMEDOUT, "connect").code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(IsTooManyOpenFiles(SocketError(EMFILE, "accept")));
  EXPECT_EQ(SocketError(EMFILE, "accept").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(SocketError(EPIPE, "send").message().find("[BrokenPipeError]"),
            absl::string_view::npos);
  EXPECT_NE(SocketError(EMFILE, "accept").message().find("Too many open files [OSError]"),
            absl::string_view::npos);
}

TEST(SocketErrorTest, OtherStatusesHaveNoErrno) {
  EXPECT_EQ(ErrnoOf(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(ErrnoOf(absl::UnavailableError("x")), std::nullopt);
  EXPECT_FALSE(IsConnectionReset(absl::UnavailableError("x")));
}

}  // namespace
}  // namespace asyncio_like
