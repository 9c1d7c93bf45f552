// Executor: Python's concurrent.futures.Executor, the interface every
// executor implements (ThreadPoolExecutor in thread_pool.h is one), and
// MapResults, the lazy, ordered iterator that Executor::Map returns.
//
// An executor runs callables somewhere and hands back Futures. Submit and
// Map are written once here, in terms of one thing an implementation
// provides: Enqueue, which takes a unit of work and runs it once (or
// abandons it); plus Shutdown. So a custom executor is a few lines:
//
//   class InlineExecutor final : public threadpool::Executor {
//    public:
//     void Shutdown(bool wait = true, bool cancel_futures = false) override {}
//    protected:
//     absl::Status Enqueue(Work&& work) override {
//       std::move(work).Run();   // runs the task and resolves its future
//       return absl::OkStatus();
//     }
//   };
//
// Map is Python's executor.map(fn, *iterables, timeout=None, chunksize=1):
// every task is submitted at the call (so the work starts at once), and the
// results come out lazily, in submission order, as each is ready:
//
//   absl::StatusOr<MapResults<int>> squares =
//       pool->Map([](int x) { return x * x; }, std::vector<int>{1, 2, 3});
//   for (absl::StatusOr<int> r : *squares) {   // 1, 4, 9 as they finish
//     if (!r.ok()) return r.status();          // the failing item, after
//   }                                          // the earlier ones
//
// As in Python: several ranges are zipped, stopping at the shortest
// (Map(fn, a, b) calls fn(a[i], b[i])); the timeout bounds the whole
// iteration, measured from the Map call; the first error (the task's own,
// or the timeout) is the last element, and the tasks after it are
// cancelled, as they are when the consumer stops early (a MapResults whose
// iteration began is destroyed) -- tasks already running run on. A
// MapResults dropped before its first element was asked for cancels
// nothing, as an unstarted Python generator runs no `finally`. chunksize is accepted and
// ignored, as Python's ThreadPoolExecutor ignores it (it batches arguments
// to worker processes). If iterating an input range throws, the exception
// leaves Map unchanged and the tasks submitted so far run, as in Python; if
// a submit fails (the executor is shut down or broken), Map returns that
// error and the tasks submitted so far run.

#ifndef THREADPOOL_EXECUTOR_H_
#define THREADPOOL_EXECUTOR_H_

#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "threadpool/future.h"
#include "threadpool/internal/task.h"

namespace threadpool {

// Python's keyword arguments of Executor.map.
struct MapOptions {
  // Bounds the whole iteration, from the Map call; negative counts as zero.
  absl::Duration timeout = absl::InfiniteDuration();
  // Accepted for Python's sake and ignored, as ThreadPoolExecutor does.
  int chunksize = 1;
};

// The results of Executor::Map: an input range of ResultOr<T>
// (absl::StatusOr<T>, or absl::Status for a function returning nothing),
// in submission order. Each element waits for its task, within what is left
// of the timeout. An error element is the last one. Iterate it once;
// destroying it cancels the tasks that were not handed out and have not
// started.
template <typename T>
class MapResults {
 public:
  class Iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = ResultOr<T>;
    using difference_type = std::ptrdiff_t;

    Iterator() = default;
    value_type& operator*() const { return *results_->current_; }
    value_type* operator->() const { return &*results_->current_; }
    Iterator& operator++() {
      results_->Advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const Iterator& it, std::default_sentinel_t) {
      return it.AtEnd();
    }

   private:
    bool AtEnd() const { return results_->finished_; }

    friend class MapResults;
    explicit Iterator(MapResults* results) : results_(results) {}
    MapResults* results_ = nullptr;
  };

  MapResults(std::vector<Future<T>> futures, absl::Time deadline)
      : futures_(std::move(futures)), deadline_(deadline) {}
  MapResults(MapResults&& other) noexcept
      : futures_(std::move(other.futures_)),
        deadline_(other.deadline_),
        next_(std::exchange(other.next_, 0)),
        current_(std::move(other.current_)),
        exception_(std::move(other.exception_)),
        started_(other.started_),
        stopped_(other.stopped_),
        finished_(other.finished_) {
    other.futures_.clear();
  }
  MapResults& operator=(MapResults&&) = delete;
  MapResults(const MapResults&) = delete;
  // Cancels the tasks not handed out, once iteration has begun. Like
  // Python's generator, which runs its `finally` only if it was started, a
  // MapResults dropped unread cancels nothing: every task runs.
  ~MapResults() {
    if (started_) CancelFrom(next_);
  }

  // Waits for the first result.
  Iterator begin() {
    started_ = true;
    Advance();
    return Iterator(this);
  }
  std::default_sentinel_t end() { return {}; }

  // Every result at once: the values in order, or the first error (Map
  // before Python 3 style, list(executor.map(...))).
  auto Collect() && -> std::conditional_t<std::is_void_v<T>, absl::Status,
                                          absl::StatusOr<std::vector<T>>> {
    if constexpr (std::is_void_v<T>) {
      for (absl::Status& s : *this) {
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    } else {
      std::vector<T> values;
      values.reserve(futures_.size());
      for (absl::StatusOr<T>& r : *this) {
        if (!r.ok()) return r.status();
        values.push_back(*std::move(r));
      }
      return values;
    }
  }

  // For an error element whose task threw: the exception object itself (so
  // that it can be rethrown with its type, as Python's map re-raises it);
  // otherwise null.
  const std::exception_ptr& exception() const { return exception_; }

  // How many tasks Map submitted.
  size_t size() const { return futures_.size(); }

 private:
  void Advance() {
    if (stopped_ || next_ == futures_.size()) {
      finished_ = true;
      return;
    }
    Future<T> future = std::move(futures_[next_++]);
    current_.emplace(std::move(future).Result(deadline_ - absl::Now()));
    if (!current_->ok()) {
      // Python's _result_or_cancel: a future that timed out is cancelled
      // (if it has not started), and so is every later one.
      future.Cancel();
      if (future.Done()) {
        absl::StatusOr<std::exception_ptr> thrown = future.ExceptionPtr();
        if (thrown.ok()) exception_ = *std::move(thrown);
      }
      stopped_ = true;
      CancelFrom(next_);
    }
  }

  void CancelFrom(size_t first) {
    for (size_t i = first; i < futures_.size(); ++i) futures_[i].Cancel();
  }

  std::vector<Future<T>> futures_;
  absl::Time deadline_;
  size_t next_ = 0;
  std::optional<ResultOr<T>> current_;
  std::exception_ptr exception_;
  bool started_ = false;
  bool stopped_ = false;
  bool finished_ = false;
};

class Executor {
 public:
  // What Enqueue receives: one task, to be run once with std::move(work).Run()
  // (which runs the callable unless its future was cancelled, and resolves
  // the future), or resolved without running with
  // std::move(work).Abandon(status) (a Cancelled status cancels the future;
  // any other fails it with that status).
  using Work = internal::Task;

  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  virtual ~Executor() = default;

  // Python's submit(fn, *args): schedules fn(args...) and returns its
  // future. The callable and arguments are moved or copied into the task
  // (like std::thread); fn's result type R gives Future<T>: T = U for
  // absl::StatusOr<U>, void for absl::Status or void, R otherwise. Errors:
  // InvalidArgument for an empty callable (a null function pointer,
  // std::function or AnyInvocable), and whatever Enqueue refuses the task
  // with (ThreadPoolExecutor: FailedPrecondition after Shutdown, "cannot
  // schedule new futures after shutdown", or BrokenThreadPool).
  template <typename F, typename... Args>
  auto Submit(F&& fn, Args&&... args)
      -> absl::StatusOr<Future<internal::FutureValueT<
          std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>>>;

  // Python's map(fn, *iterables, timeout=None, chunksize=1); see the file
  // comment.
  template <typename F, typename... Ranges>
    requires(sizeof...(Ranges) >= 1 &&
             !std::is_same_v<std::decay_t<F>, MapOptions>)
  auto Map(const F& fn, const Ranges&... inputs)
      -> absl::StatusOr<MapResults<internal::FutureValueT<std::invoke_result_t<
          std::decay_t<F>, std::ranges::range_value_t<Ranges>...>>>> {
    return Map(MapOptions{}, fn, inputs...);
  }
  template <typename F, typename... Ranges>
    requires(sizeof...(Ranges) >= 1)
  auto Map(const MapOptions& options, const F& fn, const Ranges&... inputs)
      -> absl::StatusOr<MapResults<internal::FutureValueT<std::invoke_result_t<
          std::decay_t<F>, std::ranges::range_value_t<Ranges>...>>>>;

  // Python's shutdown(wait=True, *, cancel_futures=False): stops accepting
  // tasks; with cancel_futures, cancels those not started; with wait,
  // returns once every task that will run has run.
  virtual void Shutdown(bool wait = true, bool cancel_futures = false) = 0;

 protected:
  // Takes `work` to run it once, or refuses it with an error (then `work`
  // must be left unrun: Submit reports the error and drops the task).
  virtual absl::Status Enqueue(Work&& work) = 0;
};

template <typename F, typename... Args>
auto Executor::Submit(F&& fn, Args&&... args)
    -> absl::StatusOr<Future<internal::FutureValueT<
        std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>>> {
  using T = internal::FutureValueT<
      std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;
  if (internal::IsEmptyCallable<std::decay_t<F>>(fn)) {
    return absl::InvalidArgumentError("Submit: the callable is empty");
  }
  auto call = [fn = std::forward<F>(fn),
               ... args = std::forward<Args>(args)]() mutable -> decltype(auto) {
    return std::invoke(std::move(fn), std::move(args)...);
  };
  auto* state = new internal::TaskState<T, decltype(call)>(std::move(call));
  // One reference for the queue, one for the returned future.
  state->Ref();
  Future<T> future = internal::FutureAccess::Adopt<T>(state);
  if (absl::Status s = Enqueue(internal::Task(state)); !s.ok()) return s;
  return future;
}

template <typename F, typename... Ranges>
  requires(sizeof...(Ranges) >= 1)
auto Executor::Map(const MapOptions& options, const F& fn,
                   const Ranges&... inputs)
    -> absl::StatusOr<MapResults<internal::FutureValueT<std::invoke_result_t<
        std::decay_t<F>, std::ranges::range_value_t<Ranges>...>>>> {
  using T = internal::FutureValueT<std::invoke_result_t<
      std::decay_t<F>, std::ranges::range_value_t<Ranges>...>>;
  const absl::Time deadline =
      absl::Now() + internal::NonNegative(options.timeout);
  std::vector<Future<T>> futures;
  // zip(*iterables): one iterator per range, stopping at the shortest.
  auto iterators = std::make_tuple(std::ranges::begin(inputs)...);
  auto ends = std::make_tuple(std::ranges::end(inputs)...);
  auto any_at_end = [&]<size_t... I>(std::index_sequence<I...>) {
    return ((std::get<I>(iterators) == std::get<I>(ends)) || ...);
  };
  auto submit = [&]<size_t... I>(std::index_sequence<I...>) {
    return Submit(fn, *std::get<I>(iterators)...);
  };
  auto advance = [&]<size_t... I>(std::index_sequence<I...>) {
    (++std::get<I>(iterators), ...);
  };
  constexpr auto kIndices = std::index_sequence_for<Ranges...>();
  while (!any_at_end(kIndices)) {
    absl::StatusOr<Future<T>> f = submit(kIndices);
    if (!f.ok()) return f.status();
    futures.push_back(*std::move(f));
    advance(kIndices);
  }
  return MapResults<T>(std::move(futures), deadline);
}

}  // namespace threadpool

#endif  // THREADPOOL_EXECUTOR_H_
