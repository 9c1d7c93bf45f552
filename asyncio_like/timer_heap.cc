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
  heap_.push_back({deadline_ns, next_sequence_++, slot});
  std::push_heap(heap_.begin(), heap_.end(), Later());
  return slot;
}

void TimerHeap::Cancel(uint32_t slot) {
  slots_[slot] = nullptr;
  ++cancelled_;
  // Rebuild once cancelled entries are the majority, so a program that
  // keeps cancelling long timers does not grow the heap without bound.
  if (heap_.size() >= 64 && cancelled_ * 2 > heap_.size()) {
    std::vector<Entry> live;
    live.reserve(heap_.size() - cancelled_);
    for (const Entry& entry : heap_) {
      if (slots_[entry.slot] != nullptr) {
        live.push_back(entry);
      } else {
        free_slots_.push_back(entry.slot);
      }
    }
    heap_ = std::move(live);
    std::make_heap(heap_.begin(), heap_.end(), Later());
    cancelled_ = 0;
  }
}

void TimerHeap::PopTop() {
  std::pop_heap(heap_.begin(), heap_.end(), Later());
  free_slots_.push_back(heap_.back().slot);
  heap_.pop_back();
}

void TimerHeap::DropCancelledTop() {
  while (!heap_.empty() && slots_[heap_.front().slot] == nullptr) {
    PopTop();
    --cancelled_;
  }
}

std::optional<int64_t> TimerHeap::NextDeadline() {
  DropCancelledTop();
  if (heap_.empty()) return std::nullopt;
  return heap_.front().deadline_ns;
}

Timer* TimerHeap::PopDue(int64_t now_ns, int64_t* deadline_ns) {
  DropCancelledTop();
  if (heap_.empty() || heap_.front().deadline_ns > now_ns) return nullptr;
  Timer* timer = slots_[heap_.front().slot];
  *deadline_ns = heap_.front().deadline_ns;
  slots_[heap_.front().slot] = nullptr;
  PopTop();
  return timer;
}

}  // namespace internal
}  // namespace asyncio_like
