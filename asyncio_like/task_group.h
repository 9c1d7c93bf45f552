// TaskGroup: structured concurrency (asyncio.TaskGroup).
//
//   TaskGroup group;
//   Task<int> a = group.CreateTask(Fetch("a"));
//   group.CreateTask(Fetch("b"));
//   co_await group.Wait();     // every task has finished here
//   int result = co_await a;   // already done
//
// Wait() returns once every task of the group has finished. The first task
// to fail cancels all the others; when they have finished, Wait() throws a
// TaskGroupError carrying every failure (asyncio's ExceptionGroup). A task
// fails by throwing (CancelledError is not a failure: a cancelled task is
// just finished), or, for a Task<absl::Status> or Task<absl::StatusOr<U>>,
// by returning an error status, which the group reports as a StatusError.
// If the task in Wait() is cancelled, the group cancels its tasks, waits for
// them, and throws CancelledError (or TaskGroupError if some task failed).
//
// Failures are reported when Wait() is reached; code between CreateTask and
// Wait() is not interrupted by them. A group destroyed without Wait() (its
// creator threw) cancels the tasks it still runs, which then finish on
// their own. CreateTask after Wait() has returned throws std::logic_error.
#ifndef ASYNCIO_LIKE_TASK_GROUP_H_
#define ASYNCIO_LIKE_TASK_GROUP_H_

#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
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

// Every failure of a TaskGroup's tasks (asyncio's ExceptionGroup).
class TaskGroupError : public std::exception {
 public:
  explicit TaskGroupError(std::vector<std::exception_ptr> errors);
  const std::vector<std::exception_ptr>& errors() const { return errors_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::vector<std::exception_ptr> errors_;
  std::string message_;
};

class TaskGroup {
 public:
  TaskGroup() = default;
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup();

  // Schedules `task` in the group and returns its handle.
  template <typename T>
  Task<T> CreateTask(Task<T> task, std::string name = {});

  // Waits for every task; see the header comment.
  Task<void> Wait();

 private:
  struct Member : internal::DoneCallback {
    TaskGroup* group;
    // The failure of a finished task: its exception, or an error status
    // turned into StatusError; null if it succeeded or was cancelled.
    std::exception_ptr (*failure)(internal::PromiseBase* finished);
  };

  template <typename T>
  static std::exception_ptr FailureOf(internal::PromiseBase* finished);
  void Add(internal::PromiseBase* task,
           std::exception_ptr (*failure)(internal::PromiseBase*));
  static void OnDone(internal::DoneCallback* callback,
                     internal::PromiseBase* finished);
  void Abort();

  class AllDone;

  std::deque<Member> members_;
  std::vector<std::exception_ptr> errors_;
  size_t running_ = 0;
  internal::PromiseBase* waiter_ = nullptr;
  std::coroutine_handle<> awaiting_;
  bool aborting_ = false;
  bool finished_ = false;
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
  if (finished_) throw std::logic_error("TaskGroup has finished");
  if (aborting_) throw std::logic_error("TaskGroup is shutting down");
  EventLoop* loop = EventLoop::Current();
  if (loop == nullptr) {
    throw std::logic_error("TaskGroup::CreateTask called with no event loop running");
  }
  task = loop->CreateTask(std::move(task), std::move(name));
  Add(task.promise(), &FailureOf<T>);
  return task;
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_TASK_GROUP_H_
