// Queues between tasks of one loop: Queue<T> (FIFO, asyncio.Queue),
// LifoQueue<T> (asyncio.LifoQueue) and PriorityQueue<T> (asyncio.PriorityQueue,
// smallest first).
//
//   Queue<std::string> jobs(/*maxsize=*/100);
//   co_await jobs.Put("job");                 // waits while the queue is full
//   std::string job = co_await jobs.Get();    // waits while it is empty
//   jobs.TaskDone();                          // for Join()
//   co_await jobs.Join();                     // until every item was processed
//   jobs.Shutdown();                          // producers are done
//
// maxsize 0 means unbounded. Blocked getters and putters are woken FIFO; a
// getter (putter) woken for an item (free slot) that is cancelled before it
// runs wakes the next one instead, so no item or slot is stranded, and an
// item is only ever removed by the getter that returns it.
//
// Shutdown (Python 3.13's Queue.shutdown): afterwards Put() and PutNowait()
// fail; Get() still drains the items left and fails once the queue is
// empty. Shutdown(/*immediate=*/true) also discards the items left (marking
// each done for Join()), so Get() fails at once. Blocked getters and putters
// are woken and fail the same way.
//
// Errors: asyncio raises exceptions; here Put() and Get() throw
// QueueShutDown, and the non-waiting forms return a status instead:
// PutNowait: ResourceExhausted when full (QueueFull); GetNowait: Unavailable
// when empty (QueueEmpty); both FailedPrecondition after shutdown
// (QueueShutDown). TaskDone() called more often than items were put throws
// std::invalid_argument (ValueError).
#ifndef ASYNCIO_LIKE_QUEUE_H_
#define ASYNCIO_LIKE_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

// asyncio.QueueShutDown: Put() on a queue that was shut down, or Get() on
// one that was shut down and is empty.
class QueueShutDown : public std::runtime_error {
 public:
  QueueShutDown() : std::runtime_error("queue is shut down") {}
};

namespace internal {

// The orders of the three queues: where an item goes and which comes out.
template <typename T>
class FifoItems {
 public:
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  void Push(T item) { items_.push_back(std::move(item)); }
  T Pop() {
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

 private:
  std::deque<T> items_;
};

template <typename T>
class LifoItems {
 public:
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  void Push(T item) { items_.push_back(std::move(item)); }
  T Pop() {
    T item = std::move(items_.back());
    items_.pop_back();
    return item;
  }

 private:
  std::vector<T> items_;
};

// A binary heap whose Pop() gives the smallest item by `Less`.
template <typename T, typename Less>
class PriorityItems {
 public:
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  void Push(T item) {
    items_.push_back(std::move(item));
    std::push_heap(items_.begin(), items_.end(), Greater{});
  }
  T Pop() {
    std::pop_heap(items_.begin(), items_.end(), Greater{});
    T item = std::move(items_.back());
    items_.pop_back();
    return item;
  }

 private:
  // std heaps keep the largest on top; inverting the order keeps the least.
  struct Greater {
    bool operator()(const T& a, const T& b) const { return Less{}(b, a); }
  };
  std::vector<T> items_;
};

}  // namespace internal

template <typename T, typename Items>
class BasicQueue {
 public:
  explicit BasicQueue(size_t maxsize = 0) : maxsize_(maxsize) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  size_t size() const { return items_.size(); }
  size_t maxsize() const { return maxsize_; }
  bool empty() const { return items_.empty(); }
  bool full() const { return maxsize_ > 0 && items_.size() >= maxsize_; }
  bool is_shutdown() const { return shutdown_; }
  // Items put and not yet marked done with TaskDone().
  size_t unfinished_tasks() const { return unfinished_; }
  // Tasks queued in Get() / Put() (woken ones leave at once).
  size_t waiting_getters() const { return getters_.size(); }
  size_t waiting_putters() const { return putters_.size(); }

  // Adds `item`, waiting while the queue is full. Throws QueueShutDown if
  // the queue is (or, while waiting, gets) shut down.
  Task<void> Put(T item) {
    while (full()) {
      if (shutdown_) throw QueueShutDown();
      internal::WaitList::Waiter putter = putters_.Wait();
      try {
        co_await putter;
      } catch (...) {
        // Woken for a free slot but leaving: the slot goes to the next.
        if (!full() && putter.woken()) putters_.PopAndWakeNext();
        throw;
      }
    }
    if (shutdown_) throw QueueShutDown();
    PutUnchecked(std::move(item));
  }
  // Removes and returns the next item, waiting while the queue is empty.
  // Throws QueueShutDown if the queue is shut down and empty.
  Task<T> Get() {
    while (empty()) {
      if (shutdown_) throw QueueShutDown();
      internal::WaitList::Waiter getter = getters_.Wait();
      try {
        co_await getter;
      } catch (...) {
        // Woken for an item but leaving: the item goes to the next getter.
        if (!empty() && getter.woken()) getters_.PopAndWakeNext();
        throw;
      }
    }
    co_return GetUnchecked();
  }

  absl::Status PutNowait(T item) {
    if (shutdown_) return absl::FailedPreconditionError("queue is shut down");
    if (full()) return absl::ResourceExhaustedError("queue is full");
    PutUnchecked(std::move(item));
    return absl::OkStatus();
  }
  absl::StatusOr<T> GetNowait() {
    if (empty()) {
      if (shutdown_) return absl::FailedPreconditionError("queue is shut down");
      return absl::UnavailableError("queue is empty");
    }
    return GetUnchecked();
  }

  // Marks one item taken by Get() as processed. Throws
  // std::invalid_argument if called more times than there were items.
  void TaskDone() {
    if (unfinished_ == 0) {
      throw std::invalid_argument("task_done() called too many times");
    }
    if (--unfinished_ == 0) all_done_.Set();
  }
  // Waits until every item put has been marked done with TaskDone().
  Task<void> Join() {
    if (unfinished_ > 0) co_await all_done_.Wait();
  }

  // Shuts the queue down (see the top of this file). With `immediate`, the
  // items left are discarded and counted as done.
  void Shutdown(bool immediate = false) {
    shutdown_ = true;
    if (immediate) {
      while (!items_.empty()) {
        items_.Pop();
        if (unfinished_ > 0) --unfinished_;
      }
      if (unfinished_ == 0) all_done_.Set();
    }
    getters_.PopAndWakeAll();
    putters_.PopAndWakeAll();
  }

 private:
  void PutUnchecked(T item) {
    items_.Push(std::move(item));
    ++unfinished_;
    all_done_.Clear();
    getters_.PopAndWakeNext();
  }
  T GetUnchecked() {
    T item = items_.Pop();
    putters_.PopAndWakeNext();
    return item;
  }

  size_t maxsize_;
  Items items_;
  size_t unfinished_ = 0;
  bool shutdown_ = false;
  Event all_done_;
  internal::WaitList getters_{"Queue.get"};
  internal::WaitList putters_{"Queue.put"};
};

template <typename T>
using Queue = BasicQueue<T, internal::FifoItems<T>>;
template <typename T>
using LifoQueue = BasicQueue<T, internal::LifoItems<T>>;
template <typename T, typename Less = std::less<T>>
using PriorityQueue = BasicQueue<T, internal::PriorityItems<T, Less>>;

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_QUEUE_H_
