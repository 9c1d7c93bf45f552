// The shared state behind a Future: the task's outcome, its lifecycle, and
// whoever waits for it. Internal to the package; use future.h.
//
// A state is allocated once per submitted task and holds, in one block, the
// callable (TaskState in task.h), the result, and the bookkeeping below. Its
// lifecycle is one atomic word, so the common path (a task runs and nobody
// is blocked on it yet) completes with a single atomic read-modify-write and
// no lock:
//
//   PENDING --(worker claims it)--> RUNNING --(task returns)--> FINISHED
//   PENDING --(Cancel, or shutdown with cancel_futures)--> CANCELLED
//
// Anyone who must be told about completion (a blocked Result(), a done
// callback, Wait, AsCompleted) first sets the HAS_LISTENERS bit in the same
// word while holding the state's mutex. The completing thread sees that bit in
// the value its transition replaced and only then takes the mutex to run
// callbacks and wake waiters. Because both sides touch the same atomic word,
// either the listener sees the completed status, or the completer sees the
// bit: no wakeup is lost.
//
// The mutex is only needed on that slow path, so states do not own one: they
// share a fixed array of mutexes, picked by the state's address. This keeps a
// state small, and keeps absl::Mutex's debug-build deadlock detector (which
// tracks every mutex it has seen) from tracking a million of them.

#ifndef THREADPOOL_INTERNAL_FUTURE_STATE_H_
#define THREADPOOL_INTERNAL_FUTURE_STATE_H_

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "threadpool/errors.h"

namespace threadpool {

// What reading a Future<T> gives: the value or the error, and for a task
// without a value just the status.
template <typename T>
using ResultOr =
    std::conditional_t<std::is_void_v<T>, absl::Status, absl::StatusOr<T>>;

namespace internal {

class FutureStateBase;

// Something that waits on several futures at once (Wait, AsCompleted).
// OnDone runs in the completing thread with the state's mutex held, once per
// registration, and must not call back into that state.
class Listener {
 public:
  virtual void OnDone(FutureStateBase* state) = 0;

 protected:
  ~Listener() = default;
};

// Logs an exception that escaped a done callback or a scheduled task, the way
// Python logs an exception raised by a done callback, and returns.
void ReportEscapedException(const char* where);

class FutureStateBase {
 public:
  enum Status : uint32_t {
    kPending = 0,
    kRunning = 1,
    kFinished = 2,
    kCancelled = 3,
  };

  FutureStateBase() = default;
  FutureStateBase(const FutureStateBase&) = delete;
  FutureStateBase& operator=(const FutureStateBase&) = delete;

  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  Status status() const {
    return static_cast<Status>(word_.load(std::memory_order_acquire) &
                               kStatusMask);
  }
  bool done() const { return status() >= kFinished; }
  // True if the task finished with an error (a thrown exception or an error
  // status). Meaningful once done() is true.
  bool failed() const { return failed_; }

  // Runs the task if it is still pending (worker side). If it ran,
  // `before_publish` is called after the task's code returned and before
  // its result becomes visible to anyone.
  virtual void Run(absl::FunctionRef<void()> before_publish) = 0;
  // Resolves a pending task without running it: cancelled if `why` is a
  // cancellation, otherwise finished with `why` as its error.
  virtual void Abandon(const absl::Status& why) = 0;

  // PENDING -> CANCELLED. True if the future is cancelled now or was before.
  bool Cancel();

  // Blocks until done or `deadline`; true if done.
  bool WaitUntil(absl::Time deadline);

  // Runs `callback` once when the state is done, or at once in this thread if
  // it already is.
  void AddCallback(absl::AnyInvocable<void(FutureStateBase&) &&> callback);

  // Registers `listener` and returns true, or returns false without
  // registering if the state is already done.
  bool AddListener(Listener* listener);
  void RemoveListener(Listener* listener);

 protected:
  virtual ~FutureStateBase() = default;

  // PENDING -> RUNNING; false if the future was cancelled first.
  bool SetRunning() { return Transition(kPending, kRunning); }
  // RUNNING -> FINISHED, after the result was stored with `failed` set.
  void Finish(bool failed);

  // Guards the listeners, and the result against concurrent readers (see
  // FutureState).
  absl::Mutex& mu() const;

 private:
  static constexpr uint32_t kStatusMask = 3;
  static constexpr uint32_t kHasListeners = 4;

  struct Listeners {
    std::vector<absl::AnyInvocable<void(FutureStateBase&) &&>> callbacks;
    std::vector<Listener*> waiters;
  };

  // Moves the status from `from` to `to`, keeping the listener bit; false if
  // the status was not `from`. Notifies listeners when `to` is final.
  bool Transition(Status from, Status to);
  void NotifyListeners();

  std::atomic<uint32_t> word_{kPending};
  std::atomic<int32_t> refs_{1};
  // Written once, before the release transition to FINISHED.
  bool failed_ = false;
  std::unique_ptr<Listeners> listeners_ ABSL_GUARDED_BY(mu());
};

// The typed part: the task's outcome. The worker writes `result_` (and, if
// the task threw, `exception_`) before publishing FINISHED (release), and
// readers read them after observing done() (acquire); readers additionally
// hold mu() so that one reader moving the value out cannot race another
// reading it. `exception_` is null unless the task threw, so a task that
// returns pays nothing for it beyond a null pointer.
template <typename T>
class FutureState : public FutureStateBase {
 public:
  ResultOr<T> CopyResult() {
    absl::MutexLock lock(&mu());
    if (taken_) return TakenError();
    return result_;
  }

  ResultOr<T> TakeResult() {
    absl::MutexLock lock(&mu());
    if (taken_) return TakenError();
    if constexpr (std::is_void_v<T>) {
      return result_;
    } else {
      if (!result_.ok()) return result_.status();
      taken_ = true;
      return std::move(*result_);
    }
  }

  absl::Status ErrorStatus() {
    absl::MutexLock lock(&mu());
    if constexpr (std::is_void_v<T>) {
      return result_;
    } else {
      return result_.status();
    }
  }

  // The exception the task threw, null if it threw none (it succeeded or
  // returned an error status).
  const std::exception_ptr& exception() const { return exception_; }

  void Abandon(const absl::Status& why) final {
    if (absl::IsCancelled(why)) {
      Cancel();
    } else if (SetRunning()) {
      result_ = why;
      Finish(/*failed=*/true);
    }
  }

  // Python's Future.set_result / set_exception, for a future created by its
  // user (settable()): the first call on a pending or running future sets
  // it; any later call, or one on a cancelled future, is InvalidStateError.
  absl::Status SetOutcome(ResultOr<T> result, std::exception_ptr exception) {
    {
      absl::MutexLock lock(&mu());
      if (!settable_) {
        return InvalidStateStatus(
            "only a future made by Future::Create can be set; the executor "
            "sets the futures it returns");
      }
      // A pending future is claimed by moving it to RUNNING, which a
      // concurrent Cancel cannot undo; a running one by the flag.
      if (claimed_ || (status() != kRunning && !SetRunning())) {
        return AlreadyDoneError();
      }
      claimed_ = true;
    }
    // Nobody reads the outcome before FINISHED is published.
    SetResult(std::move(result), std::move(exception));
    return absl::OkStatus();
  }

  bool settable() const { return settable_; }

 protected:
  FutureState() = default;
  explicit FutureState(bool settable) : settable_(settable) {}

  void SetResult(ResultOr<T> result, std::exception_ptr exception) {
    const bool failed = !result.ok();
    result_ = std::move(result);
    exception_ = std::move(exception);
    Finish(failed);
  }

 private:
  static absl::Status TakenError() {
    return absl::FailedPreconditionError(
        "the result was already moved out of this future");
  }
  absl::Status AlreadyDoneError() const {
    return InvalidStateStatus(status() == kCancelled
                                  ? "CANCELLED: the future was cancelled"
                                  : "FINISHED: the future already has its "
                                    "result or exception");
  }

  ResultOr<T> result_;
  std::exception_ptr exception_;
  const bool settable_ = false;
  bool claimed_ ABSL_GUARDED_BY(mu()) = false;
  bool taken_ ABSL_GUARDED_BY(mu()) = false;
};

// The state of a future created by its user (Future<T>::Create): no task,
// resolved by SetOutcome, Cancel, or SetRunningOrNotifyCancel.
template <typename T>
class UserFutureState final : public FutureState<T> {
 public:
  UserFutureState() : FutureState<T>(/*settable=*/true) {}
  // Never queued, so never run by a worker.
  void Run(absl::FunctionRef<void()>) override {}
  // PENDING -> RUNNING (true); false if cancelled.
  bool MarkRunning() { return this->SetRunning(); }
};

}  // namespace internal
}  // namespace threadpool

#endif  // THREADPOOL_INTERNAL_FUTURE_STATE_H_
