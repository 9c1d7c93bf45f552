// Helpers for the ports of CPython's test_locks.py and test_queues.py:
// each test body is a coroutine run on a fresh loop under a deadline.
#ifndef ASYNCIO_LIKE_SYNC_TEST_UTIL_H_
#define ASYNCIO_LIKE_SYNC_TEST_UTIL_H_

#include <exception>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {

// Runs `body` (an IsolatedAsyncioTestCase method) to completion on a new
// loop, as RunTest does (a body still running after 20 s fails the test: it
// hung), then cancels and drains what it left behind. Skips, or fails under
// REQUIRE_IO_URING, where io_uring is unavailable.
inline void RunAsync(Task<void> body) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
  absl::Status status = RunTest(loop.get(), std::move(body));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(loop->CancelAllAndDrain().ok());
}

// asyncio.sleep(0): one trip through the loop.
inline Sleep Yield() { return Sleep(absl::ZeroDuration()); }

// Awaits every task (asyncio.gather): the first exception, if any, is
// rethrown once all have finished.
template <typename T>
Task<void> AwaitAll(std::vector<Task<T>>& tasks) {
  std::exception_ptr first;
  for (Task<T>& task : tasks) {
    try {
      co_await task;
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

// Awaits `task`, reporting whether it ended with CancelledError.
template <typename T>
Task<bool> EndsCancelled(Task<T>& task) {
  try {
    co_await task;
  } catch (const CancelledError&) {
    co_return true;
  }
  co_return false;
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_SYNC_TEST_UTIL_H_
