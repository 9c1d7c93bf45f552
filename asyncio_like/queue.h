// Queue<T>: a FIFO queue between tasks of one loop (asyncio.Queue).
//
//   Queue<std::string> jobs(/*maxsize=*/100);
//   co_await jobs.Put("job");          // waits while the queue is full
//   std::string job = co_await jobs.Get();   // waits while it is empty
//   jobs.TaskDone();                   // for Join()
//   co_await jobs.Join();              // until every item was processed
//
// maxsize 0 means unbounded. Blocked getters and putters are woken FIFO;
// a woken getter or putter that is cancelled before it runs passes the
// wakeup on to the next one, so no item or free slot is stranded. PutNowait
// and GetNowait never wait: they report a full or empty queue as an error
// status (asyncio raises QueueFull / QueueEmpty).
#ifndef ASYNCIO_LIKE_QUEUE_H_
#define ASYNCIO_LIKE_QUEUE_H_

#include <cstddef>
#include <deque>
#include <stdexcept>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

template <typename T>
class Queue {
 public:
  explicit Queue(size_t maxsize = 0)
      : maxsize_(maxsize),
        getters_(&Queue::WakeNextGetter, this),
        putters_(&Queue::WakeNextPutter, this) {}
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  size_t size() const { return items_.size(); }
  size_t maxsize() const { return maxsize_; }
  bool empty() const { return items_.empty(); }
  bool full() const { return maxsize_ > 0 && items_.size() >= maxsize_; }

  // Appends `item`, waiting while the queue is full.
  Task<void> Put(T item) {
    while (full()) co_await putters_.Wait();
    PutNowaitUnchecked(std::move(item));
  }
  // Removes and returns the first item, waiting while the queue is empty.
  Task<T> Get() {
    while (empty()) co_await getters_.Wait();
    co_return GetNowaitUnchecked();
  }

  // ResourceExhausted if the queue is full (asyncio.QueueFull).
  absl::Status PutNowait(T item) {
    if (full()) return absl::ResourceExhaustedError("queue is full");
    PutNowaitUnchecked(std::move(item));
    return absl::OkStatus();
  }
  // Unavailable if the queue is empty (asyncio.QueueEmpty).
  absl::StatusOr<T> GetNowait() {
    if (empty()) return absl::UnavailableError("queue is empty");
    return GetNowaitUnchecked();
  }

  // Marks one item taken by Get() as processed. Throws std::logic_error if
  // called more times than there were items (asyncio raises ValueError).
  void TaskDone() {
    if (unfinished_ == 0) {
      throw std::logic_error("Queue::TaskDone called too many times");
    }
    if (--unfinished_ == 0) all_done_.Set();
  }
  // Waits until every item put has been marked done with TaskDone().
  Task<void> Join() {
    if (unfinished_ > 0) co_await all_done_.Wait();
  }

 private:
  static void WakeNextGetter(void* queue) {
    auto* self = static_cast<Queue*>(queue);
    if (!self->empty()) self->getters_.WakeOne();
  }
  static void WakeNextPutter(void* queue) {
    auto* self = static_cast<Queue*>(queue);
    if (!self->full()) self->putters_.WakeOne();
  }

  void PutNowaitUnchecked(T item) {
    items_.push_back(std::move(item));
    ++unfinished_;
    all_done_.Clear();
    getters_.WakeOne();
  }
  T GetNowaitUnchecked() {
    T item = std::move(items_.front());
    items_.pop_front();
    putters_.WakeOne();
    return item;
  }

  size_t maxsize_;
  std::deque<T> items_;
  size_t unfinished_ = 0;
  Event all_done_;
  internal::WaitList getters_;
  internal::WaitList putters_;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_QUEUE_H_
