// Deadlines: Timeout (asyncio.timeout, asyncio.timeout_at) and WaitFor
// (asyncio.wait_for).
//
//   // async with asyncio.timeout(2): body = await read_all(stream)
//   Timeout timeout(absl::Seconds(2));
//   std::string body = co_await timeout.Run(ReadAll(stream));
//
//   // async with asyncio.timeout_at(loop.time() + 1) as t: await work(t)
//   Timeout t = TimeoutAt(EventLoop::NowNanos() + 1'000'000'000);
//   co_await t.Run(Work(&t));   // Work may move the deadline: t->Reschedule()
//
//   // await asyncio.wait_for(compute(), 0.1)
//   int n = co_await WaitFor(Compute(), absl::Milliseconds(100));
//
// C++ has no asynchronous destructor, so the scope of `async with` is the
// body given to Run(): Run() enters the timeout, awaits the body in the
// current task, and exits the timeout however the body ends. A Timeout is
// entered once: a second Run(), during the first or after it, throws
// std::logic_error("Timeout has already been entered"), as asyncio raises
// RuntimeError.
//
// At the deadline the task running the body is cancelled, exactly as by
// Task::Cancel(): the body sees CancelledError at its await point and may
// clean up (even await) before it lets the error out. When that
// CancelledError leaves the body, Run() throws TimeoutError in its place (its
// nested exception, std::rethrow_if_nested, is the CancelledError: Python's
// `raise TimeoutError from exc`). A cancellation that came from elsewhere
// (the task was also cancelled by someone else, or an outer Timeout expired
// too) stays a CancelledError, so with nested timeouts each one reports only
// its own expiry. As in asyncio 3.11+, the timeout takes back its own cancel
// request on exit (Task.uncancel()), so the task's count of pending
// cancellations is what it was on entry. A body that finishes before the
// deadline, or that catches the cancellation and returns, returns its
// result normally; any other exception passes through unchanged.
//
// Deadlines are on the loop's clock, EventLoop::NowNanos() (asyncio's
// loop.time()); std::nullopt means none. A deadline already passed on entry
// cancels the body at its first await (asyncio's timeout(0)). The expiry
// runs like asyncio's timer callback, after the steps already ready in that
// loop pass: a task woken by its result in the same pass as the deadline
// keeps the result. Timeout(delay) reads the clock once, at construction,
// and on entry takes the deadline as passed only if `delay` was not
// positive; so one constructed long before it is entered, whose deadline
// passed meanwhile, expires from the timer on the next loop pass, where
// asyncio would queue the expiry at entry.
#ifndef ASYNCIO_LIKE_TIMEOUT_H_
#define ASYNCIO_LIKE_TIMEOUT_H_

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "absl/time/time.h"
#include "asyncio_like/awaitable_task.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timer_wheel.h"

namespace asyncio_like {

// Thrown when a Timeout or WaitFor deadline passes (asyncio.TimeoutError).
class TimeoutError : public std::exception {
 public:
  const char* what() const noexcept override { return "timed out"; }
};

class Timeout;
Timeout TimeoutAt(std::optional<int64_t> when_ns);

// A deadline for one body of code (asyncio.Timeout). Entered once; it must
// outlive the Run() it is awaited in. Misuse throws std::logic_error with
// asyncio's RuntimeError message.
class Timeout : private internal::Timer {
 public:
  // asyncio.timeout(delay): the deadline is `delay` from now. Zero or
  // negative: already passed. absl::InfiniteDuration() (also what
  // absl::Seconds(NaN) gives): none. Durations beyond the clock's range
  // saturate.
  explicit Timeout(absl::Duration delay);
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;
  ~Timeout() { Disarm(); }

  // Enters the timeout, runs `body` in the current task, and exits it.
  // Throws TimeoutError if the deadline passed and its cancellation ended the
  // body; std::logic_error if the timeout was entered before;
  // std::invalid_argument if `body` is an empty Task.
  template <typename T>
  Task<T> Run(Task<T> body);

  // The deadline (asyncio's Timeout.when()): loop time in nanoseconds, or
  // std::nullopt for none.
  std::optional<int64_t> When() const { return when_; }
  // asyncio's Timeout.reschedule(when): moves the deadline, or removes it
  // with std::nullopt. Only while the body runs and the deadline has not
  // passed; otherwise throws std::logic_error: "Timeout has not been
  // entered", or "Cannot change state of expiring|expired|finished Timeout".
  void Reschedule(std::optional<int64_t> when_ns);
  // True once the deadline passed while the body ran.
  bool Expired() const {
    return state_ == State::kExpiring || state_ == State::kExpired;
  }

 private:
  friend Timeout TimeoutAt(std::optional<int64_t> when_ns);
  enum class State { kCreated, kEntered, kExpiring, kExpired, kExited };
  struct AtTag {};
  Timeout(AtTag, std::optional<int64_t> when_ns) : when_(when_ns) {}

  void Enter(internal::PromiseBase* task);
  // Leaves the scope: rethrows `error`, or throws TimeoutError in its place.
  void Exit(std::exception_ptr error);
  // Starts the wait for the deadline; `passed` says whether it has passed,
  // if known without reading the clock.
  void Arm(std::optional<bool> passed);
  void Disarm();
  void Fire() override;
  void ExpireSoon();
  void Expire();

  std::optional<int64_t> when_;
  State state_ = State::kCreated;
  internal::PromiseBase* task_ = nullptr;
  uint32_t cancelling_at_entry_ = 0;
  bool armed_ = false;
  bool from_delay_ = false;
  bool passed_at_creation_ = false;
  // The expiry queued to run after the ready steps: it holds this pointer,
  // which Disarm() clears when the scope ends (or moves) first.
  std::shared_ptr<Timeout*> pending_expiry_;
};

// asyncio.timeout_at(when): a Timeout with an absolute deadline on the loop
// clock (EventLoop::NowNanos()); std::nullopt for none.
inline Timeout TimeoutAt(std::optional<int64_t> when_ns) {
  return Timeout(Timeout::AtTag{}, when_ns);
}

template <typename T>
Task<T> Timeout::Run(Task<T> body) {
  if (!body.valid()) throw std::invalid_argument("Timeout::Run: empty Task");
  Enter(co_await internal::CurrentTask());
  std::exception_ptr error;
  using Value = std::conditional_t<std::is_void_v<T>, bool, T>;
  std::optional<Value> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
    } else {
      value.emplace(co_await std::move(body));
    }
  } catch (...) {
    error = std::current_exception();
  }
  Exit(std::move(error));
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

namespace internal {
// Throws TimeoutError with the current exception (a CancelledError) nested.
[[noreturn]] void ThrowTimeoutFromCurrent();
}  // namespace internal

// asyncio.wait_for(aw, timeout): awaits `task` (an unscheduled coroutine,
// run inline in the current task, or a scheduled Task) with a deadline
// `timeout` from now, and throws TimeoutError if it passes and its
// cancellation ends the task. absl::InfiniteDuration() means no deadline
// (timeout=None). A zero or negative timeout never starts a coroutine
// (TimeoutError at once); a scheduled task that is done gives its result, and
// one still pending is cancelled and awaited: its result if it swallowed the
// cancellation, else TimeoutError (CancelledError if the awaiting task was
// cancelled meanwhile; unlike asyncio, which then returns at once, it still
// waits for `task` to finish). Cancelling the awaiting task cancels `task`
// too. Throws std::invalid_argument for an empty Task.
template <typename T>
Task<T> WaitFor(Task<T> task, absl::Duration timeout) {
  if (!task.valid()) throw std::invalid_argument("WaitFor: empty Task");
  if (timeout == absl::InfiniteDuration()) co_return co_await std::move(task);
  if (timeout <= absl::ZeroDuration()) {
    // asyncio: ensure_future(aw); if done, its result; else cancel it, wait
    // for it and turn its CancelledError into TimeoutError. A coroutine
    // becomes a task that is cancelled before its first step.
    internal::PromiseBase* self = co_await internal::CurrentTask();
    if (!task.promise()->is_root()) {
      task = self->loop()->CreateTask(std::move(task));
    }
    if (task.done()) co_return co_await std::move(task);
    task.promise()->RequestCancel();
    const uint32_t cancelling = self->cancel_requests();
    try {
      co_return co_await std::move(task);
    } catch (const CancelledError&) {
      // Cancelled while waiting: the caller's cancellation, not a timeout.
      if (self->cancel_requests() > cancelling) throw;
      internal::ThrowTimeoutFromCurrent();
    }
  }
  Timeout deadline(timeout);
  co_return co_await deadline.Run(std::move(task));
}

// WaitFor on a frameless awaitable (reader.Read(span), writer.Drain(),
// socket.SendAll), given as an rvalue: it is moved into a task that owns it
// (awaitable_task.h), which the deadline cancels.
template <FramelessAwaitable A>
  requires std::move_constructible<A> && (!std::is_lvalue_reference_v<A>)
Task<AwaitResult<A>> WaitFor(A&& op, absl::Duration timeout) {
  return WaitFor(AsTask(std::move(op)), timeout);
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TIMEOUT_H_
