// Runner: several top-level coroutines on one event loop (asyncio.Runner,
// Python 3.11).
//
// Run() (event_loop.h) creates a loop, runs one main task, and closes the
// loop. A Runner keeps the loop between runs, so that a program (or a test)
// can run several top-level coroutines one after the other on the same
// loop, with the tasks, servers and connections one run leaves behind
// still there for the next, and closes it cleanly once:
//
//   {
//     Runner runner;                              // with asyncio.Runner() as runner:
//     absl::StatusOr<int> port = runner.Run(StartBackend());
//     absl::Status served = runner.Run(ServeRequests(*port));
//   }                                             // Close(): cancel leftovers, close
//
// Each Run() handles Ctrl-C as Run() does (signals.h): the first SIGINT
// cancels that run's main task and Run returns KeyboardInterruptError().
// Tasks a run leaves pending keep running during the next run; Close()
// cancels the ones still pending and runs the loop until they have all
// finished, then destroys the loop (asyncio.Runner.close). The destructor
// closes a Runner not yet closed: the with-block's exit.
//
// Errors follow asyncio.Runner: Run() from inside a running loop and Run()
// or GetLoop() after Close() are FailedPrecondition ("Runner.run() cannot
// be called from a running event loop", "Runner is closed"), the RuntimeError
// asyncio raises; anything but a Task does not compile (ValueError "a
// coroutine was expected"). The loop is created on the first Run() or
// GetLoop() and belongs to that thread: run and close the Runner there.
//
// The default executor behind ToThread is shared by the whole process
// (to_thread.h), not owned by the loop, so Close() does not shut it down
// as asyncio.Runner.close() does (shutdown_default_executor): a function
// still running on it runs to its end and its result is dropped.
#ifndef ASYNCIO_LIKE_RUNNER_H_
#define ASYNCIO_LIKE_RUNNER_H_

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

class Runner {
 public:
  // asyncio.Runner(debug=...): `options` configure the loop it creates.
  explicit Runner(LoopOptions options = {}) : options_(std::move(options)) {}
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  // Closes the runner (see Close), reporting a failure to stderr.
  ~Runner();

  // runner.run(coro): runs `main` on the runner's loop until it finishes
  // and returns its result, rethrowing its exception; Ctrl-C as in Run().
  template <typename T>
  RunResult<T> Run(Task<T> main);

  // runner.get_loop(): the loop, created on first use. FailedPrecondition
  // "Runner is closed" after Close(); EventLoop::Create's error if io_uring
  // cannot be used.
  absl::StatusOr<EventLoop*> GetLoop();

  // runner.close(): cancels the tasks still pending, runs the loop until
  // they have finished, and destroys the loop. A second call does nothing.
  // FailedPrecondition if called from a task of the runner's own loop; the
  // loop's error if the remaining tasks cannot finish (a deadlock).
  absl::Status Close();

 private:
  LoopOptions options_;
  std::unique_ptr<EventLoop> loop_;
  bool closed_ = false;
};

template <typename T>
RunResult<T> Runner::Run(Task<T> main) {
  if (EventLoop::Current() != nullptr) {
    return absl::FailedPreconditionError(
        "Runner.run() cannot be called from a running event loop");
  }
  absl::StatusOr<EventLoop*> loop = GetLoop();
  if (!loop.ok()) return loop.status();
  return internal::RunMain(**loop, std::move(main));
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_RUNNER_H_
