#include "threadpool/internal/future_state.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <utility>

namespace threadpool::internal {

void ReportEscapedException(const char* where) {
  try {
    throw;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "threadpool: exception in %s: %s\n", where, e.what());
  } catch (...) {
    std::fprintf(stderr, "threadpool: exception in %s (not a std::exception)\n",
                 where);
  }
}

absl::Mutex& FutureStateBase::mu() const {
  // A power of two comfortably above the number of threads that contend.
  constexpr size_t kMutexes = 64;
  // Never destroyed, so states may still be used during static destruction.
  static absl::Mutex* const mutexes = new absl::Mutex[kMutexes];
  // States are at least 16-byte aligned heap blocks; mix the address bits
  // above that so neighbouring states use different mutexes.
  const uintptr_t address = reinterpret_cast<uintptr_t>(this) >> 4;
  return mutexes[(address * 0x9E3779B97F4A7C15u) >> 58];
}

bool FutureStateBase::Transition(Status from, Status to) {
  uint32_t word = word_.load(std::memory_order_relaxed);
  do {
    if ((word & kStatusMask) != from) return false;
  } while (!word_.compare_exchange_weak(word, (word & ~kStatusMask) | to,
                                        std::memory_order_acq_rel,
                                        std::memory_order_relaxed));
  if (to >= kFinished && (word & kHasListeners) != 0) NotifyListeners();
  return true;
}

void FutureStateBase::Finish(bool failed) {
  failed_ = failed;
  Transition(kRunning, kFinished);
}

bool FutureStateBase::Cancel() {
  return Transition(kPending, kCancelled) || status() == kCancelled;
}

void FutureStateBase::NotifyListeners() {
  std::vector<absl::AnyInvocable<void(FutureStateBase&) &&>> callbacks;
  {
    // Unlocking wakes the threads blocked in WaitUntil: absl::Mutex
    // re-evaluates their conditions on release.
    absl::MutexLock lock(&mu());
    if (listeners_ == nullptr) return;
    callbacks.swap(listeners_->callbacks);
    for (Listener* waiter : listeners_->waiters) waiter->OnDone(this);
  }
  // Python runs done callbacks in the thread that completes the future, in
  // the order they were added, and logs (then ignores) what they raise.
  for (auto& callback : callbacks) {
    try {
      std::move(callback)(*this);
    } catch (...) {
      ReportEscapedException("a done callback");
    }
  }
}

bool FutureStateBase::WaitUntil(absl::Time deadline) {
  if (done()) return true;
  absl::MutexLock lock(&mu());
  word_.fetch_or(kHasListeners, std::memory_order_acq_rel);
  return mu().AwaitWithDeadline(absl::Condition(this, &FutureStateBase::done),
                               deadline);
}

void FutureStateBase::AddCallback(
    absl::AnyInvocable<void(FutureStateBase&) &&> callback) {
  {
    absl::MutexLock lock(&mu());
    const uint32_t word =
        word_.fetch_or(kHasListeners, std::memory_order_acq_rel);
    if ((word & kStatusMask) < kFinished) {
      if (listeners_ == nullptr) listeners_ = std::make_unique<Listeners>();
      listeners_->callbacks.push_back(std::move(callback));
      return;
    }
  }
  try {
    std::move(callback)(*this);
  } catch (...) {
    ReportEscapedException("a done callback");
  }
}

bool FutureStateBase::AddListener(Listener* listener) {
  absl::MutexLock lock(&mu());
  const uint32_t word = word_.fetch_or(kHasListeners, std::memory_order_acq_rel);
  if ((word & kStatusMask) >= kFinished) return false;
  if (listeners_ == nullptr) listeners_ = std::make_unique<Listeners>();
  listeners_->waiters.push_back(listener);
  return true;
}

void FutureStateBase::RemoveListener(Listener* listener) {
  absl::MutexLock lock(&mu());
  if (listeners_ == nullptr) return;
  auto& waiters = listeners_->waiters;
  waiters.erase(std::remove(waiters.begin(), waiters.end(), listener),
                waiters.end());
}

}  // namespace threadpool::internal
