// FrameAllocator: where Task coroutine frames get their memory.
//
// Every CreateTask and every inline `co_await SomeTask()` allocates a frame
// and frees it when the coroutine ends; with the general-purpose heap that
// pair costs about as much as the rest of a task's life. Frames come in few
// sizes (one per coroutine function), so each thread keeps a free list per
// size class (16-byte steps up to kMaxCachedFrame; a class's blocks are 8
// bytes short of a multiple of 16, which with the heap's 8-byte chunk header
// fills a chunk exactly, so a cached frame takes no more memory than a
// malloc'ed one): a frame freed on a thread
// goes on that thread's list, and the next frame of the same class that
// thread allocates reuses it, a pointer pop instead of a trip through malloc.
//
// The lists belong to threads, not loops, and every block is an ordinary
// heap block, so a frame may be freed on any thread (it joins that thread's
// list) and long after the loop that ran it is gone. A thread caches at most
// kMaxCachedBytes; past that, freed frames go back to the heap. When a thread
// exits, its lists are returned to the heap, and a frame freed later on that
// thread (by another thread_local's destructor) goes straight to the heap.
// Frames larger than kMaxCachedFrame always use the heap.
//
// Task's promise uses it through its operator new/delete; nothing else
// needs to call it:
//
//   void* frame = FrameAllocator::Allocate(size);
//   ...
//   FrameAllocator::Free(frame, size);  // the same size as allocated
#ifndef ASYNCIO_LIKE_FRAME_ALLOCATOR_H_
#define ASYNCIO_LIKE_FRAME_ALLOCATOR_H_

#include <cstddef>
#include <cstdint>

namespace asyncio_like {
namespace internal {

class FrameAllocator {
 public:
  static constexpr size_t kGranule = 16;
  static constexpr size_t kSmallestBlock = 24;
  static constexpr size_t kClasses = 64;
  static constexpr size_t kMaxCachedFrame = kSmallestBlock + kGranule * (kClasses - 1);
  static constexpr size_t kMaxCachedBytes = size_t{8} << 20;  // a thread

  // Memory for a frame of `size` bytes (> 0), aligned for any type.
  static void* Allocate(size_t size) {
    const size_t size_class = ClassOf(size);
    if (size_class < kClasses) {
      Cache& cache = cache_;
      if (FreeBlock* block = cache.free[size_class]) {
        cache.free[size_class] = block->next;
        cache.bytes -= BlockSize(size_class);
        return block;
      }
    }
    return AllocateFromHeap(size);
  }

  // Frees a frame from Allocate(size), on any thread.
  static void Free(void* frame, size_t size) noexcept {
    const size_t size_class = ClassOf(size);
    Cache& cache = cache_;
    // A thread may free a frame before it has allocated one (a task handed
    // over from another thread): its cache needs the exit hook too.
    if (cache.state == kUnregistered) Register();
    if (size_class < kClasses && cache.state == kActive &&
        cache.bytes + BlockSize(size_class) <= kMaxCachedBytes) {
      auto* block = static_cast<FreeBlock*>(frame);
      block->next = cache.free[size_class];
      cache.free[size_class] = block;
      cache.bytes += BlockSize(size_class);
      return;
    }
    ::operator delete(frame);
  }

  // Bytes of freed frames this thread holds for reuse.
  static size_t CachedBytes() { return cache_.bytes; }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  enum State : uint8_t {
    kUnregistered,  // No exit hook yet: the thread's first frame installs it.
    kActive,        // The exit hook is installed: cache.
    kDrained,       // The thread is exiting: free to the heap.
  };
  // Trivial, so that reaching it costs no thread_local initialisation
  // check and it stays usable after the thread's destructors have run.
  struct Cache {
    FreeBlock* free[kClasses];
    size_t bytes;
    State state;
  };

  static size_t ClassOf(size_t size) {
    return size <= kSmallestBlock ? 0 : (size - kSmallestBlock + kGranule - 1) / kGranule;
  }
  static size_t BlockSize(size_t size_class) {
    return kSmallestBlock + size_class * kGranule;
  }
  // Installs the exit hook on the thread's first allocation or free.
  static void Register() noexcept;
  static void* AllocateFromHeap(size_t size);
  friend class FrameCacheDrain;

  static inline thread_local constinit Cache cache_{};
};

}  // namespace internal
}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_FRAME_ALLOCATOR_H_
