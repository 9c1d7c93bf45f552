// The loop's timers, kept in user space and ordered by (deadline, sequence
// number), so equal deadlines fire in the order they were added. The loop
// arms one kernel timeout, for the nearest deadline.
//
// Most programs add timers with a few fixed delays (every connection's read
// timeout, every worker's sleep), so deadlines mostly arrive in
// non-decreasing order. Such a timer goes to the back of a FIFO, `sorted_`,
// in O(1); only a timer earlier than the FIFO's last one goes to a binary
// min-heap. The next timer is the earlier of the two fronts. (Node.js keeps
// one list per duration for the same reason.) With a million equal sleeps,
// this removes the heap's O(log n) pops, which were the loop's largest cost.
//
// Cancelling must not search the containers and must not leave them
// pointing into a freed frame. So entries name a slot in a dense table; the
// slot points to the timer, and cancelling a timer clears its slot. A
// cleared entry is dropped when it reaches the front, and both containers
// are rebuilt without them when they outnumber the live ones (asyncio does
// the same with its _timer_cancelled_count).
#ifndef ASYNCIO_LIKE_TIMER_HEAP_H_
#define ASYNCIO_LIKE_TIMER_HEAP_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace asyncio_like {
namespace internal {

// Something to do at a deadline.
class Timer {
 public:
  virtual void Fire() = 0;

 protected:
  ~Timer() = default;
};

class TimerHeap {
 public:
  // Adds a timer and returns its slot, which Cancel() takes.
  uint32_t Add(int64_t deadline_ns, Timer* timer);
  // Cancels the timer in `slot`; it will not fire.
  void Cancel(uint32_t slot);
  // The earliest deadline of a live timer.
  std::optional<int64_t> NextDeadline();
  // Removes the earliest live timer if its deadline is at or before `now_ns`;
  // returns it and its deadline.
  Timer* PopDue(int64_t now_ns, int64_t* deadline_ns);
  uint64_t live() const { return heap_.size() + sorted_.size() - cancelled_; }

 private:
  // 16 bytes. The sequence number wraps; comparing the difference as a
  // signed number orders correctly while fewer than 2^31 timers are live.
  struct Entry {
    int64_t deadline_ns;
    uint32_t sequence;
    uint32_t slot;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.deadline_ns != b.deadline_ns
                 ? a.deadline_ns > b.deadline_ns
                 : static_cast<int32_t>(a.sequence - b.sequence) > 0;
    }
  };

  // The container holding the earliest entry (both must not be empty).
  bool FrontIsSorted() const;
  const Entry& Front() const { return FrontIsSorted() ? sorted_.front() : heap_.front(); }
  bool empty() const { return heap_.empty() && sorted_.empty(); }
  void DropCancelledTop();
  void PopTop();

  std::deque<Entry> sorted_;
  std::vector<Entry> heap_;
  std::vector<Timer*> slots_;  // Null: free or cancelled.
  std::vector<uint32_t> free_slots_;
  uint32_t next_sequence_ = 0;
  uint64_t cancelled_ = 0;  // Heap entries whose slot was cleared.
};

}  // namespace internal
}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TIMER_HEAP_H_
