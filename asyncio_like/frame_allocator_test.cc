#include "asyncio_like/frame_allocator.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

using internal::FrameAllocator;

TEST(FrameAllocatorTest, FreedFrameIsReusedForItsSizeClass) {
  void* frame = FrameAllocator::Allocate(90);
  std::memset(frame, 1, 90);
  FrameAllocator::Free(frame, 90);
  // 89..104 bytes share a class: the block serves any of them in full
  // (under ASan, writing all 104 bytes proves the block is that large).
  void* again = FrameAllocator::Allocate(104);
  EXPECT_EQ(again, frame);
  std::memset(again, 2, 104);
  FrameAllocator::Free(again, 104);
}

TEST(FrameAllocatorTest, OtherSizeClassesDoNotGetTheBlock) {
  void* frame = FrameAllocator::Allocate(200);
  FrameAllocator::Free(frame, 200);
  void* smaller = FrameAllocator::Allocate(64);
  void* larger = FrameAllocator::Allocate(400);
  EXPECT_NE(smaller, frame);
  EXPECT_NE(larger, frame);
  std::memset(larger, 3, 400);
  EXPECT_EQ(FrameAllocator::Allocate(200), frame);
  FrameAllocator::Free(frame, 200);
  FrameAllocator::Free(smaller, 64);
  FrameAllocator::Free(larger, 400);
}

TEST(FrameAllocatorTest, CacheIsBounded) {
  const size_t size = FrameAllocator::kMaxCachedFrame;
  std::vector<void*> frames;
  for (size_t i = 0; i < 2 * FrameAllocator::kMaxCachedBytes / size; ++i) {
    frames.push_back(FrameAllocator::Allocate(size));
  }
  for (void* frame : frames) FrameAllocator::Free(frame, size);
  EXPECT_LE(FrameAllocator::CachedBytes(), FrameAllocator::kMaxCachedBytes);
  EXPECT_GE(FrameAllocator::CachedBytes(), FrameAllocator::kMaxCachedBytes - size);
}

TEST(FrameAllocatorTest, LargeFramesBypassTheCache) {
  const size_t before = FrameAllocator::CachedBytes();
  void* frame = FrameAllocator::Allocate(FrameAllocator::kMaxCachedFrame + 1);
  std::memset(frame, 4, FrameAllocator::kMaxCachedFrame + 1);
  FrameAllocator::Free(frame, FrameAllocator::kMaxCachedFrame + 1);
  EXPECT_EQ(FrameAllocator::CachedBytes(), before);
}

TEST(FrameAllocatorTest, FrameFreedOnAnotherThreadJoinsThatThreadsCache) {
  void* frame = FrameAllocator::Allocate(56);
  size_t cached_there = 0;
  void* reused_there = nullptr;
  std::thread([&] {
    FrameAllocator::Free(frame, 56);
    cached_there = FrameAllocator::CachedBytes();
    reused_there = FrameAllocator::Allocate(56);
    // Left in this thread's cache: its exit returns it to the heap (LSan
    // checks that nothing leaks).
    FrameAllocator::Free(reused_there, 56);
  }).join();
  EXPECT_EQ(cached_there, 56u);
  EXPECT_EQ(reused_there, frame);
}

Task<std::string> Greeting(std::string who) { co_return "hello " + who; }

TEST(FrameAllocatorTest, TaskFramesAreRecycled) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto main = []() -> Task<size_t> {
    size_t total = 0;
    for (int i = 0; i < 1000; ++i) total += (co_await Greeting(std::to_string(i))).size();
    co_return total;
  };
  absl::StatusOr<size_t> total = loop->RunUntilComplete(main());
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_EQ(*total, 6 * 1000 + 10 + 90 * 2 + 900 * 3);
  EXPECT_GT(FrameAllocator::CachedBytes(), 0u);
}

TEST(FrameAllocatorTest, UnscheduledTaskDestroyedOnAnotherThread) {
  Task<std::string> task = Greeting("there");
  size_t cached_there = 0;
  std::thread([&cached_there, task = std::move(task)]() mutable {
    task = Task<std::string>();
    cached_there = FrameAllocator::CachedBytes();
  }).join();
  EXPECT_GT(cached_there, 0u);
  // Its frame went to the other thread's cache and back to the heap when
  // that thread exited; this thread's tasks still run.
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> greeting = loop->RunUntilComplete(Greeting("again"));
  ASSERT_TRUE(greeting.ok()) << greeting.status();
  EXPECT_EQ(*greeting, "hello again");
}

TEST(FrameAllocatorTest, FinishedTaskOutlivesItsLoop) {
  Task<std::string> kept;
  {
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
    auto main = [&]() -> Task<void> {
      kept = CreateTask(Greeting("later"));
      co_await kept;
    };
    ASSERT_TRUE(loop->RunUntilComplete(main()).ok());
  }
  ASSERT_TRUE(kept.done());
  EXPECT_EQ(kept.Result(), "hello later");
  kept = Task<std::string>();  // Freed with no loop left.
}

// Owns a task frame in a thread_local built before the thread's first
// frame, so it is destroyed after the thread's cache has been drained.
std::atomic<size_t> cached_after_thread_exit{1};

struct FrameHolder {
  ~FrameHolder() {
    task = Task<std::string>();
    cached_after_thread_exit = FrameAllocator::CachedBytes();
  }
  Task<std::string> task;
};

TEST(FrameAllocatorTest, FrameFreedAfterItsThreadsCacheIsDrained) {
  std::thread([] {
    static thread_local FrameHolder holder;
    holder.task = Greeting("at exit");
  }).join();
  // The frame went to the heap, not to a cache nobody would drain again
  // (LSan would report it); ASan checks it was freed once.
  EXPECT_EQ(cached_after_thread_exit.load(), 0u);
}

}  // namespace
}  // namespace asyncio_like
