// The pool's FIFO of pending tasks. Internal to the package.

#ifndef THREADPOOL_INTERNAL_TASK_QUEUE_H_
#define THREADPOOL_INTERNAL_TASK_QUEUE_H_

#include <cstddef>
#include <memory>
#include <utility>

#include "threadpool/internal/task.h"

namespace threadpool::internal {

// A FIFO of tasks in a list of fixed-size chunks. A long backlog grows a
// chunk at a time without moving what is queued, and the chunk that the
// front of the queue leaves behind is kept for reuse, so a steady stream of
// tasks allocates nothing (std::deque would allocate and free a block every
// few tasks, in different threads, as a submitter pushes and a worker pops).
// Not thread-safe: the pool guards it with its mutex.
class TaskQueue {
 public:
  TaskQueue() = default;
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;
  ~TaskQueue() {
    // Iteratively, so that a long chain does not recurse.
    while (head_ != nullptr) head_ = std::move(head_->next);
  }

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }

  void push_back(Task&& task) {
    if (tail_ == nullptr || tail_end_ == kChunkSize) AppendChunk();
    tail_->tasks[tail_end_++] = std::move(task);
    ++size_;
  }

  // Requires !empty().
  Task pop_front() {
    Task task = std::move(head_->tasks[head_begin_++]);
    --size_;
    if (head_begin_ == kChunkSize) {
      std::unique_ptr<Chunk> used = std::move(head_);
      head_ = std::move(used->next);
      head_begin_ = 0;
      if (head_ == nullptr) tail_ = nullptr;
      spare_ = std::move(used);
    } else if (size_ == 0) {
      // The only chunk is empty: start it over.
      head_begin_ = 0;
      tail_end_ = 0;
    }
    return task;
  }

 private:
  static constexpr size_t kChunkSize = 256;

  // Aligned so that no entry straddles two cache lines.
  struct alignas(64) Chunk {
    Task tasks[kChunkSize];
    std::unique_ptr<Chunk> next;
  };

  void AppendChunk() {
    std::unique_ptr<Chunk> chunk =
        spare_ != nullptr ? std::move(spare_) : std::make_unique<Chunk>();
    Chunk* added = chunk.get();
    if (tail_ == nullptr) {
      head_ = std::move(chunk);
      head_begin_ = 0;
    } else {
      tail_->next = std::move(chunk);
    }
    tail_ = added;
    tail_end_ = 0;
  }

  std::unique_ptr<Chunk> head_;
  Chunk* tail_ = nullptr;
  size_t head_begin_ = 0;  // the front task's index in *head_
  size_t tail_end_ = 0;    // one past the back task's index in *tail_
  size_t size_ = 0;
  std::unique_ptr<Chunk> spare_;
};

}  // namespace threadpool::internal

#endif  // THREADPOOL_INTERNAL_TASK_QUEUE_H_
