// CPython 3.13's Lib/test/test_asyncio/test_eager_task_factory.py: the
// task-counting tests (BaseTaskCountingTests) in their non-eager variants
// (NonEagerTests, NonEagerPyTaskTests, NonEagerCTaskTests). CPython counts
// the tasks its task factory makes; here the loop counts CreateTask calls
// (LoopStats::tasks_created), the main task included, as run_until_complete
// wraps its coroutine in a task through the factory. There is no eager task
// factory, so the eager variants (no task made at all) and
// EagerTaskFactoryLoopTests are not ported; see CONFORMANCE.md.
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/task.h"
#include "asyncio_like/task_group.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// BaseNonEagerTaskFactoryTests.expected_task_count: 1 + 5 + 5^2 + 5^3 + 5^4.
constexpr uint64_t kExpectedTaskCount = 781;

Task<int> AwaitableChain(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await AwaitableChain(depth - 1);
}

Task<void> RecursiveTaskgroups(int width, int depth) {
  if (depth == 0) co_return;
  TaskGroup tg;
  co_await tg.Run([&]() -> Task<void> {
    for (int i = 0; i < width; ++i) tg.CreateTask(RecursiveTaskgroups(width, depth - 1));
    co_return;
  });
}

Task<void> RecursiveGather(int width, int depth) {
  if (depth == 0) co_return;
  std::vector<Task<void>> children;
  for (int i = 0; i < width; ++i) children.push_back(RecursiveGather(width, depth - 1));
  co_await Gather(std::move(children));
}

TEST(BaseTaskCountingTests, test_awaitables_chain) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
  absl::StatusOr<int> observed_depth = loop->RunUntilComplete(AwaitableChain(100));
  ASSERT_TRUE(observed_depth.ok()) << observed_depth.status();
  EXPECT_EQ(*observed_depth, 100);
  EXPECT_EQ(loop->stats().tasks_created, 1u);
}

TEST(BaseTaskCountingTests, test_recursive_taskgroups) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
  absl::Status ran = loop->RunUntilComplete(RecursiveTaskgroups(5, 4));
  ASSERT_TRUE(ran.ok()) << ran;
  EXPECT_EQ(loop->stats().tasks_created, kExpectedTaskCount);
}

TEST(BaseTaskCountingTests, test_recursive_gather) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
  absl::Status ran = loop->RunUntilComplete(RecursiveGather(5, 4));
  ASSERT_TRUE(ran.ok()) << ran;
  EXPECT_EQ(loop->stats().tasks_created, kExpectedTaskCount);
}

}  // namespace
}  // namespace asyncio_like
