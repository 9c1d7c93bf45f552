// Test helpers: a loop for each test, or a clear skip where io_uring cannot
// be set up on the machine running the tests.
#ifndef ASYNCIO_LIKE_TEST_UTIL_H_
#define ASYNCIO_LIKE_TEST_UTIL_H_

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timeout.h"
#include "gtest/gtest.h"

// Skips the test because io_uring is unavailable (`status` says why), or
// fails it where REQUIRE_IO_URING is set in the environment (CI sets it), so
// that a machine without io_uring cannot pass while testing nothing.
#define ASYNCIO_LIKE_SKIP_WITHOUT_IO_URING(status)                        \
  do {                                                                    \
    if (std::getenv("REQUIRE_IO_URING") != nullptr) {                     \
      FAIL() << "io_uring is required (REQUIRE_IO_URING is set) but "     \
                "unavailable here: "                                      \
             << (status);                                                 \
    }                                                                     \
    GTEST_SKIP() << "io_uring is unavailable here: " << (status);         \
  } while (0)

// Declares `std::unique_ptr<EventLoop> loop` created with `options`, or
// skips the test if io_uring is unavailable. A watchdog fails the test if it
// is still running kTestDeadline later: a hang ends with the test's name.
#define ASYNCIO_LIKE_LOOP_OR_SKIP(loop, options)                            \
  ::asyncio_like::Watchdog loop##_watchdog(::asyncio_like::kTestDeadline,   \
                                           "the test on its event loop");   \
  std::unique_ptr<::asyncio_like::EventLoop> loop;                          \
  {                                                                         \
    auto created = ::asyncio_like::EventLoop::Create(options);              \
    if (absl::IsUnavailable(created.status())) {                            \
      ASYNCIO_LIKE_SKIP_WITHOUT_IO_URING(created.status());                 \
    }                                                                       \
    ASSERT_TRUE(created.ok()) << created.status();                          \
    loop = *std::move(created);                                             \
  }

// Runs the Task<absl::Status> `test` to completion on a fresh loop (with
// the watchdog, skipping where io_uring is missing), expects it to succeed,
// and cancels and drains whatever tasks it left.
#define ASYNCIO_LIKE_RUN_LOOP_TEST(test)                          \
  do {                                                            \
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, ::asyncio_like::LoopOptions{}); \
    absl::Status ran = loop->RunUntilComplete(test);              \
    EXPECT_TRUE(ran.ok()) << ran;                                 \
    EXPECT_TRUE(loop->CancelAllAndDrain().ok());                  \
  } while (0)

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderSanitizer = true;
#else
inline constexpr bool kUnderSanitizer = false;
#endif

namespace asyncio_like {

// How long any one test may run before its watchdog fails it; far above
// what every test needs, even under the sanitizers on a loaded machine.
inline constexpr absl::Duration kTestDeadline = absl::Seconds(45);

// Fails the test, naming it and `what` it waited for, if the scope is still
// running `deadline` after it began: a test that hangs ends in seconds with
// a message instead of at Bazel's timeout with none. With a `rescue` (which
// must be safe to call from another thread, e.g. writing to a pipe the test
// reads), the watchdog records the failure, calls it to unblock the test and
// lets the binary go on to its other cases; without one, or if the rescue
// does not end the scope within another `deadline`, it ends the process.
class Watchdog {
 public:
  Watchdog(absl::Duration deadline, std::string what,
           std::function<void()> rescue = nullptr)
      : thread_([this, deadline, what = std::move(what), rescue = std::move(rescue)] {
          std::unique_lock<std::mutex> lock(mu_);
          auto done = [this] { return done_; };
          const auto timeout = absl::ToChronoNanoseconds(deadline);
          if (done_cv_.wait_for(lock, timeout, done)) return;
          const std::string message = "still waiting for " + what + " after " +
                                      absl::FormatDuration(deadline);
          if (rescue != nullptr) {
            ADD_FAILURE() << message;
            rescue();
            if (done_cv_.wait_for(lock, timeout, done)) return;
          }
          const ::testing::TestInfo* test =
              ::testing::UnitTest::GetInstance()->current_test_info();
          std::fprintf(stderr, "[  FAILED  ] %s.%s: %s\n",
                       test == nullptr ? "?" : test->test_suite_name(),
                       test == nullptr ? "?" : test->name(), message.c_str());
          std::fflush(stderr);
          std::_Exit(1);
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    done_cv_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// Sleeps for `d`, then fails with std::runtime_error(message).
inline Task<void> FailAfter(absl::Duration d, std::string message) {
  co_await Sleep(d);
  throw std::runtime_error(message);
}

// Sleeps "forever" and records in *how whether it woke or was cancelled.
inline Task<void> SleepRecording(std::string* how) {
  try {
    co_await Sleep(absl::Hours(1));
    *how = "woke";
  } catch (const CancelledError&) {
    *how = "cancelled";
    throw;
  }
}

// Runs `main` to completion under a 20 s Timeout, and fails the test if the
// deadline had to cancel it: a deadline's cancellation can otherwise supply
// the very outcome a cancellation test expects.
template <typename T>
RunResult<T> RunTest(EventLoop* loop, Task<T> main) {
  Timeout deadline(absl::Seconds(20));
  RunResult<T> result = loop->RunUntilComplete(deadline.Run(std::move(main)));
  EXPECT_FALSE(deadline.Expired()) << "the test ran into its 20 s deadline";
  return result;
}

// Runs `main`, which describes what happened as a string, and expects
// `expected`.
inline void ExpectRunsTo(EventLoop* loop, Task<std::string> main,
                         const std::string& expected) {
  absl::StatusOr<std::string> result = loop->RunUntilComplete(std::move(main));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, expected);
}

// Python's test_utils.unix_socket_path(): a socket path in a directory of
// its own, removed with whatever is left in it. The directory is under /tmp,
// as Python's is: Bazel's TEST_TMPDIR is often longer than sockaddr_un holds.
class UnixSocketPath {
 public:
  UnixSocketPath() {
    char directory[] = "/tmp/asyncio_like_test_XXXXXX";
    if (mkdtemp(directory) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
      return;
    }
    directory_ = directory;
    path_ = directory_ + "/sock";
  }
  UnixSocketPath(const UnixSocketPath&) = delete;
  UnixSocketPath& operator=(const UnixSocketPath&) = delete;
  ~UnixSocketPath() {
    if (directory_.empty()) return;
    unlink(path_.c_str());
    rmdir(directory_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string directory_;
  std::string path_;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TEST_UTIL_H_
