// CPython's test_concurrent_futures/test_future.py (class FutureTests),
// ported test by test: user-created futures, their callbacks, states,
// results and exceptions. See CONFORMANCE.md for the rows not ported.

#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "threadpool/errors.h"
#include "threadpool/future.h"
#include "threadpool/test_util.h"

namespace threadpool {
namespace {

using ::testing::HasSubstr;
using ::threadpool::testing::PreparedFuture;
using ::threadpool::testing::PreparedState;

// The message of the exception `f` holds (its original object).
std::string ExceptionMessage(const Future<int>& f) {
  absl::StatusOr<std::exception_ptr> e = f.ExceptionPtr(absl::ZeroDuration());
  if (!e.ok() || *e == nullptr) return "<none>";
  try {
    std::rethrow_exception(*e);
  } catch (const std::exception& thrown) {
    return thrown.what();
  }
}

TEST(FutureTests, test_done_callback_with_result) {
  int callback_result = 0;
  Future<int> f = Future<int>::Create();
  ASSERT_TRUE(f.AddDoneCallback([&](const Future<int>& done) {
                 callback_result = done.ResultOrThrow();
               }).ok());
  ASSERT_TRUE(f.SetResult(5).ok());
  EXPECT_EQ(callback_result, 5);
}

TEST(FutureTests, test_done_callback_with_exception) {
  std::string callback_exception;
  Future<int> f = Future<int>::Create();
  ASSERT_TRUE(f.AddDoneCallback([&](const Future<int>& done) {
                 callback_exception = ExceptionMessage(done);
               }).ok());
  ASSERT_TRUE(
      f.SetException(std::make_exception_ptr(std::runtime_error("test"))).ok());
  EXPECT_EQ(callback_exception, "test");
}

TEST(FutureTests, test_done_callback_with_cancel) {
  bool was_cancelled = false;
  Future<int> f = Future<int>::Create();
  ASSERT_TRUE(f.AddDoneCallback([&](const Future<int>& done) {
                 was_cancelled = done.Cancelled();
               }).ok());
  EXPECT_TRUE(f.Cancel());
  EXPECT_TRUE(was_cancelled);
}

TEST(FutureTests, test_done_callback_raises) {
  ::testing::internal::CaptureStderr();
  bool raising_was_called = false;
  bool fn_was_called = false;
  Future<int> f = Future<int>::Create();
  ASSERT_TRUE(f.AddDoneCallback([&](const Future<int>&) {
                 raising_was_called = true;
                 throw std::runtime_error("doh!");
               }).ok());
  ASSERT_TRUE(
      f.AddDoneCallback([&](const Future<int>&) { fn_was_called = true; }).ok());
  ASSERT_TRUE(f.SetResult(5).ok());
  const std::string stderr_text = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(raising_was_called);
  EXPECT_TRUE(fn_was_called);
  EXPECT_THAT(stderr_text, HasSubstr("doh!"));
}

TEST(FutureTests, test_done_callback_already_successful) {
  int callback_result = 0;
  Future<int> f = Future<int>::Create();
  ASSERT_TRUE(f.SetResult(5).ok());
  ASSERT_TRUE(f.AddDoneCallback([&](const Future<int>& done) {
                 callback_result = done.ResultOrThrow();
               }).ok());
  EXPECT_EQ(callback_result, 5);
}

TEST(FutureTests, test_done_callback_already_failed) {
  std::string callback_exception;
  Future<int> f = Future<int>::Create();
  ASSERT_TRUE(
      f.SetException(std::make_exception_ptr(std::runtime_error("test"))).ok());
  ASSERT_TRUE(f.AddDoneCallback([&](const Future<int>& done) {
                 callback_exception = ExceptionMessage(done);
               }).ok());
  EXPECT_EQ(callback_exception, "test");
}

TEST(FutureTests, test_done_callback_already_cancelled) {
  bool was_cancelled = false;
  Future<int> f = Future<int>::Create();
  EXPECT_TRUE(f.Cancel());
  ASSERT_TRUE(f.AddDoneCallback([&](const Future<int>& done) {
                 was_cancelled = done.Cancelled();
               }).ok());
  EXPECT_TRUE(was_cancelled);
}

TEST(FutureTests, test_done_callback_raises_already_succeeded) {
  ::testing::internal::CaptureStderr();
  Future<int> f = Future<int>::Create();
  ASSERT_TRUE(f.SetResult(5).ok());
  ASSERT_TRUE(f.AddDoneCallback([](const Future<int>&) {
                 throw std::runtime_error("doh!");
               }).ok());
  const std::string stderr_text = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(stderr_text, HasSubstr("exception in a done callback"));
  EXPECT_THAT(stderr_text, HasSubstr("doh!"));
}

TEST(FutureTests, test_cancel) {
  Future<int> f1 = PreparedFuture(PreparedState::kPending);
  Future<int> f2 = PreparedFuture(PreparedState::kRunning);
  Future<int> f3 = PreparedFuture(PreparedState::kCancelled);
  Future<int> f4 = PreparedFuture(PreparedState::kCancelledAndNotified);
  Future<int> f5 = PreparedFuture(PreparedState::kException);
  Future<int> f6 = PreparedFuture(PreparedState::kSuccessful);

  EXPECT_TRUE(f1.Cancel());
  EXPECT_TRUE(f1.Cancelled());
  EXPECT_FALSE(f2.Cancel());
  EXPECT_TRUE(f2.Running());
  EXPECT_TRUE(f3.Cancel());
  EXPECT_TRUE(f3.Cancelled());
  EXPECT_TRUE(f4.Cancel());
  EXPECT_TRUE(f4.Cancelled());
  EXPECT_FALSE(f5.Cancel());
  EXPECT_TRUE(f5.Done() && !f5.Cancelled());
  EXPECT_FALSE(f6.Cancel());
  EXPECT_TRUE(f6.Done() && !f6.Cancelled());
}

TEST(FutureTests, test_cancelled) {
  EXPECT_FALSE(PreparedFuture(PreparedState::kPending).Cancelled());
  EXPECT_FALSE(PreparedFuture(PreparedState::kRunning).Cancelled());
  EXPECT_TRUE(PreparedFuture(PreparedState::kCancelled).Cancelled());
  EXPECT_TRUE(PreparedFuture(PreparedState::kCancelledAndNotified).Cancelled());
  EXPECT_FALSE(PreparedFuture(PreparedState::kException).Cancelled());
  EXPECT_FALSE(PreparedFuture(PreparedState::kSuccessful).Cancelled());
}

TEST(FutureTests, test_done) {
  EXPECT_FALSE(PreparedFuture(PreparedState::kPending).Done());
  EXPECT_FALSE(PreparedFuture(PreparedState::kRunning).Done());
  EXPECT_TRUE(PreparedFuture(PreparedState::kCancelled).Done());
  EXPECT_TRUE(PreparedFuture(PreparedState::kCancelledAndNotified).Done());
  EXPECT_TRUE(PreparedFuture(PreparedState::kException).Done());
  EXPECT_TRUE(PreparedFuture(PreparedState::kSuccessful).Done());
}

TEST(FutureTests, test_running) {
  EXPECT_FALSE(PreparedFuture(PreparedState::kPending).Running());
  EXPECT_TRUE(PreparedFuture(PreparedState::kRunning).Running());
  EXPECT_FALSE(PreparedFuture(PreparedState::kCancelled).Running());
  EXPECT_FALSE(PreparedFuture(PreparedState::kCancelledAndNotified).Running());
  EXPECT_FALSE(PreparedFuture(PreparedState::kException).Running());
  EXPECT_FALSE(PreparedFuture(PreparedState::kSuccessful).Running());
}

TEST(FutureTests, test_result_with_timeout) {
  EXPECT_THROW(PreparedFuture(PreparedState::kPending)
                   .ResultOrThrow(absl::ZeroDuration()),
               TimeoutError);
  EXPECT_THROW(PreparedFuture(PreparedState::kRunning)
                   .ResultOrThrow(absl::ZeroDuration()),
               TimeoutError);
  EXPECT_THROW(PreparedFuture(PreparedState::kCancelled)
                   .ResultOrThrow(absl::ZeroDuration()),
               CancelledError);
  EXPECT_THROW(PreparedFuture(PreparedState::kCancelledAndNotified)
                   .ResultOrThrow(absl::ZeroDuration()),
               CancelledError);
  EXPECT_THROW(PreparedFuture(PreparedState::kException)
                   .ResultOrThrow(absl::ZeroDuration()),
               std::system_error);
  EXPECT_EQ(PreparedFuture(PreparedState::kSuccessful)
                .ResultOrThrow(absl::ZeroDuration()),
            42);
}

TEST(FutureTests, test_result_with_success) {
  Future<int> f1 = PreparedFuture(PreparedState::kPending);
  std::thread notification([f1]() mutable {
    // Give the main thread time to start waiting for the result.
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_TRUE(f1.SetResult(42).ok());
  });
  EXPECT_EQ(f1.ResultOrThrow(absl::Seconds(30)), 42);
  notification.join();
}

TEST(FutureTests, test_result_with_cancel) {
  Future<int> f1 = PreparedFuture(PreparedState::kPending);
  std::thread notification([f1]() mutable {
    absl::SleepFor(absl::Milliseconds(50));
    f1.Cancel();
  });
  EXPECT_THROW(f1.ResultOrThrow(absl::Seconds(30)), CancelledError);
  notification.join();
}

TEST(FutureTests, test_exception_with_timeout) {
  EXPECT_EQ(PreparedFuture(PreparedState::kPending)
                .ExceptionPtr(absl::ZeroDuration())
                .status()
                .code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(PreparedFuture(PreparedState::kRunning)
                .ExceptionPtr(absl::ZeroDuration())
                .status()
                .code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(PreparedFuture(PreparedState::kCancelled)
                .ExceptionPtr(absl::ZeroDuration())
                .status()
                .code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(PreparedFuture(PreparedState::kCancelledAndNotified)
                .ExceptionPtr(absl::ZeroDuration())
                .status()
                .code(),
            absl::StatusCode::kCancelled);
  absl::StatusOr<std::exception_ptr> e =
      PreparedFuture(PreparedState::kException).ExceptionPtr(absl::ZeroDuration());
  ASSERT_TRUE(e.ok());
  EXPECT_THROW(std::rethrow_exception(*e), std::system_error);
  absl::StatusOr<std::exception_ptr> none =
      PreparedFuture(PreparedState::kSuccessful).ExceptionPtr(absl::ZeroDuration());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
}

TEST(FutureTests, test_exception_with_success) {
  Future<int> f1 = PreparedFuture(PreparedState::kPending);
  std::thread notification([f1]() mutable {
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_TRUE(f1.SetException(std::make_exception_ptr(std::system_error(
                                    std::make_error_code(std::errc::io_error))))
                    .ok());
  });
  absl::StatusOr<std::exception_ptr> e = f1.ExceptionPtr(absl::Seconds(30));
  ASSERT_TRUE(e.ok());
  EXPECT_THROW(std::rethrow_exception(*e), std::system_error);
  notification.join();
}

TEST(FutureTests, test_multiple_set_result) {
  Future<int> f = PreparedFuture(PreparedState::kPending);
  ASSERT_TRUE(f.SetResult(1).ok());
  absl::Status again = f.SetResult(2);
  EXPECT_TRUE(IsInvalidState(again)) << again;
  EXPECT_THAT(again.message(), HasSubstr("FINISHED"));
  EXPECT_TRUE(f.Done());
  EXPECT_EQ(f.ResultOrThrow(), 1);
}

TEST(FutureTests, test_multiple_set_exception) {
  Future<int> f = PreparedFuture(PreparedState::kPending);
  auto e = std::make_exception_ptr(std::invalid_argument("ValueError"));
  ASSERT_TRUE(f.SetException(e).ok());
  absl::Status again =
      f.SetException(std::make_exception_ptr(std::runtime_error("Exception")));
  EXPECT_TRUE(IsInvalidState(again)) << again;
  EXPECT_THAT(again.message(), HasSubstr("FINISHED"));
  EXPECT_EQ(*f.ExceptionPtr(), e);
}

}  // namespace
}  // namespace threadpool
