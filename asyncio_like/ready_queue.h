// The loop's ready queue: a FIFO ring buffer of (frame, task) pairs. A pair
// with a null frame stands for the next callback in the loop's callback
// queue, so callbacks and task steps keep one FIFO order. The buffer only
// grows (doubling), so a steady state allocates nothing.
#ifndef ASYNCIO_LIKE_READY_QUEUE_H_
#define ASYNCIO_LIKE_READY_QUEUE_H_

#include <coroutine>
#include <cstddef>
#include <memory>

namespace asyncio_like {
namespace internal {
class PromiseBase;
}  // namespace internal

struct ReadyItem {
  std::coroutine_handle<> frame;  // Null: run the next callback.
  internal::PromiseBase* task;    // The task the step belongs to.
};

class ReadyQueue {
 public:
  ReadyQueue() : items_(new ReadyItem[kInitialCapacity]), mask_(kInitialCapacity - 1) {}

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }

  void Push(ReadyItem item) {
    if (size_ == mask_ + 1) Grow();
    items_[(head_ + size_) & mask_] = item;
    ++size_;
  }
  // The item `ahead` places behind the front; past the end, an old item.
  const ReadyItem& Peek(size_t ahead) const { return items_[(head_ + ahead) & mask_]; }
  ReadyItem Pop() {
    ReadyItem item = items_[head_];
    head_ = (head_ + 1) & mask_;
    --size_;
    return item;
  }

 private:
  static constexpr size_t kInitialCapacity = 1024;

  void Grow() {
    size_t capacity = mask_ + 1;
    std::unique_ptr<ReadyItem[]> bigger(new ReadyItem[capacity * 2]);
    for (size_t i = 0; i < size_; ++i) bigger[i] = items_[(head_ + i) & mask_];
    items_ = std::move(bigger);
    mask_ = capacity * 2 - 1;
    head_ = 0;
  }

  std::unique_ptr<ReadyItem[]> items_;
  size_t mask_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_READY_QUEUE_H_
