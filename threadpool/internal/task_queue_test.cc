#include "threadpool/internal/task_queue.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "gtest/gtest.h"
#include "threadpool/internal/task.h"

// Chunks are over-aligned, so they come from the aligned operator new:
// counting its calls counts the chunks the queue allocates.
std::atomic<int> aligned_allocations{0};

void* operator new(std::size_t size, std::align_val_t alignment) {
  aligned_allocations.fetch_add(1, std::memory_order_relaxed);
  const std::size_t align = static_cast<std::size_t>(alignment);
  if (void* p = std::aligned_alloc(align, (size + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

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
  order.reserve(10000);
  const int allocations_before = aligned_allocations.load();
  for (int i = 0; i < 10000; ++i) {
    queue.push_back(Appending(&order, i));
    EXPECT_EQ(queue.size(), 1u);
    RunFront(queue);
    EXPECT_TRUE(queue.empty());
  }
  ASSERT_EQ(order.size(), 10000u);
  EXPECT_EQ(order.back(), 9999);
  // One chunk for all 10,000 tasks: emptied, it starts over.
  EXPECT_EQ(aligned_allocations.load() - allocations_before, 1);
}

TEST(TaskQueueTest, BacklogsReuseTheirChunks) {
  TaskQueue queue;
  std::vector<int> order;
  order.reserve(10 * 300);
  const int allocations_before = aligned_allocations.load();
  // Each backlog spans two chunks; the one emptied first is kept as the
  // spare and taken again by the next backlog.
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 300; ++i) queue.push_back(Appending(&order, round * 300 + i));
    while (!queue.empty()) RunFront(queue);
  }
  ASSERT_EQ(order.size(), 3000u);
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(order[i], i);
  EXPECT_EQ(aligned_allocations.load() - allocations_before, 2);
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
