#include "asyncio_like/timer_heap.h"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace asyncio_like {
namespace internal {

uint32_t TimerHeap::Add(int64_t deadline_ns, Timer* timer) {
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(timer);
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
    slots_[slot] = timer;
  }
  Entry entry{deadline_ns, next_sequence_++, slot};
  if (sorted_.empty() || deadline_ns >= sorted_.back().deadline_ns) {
    sorted_.push_back(entry);
  } else {
    heap_.push_back(entry);
    std::push_heap(heap_.begin(), heap_.end(), Later());
  }
  return slot;
}

void TimerHeap::Cancel(uint32_t slot) {
  slots_[slot] = nullptr;
  ++cancelled_;
  // Rebuild once cancelled entries are the majority, so a program that
  // keeps cancelling long timers does not grow the heap without bound.
  size_t total = heap_.size() + sorted_.size();
  if (total >= 64 && cancelled_ * 2 > total) {
    auto cancelled = [this](const Entry& entry) {
      if (slots_[entry.slot] != nullptr) return false;
      free_slots_.push_back(entry.slot);
      return true;
    };
    heap_.erase(std::remove_if(heap_.begin(), heap_.end(), cancelled), heap_.end());
    std::make_heap(heap_.begin(), heap_.end(), Later());
    sorted_.erase(std::remove_if(sorted_.begin(), sorted_.end(), cancelled), sorted_.end());
    cancelled_ = 0;
  }
}

bool TimerHeap::FrontIsSorted() const {
  if (heap_.empty()) return true;
  if (sorted_.empty()) return false;
  return Later()(heap_.front(), sorted_.front());
}

void TimerHeap::PopTop() {
  if (FrontIsSorted()) {
    free_slots_.push_back(sorted_.front().slot);
    sorted_.pop_front();
  } else {
    std::pop_heap(heap_.begin(), heap_.end(), Later());
    free_slots_.push_back(heap_.back().slot);
    heap_.pop_back();
  }
}

void TimerHeap::DropCancelledTop() {
  while (!empty() && slots_[Front().slot] == nullptr) {
    PopTop();
    --cancelled_;
  }
}

std::optional<int64_t> TimerHeap::NextDeadline() {
  DropCancelledTop();
  if (empty()) return std::nullopt;
  return Front().deadline_ns;
}

Timer* TimerHeap::PopDue(int64_t now_ns, int64_t* deadline_ns) {
  DropCancelledTop();
  if (empty()) return nullptr;
  const Entry& front = Front();
  if (front.deadline_ns > now_ns) return nullptr;
  Timer* timer = slots_[front.slot];
  *deadline_ns = front.deadline_ns;
  slots_[front.slot] = nullptr;
  PopTop();
  return timer;
}

}  // namespace internal
}  // namespace asyncio_like
