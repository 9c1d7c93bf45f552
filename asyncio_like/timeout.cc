#include "asyncio_like/timeout.h"

#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"

namespace asyncio_like {
namespace {

// Loop time `delay` from now, saturating at the clock's range.
int64_t DeadlineAfter(absl::Duration delay) {
  // ToInt64Nanoseconds saturates; so does the sum (the clock is positive).
  int64_t deadline;
  if (__builtin_add_overflow(EventLoop::NowNanos(),
                             absl::ToInt64Nanoseconds(delay), &deadline)) {
    return std::numeric_limits<int64_t>::max();
  }
  return deadline;
}

}  // namespace

namespace internal {

void ThrowTimeoutFromCurrent() { std::throw_with_nested(TimeoutError()); }

}  // namespace internal

Timeout::Timeout(absl::Duration delay)
    : from_delay_(true), passed_at_creation_(delay <= absl::ZeroDuration()) {
  if (delay != absl::InfiniteDuration()) when_ = DeadlineAfter(delay);
}

void Timeout::Enter(internal::PromiseBase* task) {
  if (state_ != State::kCreated) {
    throw std::logic_error("Timeout has already been entered");
  }
  state_ = State::kEntered;
  task_ = task;
  cancelling_at_entry_ = task->cancel_requests();
  // A deadline made from a delay was that far ahead when it was computed,
  // which is just before entry in `Timeout t(d); co_await t.Run(...)`: no
  // second clock read to tell whether it has passed (a third of the cost
  // of a timeout that does not expire).
  Arm(from_delay_ ? std::optional<bool>(passed_at_creation_) : std::nullopt);
}

void Timeout::Exit(std::exception_ptr error) {
  Disarm();
  if (state_ == State::kExpiring) {
    state_ = State::kExpired;
    // asyncio: take back the cancel request made at expiry; only if no other
    // request is outstanding is the CancelledError this timeout's own.
    if (task_->Uncancel() <= cancelling_at_entry_ && error &&
        internal::IsCancelledError(error)) {
      try {
        std::rethrow_exception(error);
      } catch (...) {
        internal::ThrowTimeoutFromCurrent();
      }
    }
  } else {
    state_ = State::kExited;
  }
  if (error) std::rethrow_exception(std::move(error));
}

void Timeout::Reschedule(std::optional<int64_t> when_ns) {
  switch (state_) {
    case State::kEntered:
      break;
    case State::kCreated:
      throw std::logic_error("Timeout has not been entered");
    case State::kExpiring:
      throw std::logic_error("Cannot change state of expiring Timeout");
    case State::kExpired:
      throw std::logic_error("Cannot change state of expired Timeout");
    case State::kExited:
      throw std::logic_error("Cannot change state of finished Timeout");
  }
  when_ = when_ns;
  Disarm();
  Arm(std::nullopt);
}

void Timeout::Arm(std::optional<bool> passed) {
  if (!when_.has_value()) return;
  if (passed.has_value() ? *passed : *when_ <= EventLoop::NowNanos()) {
    ExpireSoon();
    return;
  }
  task_->loop()->AddTimer(*when_, this);
  armed_ = true;
}

void Timeout::Disarm() {
  if (armed_) {
    armed_ = false;
    task_->loop()->CancelTimer(this);
  }
  if (pending_expiry_ != nullptr) {
    *pending_expiry_ = nullptr;
    pending_expiry_.reset();
  }
}

void Timeout::Fire() {
  armed_ = false;
  ExpireSoon();
}

// asyncio runs the expiry as a callback behind the steps already ready: a
// task that its awaited result woke in this pass runs first, and if it
// leaves the scope, the expiry is called off.
void Timeout::ExpireSoon() {
  pending_expiry_ = std::make_shared<Timeout*>(this);
  task_->loop()->CallSoon([expiry = pending_expiry_] {
    if (*expiry != nullptr) (*expiry)->Expire();
  });
}

void Timeout::Expire() {
  pending_expiry_.reset();
  state_ = State::kExpiring;
  task_->RequestCancel();
}

}  // namespace asyncio_like
