// CallSoonThreadsafe: how other threads hand work to an event loop.
//
// A loop's thread sleeps in io_uring_enter when it has nothing to do, so a
// thread that wants something run on the loop must both queue it and wake
// the loop. As asyncio does with its self-pipe, the loop keeps a read of an
// eventfd in flight on its ring; another thread appends the callback to a
// mutex-protected queue and, if the queue was empty, writes the eventfd. The
// read completes, the loop moves the queued callbacks to its ready queue
// (call_soon) and arms the read again. No polling: an idle loop stays asleep
// in the kernel until a callback arrives.
//
// A LoopHandle is taken on the loop thread and may be copied to any thread:
//
//   LoopHandle handle = LoopHandle::Current();   // on the loop thread
//   std::thread worker([handle] {
//     int answer = Compute();
//     handle.CallSoonThreadsafe([answer] { Publish(answer); });   // runs on the loop
//   });
//
// Taking a handle arms the wakeup, which then counts as a pending kernel
// operation: from then on the loop no longer reports a deadlock while its
// main task waits, since another thread may still wake it. Once the loop is
// destroyed, CallSoonThreadsafe returns false and drops the callback
// (asyncio raises RuntimeError for a closed loop).
#ifndef ASYNCIO_LIKE_THREADSAFE_CALLS_H_
#define ASYNCIO_LIKE_THREADSAFE_CALLS_H_

#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

namespace asyncio_like {

namespace internal {
class ThreadsafeCallQueue;
}  // namespace internal

class LoopHandle {
 public:
  // A handle to the loop running on this thread. Fails if no loop runs
  // here, or if the eventfd cannot be created (EMFILE).
  static absl::StatusOr<LoopHandle> Current();

  // Callable from any thread: schedules `callback` to run on the loop
  // thread, FIFO with the loop's other callbacks (call_soon_threadsafe).
  // Returns false, without running it, if the loop has been destroyed.
  bool CallSoonThreadsafe(absl::AnyInvocable<void()> callback) const;

 private:
  explicit LoopHandle(std::shared_ptr<internal::ThreadsafeCallQueue> queue)
      : queue_(std::move(queue)) {}

  std::shared_ptr<internal::ThreadsafeCallQueue> queue_;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_THREADSAFE_CALLS_H_
