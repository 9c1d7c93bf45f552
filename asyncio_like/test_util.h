// Test helpers: a loop for each test, or a clear skip where io_uring cannot
// be set up on the machine running the tests.
#ifndef ASYNCIO_LIKE_TEST_UTIL_H_
#define ASYNCIO_LIKE_TEST_UTIL_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/event_loop.h"
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

#endif  // ASYNCIO_LIKE_TEST_UTIL_H_
