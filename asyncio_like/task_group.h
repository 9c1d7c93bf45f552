// TaskGroup: structured concurrency (asyncio.TaskGroup).
//
// A group is a scope that is awaited as a whole: Run(body) runs `body` in
// the current task, lets it start child tasks with CreateTask, and returns
// (or throws) only once the body and every child have finished. No child
// outlives the Run that started it, so children may use the locals of the
// scope that encloses the group.
//
//   // async with asyncio.TaskGroup() as group:
//   //     a = group.create_task(fetch("a"))
//   //     group.create_task(fetch("b"))
//   TaskGroup group;
//   co_await group.Run([&]() -> Task<void> {
//     Task<int> a = group.CreateTask(Fetch("a"));
//     group.CreateTask(Fetch("b"));
//     co_return;
//   });
//   // Every child has finished here.
//
// The body is a coroutine lambda, as above (it must contain a co_await or
// co_return to be a coroutine; one that is not runs at the call, before the
// group is entered, and its CreateTask throws), or any Task<T>, such as a
// coroutine called with the group: `co_await group.Run(Body(group))`.
// Run returns the body's result.
//
// GCC 12 destroys a temporary closure written inside a `co_await`
// expression twice (a compiler bug; see the README). A closure that
// captures only by reference has a trivial destructor, so the second
// destruction does nothing: the form above is safe. A lambda that captures
// something with a destructor by value must be named first and passed as
// an lvalue (`auto body = [&, name]() -> Task<void> {...};
// co_await group.Run(body);`); Run rejects such a temporary at compile
// time.
//
// asyncio's semantics:
//   - The first child to fail (throw anything but CancelledError, or return
//     an error absl::Status / absl::StatusOr, reported as a StatusError)
//     cancels every other child and the body itself: the body sees a
//     CancelledError at its await point, as the `async with` block does.
//   - A body that throws cancels every child.
//   - Run then waits for every child and throws a TaskGroupError (asyncio's
//     ExceptionGroup) holding the children's errors, then the body's.
//   - A cancellation from outside (the task running Run is cancelled)
//     cancels the children, waits for them, and is rethrown as
//     CancelledError, unless children failed (the TaskGroupError wins). The
//     cancellation the group itself requested when a child failed is
//     withdrawn (Uncancel), so cancelling() is what it was before the group.
//   - CreateTask throws std::logic_error (Python's RuntimeError) before Run
//     ("has not been entered"), once the group is shutting down after a
//     failure or cancellation ("is shutting down"), and after Run has
//     finished ("is finished"). The refused task is destroyed unstarted.
//     A second Run of the same group throws "has already been entered".
//
// A TaskGroup must outlive its Run: destroying a group whose Run is still
// suspended (say, the Run was scheduled as a task of its own and the group
// went out of scope) would leave its children without a scope, and aborts
// the program with a message instead (when the loop itself is being
// destroyed, the group just lets go of its children, which go with the loop).
#ifndef ASYNCIO_LIKE_TASK_GROUP_H_
#define ASYNCIO_LIKE_TASK_GROUP_H_

#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

// An error status returned by a task of a TaskGroup, as an exception.
class StatusError : public std::runtime_error {
 public:
  explicit StatusError(absl::Status status)
      : std::runtime_error(status.ToString()), status_(std::move(status)) {}
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

// The failures of a TaskGroup (asyncio's ExceptionGroup): the children's
// errors in the order they happened, then the body's. An error may itself
// be a TaskGroupError (a nested group that failed).
class TaskGroupError : public std::exception {
 public:
  explicit TaskGroupError(std::vector<std::exception_ptr> errors);

  // ExceptionGroup.exceptions.
  const std::vector<std::exception_ptr>& errors() const { return errors_; }
  // "unhandled errors in a TaskGroup (2 sub-exceptions): [type: what] ...".
  const char* what() const noexcept override { return message_.c_str(); }

  // ExceptionGroup.split(E): the errors that are an E, and the rest, each
  // as a group (nullopt if empty). Nested groups are split too.
  template <typename E>
  std::pair<std::optional<TaskGroupError>, std::optional<TaskGroupError>> Split() const {
    return SplitBy(&Is<E>);
  }
  // `except* E`: true if some error, nested groups included, is an E.
  template <typename E>
  bool Contains() const {
    return Split<E>().first.has_value();
  }

 private:
  template <typename E>
  static bool Is(const std::exception_ptr& error) {
    try {
      std::rethrow_exception(error);
    } catch (const E&) {
      return true;
    } catch (...) {
      return false;
    }
  }
  std::pair<std::optional<TaskGroupError>, std::optional<TaskGroupError>> SplitBy(
      bool (*matches)(const std::exception_ptr&)) const;

  std::vector<std::exception_ptr> errors_;
  std::string message_;
};

template <typename T>
struct IsTask : std::false_type {};
template <typename T>
struct IsTask<Task<T>> : std::true_type {};

class TaskGroup {
 public:
  TaskGroup() = default;
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup();

  // Runs `body` in the current task as the group's scope; see the header
  // comment. Returns the body's result.
  template <typename T>
  Task<T> Run(Task<T> body);
  // The same with the body given as a coroutine lambda (or other callable
  // returning a Task), called with no argument or with the group. A
  // temporary callable is moved into storage that lives as long as the
  // returned Task, so its captures outlive the body's frame, which refers to
  // them; it must be trivially destructible (capture by reference: see the
  // header comment). A named (lvalue) callable is called in place and must
  // outlive the Run.
  template <typename F>
    requires(!IsTask<std::remove_cvref_t<F>>::value)
  auto Run(F&& body);

  // Schedules `task` as a child of the group and returns its handle.
  template <typename T>
  Task<T> CreateTask(Task<T> task, std::string name = {});

  // The number of children that have not finished.
  size_t size() const { return running_; }

 private:
  struct Member : internal::DoneCallback {
    TaskGroup* group;
    // The failure of a finished task: its exception, or an error status
    // turned into StatusError; null if it succeeded or was cancelled.
    std::exception_ptr (*failure)(internal::PromiseBase* finished);
  };
  class AllDone;

  template <typename T>
  static std::exception_ptr FailureOf(internal::PromiseBase* finished);
  template <typename T, typename F>
  Task<T> RunStored(Task<T> body, std::unique_ptr<F> callable);
  void Enter(internal::PromiseBase* parent);
  // asyncio's TaskGroup.__aexit__: waits for the children and throws what
  // the group ends with.
  Task<void> Exit(std::exception_ptr body_error);
  // Throws if the group does not accept children now.
  void CheckAccepting() const;
  void Add(internal::PromiseBase* task,
           std::exception_ptr (*failure)(internal::PromiseBase*));
  static void OnDone(internal::DoneCallback* callback,
                     internal::PromiseBase* finished);
  void Abort();

  std::deque<Member> members_;
  std::vector<Member*> free_members_;  // Of finished children, for reuse.
  std::vector<std::exception_ptr> errors_;
  size_t running_ = 0;
  internal::PromiseBase* parent_ = nullptr;
  std::coroutine_handle<> awaiting_;  // Exit, waiting for the children.
  bool entered_ = false;
  bool exiting_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;
};

template <typename T>
struct IsStatusOr : std::false_type {};
template <typename U>
struct IsStatusOr<absl::StatusOr<U>> : std::true_type {};

template <typename T>
std::exception_ptr TaskGroup::FailureOf(internal::PromiseBase* finished) {
  if (finished->exception()) {
    if (internal::IsCancelledError(finished->exception())) return nullptr;
    finished->mark_exception_observed();
    return finished->exception();
  }
  if constexpr (std::is_same_v<T, absl::Status>) {
    const absl::Status& status =
        static_cast<internal::TaskPromise<T>*>(finished)->result();
    if (!status.ok()) return std::make_exception_ptr(StatusError(status));
  } else if constexpr (IsStatusOr<T>::value) {
    const T& result = static_cast<internal::TaskPromise<T>*>(finished)->result();
    if (!result.ok()) return std::make_exception_ptr(StatusError(result.status()));
  }
  return nullptr;
}

template <typename T>
Task<T> TaskGroup::CreateTask(Task<T> task, std::string name) {
  CheckAccepting();  // A refused task is destroyed with the argument.
  task = parent_->loop()->CreateTask(std::move(task), std::move(name));
  Add(task.promise(), &FailureOf<T>);
  return task;
}

template <typename T>
Task<T> TaskGroup::Run(Task<T> body) {
  Enter(co_await internal::CurrentTask());
  std::exception_ptr error;
  using Value = std::conditional_t<std::is_void_v<T>, bool, T>;
  std::optional<Value> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
    } else {
      value.emplace(co_await std::move(body));
    }
  } catch (...) {
    error = std::current_exception();
  }
  co_await Exit(error);
  // As after `async with`: an error that __aexit__ did not replace goes on.
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

template <typename T, typename F>
Task<T> TaskGroup::RunStored(Task<T> body, [[maybe_unused]] std::unique_ptr<F> callable) {
  // `callable` lives in this frame until the body is done with it.
  co_return co_await Run(std::move(body));
}

template <typename F>
  requires(!IsTask<std::remove_cvref_t<F>>::value)
auto TaskGroup::Run(F&& body) {
  using Callable = std::remove_cvref_t<F>;
  auto call = [this](Callable& callable) {
    if constexpr (std::is_invocable_v<Callable&, TaskGroup&>) {
      return callable(*this);
    } else {
      (void)this;  // captured for the other branch
      return callable();
    }
  };
  if constexpr (std::is_lvalue_reference_v<F>) {
    // A named callable: it outlives the Run, as a local of the awaiting
    // coroutine does.
    return Run(call(body));
  } else {
    static_assert(std::is_trivially_destructible_v<Callable>,
                  "GCC 12 destroys a temporary closure inside a co_await expression "
                  "twice: capture only by reference ([&]), or name the lambda first "
                  "and pass it as an lvalue (see the README)");
    auto callable = std::make_unique<Callable>(std::move(body));
    auto task = call(*callable);
    return RunStored(std::move(task), std::move(callable));
  }
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TASK_GROUP_H_
