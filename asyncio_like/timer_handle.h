// TimerHandle: a callback scheduled at a time on the loop, which can be
// cancelled until it runs (asyncio.TimerHandle, returned by loop.call_later
// and loop.call_at).
//
//   EventLoop* loop = EventLoop::Current();
//   TimerHandle retry = loop->CallLater(absl::Seconds(5), [] { Reconnect(); });
//   TimerHandle at = loop->CallAt(EventLoop::NowNanos() + 1'000'000, [] { Tick(); });
//   retry.Cancel();            // Reconnect() will not run
//   retry.Cancelled();         // true
//   at.When();                 // its deadline on the loop clock (loop.time())
//
// The callback goes into the loop's timer heap, the same one Sleep and
// Timeout use: no kernel timer per callback. When its deadline passes, it
// runs in that loop pass, after the timers due before it (FIFO among equal
// deadlines), as asyncio moves due timers to its ready queue. Cancel()
// removes it from the heap and frees what the callback captured; a handle
// cancelled after its deadline passed but before the callback ran still
// stops it. Cancelling twice, or after it ran, does nothing. As in asyncio,
// an exception escaping the callback is printed and the loop goes on.
//
// The handle may be dropped: the callback still runs. A loop destroyed with
// callbacks still scheduled drops them unrun. Loop thread only.
#ifndef ASYNCIO_LIKE_TIMER_HANDLE_H_
#define ASYNCIO_LIKE_TIMER_HANDLE_H_

#include <cstdint>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "asyncio_like/timer_wheel.h"

namespace asyncio_like {

class EventLoop;

namespace internal {

// A scheduled callback. It owns itself (`self`) while it is in the heap or
// queued to run; the loop keeps a list of those in the heap, to drop them
// when it is destroyed.
class CallbackTimer final : public Timer {
 public:
  void Fire() override;
  void Cancel();

  EventLoop* loop = nullptr;
  absl::AnyInvocable<void()> callback;
  int64_t when_ns = 0;
  bool armed = false;
  bool cancelled = false;
  std::shared_ptr<CallbackTimer> self;
  CallbackTimer* prev = nullptr;  // The loop's list of armed timers.
  CallbackTimer* next = nullptr;
};

}  // namespace internal

class TimerHandle {
 public:
  // Refers to no callback; Cancel() does nothing, Cancelled() is false.
  TimerHandle() = default;

  // Stops the callback if it has not run yet (TimerHandle.cancel()).
  void Cancel();
  // True once Cancel() was called (TimerHandle.cancelled()).
  bool Cancelled() const { return timer_ != nullptr && timer_->cancelled; }
  // The deadline, in nanoseconds of EventLoop::NowNanos() (TimerHandle.when()).
  int64_t When() const { return timer_ != nullptr ? timer_->when_ns : 0; }

 private:
  friend class EventLoop;
  explicit TimerHandle(std::shared_ptr<internal::CallbackTimer> timer)
      : timer_(std::move(timer)) {}

  std::shared_ptr<internal::CallbackTimer> timer_;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TIMER_HANDLE_H_
