#include "threadpool/internal/task_queue.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "threadpool/internal/task.h"

namespace threadpool::internal {
namespace {

// A task that appends `value` to `order` when run.
Task Appending(std::vector<int>* order, int value) {
  return Task::FromCallable([order, value] { order->push_back(value); });
}

void RunFront(TaskQueue& queue) {
  queue.pop_front().Run([] {});
}

TEST(TaskQueueTest, FifoAcrossChunksAndInterleaving) {
  TaskQueue queue;
  std::vector<int> order;
  int pushed = 0;
  // Grow well past one chunk, drain partly, grow again, drain fully, twice.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 1000; ++i) queue.push_back(Appending(&order, pushed++));
    for (int i = 0; i < 700; ++i) RunFront(queue);
    for (int i = 0; i < 600; ++i) queue.push_back(Appending(&order, pushed++));
    EXPECT_EQ(queue.size(), 900u);
    while (!queue.empty()) RunFront(queue);
  }
  ASSERT_EQ(order.size(), static_cast<size_t>(pushed));
  for (int i = 0; i < pushed; ++i) ASSERT_EQ(order[i], i);
}

TEST(TaskQueueTest, OneAtATimeReusesTheChunk) {
  TaskQueue queue;
  std::vector<int> order;
  for (int i = 0; i < 10000; ++i) {
    queue.push_back(Appending(&order, i));
    EXPECT_EQ(queue.size(), 1u);
    RunFront(queue);
    EXPECT_TRUE(queue.empty());
  }
  ASSERT_EQ(order.size(), 10000u);
  EXPECT_EQ(order.back(), 9999);
}

TEST(TaskQueueTest, DestroyingAQueueDestroysItsTasksUnrun) {
  auto shared = std::make_shared<int>(0);
  {
    TaskQueue queue;
    for (int i = 0; i < 1000; ++i) {
      // Not trivially copyable, so each task owns a heap copy.
      queue.push_back(Task::FromCallable([shared] { ++*shared; }));
    }
    EXPECT_EQ(shared.use_count(), 1001);
  }
  EXPECT_EQ(*shared, 0);
  EXPECT_EQ(shared.use_count(), 1);
}

}  // namespace
}  // namespace threadpool::internal
