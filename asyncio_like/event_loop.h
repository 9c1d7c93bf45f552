// EventLoop: Python's asyncio event loop on one io_uring ring.
//
// One thread runs the loop; tasks (see task.h) run on it cooperatively. A
// task runs until it reaches an await point that cannot complete yet (a
// sleep, a kernel operation, an Event, another task), suspends there, and
// the loop runs the next ready task. Nothing runs in parallel, so tasks need
// no locks to share data between await points; but a task that computes for
// a long time without awaiting stalls every other task.
//
//   Task<std::string> FetchData() {
//     co_await Sleep(absl::Seconds(1));   // simulated I/O
//     co_return "data ready";
//   }
//   Task<void> Main() {
//     auto [a, b] = co_await Gather(FetchData(), FetchData());   // ~1 s
//   }
//   int main() { absl::Status s = Run(Main()); }   // asyncio.run(main())
//
// One loop pass (RunOnce) follows asyncio's BaseEventLoop._run_once:
//   1. Enter the kernel once: submit queued operations and collect
//      completions, blocking only if no task is ready, and then only until
//      the nearest timer's deadline (one timeout for all timers, not one
//      kernel timer per sleep).
//   2. Deliver the completions: each wakes its task (appends it to the ready
//      queue).
//   3. Move the timers whose deadline has passed to the ready queue, in
//      deadline order, FIFO among equal deadlines.
//   4. Run the tasks that were ready when this pass began, FIFO; tasks they
//      wake run on the next pass.
//
// The loop's figures (stats()) are readable at any time on the loop thread:
// passes, kernel enters, submissions, completions, task steps, the longest
// step, and the loop lag (how late the last timer fired, and the worst).
// In debug mode, a step longer than slow_callback_duration is reported with
// the task's name, as asyncio's debug mode does.
#ifndef ASYNCIO_LIKE_EVENT_LOOP_H_
#define ASYNCIO_LIKE_EVENT_LOOP_H_

#if __cplusplus < 202002L
#error "asyncio_like needs C++20: build with -std=c++20 (see asyncio_like/README.md)"
#endif

#include <algorithm>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/fault_injector.h"
#include "asyncio_like/ready_queue.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timer_handle.h"
#include "asyncio_like/timer_wheel.h"
#include "asyncio_like/uring.h"

namespace asyncio_like {

namespace internal {
class RunInterrupt;
class SignalHandlers;
}  // namespace internal

// A step (one resumption of a task) that ran longer than
// LoopOptions::slow_callback_duration, in debug mode.
struct SlowStep {
  std::string task_name;
  absl::Duration duration;
};

struct LoopOptions {
  // asyncio's debug mode: report slow steps (through on_slow_step).
  bool debug = false;
  absl::Duration slow_callback_duration = absl::Milliseconds(100);
  // Receives slow-step reports; by default they are printed to stderr as
  // "Executing <Task name='...'> took 0.250 seconds".
  std::function<void(const SlowStep&)> on_slow_step;
  // Size of the submission queue (the completion queue is twice as large;
  // the kernel buffers overflowing completions instead of dropping them).
  unsigned ring_entries = 4096;
  // Faults to inject at the io_uring boundary, for tests and soak runs
  // (fault_injector.h; ParseFaultSpec reads them from a --faults flag).
  // None by default.
  FaultOptions faults;
  // A signal (e.g. SIGUSR1) on which the loop prints FormatTaskTree() to
  // stderr, between steps; 0 for none. The signal is read from a signalfd,
  // so nothing runs in signal context. Blocked in the creating thread (see
  // signals.h for other threads); it does not keep a deadlock from being
  // reported. Create fails as AddSignalHandler would for a bad number.
  int task_tree_signal = 0;
};

// The loop's counters. Read them on the loop thread.
struct LoopStats {
  uint64_t iterations = 0;      // Loop passes (RunOnce calls).
  uint64_t kernel_enters = 0;   // io_uring_enter system calls.
  uint64_t submissions = 0;     // SQEs submitted.
  uint64_t completions = 0;     // CQEs reaped.
  uint64_t task_resumes = 0;    // Steps: resumptions of a task by the loop.
  uint64_t tasks_created = 0;   // CreateTask calls.
  uint64_t slow_steps = 0;      // Slow steps reported (debug mode only).
  // Longest step. Exact in debug mode, where each step is timed; outside
  // it the clock is read coarsely per step, so it is exact only to within
  // one kernel tick (1-4 ms): enough to see a step that blocked the loop.
  absl::Duration max_step_time;
  absl::Duration loop_lag;      // How late the last due timer was handled.
  absl::Duration max_loop_lag;  // The worst lag seen.
};

template <typename T>
using RunResult =
    std::conditional_t<std::is_void_v<T>, absl::Status, absl::StatusOr<T>>;

class EventLoop {
 public:
  // Creates a loop with its ring. Returns Unavailable if io_uring cannot be
  // used here (disabled by sysctl or blocked by a seccomp profile). The loop
  // must be run and destroyed on the thread that creates it.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(
      LoopOptions options = {});

  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  // Cancels and drains kernel operations in flight, then destroys the frames
  // of tasks still pending (their Task handles become empty).
  ~EventLoop();

  // The loop running on this thread, or nullptr.
  static EventLoop* Current();

  // Call before closing descriptor `fd` on the loop thread: if a kernel
  // operation this thread's running loop has queued names it, submits the
  // queue (Uring::SubmitQueuedNaming), so that the operation does not meet
  // the closed number reused by another file.
  static void SubmitQueuedBeforeClose(int fd);

  // Schedules `task` to run as a task of its own (asyncio.create_task) and
  // returns its handle. Throws std::logic_error if `task` was already
  // started or scheduled.
  template <typename T>
  Task<T> CreateTask(Task<T> task, std::string name = {}) {
    StartRoot(task.promise(), std::move(name));
    return task;
  }

  // Runs the loop until `main` finishes (asyncio's run_until_complete) and
  // returns its result; rethrows its exception. Returns an error status if
  // the loop cannot run: called from another thread or while a loop runs on
  // this thread, a kernel failure, or a deadlock (main waits but no task,
  // timer or kernel operation is left to wake it); and FailedPrecondition
  // "Event loop stopped before Future completed." if Stop() ended the run
  // first (asyncio's RuntimeError), leaving main pending.
  template <typename T>
  RunResult<T> RunUntilComplete(Task<T> main);

  // Runs the loop until Stop() is called (loop.run_forever), then returns
  // OK. Returns the errors RunUntilComplete does for a loop that cannot run,
  // and FailedPrecondition for a deadlock: nothing is ready and no timer or
  // kernel operation is pending that could lead to a Stop() (a LoopHandle
  // taken for CallSoonThreadsafe counts as pending: another thread may stop
  // the loop through it).
  absl::Status RunForever();

  // loop.stop(): the pass that is running finishes its ready steps and
  // callbacks, then RunForever or RunUntilComplete returns (see above); the
  // next run starts afresh. Called while the loop is not running, the next
  // run does one pass without waiting in the kernel and returns. Loop thread
  // only; another thread stops the loop with
  // `handle.CallSoonThreadsafe([loop] { loop->Stop(); })`.
  void Stop() { stopping_ = true; }

  // Schedules `callback` to run on a later pass, FIFO with task steps
  // (asyncio's call_soon). Loop thread only. An exception escaping the
  // callback is printed to stderr and the loop goes on, as in asyncio.
  // Throws std::invalid_argument for an empty callback (asyncio's TypeError
  // "a callable object was expected", which it checks in debug mode).
  void CallSoon(absl::AnyInvocable<void()> callback);

  // Schedules `callback` to run `delay` from now (loop.call_later), or at
  // `when_ns` on the NowNanos() clock (loop.call_at); see timer_handle.h.
  // Loop thread only.
  TimerHandle CallLater(absl::Duration delay, absl::AnyInvocable<void()> callback);
  TimerHandle CallAt(int64_t when_ns, absl::AnyInvocable<void()> callback);

  // Runs `callback` when the loop is destroyed, after its kernel operations
  // are drained and its tasks are gone: for state that other threads may
  // still hold, such as the wakeup behind CallSoonThreadsafe
  // (threadsafe_calls.h).
  void AtClose(absl::AnyInvocable<void()> callback);

  // Cancels every pending task and runs until they have all finished
  // (what asyncio.run does after main returns).
  absl::Status CancelAllAndDrain();

  // Runs `callback` on the loop, between task steps, each time signal
  // `signo` arrives (loop.add_signal_handler); replaces the signal's earlier
  // handler. Loop thread only. Blocks the signal in this thread and reads
  // it from a signalfd on the ring: see signals.h for what that means for
  // other threads. InvalidArgument for a number that is not a signal,
  // FailedPrecondition for SIGKILL and SIGSTOP, for a signal another loop
  // handles, or off the loop's thread. The callback must return void: a
  // coroutine is rejected at compile time (asyncio's TypeError).
  template <typename F>
    requires std::is_void_v<std::invoke_result_t<F&>>
  absl::Status AddSignalHandler(int signo, F callback) {
    return AddSignalHandlerCallback(signo, absl::AnyInvocable<void()>(std::move(callback)),
                                    /*background=*/false);
  }
  // Removes the handler of `signo` (loop.remove_signal_handler): true if
  // there was one, false if not; InvalidArgument for a number that is not a
  // signal. Callbacks queued for it and not yet run are dropped.
  absl::StatusOr<bool> RemoveSignalHandler(int signo);

  // The pending tasks, like `python -m asyncio pstree`: each with its name,
  // state (running, waiting, ready; cancelling), what it waits on, its call
  // stack and the tasks awaiting it (call_graph.h). At most `limit` tasks
  // are listed, then how many were left out, so a loop of a million tasks
  // prints in bounded time and memory. Loop thread only.
  std::string FormatTaskTree(size_t limit = 1000) const;

  // Number of scheduled tasks that have not finished.
  uint64_t pending_tasks() const { return pending_tasks_; }
  // The scheduled tasks that have not finished (asyncio.all_tasks(loop)).
  std::vector<TaskRef> AllTasks() const;
  // True while the loop is being destroyed (its task frames with it).
  bool closing() const { return closing_; }
  // Number of timers that will still fire: armed and not cancelled.
  uint64_t live_timers() const { return timers_.live(); }
  // The task whose step is running, or nullptr between steps.
  internal::PromiseBase* current_task() const { return current_task_; }
  LoopStats stats() const;
  const LoopOptions& options() const { return options_; }
  Uring& uring() { return *uring_; }

  // Monotonic clock (CLOCK_MONOTONIC) in nanoseconds: the time base of the
  // loop's timers (asyncio's loop.time()).
  static int64_t NowNanos();

  // Internals used by awaiters.
  void Schedule(std::coroutine_handle<> handle, internal::PromiseBase* task) {
    ready_.Push({handle, task});
  }
  void AddTimer(int64_t deadline_ns, internal::Timer* timer) { timers_.Add(deadline_ns, timer); }
  void CancelTimer(internal::Timer* timer) { timers_.Cancel(timer); }
  void SubmitAfterNextEnter(internal::KernelOpBase* op) { deferred_ops_.push_back(op); }

 private:
  explicit EventLoop(LoopOptions options, std::unique_ptr<Uring> uring);

  void StartRoot(internal::PromiseBase* task, std::string name);
  friend class internal::PromiseBase;
  friend class internal::RunInterrupt;  // removes only its own SIGINT handler
  // AddSignalHandler's work; with `background` (Run's SIGINT handling) the
  // handler's signalfd read does not keep the loop from reporting a
  // deadlock.
  absl::Status AddSignalHandlerCallback(int signo, absl::AnyInvocable<void()> callback,
                                        bool background);
  void OnRootFinished(internal::PromiseBase* task);
  // LoopOptions::task_tree_signal's handler.
  void PrintTaskTree() const;

  // Runs passes until `task` finishes (nullptr: until no task is pending),
  // or with `until_stopped` until Stop() alone. Stops with
  // FailedPrecondition when nothing is ready and no timer or kernel
  // operation is pending, and when Stop() ends it before `task` finished.
  absl::Status RunUntilDone(internal::PromiseBase* task, bool until_stopped = false);
  // One pass. Its Uring::Enter call is the only place the loop thread
  // blocks; waking it from another thread means completing something that
  // wait collects (an eventfd read, or IORING_OP_MSG_RING), and work promised
  // by other threads must count against RunUntilDone's deadlock check.
  absl::Status RunOnce();
  void RunReady();
  void FireDueTimers();
  void RunCallback(absl::AnyInvocable<void()>& callback);
  void ReportSlowStep(std::string task_name, int64_t duration_ns);
  friend class internal::CallbackTimer;
  void UnlinkCallbackTimer(internal::CallbackTimer* timer);
  // Kernel operations in flight that cannot wake a task (Run's SIGINT read).
  uint64_t BackgroundOpsInFlight() const;

  LoopOptions options_;
  std::unique_ptr<Uring> uring_;
  ReadyQueue ready_;
  std::deque<absl::AnyInvocable<void()>> callbacks_;
  // Kernel operations to submit after the next kernel entry
  // (KernelOp::SubmitAfterNextEnter).
  std::vector<internal::KernelOpBase*> deferred_ops_;
  internal::TimerWheel timers_;
  std::thread::id owner_thread_;
  bool running_ = false;
  bool closing_ = false;
  bool stopping_ = false;  // Stop() was called; the run ends after this pass.
  internal::PromiseBase* current_task_ = nullptr;
  internal::PromiseBase* live_head_ = nullptr;  // Pending roots.
  uint64_t pending_tasks_ = 0;
  uint64_t next_task_id_ = 0;
  LoopStats stats_;
  std::vector<absl::AnyInvocable<void()>> at_close_;
  internal::CallbackTimer* callback_timers_ = nullptr;  // Armed CallLater/CallAt.
  // Created by the first AddSignalHandler; destroyed after the ring is
  // drained (declared after uring_).
  std::unique_ptr<internal::SignalHandlers> signal_handlers_;
};

// Schedules `task` on the loop running on this thread (asyncio.create_task).
// Throws std::logic_error if no loop is running on this thread.
template <typename T>
Task<T> CreateTask(Task<T> task, std::string name = {}) {
  EventLoop* loop = EventLoop::Current();
  if (loop == nullptr) {
    throw std::logic_error("CreateTask called with no event loop running");
  }
  return loop->CreateTask(std::move(task), std::move(name));
}

// The task running on this thread's loop (asyncio.current_task()); an
// empty TaskRef outside a task.
TaskRef CurrentTask();

// The unfinished tasks of this thread's running loop (asyncio.all_tasks()).
std::vector<TaskRef> AllTasks();

// `co_await Sleep(d)`: suspends the task for at least `d` (asyncio.sleep).
// A zero or negative duration yields once to the other ready tasks.
// SleepReturning (below) is the form with a result.
class Sleep : private internal::CancellableWait, private internal::Timer {
 public:
  explicit Sleep(absl::Duration duration)
      : delay_ns_(std::max<int64_t>(absl::ToInt64Nanoseconds(duration), 0)) {}
  Sleep(const Sleep&) = delete;
  Sleep& operator=(const Sleep&) = delete;
  ~Sleep();

  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    return Suspend(awaiting, awaiting.promise().task());
  }
  void await_resume() { task_->ThrowIfCancelled(delay_ns_ == kCancelled); }

 private:
  bool Suspend(std::coroutine_handle<> awaiting, internal::PromiseBase* task);
  void Fire() override;
  bool Cancel() override;
  std::string Describe() const override;

  // A Sleep lives in every frame suspended on one, so it holds only what it
  // must: the frame to resume is its task's innermost one (task.h), whether
  // it is armed is the timer's, and a cancelled sleep needs its delay no
  // more, so kCancelled there marks it.
  static constexpr int64_t kCancelled = -1;
  int64_t delay_ns_;  // At least 0, or kCancelled.
  internal::PromiseBase* task_ = nullptr;
};

// `co_await SleepReturning(d, value)`: sleeps as Sleep(d) does, then yields
// `value` (asyncio.sleep(delay, result)):
//
//   std::string reply = co_await SleepReturning(absl::Milliseconds(50), std::string("yeah"));
//
// The value is moved in here and moved out to the awaiter; a cancelled
// sleep raises CancelledError as Sleep does, and the value is dropped.
template <typename T>
class SleepReturning : public Sleep {
 public:
  SleepReturning(absl::Duration duration, T result)
      : Sleep(duration), result_(std::move(result)) {}

  T await_resume() {
    Sleep::await_resume();
    return std::move(result_);
  }

 private:
  T result_;
};

// The status Run returns when Ctrl-C (SIGINT) cancelled its main task, where
// asyncio.run raises KeyboardInterrupt: CANCELLED "KeyboardInterrupt".
absl::Status KeyboardInterruptError();
bool IsKeyboardInterrupt(const absl::Status& status);

namespace internal {

// Run's Ctrl-C handling for the run of one main task (signals.h): the first
// SIGINT cancels `main`, a second one ends the process. Installed only on
// the main thread, where SIGINT has its default disposition and no loop
// handles it; removed by the destructor.
class RunInterrupt : private DoneCallback {
 public:
  RunInterrupt(EventLoop& loop, PromiseBase* main);
  RunInterrupt(const RunInterrupt&) = delete;
  RunInterrupt& operator=(const RunInterrupt&) = delete;
  ~RunInterrupt();

  // True if Ctrl-C cancelled `main` and main ended with that cancellation
  // alone outstanding (asyncio: task.uncancel() == 0).
  bool keyboard_interrupt() const;

 private:
  static void OnMainDone(DoneCallback* self, PromiseBase* finished);
  void OnSigint();
  void Uninstall();

  EventLoop& loop_;
  PromiseBase* main_;
  bool installed_ = false;
  bool interrupted_ = false;
  bool main_done_ = false;
  bool main_cancelled_ = false;
  uint32_t cancel_requests_at_end_ = 0;
};

// Runs `main` to completion on `loop` with Run's Ctrl-C handling (what Run
// and Runner::Run share).
template <typename T>
RunResult<T> RunMain(EventLoop& loop, Task<T> main) {
  if (EventLoop::Current() != nullptr) {
    return absl::FailedPreconditionError("Run() cannot be called from a running event loop");
  }
  Task<T> task = main.promise() != nullptr && main.promise()->is_root()
                     ? std::move(main)
                     : loop.CreateTask(std::move(main), "main");
  RunInterrupt interrupt(loop, task.promise());
  try {
    return loop.RunUntilComplete(std::move(task));
  } catch (const CancelledError&) {
    if (interrupt.keyboard_interrupt()) return KeyboardInterruptError();
    throw;
  }
}

}  // namespace internal

// asyncio.run(main): creates a loop, runs `main` to completion, cancels the
// tasks left over and waits for them, closes the loop, and returns main's
// result (rethrowing its exception). Returns Unavailable if io_uring cannot
// be set up, FailedPrecondition if a loop runs on this thread already, or
// the loop's error (see RunUntilComplete). Ctrl-C cancels `main` and Run
// returns KeyboardInterruptError(), as asyncio.run raises KeyboardInterrupt
// (signals.h).
template <typename T>
RunResult<T> Run(Task<T> main, LoopOptions options = {}) {
  if (EventLoop::Current() != nullptr) {
    return absl::FailedPreconditionError("Run() cannot be called from a running event loop");
  }
  absl::StatusOr<std::unique_ptr<EventLoop>> loop =
      EventLoop::Create(std::move(options));
  if (!loop.ok()) return loop.status();
  std::optional<RunResult<T>> result;
  std::exception_ptr exception;
  try {
    result.emplace(internal::RunMain(**loop, std::move(main)));
  } catch (...) {
    exception = std::current_exception();
  }
  absl::Status drained = (*loop)->CancelAllAndDrain();
  if (exception) std::rethrow_exception(exception);
  if (!drained.ok() && result->ok()) return drained;
  return *std::move(result);
}

template <typename T>
RunResult<T> EventLoop::RunUntilComplete(Task<T> main) {
  internal::PromiseBase* promise = main.promise();
  if (!promise->is_root()) StartRoot(promise, "main");
  absl::Status status = RunUntilDone(promise);
  if (!status.ok()) return status;
  if constexpr (std::is_void_v<T>) {
    static_cast<internal::TaskPromise<void>*>(promise)->result();
    return absl::OkStatus();
  } else {
    T& result = static_cast<internal::TaskPromise<T>*>(promise)->result();
    // Call graph: main's error status names the chain that returned it.
    if constexpr (std::is_same_v<T, absl::Status>) {
      if (!result.ok()) internal::AttachErrorCallGraph(result, promise);
    } else if constexpr (internal::StatusOrLike<T>) {
      absl::Status error = result.status();
      if (!error.ok() && internal::AttachErrorCallGraph(error, promise)) result = std::move(error);
    }
    return std::move(result);
  }
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_EVENT_LOOP_H_
