// AsTask and CreateTask for frameless awaitables: reader.Read(span),
// writer.Drain() and socket.SendAll(data) handed straight to CreateTask,
// Gather, WaitFor or Wait, with no coroutine written around them.
//
//   char buffer[4096];
//   // Read with a deadline (asyncio.wait_for(reader.read(n), 5)):
//   absl::StatusOr<size_t> n = co_await WaitFor(reader.Read(absl::MakeSpan(buffer)),
//                                               absl::Seconds(5));
//   // Drain two connections at once:
//   auto [a, b] = co_await Gather(left.Drain(), right.Drain());
//   // Run a send as a task of its own:
//   Task<absl::Status> sent = CreateTask(socket.SendAll(reply));
//
// Those awaitables complete without a coroutine frame, which is what makes
// them cheap; but CreateTask, Gather, WaitFor and Wait run their argument
// as a task, which may outlive the expression that made the awaitable (a
// task runs on a later loop pass; Gather's other tasks keep running when
// one fails; Wait leaves the pending ones running). So the awaitable is not
// referenced but moved into a small task that owns it: AsTask(op). That
// needs the awaitable to be movable until it is awaited (ReadOp, DrainOp
// and SendAllOp are; moving one that is being awaited throws
// std::logic_error). An awaitable that cannot be moved, such as Sleep, is
// refused at compile time instead of being referenced after its
// expression ended.
//
// What the awaitable itself borrows, the buffer of a Read, the data of a
// SendAll, the reader, writer or socket, must stay valid until the task has
// finished, as when the awaitable is awaited in a coroutine of your own.
#ifndef ASYNCIO_LIKE_AWAITABLE_TASK_H_
#define ASYNCIO_LIKE_AWAITABLE_TASK_H_

#include <concepts>
#include <string>
#include <type_traits>
#include <utility>

#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

namespace internal {
template <typename T>
inline constexpr bool kIsTask = false;
template <typename T>
inline constexpr bool kIsTask<Task<T>> = true;
}  // namespace internal

// An object awaited through its own await_ready/await_suspend/await_resume
// (an "awaiter"), other than a Task.
template <typename A>
concept FramelessAwaitable =
    !internal::kIsTask<std::remove_cvref_t<A>> && requires(std::remove_cvref_t<A>& a) {
      { a.await_ready() } -> std::convertible_to<bool>;
      a.await_resume();
    };

// What awaiting an A yields.
template <typename A>
using AwaitResult = std::decay_t<decltype(std::declval<A&>().await_resume())>;

// A Task that owns `op` (moved into its frame) and awaits it: an unscheduled
// coroutine, like any Task.
template <FramelessAwaitable A>
  requires std::move_constructible<A>
Task<AwaitResult<A>> AsTask(A op) {
  co_return co_await op;
}

// Schedules `op` as a task of its own (asyncio.create_task(aw)); see the
// header comment. Only rvalues: `CreateTask(std::move(op))` for a named one.
template <FramelessAwaitable A>
  requires std::move_constructible<A> && (!std::is_lvalue_reference_v<A>)
Task<AwaitResult<A>> CreateTask(A&& op, std::string name = {}) {
  return CreateTask(AsTask(std::move(op)), std::move(name));
}

namespace internal {

// A Task for Gather and Wait's arguments: a Task passes through, a
// frameless awaitable becomes AsTask(op).
template <typename T>
Task<T> ToTask(Task<T>&& task) {
  return std::move(task);
}
template <FramelessAwaitable A>
  requires std::move_constructible<A>
Task<AwaitResult<A>> ToTask(A&& op) {
  return AsTask(std::move(op));
}

// Arguments Gather takes in one call: rvalue Tasks and movable frameless
// awaitables, at least one of the latter (the all-Task form is Gather's own).
template <typename... A>
concept MixedAwaitables =
    (... && (!std::is_lvalue_reference_v<A> &&
             (kIsTask<std::remove_cvref_t<A>> ||
              (FramelessAwaitable<A> && std::move_constructible<std::remove_cvref_t<A>>)))) &&
    (... || FramelessAwaitable<A>);

}  // namespace internal
}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_AWAITABLE_TASK_H_
