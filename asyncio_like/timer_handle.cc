#include "asyncio_like/timer_handle.h"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"

namespace asyncio_like {
namespace internal {

void CallbackTimer::Fire() {
  armed = false;
  loop->UnlinkCallbackTimer(this);
  // Run after the timers due before it, as asyncio moves due timers to the
  // ready queue; a Cancel() before then still stops it.
  loop->CallSoon([timer = std::move(self)] {
    // Moved out first: the callback may cancel its own handle, which
    // clears `callback`.
    absl::AnyInvocable<void()> run = std::move(timer->callback);
    if (!timer->cancelled) run();
  });
}

void CallbackTimer::Cancel() {
  if (cancelled) return;
  cancelled = true;
  callback = nullptr;  // Free the captures now, as asyncio drops _callback.
  if (!armed) return;
  armed = false;
  loop->CancelTimer(this);
  loop->UnlinkCallbackTimer(this);
  self.reset();  // The caller's handle still holds it.
}

}  // namespace internal

void TimerHandle::Cancel() {
  if (timer_ != nullptr) timer_->Cancel();
}

TimerHandle EventLoop::CallLater(absl::Duration delay, absl::AnyInvocable<void()> callback) {
  int64_t delay_ns = absl::ToInt64Nanoseconds(delay);
  const int64_t now = NowNanos();
  // Saturate instead of overflowing: an infinite delay never comes.
  if (delay_ns > INT64_MAX - now) delay_ns = INT64_MAX - now;
  return CallAt(now + delay_ns, std::move(callback));
}

TimerHandle EventLoop::CallAt(int64_t when_ns, absl::AnyInvocable<void()> callback) {
  if (!callback) throw std::invalid_argument("CallAt/CallLater: empty callback");
  auto timer = std::make_shared<internal::CallbackTimer>();
  timer->loop = this;
  timer->callback = std::move(callback);
  timer->when_ns = when_ns;
  AddTimer(when_ns, timer.get());
  timer->armed = true;
  timer->self = timer;
  timer->next = callback_timers_;
  if (callback_timers_ != nullptr) callback_timers_->prev = timer.get();
  callback_timers_ = timer.get();
  return TimerHandle(std::move(timer));
}

void EventLoop::UnlinkCallbackTimer(internal::CallbackTimer* timer) {
  (timer->prev != nullptr ? timer->prev->next : callback_timers_) = timer->next;
  if (timer->next != nullptr) timer->next->prev = timer->prev;
  timer->prev = timer->next = nullptr;
}

}  // namespace asyncio_like
