#include "asyncio_like/threadsafe_calls.h"

#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/uring.h"

namespace asyncio_like {
namespace internal {

// Shared by the loop and every LoopHandle. The mutex guards the queue and
// the descriptor; everything else belongs to the loop thread.
class ThreadsafeCallQueue final : private Completion {
 public:
  ThreadsafeCallQueue(EventLoop& loop, int eventfd) : loop_(&loop), eventfd_(eventfd) {
    ArmRead(eventfd);
  }

  bool Post(absl::AnyInvocable<void()> callback) {
    if (std::this_thread::get_id() == loop_thread_) return PostFromLoopThread(std::move(callback));
    absl::MutexLock lock(&mutex_);
    if (eventfd_ < 0) return false;  // the loop is gone
    queue_.push_back(std::move(callback));
    if (!wakeup_sent_) {
      wakeup_sent_ = true;
      // Written under the mutex, so Close() cannot close (and the process
      // reuse) the descriptor in between.
      const uint64_t one = 1;
      (void)!write(eventfd_, &one, sizeof one);
    }
    return true;
  }

  // From the loop's own thread the callback joins the ready queue at once,
  // as asyncio's does, so it keeps its place among that thread's CallSoon
  // calls; the calls other threads queued before it go first.
  bool PostFromLoopThread(absl::AnyInvocable<void()> callback) {
    std::vector<absl::AnyInvocable<void()>> earlier;
    {
      absl::MutexLock lock(&mutex_);
      if (eventfd_ < 0) return false;  // the loop is gone
      earlier.swap(queue_);
    }
    for (absl::AnyInvocable<void()>& call : earlier) loop_->CallSoon(std::move(call));
    loop_->CallSoon(std::move(callback));
    return true;
  }

  // On the loop thread, when the loop is destroyed (its ring is closed).
  void Close() {
    std::vector<absl::AnyInvocable<void()>> dropped;
    absl::MutexLock lock(&mutex_);
    dropped.swap(queue_);
    close(eventfd_);
    eventfd_ = -1;
    loop_ = nullptr;
  }

 private:
  // `eventfd` is eventfd_, which the caller read under the mutex (or is
  // still constructing).
  void ArmRead(int eventfd) {
    Uring& uring = loop_->uring();
    io_uring_sqe* sqe = uring.NextSqe();
    io_uring_prep_read(sqe, eventfd, &counter_, sizeof counter_, 0);
    uring.PrepareCompletion(sqe, this);
  }

  // The eventfd read completed: move the queued callbacks to the loop.
  void Complete(int32_t, uint32_t) override {
    std::vector<absl::AnyInvocable<void()>> ready;
    int eventfd;
    {
      absl::MutexLock lock(&mutex_);
      ready.swap(queue_);
      wakeup_sent_ = false;  // a later Post must wake the loop again
      eventfd = eventfd_;
    }
    ArmRead(eventfd);
    for (absl::AnyInvocable<void()>& callback : ready) loop_->CallSoon(std::move(callback));
  }

  EventLoop* loop_;
  // The queue is made on the loop's thread (LoopHandle::Current).
  const std::thread::id loop_thread_ = std::this_thread::get_id();
  uint64_t counter_ = 0;  // the read's target
  absl::Mutex mutex_;
  int eventfd_ ABSL_GUARDED_BY(mutex_);
  std::vector<absl::AnyInvocable<void()>> queue_ ABSL_GUARDED_BY(mutex_);
  bool wakeup_sent_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace internal

namespace {

// The queue of each loop on this thread (a loop lives on one thread).
absl::flat_hash_map<EventLoop*, std::shared_ptr<internal::ThreadsafeCallQueue>>&
QueuesOfThisThread() {
  thread_local absl::flat_hash_map<EventLoop*, std::shared_ptr<internal::ThreadsafeCallQueue>>
      queues;
  return queues;
}

}  // namespace

absl::StatusOr<LoopHandle> LoopHandle::Current() {
  EventLoop* loop = EventLoop::Current();
  if (loop == nullptr) {
    return absl::FailedPreconditionError("LoopHandle::Current: no event loop runs on this thread");
  }
  auto& queues = QueuesOfThisThread();
  auto it = queues.find(loop);
  if (it == queues.end()) {
    const int eventfd = ::eventfd(0, EFD_CLOEXEC);
    if (eventfd < 0) return OsError(errno, "eventfd for CallSoonThreadsafe");
    auto queue = std::make_shared<internal::ThreadsafeCallQueue>(*loop, eventfd);
    it = queues.emplace(loop, queue).first;
    loop->AtClose([loop] {
      auto& queues = QueuesOfThisThread();
      auto found = queues.find(loop);
      found->second->Close();
      queues.erase(found);
    });
  }
  return LoopHandle(it->second);
}

bool LoopHandle::CallSoonThreadsafe(absl::AnyInvocable<void()> callback) const {
  // Refused here, on the caller's thread: on the loop it could only fail.
  if (!callback) {
    throw std::invalid_argument(
        "CallSoonThreadsafe: a callable object was expected, got an empty one");
  }
  return queue_->Post(std::move(callback));
}

}  // namespace asyncio_like
