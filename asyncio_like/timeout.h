// Deadlines: Timeout (asyncio.timeout) and WaitFor (asyncio.wait_for).
//
//   // asyncio.timeout: the body runs in the current task; at the deadline the
//   // task is cancelled, and the cancellation comes out as TimeoutError.
//   Timeout timeout(absl::Seconds(2));
//   std::string body = co_await timeout.Run(ReadAll(stream));
//
//   // asyncio.wait_for: the same in one call.
//   int n = co_await WaitFor(Compute(), absl::Milliseconds(100));
//
// At the deadline the task running the body is cancelled, exactly as by
// Task::Cancel(): the body sees CancelledError at its await point and may
// clean up (even await) before it lets the error out. When the
// CancelledError leaves the body, Timeout replaces it with TimeoutError; a
// cancellation that came from elsewhere (the task was also cancelled by
// someone else) stays a CancelledError. If the body awaits a scheduled task
// (a Task from CreateTask), that task is cancelled too, and the wait ends
// when it has finished. A body that finishes before the deadline returns
// its result normally; one that finishes after the deadline without
// noticing the cancellation also returns normally.
#ifndef ASYNCIO_LIKE_TIMEOUT_H_
#define ASYNCIO_LIKE_TIMEOUT_H_

#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timer_heap.h"

namespace asyncio_like {

// Thrown when a Timeout or WaitFor deadline passes (asyncio.TimeoutError).
class TimeoutError : public std::exception {
 public:
  const char* what() const noexcept override { return "timed out"; }
};

// A deadline for a body of code. Reusable for one Run() at a time; it must
// outlive the Run() it is awaited in.
class Timeout : private internal::Timer {
 public:
  // The deadline is `delay` after Run() starts; absl::InfiniteDuration()
  // means none.
  explicit Timeout(absl::Duration delay) : delay_(delay) {}
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;
  ~Timeout() { Disarm(); }

  // Runs `body` in the current task under the deadline. Throws TimeoutError
  // if the deadline passed and cancelled the body.
  template <typename T>
  Task<T> Run(Task<T> body);

  // Moves the deadline to `delay` from now (asyncio's Timeout.reschedule),
  // or removes it with absl::InfiniteDuration(). Only while Run() is active.
  void Reschedule(absl::Duration delay);
  // True once the deadline passed and cancelled the body.
  bool expired() const { return expired_; }

 private:
  void Enter(internal::PromiseBase* task);
  // Returns true if `error` is the cancellation this timeout caused.
  bool Exit(const std::exception_ptr& error);
  void Arm(absl::Duration delay);
  void Disarm();
  void Fire() override;

  absl::Duration delay_;
  internal::PromiseBase* task_ = nullptr;
  uint32_t cancel_requests_at_entry_ = 0;
  uint32_t slot_ = 0;
  bool armed_ = false;
  bool expired_ = false;
};

template <typename T>
Task<T> Timeout::Run(Task<T> body) {
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
  if (Exit(error)) throw TimeoutError();
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

// asyncio.wait_for(task, timeout): runs `task` with a deadline; throws
// TimeoutError if it passes.
template <typename T>
Task<T> WaitFor(Task<T> task, absl::Duration timeout) {
  Timeout deadline(timeout);
  co_return co_await deadline.Run(std::move(task));
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TIMEOUT_H_
