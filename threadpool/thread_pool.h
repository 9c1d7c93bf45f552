// ThreadPoolExecutor: Python's concurrent.futures.ThreadPoolExecutor in C++.
//
// A pool of up to `max_workers` OS threads runs submitted callables. Each
// Submit returns a Future (future.h) that resolves exactly once: with the
// task's value, with its error (a returned error status or a thrown
// exception, message intact), or as cancelled. Workers start lazily, one per
// submit that finds no idle worker, and an idle worker is always reused
// before a new thread is started (Python 3.8+); a worker that has just
// finished its task counts as idle, so a submit prompted by that task's
// result reuses it. A task may submit further tasks. Shutdown stops
// accepting work, optionally cancels what has not started, and optionally
// waits; the destructor shuts down and waits, like leaving Python's
// `with ThreadPoolExecutor() as ex:` block.
//
//   absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> pool =
//       ThreadPoolExecutor::Create({.max_workers = 4});
//   absl::StatusOr<Future<int>> f = (*pool)->Submit([](int x) { return x * x; }, 7);
//   absl::StatusOr<int> v = f->Result();                     // 49
//   absl::StatusOr<MapResults<int>> squares =
//       (*pool)->Map([](int x) { return x * x; }, std::vector<int>{1, 2, 3});
//   for (absl::StatusOr<int> square : *squares) ...          // 1, 4, 9
//
// Submit, Map and the Future they return are common to every Executor
// (executor.h); this class adds the pool, Schedule and stats.
//
// How work is handed out. Pending tasks wait in one FIFO queue guarded by the
// pool's mutex. An idle worker sleeps on its own condition variable, listed
// in a stack of idle workers; a submit wakes exactly one of them (the most
// recently idle, whose cache is warm), and only if one is idle, so a busy
// pool takes no wakeups at all. A worker that runs out of work spins briefly
// before sleeping, so a steady stream of short tasks is not slowed by
// sleeping and waking; one such worker at a time first polls an atomic
// "queue not empty" flag without the lock, so that a submitter and a worker
// that keeps up with it take the lock once per task each. When the queue
// holds more tasks than there are workers, a worker takes a share of them at
// once (queue length divided by max_workers, at most kMaxBatch), so under
// load the queue lock is taken once per batch instead of once per task; with
// fewer tasks than workers each worker takes one, exactly as in Python, so
// no task waits behind another while a worker is free. A worker that ran a
// short batch of quick tasks (under 1 µs in all), and saw more work queued
// before it published the last result, is trading tasks one at a time with
// a faster submitter, each hand-over moving the lock between CPUs: it lets
// the queue fill for 1 µs before taking, and then takes a batch. (A
// submitter waiting for that result has queued nothing yet, so a round
// trip never waits; and a worker whose share of a short queue stays one
// task however long it waits, in a pool of many workers, stops waiting.)
// Tasks a worker has taken but not started are still pending: Cancel() and
// Shutdown(cancel_futures=true) reach them.
//
// Rules:
//   * Do not destroy the executor from inside one of its own tasks (the
//     destructor waits for the workers, and would wait for itself).
//   * Shutdown(wait=true) called from inside a task waits for the other
//     workers only.
//   * A task that blocks forever keeps Shutdown(wait=true) and the destructor
//     waiting forever, as in Python.

#ifndef THREADPOOL_THREAD_POOL_H_
#define THREADPOOL_THREAD_POOL_H_

#if __cplusplus < 202002L
#error "threadpool needs C++20: build with -std=c++20 (see threadpool/README.md)"
#endif

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "threadpool/errors.h"
#include "threadpool/executor.h"
#include "threadpool/future.h"
#include "threadpool/internal/task.h"
#include "threadpool/internal/task_queue.h"

namespace threadpool {

struct ThreadPoolOptions {
  // The most threads the pool starts. Unset means Python's default,
  // min(32, hardware threads + 4). Must be positive.
  std::optional<int> max_workers = std::nullopt;
  // Worker threads are named "<prefix>_<n>" (n from 0), visible to the OS
  // (top -H, gdb, /proc/<pid>/task/*/comm) truncated to Linux's 15 bytes.
  // Empty means "ThreadPoolExecutor-<k>", k counting pools in the process.
  std::string thread_name_prefix = {};
  // Run once in each worker thread before it takes any task. If it returns
  // an error or throws, the pool is broken: the queued tasks fail with a
  // BrokenThreadPool error (errors.h: a FailedPrecondition that
  // IsBrokenThreadPool() recognises), and so do later submits.
  std::function<absl::Status()> initializer = {};
};

class ThreadPoolExecutor final : public Executor {
 public:
  // The most tasks a worker takes from the queue at once.
  static constexpr size_t kMaxBatch = 64;

  struct Stats {
    int64_t threads_started = 0;
    // Tasks that ran (returned or threw); cancelled tasks are not counted.
    // Exact once the tasks counted have completed.
    int64_t tasks_run = 0;
    // The longest the queue of not-yet-taken tasks has been.
    int64_t queue_high_water_mark = 0;
  };

  // InvalidArgument if options.max_workers is set and not positive.
  static absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> Create(
      ThreadPoolOptions options = {});

  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;
  // Shutdown(/*wait=*/true).
  ~ThreadPoolExecutor() override;

  // Submit(fn, args...) and Map(fn, inputs...): see Executor (executor.h).
  // Both fail with FailedPrecondition after Shutdown ("cannot schedule new
  // futures after shutdown") and with BrokenThreadPool once the pool is
  // broken.

  // Fire and forget: runs `task()` with no future, for when nobody reads the
  // result. Cheaper than Submit: a small trivially copyable callable (say, a
  // lambda capturing a few pointers) is stored in the queue entry itself,
  // with no allocation. An exception escaping `task` is reported on
  // stderr. Same errors as Submit. Tasks cancelled by Shutdown or dropped by
  // a broken pool do not run.
  template <typename F>
  absl::Status Schedule(F&& task);

  // Stops accepting tasks. With cancel_futures, every task not yet started
  // is cancelled (its future reports Cancelled) and never runs; otherwise the
  // queued tasks still run. With wait, returns once every worker has exited
  // (so every task that will run has run). Safe to call more than once and
  // from several threads.
  void Shutdown(bool wait = true, bool cancel_futures = false) override;

  Stats stats() const;
  int max_workers() const { return max_workers_; }

 private:
  struct Worker;

  ThreadPoolExecutor(int max_workers, std::string thread_name_prefix,
                     std::function<absl::Status()> initializer);

  absl::Status Enqueue(internal::Task&& task) override;
  void StartWorker() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WorkerLoop(Worker* self);
  // Waits for work and moves a batch of it to `self`; false once the worker
  // should exit. `returning`: the previous RunBatch counted this worker in
  // returning_workers_.
  bool TakeBatch(Worker* self, bool returning);
  void WaitForWork(Worker* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the tasks `self` took; true if it counted itself in
  // returning_workers_.
  bool RunBatch(Worker* self);
  void Break(const absl::Status& initializer_error);
  // Everything not yet started, to be abandoned outside the lock: the queued
  // tasks, and the futures of the tasks in workers' batches (which the
  // workers will then skip).
  std::vector<internal::Task> TakeAllPending()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeAllIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int max_workers_;
  const std::string thread_name_prefix_;
  const std::function<absl::Status()> initializer_;

  mutable absl::Mutex mu_;
  internal::TaskQueue queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Worker>> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<Worker*> idle_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  int64_t queue_high_water_mark_ ABSL_GUARDED_BY(mu_) = 0;
  // Workers that finished their last task and are on their way back to the
  // queue: they will take a task without being woken or replaced.
  // On a cache line of its own: workers write it once per batch.
  alignas(64) std::atomic<int> returning_workers_{0};
  // !queue_.empty(), stored under mu_ when it changes (not on every submit,
  // so a backlog costs the submitter nothing here), so that a returning
  // worker can wait for work by polling it without taking mu_ (which would
  // slow down the submitting thread). Only one worker at a time polls it
  // (the one that set polling_), so that new work does not send every idle
  // worker to the lock at once. On a cache line of their own.
  alignas(64) std::atomic<bool> has_work_{false};
  std::atomic<bool> polling_{false};

  // Held while joining workers, so concurrent Shutdown(wait) calls all wait.
  // Never held together with mu_.
  absl::Mutex join_mu_;
};

template <typename F>
absl::Status ThreadPoolExecutor::Schedule(F&& task) {
  if constexpr (std::is_null_pointer_v<std::decay_t<F>>) {
    return absl::InvalidArgumentError("Schedule: the callable is empty");
  } else {
    static_assert(std::is_invocable_v<std::decay_t<F>&&>,
                  "Schedule needs a callable taking no arguments");
    if (internal::IsEmptyCallable<std::decay_t<F>>(task)) {
      return absl::InvalidArgumentError("Schedule: the callable is empty");
    }
    return Enqueue(internal::Task::FromCallable(std::forward<F>(task)));
  }
}

}  // namespace threadpool

#endif  // THREADPOOL_THREAD_POOL_H_
