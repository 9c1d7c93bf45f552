// Unix signals on the event loop (loop.add_signal_handler) and Run()'s
// Ctrl-C handling (asyncio.run's, since Python 3.11).
//
// A signal handler here is not a function the kernel calls at an arbitrary
// instruction: it is a callback the loop runs between two task steps, like
// any other callback, so it may touch anything the tasks touch (set an
// Event, cancel a task, close a server):
//
//   Task<void> Main() {
//     Event stop;
//     EventLoop* loop = EventLoop::Current();
//     absl::Status s = loop->AddSignalHandler(SIGTERM, [&stop] { stop.Set(); });
//     if (!s.ok()) co_return;            // e.g. "invalid signal number 0"
//     co_await stop.Wait();              // until `kill -TERM <pid>`
//     (void)loop->RemoveSignalHandler(SIGTERM);
//   }
//
// How it works: AddSignalHandler blocks the signal in the loop's thread
// (pthread_sigmask), so the kernel no longer delivers it there but keeps it
// pending, and adds it to the loop's signalfd. A read of that signalfd is
// kept in flight on the io_uring ring; when signals arrive the read
// completes with one record per signal, and the loop queues each handled
// signal's callback (call_soon), then re-arms the read. No async-signal-safe
// code is involved, and the loop thread wakes through the same single
// kernel entry as for everything else.
//
// What that implies for other threads. The kernel delivers a signal sent to
// the process (kill, Ctrl-C) to any one thread that does not block it; only
// if every thread blocks it does it stay pending for the signalfd. So:
//   - threads started by the loop's thread after AddSignalHandler inherit
//     the blocked mask, and that is enough (the default executor's threads,
//     started on first ToThread, are such threads);
//   - a thread started before must block the signal itself, or, simplest,
//     block the signals in main() before starting any thread:
//       sigset_t set; sigemptyset(&set); sigaddset(&set, SIGTERM);
//       pthread_sigmask(SIG_BLOCK, &set, nullptr);
//     otherwise the kernel may deliver the signal to that thread, where its
//     disposition applies (for SIGINT and SIGTERM: the process ends);
//   - one signal is handled by one loop at a time: adding a handler for a
//     signal another loop handles is an error;
//   - children started with CreateSubprocessExec get an empty signal mask,
//     not the loop thread's.
// RemoveSignalHandler restores the signal's blocked state in the loop's
// thread; a signal arriving after that meets its disposition (for SIGINT
// and SIGTERM by default: the process ends), as after asyncio's removal.
//
// Errors, as asyncio raises them: a number that is not a signal is
// InvalidArgument "invalid signal number N" (ValueError); SIGKILL and SIGSTOP
// are FailedPrecondition "sig 9 cannot be caught" (RuntimeError). A
// coroutine as the callback does not compile (asyncio's TypeError): start a
// task from the callback instead.
//
// Ctrl-C in Run() (and Runner::Run). On the main thread, when SIGINT has its
// default disposition and no loop handles it, Run handles SIGINT as
// asyncio.run does: the first Ctrl-C cancels the main task, which unwinds
// through its awaits (a server closes its connections); if the main task
// ends with that cancellation, Run returns a KeyboardInterrupt status
// (IsKeyboardInterrupt()). The first Ctrl-C also gives SIGINT back its
// default disposition, so a second Ctrl-C, while the main task is still
// winding down, ends the process at once by SIGINT: the way an uncaught
// KeyboardInterrupt ends CPython (which exits by re-raising SIGINT), and it
// works even if a task is stuck without awaiting. Where Run does not handle
// SIGINT (another thread, a program that ignores SIGINT or handles it
// itself), Ctrl-C does what the program's disposition says. Run's own SIGINT
// handling does not hide a deadlock: a main task that waits for nothing
// else is still reported (a handler added with AddSignalHandler counts as
// something that can wake the loop, as it should).
#ifndef ASYNCIO_LIKE_SIGNALS_H_
#define ASYNCIO_LIKE_SIGNALS_H_

#include <signal.h>
#include <sys/signalfd.h>

#include <map>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/uring.h"

namespace asyncio_like {

// KeyboardInterruptError() and IsKeyboardInterrupt() are declared in
// event_loop.h, beside Run.

namespace internal {

// A loop's signal handlers and its signalfd (see the top of this file).
class SignalHandlers final : private Completion {
 public:
  explicit SignalHandlers(EventLoop& loop) : loop_(loop) {}
  SignalHandlers(const SignalHandlers&) = delete;
  SignalHandlers& operator=(const SignalHandlers&) = delete;
  // Closes the signalfd (the loop has drained its ring by then) and
  // restores every handled signal's blocked state.
  ~SignalHandlers();

  // A `background` handler's read does not count as work that can wake the
  // loop (Run's SIGINT handling), so that deadlocks are still reported.
  absl::Status Add(int signo, absl::AnyInvocable<void()> callback, bool background);
  // With `background_only`, removes the handler only if it is a background
  // one (Run's own, not one the program put in its place).
  absl::StatusOr<bool> Remove(int signo, bool background_only = false);
  // True if a signalfd read is in flight on behalf of background handlers
  // only.
  bool only_background_read() const;

 private:
  struct Handler {
    // Shared with the callbacks already queued, which do not run once the
    // handler is removed or replaced (asyncio cancels their Handle).
    std::shared_ptr<absl::AnyInvocable<void()>> callback;
    std::shared_ptr<bool> removed;
    bool background = false;
    bool was_blocked = false;  // in the loop's thread, before Add
  };

  void ArmRead();
  void Complete(int32_t result, uint32_t flags) override;
  void Abandon() override { read_in_flight_ = false; }
  void Forget(int signo, Handler& handler);

  EventLoop& loop_;
  int fd_ = -1;
  sigset_t mask_{};
  std::map<int, Handler> handlers_;
  signalfd_siginfo records_[8];
  bool read_in_flight_ = false;
};

}  // namespace internal
}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_SIGNALS_H_
