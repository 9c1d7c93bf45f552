#include "asyncio_like/frame_allocator.h"

#include <cstddef>
#include <new>

namespace asyncio_like {
namespace internal {

// Returns a thread's cached frames to the heap when the thread exits. Built
// on the thread's first heap allocation of a frame, so it is destroyed
// before any thread_local built earlier that may still own frames; those
// frames then find the cache drained and go to the heap.
class FrameCacheDrain {
 public:
  FrameCacheDrain() { FrameAllocator::cache_.registered = true; }
  ~FrameCacheDrain() {
    FrameAllocator::Cache& cache = FrameAllocator::cache_;
    cache.drained = true;
    for (FrameAllocator::FreeBlock*& head : cache.free) {
      while (head != nullptr) {
        FrameAllocator::FreeBlock* block = head;
        head = block->next;
        ::operator delete(block);
      }
    }
    cache.bytes = 0;
  }
};

void* FrameAllocator::AllocateFromHeap(size_t size) {
  Cache& cache = cache_;
  if (!cache.registered && !cache.drained) {
    static thread_local FrameCacheDrain drain;
  }
  const size_t size_class = ClassOf(size);
  // A cached block must fit any frame of its class: allocate the class's
  // full size.
  return ::operator new(size_class < kClasses ? BlockSize(size_class) : size);
}

}  // namespace internal
}  // namespace asyncio_like
