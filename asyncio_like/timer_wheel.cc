#include "asyncio_like/timer_wheel.h"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace asyncio_like {
namespace internal {

void TimerWheel::Add(int64_t deadline_ns, Timer* timer) {
  timer->deadline_ns_ = deadline_ns;
  timer->sequence_ = next_sequence_++;
  ++live_;
  const uint64_t tick = TickOf(deadline_ns);
  if (tick <= tick_) {
    InsertDue(timer);
  } else {
    PlaceInBucket(timer, tick);
  }
}

void TimerWheel::PlaceInBucket(Timer* timer, uint64_t tick) {
  const int level = (63 - __builtin_clzll(tick ^ tick_)) / kLevelBits;
  const int index = static_cast<int>(tick >> (level * kLevelBits)) & (kSlots - 1);
  Timer*& head = buckets_[level][index];
  timer->next_ = head;
  timer->link_ = &head;
  if (head != nullptr) head->link_ = &timer->next_;
  head = timer;
  occupied_[level][index / 64] |= uint64_t{1} << (index % 64);
  timer->place_ = kInBucket | static_cast<uint32_t>(level * kSlots + index);
}

void TimerWheel::InsertDue(Timer* timer) {
  const DueEntry entry{timer->deadline_ns_, timer->sequence_, timer};
  auto at = std::upper_bound(due_.begin() + static_cast<std::ptrdiff_t>(due_head_), due_.end(),
                             entry, Before);
  at = due_.insert(at, entry);
  for (auto it = at; it != due_.end(); ++it) {
    if (it->timer != nullptr) it->timer->place_ = static_cast<uint32_t>(it - due_.begin());
  }
}

void TimerWheel::Cancel(Timer* timer) {
  --live_;
  const uint32_t place = timer->place_;
  timer->place_ = Timer::kNotArmed;
  if ((place & kInBucket) == 0) {
    due_[place].timer = nullptr;
    return;
  }
  *timer->link_ = timer->next_;
  if (timer->next_ != nullptr) timer->next_->link_ = timer->link_;
  const uint32_t bucket = place & ~kInBucket;
  const int level = static_cast<int>(bucket) / kSlots;
  const int index = static_cast<int>(bucket) % kSlots;
  if (buckets_[level][index] == nullptr) {
    occupied_[level][index / 64] &= ~(uint64_t{1} << (index % 64));
  }
}

bool TimerWheel::HasDue() {
  while (due_head_ < due_.size() && due_[due_head_].timer == nullptr) ++due_head_;
  if (due_head_ < due_.size()) return true;
  due_.clear();
  due_head_ = 0;
  return false;
}

bool TimerWheel::CascadeEarliest(uint64_t limit_tick) {
  int level = 0;
  int word = 0;
  while (occupied_[level][word] == 0) {
    if (++word == kWords) {
      word = 0;
      if (++level == kLevels) return false;
    }
  }
  const int index = word * 64 + __builtin_ctzll(occupied_[level][word]);
  const int shift = level * kLevelBits;
  const uint64_t start = (tick_ >> (shift + kLevelBits) << (shift + kLevelBits)) |
                         (static_cast<uint64_t>(index) << shift);
  if (start > limit_tick) return false;
  tick_ = start;
  Timer* timer = buckets_[level][index];
  buckets_[level][index] = nullptr;
  occupied_[level][word] &= ~(uint64_t{1} << (index % 64));
  // due_ is empty here: the timers of tick `start` become it, sorted once.
  while (timer != nullptr) {
    Timer* next = timer->next_;
    const uint64_t tick = TickOf(timer->deadline_ns_);
    if (tick <= tick_) {
      due_.push_back({timer->deadline_ns_, timer->sequence_, timer});
    } else {
      PlaceInBucket(timer, tick);
    }
    timer = next;
  }
  // The list is newest first; reversed, it is in arm order, which is
  // usually deadline order already.
  std::reverse(due_.begin(), due_.end());
  if (!std::is_sorted(due_.begin(), due_.end(), Before)) std::sort(due_.begin(), due_.end(), Before);
  for (size_t i = 0; i < due_.size(); ++i) due_[i].timer->place_ = static_cast<uint32_t>(i);
  return true;
}

std::optional<int64_t> TimerWheel::NextDeadline() {
  // due_'s first timer is the earliest of all; if due_ is empty, the
  // earliest bucket is brought into it.
  while (!HasDue()) {
    if (!CascadeEarliest(UINT64_MAX)) return std::nullopt;
  }
  return due_[due_head_].deadline_ns;
}

Timer* TimerWheel::PopDue(int64_t now_ns, int64_t* deadline_ns) {
  const uint64_t now_tick = TickOf(now_ns);
  while (!HasDue()) {
    if (!CascadeEarliest(now_tick)) {
      // No bucket starts at or before now: every timer is later than
      // `now_tick`, so the wheel may stand there (its buckets stay valid).
      if (now_tick > tick_) tick_ = now_tick;
      return nullptr;
    }
  }
  const DueEntry& first = due_[due_head_];
  if (first.deadline_ns > now_ns) return nullptr;
  Timer* timer = first.timer;
  timer->place_ = Timer::kNotArmed;  // It fires now.
  *deadline_ns = first.deadline_ns;
  ++due_head_;
  --live_;
  return timer;
}

}  // namespace internal
}  // namespace asyncio_like
