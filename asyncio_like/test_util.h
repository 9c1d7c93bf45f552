// Test helpers: a loop for each test, or a clear skip where io_uring cannot
// be set up on the machine running the tests.
#ifndef ASYNCIO_LIKE_TEST_UTIL_H_
#define ASYNCIO_LIKE_TEST_UTIL_H_

#include <memory>
#include <stdexcept>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "gtest/gtest.h"

// Declares `std::unique_ptr<EventLoop> loop` created with `options`, or
// skips the test if io_uring is unavailable.
#define ASYNCIO_LIKE_LOOP_OR_SKIP(loop, options)                            \
  std::unique_ptr<::asyncio_like::EventLoop> loop;                          \
  {                                                                         \
    auto created = ::asyncio_like::EventLoop::Create(options);              \
    if (absl::IsUnavailable(created.status())) {                            \
      GTEST_SKIP() << "io_uring is unavailable here: " << created.status(); \
    }                                                                       \
    ASSERT_TRUE(created.ok()) << created.status();                          \
    loop = *std::move(created);                                             \
  }

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderSanitizer = true;
#else
inline constexpr bool kUnderSanitizer = false;
#endif

namespace asyncio_like {

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

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TEST_UTIL_H_
