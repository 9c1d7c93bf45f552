// The loop's timers, kept in user space: a hierarchical timing wheel in
// front of a short sorted run of the timers due next. The loop arms one
// kernel timeout, for the nearest deadline. Timers fire in deadline order,
// and equal deadlines in the order they were added.
//
// Arming and cancelling must cost O(1): a server arms a timeout around
// almost every read and cancels nearly all of them before they fire. So a
// timer is an intrusive node (the awaiter or handle that owns it is the
// node; nothing is allocated), and the wheel places it by its deadline alone.
//
// Time is cut into ticks of 2^16 ns (about 65 us). The wheel has 6 levels of
// 256 buckets; a bucket of level L spans 256^L ticks, so level 0 reaches
// 16 ms ahead, where most sleeps and many timeouts land directly. `tick_` is
// how far the wheel has been emptied: every timer whose tick is at or before
// it is in `due_`, a run sorted exactly by (deadline, arm order) with the
// keys inline (ordering it does not touch the timers); every other timer is
// in a bucket. A timer goes to the level of the highest 8-bit group in which
// its tick differs from `tick_`, in the bucket of its tick's digit there,
// pushed on that bucket's list. So each bucket of level L holds ticks that
// agree with `tick_` above group L and exceed it in group L, and the lowest
// non-empty level's first occupied bucket (found with a count-trailing-zeros
// of that level's occupancy bits) holds the earliest timers outside `due_`.
// When nothing is due, `tick_` catches up with the clock, so new timers land
// on the lowest level they can.
//
// When `due_` is empty and the earliest bucket is due (or the loop asks for
// the next deadline), `tick_` moves to that bucket's first tick and the
// bucket is emptied: each of its timers is placed again, relative to the
// new `tick_`, into `due_` (its tick is `tick_`) or into a lower level, and
// `due_` is sorted. A timer is placed at most once per level, so arming,
// cascading and firing cost O(1) apart from sorting one tick's timers. A
// timer armed at or before `tick_` (a deadline already passed, or sooner
// than every other) is inserted into `due_` in order. Cancelling unlinks
// the timer from its bucket's list, or blanks its entry in `due_`, which
// the next pop skips: the wheel keeps no reference to a cancelled timer,
// and it never fires.
#ifndef ASYNCIO_LIKE_TIMER_WHEEL_H_
#define ASYNCIO_LIKE_TIMER_WHEEL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace asyncio_like {
namespace internal {

// Something to do at a deadline. The wheel links it in place while it is
// armed, so an armed timer must not move or be destroyed before it fires or
// is cancelled.
class Timer {
 public:
  virtual void Fire() = 0;
  // True from Add until the timer fires (PopDue returns it) or is
  // cancelled, so an owner needs no flag of its own.
  bool armed() const { return place_ != kNotArmed; }

 protected:
  Timer() = default;
  ~Timer() = default;

 private:
  friend class TimerWheel;
  static constexpr uint32_t kNotArmed = UINT32_MAX;
  int64_t deadline_ns_ = 0;
  Timer* next_ = nullptr;        // The next timer in its bucket.
  Timer** link_ = nullptr;       // What points at it in its bucket: the head or the previous next_.
  uint32_t sequence_ = 0;        // Arm order, for equal deadlines.
  uint32_t place_ = kNotArmed;   // kInBucket | bucket number, or its index in due_.
};

class TimerWheel {
 public:
  TimerWheel() = default;
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Arms `timer` for `deadline_ns`. It must not be armed already.
  void Add(int64_t deadline_ns, Timer* timer);
  // Disarms an armed timer; it will not fire.
  void Cancel(Timer* timer);
  // The earliest deadline of an armed timer.
  std::optional<int64_t> NextDeadline();
  // Disarms and returns the earliest timer if its deadline is at or before
  // `now_ns`, and stores its deadline.
  Timer* PopDue(int64_t now_ns, int64_t* deadline_ns);
  uint64_t live() const { return live_; }

 private:
  static constexpr int kTickShift = 16;
  static constexpr int kLevelBits = 8;
  static constexpr int kSlots = 1 << kLevelBits;
  static constexpr int kWords = kSlots / 64;
  static constexpr int kLevels = 6;  // 16 + 6 * 8 bits: every int64 deadline.
  static constexpr uint32_t kInBucket = uint32_t{1} << 31;

  static uint64_t TickOf(int64_t deadline_ns) {
    return deadline_ns <= 0 ? 0 : static_cast<uint64_t>(deadline_ns) >> kTickShift;
  }
  // A timer in due_, with its keys; `timer` is null once cancelled.
  struct DueEntry {
    int64_t deadline_ns;
    uint32_t sequence;
    Timer* timer;
  };
  static bool Before(const DueEntry& a, const DueEntry& b) {
    return a.deadline_ns != b.deadline_ns
               ? a.deadline_ns < b.deadline_ns
               : static_cast<int32_t>(a.sequence - b.sequence) < 0;
  }

  // Puts `timer` in the bucket for its tick, which is after `tick_`.
  void PlaceInBucket(Timer* timer, uint64_t tick);
  // Inserts `timer`, whose tick is at or before `tick_`, into due_ in order.
  void InsertDue(Timer* timer);
  // Whether due_ has a live timer; drops the cancelled ones at its front.
  bool HasDue();
  // With due_ empty: empties the earliest bucket if it starts at or before
  // `limit_tick`; false if there is none.
  bool CascadeEarliest(uint64_t limit_tick);

  uint64_t tick_ = 0;
  // Bit i % 64 of word i / 64 of level L: bucket i of level L is not empty.
  uint64_t occupied_[kLevels][kWords] = {};
  Timer* buckets_[kLevels][kSlots] = {};
  std::vector<DueEntry> due_;
  size_t due_head_ = 0;  // due_[due_head_, end) are still to fire.
  uint32_t next_sequence_ = 0;
  uint64_t live_ = 0;
};

}  // namespace internal
}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TIMER_WHEEL_H_
