// Waiting for several futures: Wait and AsCompleted, the C++ forms of
// concurrent.futures.wait and concurrent.futures.as_completed.
//
//   std::vector<Future<int>> fs = ...;
//   absl::StatusOr<WaitResult<int>> r =
//       Wait(fs, ReturnWhen::kFirstCompleted, absl::Seconds(1));
//   // r->done holds at least one done future unless the second passed.
//
//   for (absl::StatusOr<Future<int>> f : AsCompleted(fs, absl::Seconds(5))) {
//     if (!f.ok()) return f.status();  // DeadlineExceeded: some unfinished
//     Use(f->Result());                // yielded in completion order
//   }
//
// Both treat their input as a set: a future listed twice is reported once, in
// the position of its first occurrence. A cancelled future counts as done.
// The timeout is measured from the call, and a negative one counts as zero
// (as in Python); an invalid (default-constructed) future is an
// InvalidArgument error.

#ifndef THREADPOOL_WAIT_H_
#define THREADPOOL_WAIT_H_

#include <cstddef>
#include <deque>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "threadpool/future.h"
#include "threadpool/internal/future_state.h"

namespace threadpool {

// Python's FIRST_COMPLETED, FIRST_EXCEPTION and ALL_COMPLETED. An
// "exception" is a task that finished with an error (thrown or returned);
// without one, kFirstException waits like kAllCompleted.
enum class ReturnWhen { kFirstCompleted, kFirstException, kAllCompleted };

// Python's (done, not_done) pair, each in input order.
template <typename T>
struct WaitResult {
  std::vector<Future<T>> done;
  std::vector<Future<T>> not_done;
};

namespace internal {

// The distinct states of `futures` in first-occurrence order, or
// InvalidArgument if one is not valid.
absl::StatusOr<std::vector<FutureStateBase*>> DistinctStates(
    std::vector<FutureStateBase*> states);

// Blocks until `return_when` holds for `states` or `deadline` passes.
void WaitForStates(absl::Span<FutureStateBase* const> states,
                   ReturnWhen return_when, absl::Time deadline);

// Hands out states in the order they complete (those already done first).
class CompletionQueue final : public Listener {
 public:
  CompletionQueue(std::vector<FutureStateBase*> states, absl::Time deadline);
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;
  ~CompletionQueue();

  // The next done state, nullptr once every state was handed out, or
  // DeadlineExceeded if the deadline passes first.
  absl::StatusOr<FutureStateBase*> Next();

  void OnDone(FutureStateBase* state) override;

 private:
  const std::vector<FutureStateBase*> states_;
  std::vector<FutureStateBase*> registered_;
  const absl::Time deadline_;
  size_t handed_out_ = 0;
  absl::Mutex mu_;
  std::deque<FutureStateBase*> ready_ ABSL_GUARDED_BY(mu_);
};

template <typename T>
std::vector<FutureStateBase*> StatesOf(absl::Span<const Future<T>> futures) {
  std::vector<FutureStateBase*> states;
  states.reserve(futures.size());
  for (const Future<T>& f : futures) states.push_back(FutureAccess::State(f));
  return states;
}

}  // namespace internal

template <typename T>
absl::StatusOr<WaitResult<T>> Wait(
    absl::Span<const Future<T>> futures,
    ReturnWhen return_when = ReturnWhen::kAllCompleted,
    absl::Duration timeout = absl::InfiniteDuration()) {
  timeout = internal::NonNegative(timeout);
  absl::StatusOr<std::vector<internal::FutureStateBase*>> states =
      internal::DistinctStates(internal::StatesOf(futures));
  if (!states.ok()) return states.status();
  internal::WaitForStates(*states, return_when, absl::Now() + timeout);
  WaitResult<T> result;
  for (internal::FutureStateBase* state : *states) {
    (state->done() ? result.done : result.not_done)
        .push_back(internal::FutureAccess::Share<T>(state));
  }
  return result;
}

template <typename T>
absl::StatusOr<WaitResult<T>> Wait(
    const std::vector<Future<T>>& futures,
    ReturnWhen return_when = ReturnWhen::kAllCompleted,
    absl::Duration timeout = absl::InfiniteDuration()) {
  return Wait(absl::MakeConstSpan(futures), return_when, timeout);
}

// The range returned by AsCompleted: an input range of
// absl::StatusOr<Future<T>>, each a done future, or, last, the error that
// ended the iteration (DeadlineExceeded "N (of M) futures unfinished", or
// InvalidArgument). Iterate it once.
template <typename T>
class AsCompletedRange {
 public:
  class Iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = absl::StatusOr<Future<T>>;
    using difference_type = std::ptrdiff_t;

    Iterator() = default;
    const value_type& operator*() const { return range_->current_; }
    const value_type* operator->() const { return &range_->current_; }
    Iterator& operator++() {
      range_->Advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const Iterator& it, std::default_sentinel_t) {
      return it.AtEnd();
    }

   private:
    bool AtEnd() const { return range_->finished_; }

    friend class AsCompletedRange;
    explicit Iterator(AsCompletedRange* range) : range_(range) {}
    AsCompletedRange* range_ = nullptr;
  };

  AsCompletedRange(absl::Span<const Future<T>> futures, absl::Duration timeout) {
    timeout = internal::NonNegative(timeout);
    absl::StatusOr<std::vector<internal::FutureStateBase*>> states =
        internal::DistinctStates(internal::StatesOf(futures));
    if (!states.ok()) {
      current_ = states.status();
      return;
    }
    // The range keeps the futures alive while the queue points at them.
    for (internal::FutureStateBase* state : *states) {
      futures_.push_back(internal::FutureAccess::Share<T>(state));
    }
    queue_.emplace(*std::move(states), absl::Now() + timeout);
  }
  AsCompletedRange(const AsCompletedRange&) = delete;
  AsCompletedRange& operator=(const AsCompletedRange&) = delete;

  // Blocks until the first future is done.
  Iterator begin() {
    Advance();
    return Iterator(this);
  }
  std::default_sentinel_t end() { return {}; }

 private:
  void Advance() {
    if (last_) {
      finished_ = true;
      return;
    }
    if (!queue_.has_value()) {  // current_ holds the constructor's error
      last_ = true;
      return;
    }
    absl::StatusOr<internal::FutureStateBase*> next = queue_->Next();
    if (!next.ok()) {
      current_ = next.status();
      last_ = true;
    } else if (*next == nullptr) {
      finished_ = true;
    } else {
      current_ = internal::FutureAccess::Share<T>(*next);
    }
  }

  std::vector<Future<T>> futures_;
  // Destroyed before futures_, so it unregisters while they are alive.
  std::optional<internal::CompletionQueue> queue_;
  absl::StatusOr<Future<T>> current_ = Future<T>();
  bool last_ = false;  // current_ is the final element
  bool finished_ = false;
};

template <typename T>
AsCompletedRange<T> AsCompleted(
    absl::Span<const Future<T>> futures,
    absl::Duration timeout = absl::InfiniteDuration()) {
  return AsCompletedRange<T>(futures, timeout);
}

template <typename T>
AsCompletedRange<T> AsCompleted(
    const std::vector<Future<T>>& futures,
    absl::Duration timeout = absl::InfiniteDuration()) {
  return AsCompletedRange<T>(absl::MakeConstSpan(futures), timeout);
}

}  // namespace threadpool

#endif  // THREADPOOL_WAIT_H_
