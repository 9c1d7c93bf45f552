#include "asyncio_like/timer_wheel.h"

#include <cstdint>
#include <optional>

namespace asyncio_like {
namespace internal {

void TimerWheel::Add(int64_t deadline_ns, Timer* timer) {
  timer->deadline_ns_ = deadline_ns;
  timer->sequence_ = next_sequence_++;
  ++live_;
  Place(timer);
}

void TimerWheel::Place(Timer* timer) {
  const uint64_t tick = TickOf(timer->deadline_ns_);
  if (tick <= tick_) {
    HeapPush(timer);
    return;
  }
  const int level = (63 - __builtin_clzll(tick ^ tick_)) / kLevelBits;
  const int index = static_cast<int>(tick >> (level * kLevelBits)) & (kSlots - 1);
  Timer*& head = buckets_[level][index];
  timer->next_ = head;
  timer->link_ = &head;
  if (head != nullptr) head->link_ = &timer->next_;
  head = timer;
  occupied_[level] |= uint64_t{1} << index;
  timer->place_ = kInBucket | static_cast<uint32_t>(level * kSlots + index);
}

void TimerWheel::Cancel(Timer* timer) {
  --live_;
  if ((timer->place_ & kInBucket) == 0) {
    HeapRemove(timer->place_);
    return;
  }
  *timer->link_ = timer->next_;
  if (timer->next_ != nullptr) timer->next_->link_ = timer->link_;
  const uint32_t bucket = timer->place_ & ~kInBucket;
  const int level = static_cast<int>(bucket) / kSlots;
  const int index = static_cast<int>(bucket) % kSlots;
  if (buckets_[level][index] == nullptr) occupied_[level] &= ~(uint64_t{1} << index);
}

bool TimerWheel::CascadeEarliest(uint64_t limit_tick) {
  int level = 0;
  while (level < kLevels && occupied_[level] == 0) ++level;
  if (level == kLevels) return false;
  const int index = __builtin_ctzll(occupied_[level]);
  const int shift = level * kLevelBits;
  const uint64_t start = (tick_ >> (shift + kLevelBits) << (shift + kLevelBits)) |
                         (static_cast<uint64_t>(index) << shift);
  if (start > limit_tick) return false;
  tick_ = start;
  Timer* timer = buckets_[level][index];
  buckets_[level][index] = nullptr;
  occupied_[level] &= ~(uint64_t{1} << index);
  while (timer != nullptr) {
    Timer* next = timer->next_;
    Place(timer);
    timer = next;
  }
  return true;
}

std::optional<int64_t> TimerWheel::NextDeadline() {
  // The heap's first timer is the earliest of all; if the heap is empty,
  // the earliest bucket is brought into it.
  while (due_.empty()) {
    if (!CascadeEarliest(UINT64_MAX)) return std::nullopt;
  }
  return due_.front()->deadline_ns_;
}

Timer* TimerWheel::PopDue(int64_t now_ns, int64_t* deadline_ns) {
  while (due_.empty()) {
    if (!CascadeEarliest(TickOf(now_ns))) return nullptr;
  }
  Timer* timer = due_.front();
  if (timer->deadline_ns_ > now_ns) return nullptr;
  HeapRemove(0);
  --live_;
  *deadline_ns = timer->deadline_ns_;
  return timer;
}

void TimerWheel::HeapPush(Timer* timer) {
  timer->place_ = static_cast<uint32_t>(due_.size());
  due_.push_back(timer);
  SiftUp(timer->place_);
}

void TimerWheel::HeapRemove(uint32_t index) {
  Timer* last = due_.back();
  due_.pop_back();
  if (index == due_.size()) return;
  due_[index] = last;
  last->place_ = index;
  SiftUp(index);
  SiftDown(last->place_);
}

void TimerWheel::SiftUp(uint32_t index) {
  Timer* timer = due_[index];
  while (index > 0) {
    const uint32_t parent = (index - 1) / 2;
    if (!Before(timer, due_[parent])) break;
    due_[index] = due_[parent];
    due_[index]->place_ = index;
    index = parent;
  }
  due_[index] = timer;
  timer->place_ = index;
}

void TimerWheel::SiftDown(uint32_t index) {
  Timer* timer = due_[index];
  const uint32_t size = static_cast<uint32_t>(due_.size());
  for (;;) {
    uint32_t child = 2 * index + 1;
    if (child >= size) break;
    if (child + 1 < size && Before(due_[child + 1], due_[child])) ++child;
    if (!Before(due_[child], timer)) break;
    due_[index] = due_[child];
    due_[index]->place_ = index;
    index = child;
  }
  due_[index] = timer;
  timer->place_ = index;
}

}  // namespace internal
}  // namespace asyncio_like
