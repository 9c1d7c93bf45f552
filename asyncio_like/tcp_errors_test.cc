#include "asyncio_like/tcp_errors.h"

#include <cerrno>

#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

TEST(OsErrorTest, CarriesCodeMessageAndErrno) {
  const absl::Status refused = OsError(ECONNREFUSED, "connect to 127.0.0.1:9");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(refused.message(),
            "connect to 127.0.0.1:9: Connection refused [ConnectionRefusedError]");
  EXPECT_EQ(ErrnoOf(refused), ECONNREFUSED);
  EXPECT_TRUE(IsConnectionRefused(refused));
  EXPECT_FALSE(IsConnectionReset(refused));
}

TEST(OsErrorTest, ClassifiesAsPythonDoes) {
  EXPECT_TRUE(IsConnectionReset(OsError(ECONNRESET, "recv")));
  EXPECT_TRUE(IsBrokenPipe(OsError(EPIPE, "send")));
  EXPECT_TRUE(IsBrokenPipe(OsError(ESHUTDOWN, "send")));
  EXPECT_TRUE(IsTimedOut(OsError(ETIMEDOUT, "connect")));
  EXPECT_EQ(OsError(ETIMEDOUT, "connect").code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(IsTooManyOpenFiles(OsError(EMFILE, "accept")));
  EXPECT_EQ(OsError(EMFILE, "accept").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(OsError(EPIPE, "send").message().find("[BrokenPipeError]"),
            absl::string_view::npos);
  EXPECT_NE(OsError(EMFILE, "accept").message().find("Too many open files [OSError]"),
            absl::string_view::npos);
}

TEST(OsErrorTest, FileErrorsNamedAsPythonDoes) {
  const absl::Status missing = OsError(ENOENT, "open /nope");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "open /nope: No such file or directory [FileNotFoundError]");
  EXPECT_NE(OsError(EACCES, "open").message().find("[PermissionError]"),
            absl::string_view::npos);
}

TEST(OsErrorTest, OtherStatusesHaveNoErrno) {
  EXPECT_EQ(ErrnoOf(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(ErrnoOf(absl::UnavailableError("x")), std::nullopt);
  EXPECT_FALSE(IsConnectionReset(absl::UnavailableError("x")));
}

}  // namespace
}  // namespace asyncio_like
