// Where blocking work goes: the executor interface behind ToThread and
// RunInExecutor, and the small thread pool the loop uses by default.
//
// asyncio runs blocking functions in an executor (`loop.run_in_executor`,
// `asyncio.to_thread`) so that they do not stall the event loop. Here an
// executor is anything that can run a function once on another thread:
// implement `Executor::Execute` to plug in any pool (for instance a
// concurrent.futures-style pool from elsewhere) without this package
// depending on it. `ThreadExecutor` is the minimal pool shipped with the
// package: a fixed number of threads taking work from one FIFO queue.
//
//   ThreadExecutor pool(4);
//   pool.Execute([] { std::this_thread::sleep_for(std::chrono::seconds(1)); });
//   // ~ThreadExecutor runs what is queued, then joins its threads.
#ifndef ASYNCIO_LIKE_EXECUTOR_H_
#define ASYNCIO_LIKE_EXECUTOR_H_

#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace asyncio_like {

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `work` exactly once on a thread other than the caller's, as soon as
  // the executor can. Called from the loop thread; must not block for long.
  virtual void Execute(absl::AnyInvocable<void() &&> work) = 0;
};

// A fixed-size thread pool with a FIFO queue.
class ThreadExecutor final : public Executor {
 public:
  // Starts `threads` threads (at least one).
  explicit ThreadExecutor(int threads);
  // Runs all queued work, then joins the threads.
  ~ThreadExecutor() override;
  ThreadExecutor(const ThreadExecutor&) = delete;
  ThreadExecutor& operator=(const ThreadExecutor&) = delete;

  void Execute(absl::AnyInvocable<void() &&> work) override;

 private:
  void WorkerLoop();

  absl::Mutex mutex_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mutex_);
  bool shutting_down_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_EXECUTOR_H_
