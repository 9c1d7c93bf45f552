#include "threadpool/thread_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace threadpool {
namespace {

// How long an out-of-work worker polls the pool's has_work_ flag, and then
// its own wake flag, before sleeping: each longer than a typical gap between
// submits of short tasks, far shorter than a scheduler time slice, and short
// enough not to starve the submitting thread of a CPU on a small or loaded
// machine.
constexpr absl::Duration kIdleSpin = absl::Microseconds(20);

// How long a worker lets the queue fill after a short batch of quick tasks
// during which more work was queued: long enough for a fast submitter to
// queue a few dozen small tasks, short against any task worth a thread.
constexpr absl::Duration kBatchFill = absl::Microseconds(1);

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `done` until it returns true or `give_up` has passed. The clock is
// read every few pauses: a pause takes from a few to about 140 cycles
// depending on the CPU, and the 1 µs batch fill must not become several.
template <typename Predicate>
void SpinUntil(Predicate done, absl::Time give_up) {
  while (true) {
    for (int i = 0; i < 8; ++i) {
      if (done()) return;
      CpuRelax();
    }
    if (absl::Now() > give_up) return;
  }
}

std::atomic<int> pools_created{0};

absl::Status RunInitializer(const std::function<absl::Status()>& initializer) {
  try {
    return initializer();
  } catch (const std::exception& e) {
    return absl::UnknownError(e.what());
  } catch (...) {
    return absl::UnknownError(
        "the initializer threw an exception not derived from std::exception");
  }
}

}  // namespace

struct ThreadPoolExecutor::Worker {
  std::thread thread;
  // Set (under the pool's mu_) when this idle worker is handed work or told
  // to exit; polled without the lock while spinning.
  std::atomic<bool> wake{false};
  // True while blocked on `cv` (under the pool's mu_), so that only a
  // sleeping worker is signalled.
  bool sleeping = false;
  absl::CondVar cv;

  // The tasks this worker took from the queue, run in place. Only the worker
  // changes the vector (under batch_mu), so it reads it without the lock;
  // Shutdown and Break read it under batch_mu to resolve the futures of the
  // tasks not yet started, and set drop_rest so that the worker skips them.
  // Lock order: the pool's mu_, then batch_mu.
  absl::Mutex batch_mu;
  std::vector<internal::Task> batch;
  std::atomic<bool> drop_rest{false};
  // Set by RunBatch when the batch it ran was short and quick and more work
  // was queued before its last result was published (so that work was not
  // waiting for that result). Only the worker uses it.
  bool let_queue_fill = false;
  // Set when a take after letting the queue fill found several tasks but
  // got only one (a pool of many workers shares out a short queue one task
  // each), so that the worker stops waiting for the queue to fill; cleared
  // when a take gets more than one.
  bool queue_fill_failed = false;

  // Written only by the worker; read by stats().
  std::atomic<int64_t> tasks_run{0};
};

absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> ThreadPoolExecutor::Create(
    ThreadPoolOptions options) {
  int max_workers;
  if (options.max_workers.has_value()) {
    if (*options.max_workers <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "max_workers must be greater than 0, got ", *options.max_workers));
    }
    max_workers = *options.max_workers;
  } else {
    max_workers = std::min(
        32, static_cast<int>(std::thread::hardware_concurrency()) + 4);
  }
  const int pool_number = pools_created.fetch_add(1);
  std::string prefix = options.thread_name_prefix.empty()
                           ? absl::StrCat("ThreadPoolExecutor-", pool_number)
                           : std::move(options.thread_name_prefix);
  return std::unique_ptr<ThreadPoolExecutor>(new ThreadPoolExecutor(
      max_workers, std::move(prefix), std::move(options.initializer)));
}

ThreadPoolExecutor::ThreadPoolExecutor(
    int max_workers, std::string thread_name_prefix,
    std::function<absl::Status()> initializer)
    : max_workers_(max_workers),
      thread_name_prefix_(std::move(thread_name_prefix)),
      initializer_(std::move(initializer)) {}

ThreadPoolExecutor::~ThreadPoolExecutor() { Shutdown(/*wait=*/true); }

absl::Status ThreadPoolExecutor::Enqueue(internal::Task&& task) {
  absl::MutexLock lock(&mu_);
  if (!broken_.ok()) return broken_;
  if (shutdown_) {
    return absl::FailedPreconditionError(
        "cannot schedule new futures after shutdown");
  }
  queue_.push_back(std::move(task));
  if (queue_.size() == 1) has_work_.store(true, std::memory_order_relaxed);
  queue_high_water_mark_ = std::max<int64_t>(queue_high_water_mark_,
                                             static_cast<int64_t>(queue_.size()));
  if (!idle_.empty()) {
    Worker* worker = idle_.back();
    idle_.pop_back();
    worker->wake.store(true, std::memory_order_release);
    if (worker->sleeping) worker->cv.Signal();
  } else if (static_cast<int>(workers_.size()) < max_workers_ &&
             queue_.size() > static_cast<size_t>(returning_workers_.load(
                                 std::memory_order_acquire))) {
    StartWorker();
  }
  return absl::OkStatus();
}

void ThreadPoolExecutor::StartWorker() {
  // Linux limits thread names to 15 bytes plus the terminating NUL.
  std::string name =
      absl::StrCat(thread_name_prefix_, "_", workers_.size()).substr(0, 15);
  auto worker = std::make_unique<Worker>();
  Worker* self = worker.get();
  workers_.push_back(std::move(worker));
  self->thread = std::thread([this, self, name = std::move(name)] {
    pthread_setname_np(pthread_self(), name.c_str());
    WorkerLoop(self);
  });
}

void ThreadPoolExecutor::WorkerLoop(Worker* self) {
  if (initializer_) {
    absl::Status s = RunInitializer(initializer_);
    if (!s.ok()) {
      // Python logs the initializer's exception before breaking the pool.
      std::fprintf(stderr, "threadpool: exception in initializer: %s\n",
                   std::string(s.message()).c_str());
      Break(s);
      return;
    }
  }
  bool returning = false;
  while (TakeBatch(self, returning)) returning = RunBatch(self);
}

bool ThreadPoolExecutor::TakeBatch(Worker* self, bool returning) {
  // Still counted as returning, so no submit starts a thread for the work
  // it is about to take.
  const bool let_queue_fill = returning && self->let_queue_fill;
  if (returning) {
    if (let_queue_fill) {
      // This worker is keeping pace with a faster submitter a task or two
      // at a time, and every hand-over moves the lock and the queue between
      // their CPUs, slowing both; letting the queue fill for a moment makes
      // the next take a batch.
      SpinUntil([] { return false; }, absl::Now() + kBatchFill);
    } else if (!has_work_.load(std::memory_order_relaxed) &&
               !polling_.exchange(true, std::memory_order_relaxed)) {
      // The lock is taken only once there is work (or the spin ends), so a
      // submitter and a worker that keeps up with it take it once per task
      // each instead of the worker twice.
      SpinUntil([this] { return has_work_.load(std::memory_order_relaxed); },
                absl::Now() + kIdleSpin);
      polling_.store(false, std::memory_order_relaxed);
    }
  }
  absl::MutexLock lock(&mu_);
  if (returning) returning_workers_.fetch_sub(1, std::memory_order_relaxed);
  while (queue_.empty()) {
    if (shutdown_ || !broken_.ok()) return false;
    WaitForWork(self);
  }
  const size_t queued = queue_.size();
  const size_t count = std::clamp<size_t>(
      queued / static_cast<size_t>(max_workers_), 1, kMaxBatch);
  if (count > 1) {
    self->queue_fill_failed = false;
  } else if (let_queue_fill && queued > 1) {
    self->queue_fill_failed = true;
  }
  absl::MutexLock batch_lock(&self->batch_mu);
  self->drop_rest.store(false, std::memory_order_relaxed);
  for (size_t i = 0; i < count; ++i) {
    self->batch.push_back(queue_.pop_front());
  }
  if (queue_.empty()) has_work_.store(false, std::memory_order_relaxed);
  return true;
}

void ThreadPoolExecutor::WaitForWork(Worker* self) {
  self->wake.store(false, std::memory_order_relaxed);
  idle_.push_back(self);
  mu_.Unlock();
  SpinUntil([self] { return self->wake.load(std::memory_order_acquire); },
            absl::Now() + kIdleSpin);
  mu_.Lock();
  self->sleeping = true;
  while (!self->wake.load(std::memory_order_relaxed)) self->cv.Wait(&mu_);
  self->sleeping = false;
}

bool ThreadPoolExecutor::RunBatch(Worker* self) {
  int64_t ran = self->tasks_run.load(std::memory_order_relaxed);
  bool returning = false;
  const size_t count = self->batch.size();
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < count; ++i) {
    if (self->drop_rest.load(std::memory_order_acquire)) break;
    // Before a task publishes its result, it is counted as run, and if it is
    // the last of the batch, the worker counts as returning for more work:
    // a submit prompted by that result then reuses this worker instead of
    // starting a new thread, and stats() already includes the task.
    std::move(self->batch[i]).Run([&] {
      self->tasks_run.store(++ran, std::memory_order_relaxed);
      if (i + 1 == count) {
        // A backlog (full batches), slower tasks, or a submitter waiting for
        // this result (nothing queued yet) take the next batch at once.
        self->let_queue_fill = !self->queue_fill_failed && count < kMaxBatch &&
                               has_work_.load(std::memory_order_relaxed) &&
                               absl::Now() - start < kBatchFill;
        returning_workers_.fetch_add(1, std::memory_order_release);
        returning = true;
      }
    });
  }
  absl::MutexLock batch_lock(&self->batch_mu);
  self->batch.clear();
  return returning;
}

std::vector<internal::Task> ThreadPoolExecutor::TakeAllPending() {
  std::vector<internal::Task> pending;
  for (const std::unique_ptr<Worker>& worker : workers_) {
    // The batch's futures that have started or finished ignore being
    // abandoned; the rest are resolved, and the worker skips them.
    absl::MutexLock batch_lock(&worker->batch_mu);
    worker->drop_rest.store(true, std::memory_order_release);
    for (const internal::Task& task : worker->batch) {
      if (internal::FutureStateBase* state = task.future_state()) {
        state->Ref();
        pending.emplace_back(state);
      }
    }
  }
  while (!queue_.empty()) {
    pending.push_back(queue_.pop_front());
  }
  has_work_.store(false, std::memory_order_relaxed);
  return pending;
}

void ThreadPoolExecutor::WakeAllIdle() {
  for (Worker* worker : idle_) {
    worker->wake.store(true, std::memory_order_release);
    if (worker->sleeping) worker->cv.Signal();
  }
  idle_.clear();
}

void ThreadPoolExecutor::Break(const absl::Status& initializer_error) {
  std::vector<internal::Task> pending;
  absl::Status broken;
  {
    absl::MutexLock lock(&mu_);
    if (broken_.ok()) {
      broken_ = BrokenThreadPoolStatus(absl::StrCat(
          "broken thread pool: a thread initializer failed, the thread pool "
          "is not usable anymore: ",
          initializer_error.message()));
    }
    broken = broken_;
    pending = TakeAllPending();
    WakeAllIdle();
  }
  for (internal::Task& task : pending) std::move(task).Abandon(broken);
}

void ThreadPoolExecutor::Shutdown(bool wait, bool cancel_futures) {
  std::vector<internal::Task> cancelled;
  std::vector<Worker*> workers;
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
    if (cancel_futures) cancelled = TakeAllPending();
    WakeAllIdle();
    for (const std::unique_ptr<Worker>& worker : workers_) {
      workers.push_back(worker.get());
    }
  }
  for (internal::Task& task : cancelled) {
    std::move(task).Abandon(
        absl::CancelledError("cancelled by Shutdown(cancel_futures=true)"));
  }
  if (!wait) return;
  // No worker can be added after shutdown_ is set, so `workers` is complete.
  absl::MutexLock join_lock(&join_mu_);
  for (Worker* worker : workers) {
    if (worker->thread.joinable() &&
        worker->thread.get_id() != std::this_thread::get_id()) {
      worker->thread.join();
    }
  }
}

ThreadPoolExecutor::Stats ThreadPoolExecutor::stats() const {
  absl::MutexLock lock(&mu_);
  Stats stats;
  stats.threads_started = static_cast<int64_t>(workers_.size());
  stats.queue_high_water_mark = queue_high_water_mark_;
  for (const std::unique_ptr<Worker>& worker : workers_) {
    stats.tasks_run += worker->tasks_run.load(std::memory_order_relaxed);
  }
  return stats;
}

}  // namespace threadpool
