#include "asyncio_like/executor.h"

#include <algorithm>
#include <utility>

namespace asyncio_like {

ThreadExecutor::ThreadExecutor(int threads) {
  threads_.reserve(std::max(threads, 1));
  for (int i = 0; i < std::max(threads, 1); ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
}

ThreadExecutor::~ThreadExecutor() {
  {
    absl::MutexLock lock(&mutex_);
    shutting_down_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void ThreadExecutor::Execute(absl::AnyInvocable<void() &&> work) {
  absl::MutexLock lock(&mutex_);
  queue_.push_back(std::move(work));
}

void ThreadExecutor::WorkerLoop() {
  for (;;) {
    absl::AnyInvocable<void() &&> work;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(
          +[](ThreadExecutor* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) {
            return self->shutting_down_ || !self->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // shutting down with nothing left to run
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(work)();
  }
}

}  // namespace asyncio_like
