#include "threadpool/wait.h"

#include <cstddef>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace threadpool::internal {
namespace {

// Counts completions for Wait; registered with every state not yet done.
class CompletionCounter final : public Listener {
 public:
  void OnDone(FutureStateBase* state) override {
    absl::MutexLock lock(&mu_);
    Count(state);
  }

  void Count(FutureStateBase* state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++done_;
    if (state->failed() &&
        state->status() == FutureStateBase::kFinished) {
      ++failed_;
    }
  }

  absl::Mutex mu_;
  size_t done_ ABSL_GUARDED_BY(mu_) = 0;
  size_t failed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

absl::StatusOr<std::vector<FutureStateBase*>> DistinctStates(
    std::vector<FutureStateBase*> states) {
  absl::flat_hash_set<FutureStateBase*> seen;
  std::vector<FutureStateBase*> distinct;
  distinct.reserve(states.size());
  for (FutureStateBase* state : states) {
    if (state == nullptr) {
      return absl::InvalidArgumentError(
          "a future in the input is not valid (default-constructed or "
          "moved-from)");
    }
    if (seen.insert(state).second) distinct.push_back(state);
  }
  return distinct;
}

void WaitForStates(absl::Span<FutureStateBase* const> states,
                   ReturnWhen return_when, absl::Time deadline) {
  CompletionCounter counter;
  std::vector<FutureStateBase*> registered;
  for (FutureStateBase* state : states) {
    if (state->AddListener(&counter)) {
      registered.push_back(state);
    } else {
      absl::MutexLock lock(&counter.mu_);
      counter.Count(state);
    }
  }
  const size_t total = states.size();
  auto satisfied = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(counter.mu_) {
    switch (return_when) {
      case ReturnWhen::kFirstCompleted:
        return counter.done_ > 0 || total == 0;
      case ReturnWhen::kFirstException:
        return counter.failed_ > 0 || counter.done_ == total;
      case ReturnWhen::kAllCompleted:
        return counter.done_ == total;
    }
    return true;
  };
  {
    absl::MutexLock lock(&counter.mu_);
    counter.mu_.AwaitWithDeadline(absl::Condition(&satisfied), deadline);
  }
  for (FutureStateBase* state : registered) state->RemoveListener(&counter);
}

CompletionQueue::CompletionQueue(std::vector<FutureStateBase*> states,
                                 absl::Time deadline)
    : states_(std::move(states)), deadline_(deadline) {
  for (FutureStateBase* state : states_) {
    if (state->AddListener(this)) {
      registered_.push_back(state);
    } else {
      absl::MutexLock lock(&mu_);
      ready_.push_back(state);
    }
  }
}

CompletionQueue::~CompletionQueue() {
  for (FutureStateBase* state : registered_) state->RemoveListener(this);
}

void CompletionQueue::OnDone(FutureStateBase* state) {
  absl::MutexLock lock(&mu_);
  ready_.push_back(state);
}

absl::StatusOr<FutureStateBase*> CompletionQueue::Next() {
  if (handed_out_ == states_.size()) return nullptr;
  absl::MutexLock lock(&mu_);
  auto has_ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !ready_.empty();
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&has_ready), deadline_)) {
    return absl::DeadlineExceededError(
        absl::StrCat(states_.size() - handed_out_, " (of ", states_.size(),
                     ") futures unfinished"));
  }
  FutureStateBase* state = ready_.front();
  ready_.pop_front();
  ++handed_out_;
  return state;
}

}  // namespace threadpool::internal
