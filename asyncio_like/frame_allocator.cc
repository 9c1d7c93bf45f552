#include "asyncio_like/frame_allocator.h"

#include <cstddef>
#include <new>

namespace asyncio_like {
namespace internal {

// Returns a thread's cached frames to the heap when the thread exits. Built
// on the thread's first allocation or free of a frame, so it is destroyed
// before any thread_local built earlier that may still own frames; those
// frames then find the cache drained and go to the heap.
class FrameCacheDrain {
 public:
  FrameCacheDrain() { FrameAllocator::cache_.state = FrameAllocator::kActive; }
  ~FrameCacheDrain() {
    FrameAllocator::Cache& cache = FrameAllocator::cache_;
    cache.state = FrameAllocator::kDrained;
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

void FrameAllocator::Register() noexcept {
  if (cache_.state == kUnregistered) {
    static thread_local FrameCacheDrain drain;
  }
}

void* FrameAllocator::AllocateFromHeap(size_t size) {
  Register();
  const size_t size_class = ClassOf(size);
  // A cached block must fit any frame of its class: allocate the class's
  // full size.
  return ::operator new(size_class < kClasses ? BlockSize(size_class) : size);
}

}  // namespace internal
}  // namespace asyncio_like
