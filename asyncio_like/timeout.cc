#include "asyncio_like/timeout.h"

#include <exception>
#include <stdexcept>

#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"

namespace asyncio_like {

void Timeout::Enter(internal::PromiseBase* task) {
  if (task_ != nullptr) throw std::logic_error("Timeout is already running");
  task_ = task;
  expired_ = false;
  cancel_requests_at_entry_ = task->cancel_requests();
  Arm(delay_);
}

bool Timeout::Exit(const std::exception_ptr& error) {
  Disarm();
  internal::PromiseBase* task = task_;
  task_ = nullptr;
  if (!expired_) return false;
  // asyncio: uncancel() the request made at expiry; only if no other
  // cancellation is outstanding does the CancelledError become a timeout.
  uint32_t remaining = task->Uncancel();
  return error && internal::IsCancelledError(error) &&
         remaining <= cancel_requests_at_entry_;
}

void Timeout::Reschedule(absl::Duration delay) {
  if (task_ == nullptr) throw std::logic_error("Timeout is not running");
  if (expired_) throw std::logic_error("Timeout has already expired");
  Disarm();
  Arm(delay);
}

void Timeout::Arm(absl::Duration delay) {
  if (delay == absl::InfiniteDuration()) return;
  slot_ = task_->loop()->AddTimer(
      EventLoop::NowNanos() + absl::ToInt64Nanoseconds(delay), this);
  armed_ = true;
}

void Timeout::Disarm() {
  if (!armed_) return;
  armed_ = false;
  task_->loop()->CancelTimer(slot_);
}

void Timeout::Fire() {
  armed_ = false;
  expired_ = true;
  task_->RequestCancel();
}

}  // namespace asyncio_like
