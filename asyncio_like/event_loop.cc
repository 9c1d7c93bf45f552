#include "asyncio_like/event_loop.h"

#include <time.h>

#include <cassert>

#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asyncio_like/signals.h"

namespace asyncio_like {
namespace {

thread_local EventLoop* current_loop = nullptr;

void PrintSlowStep(const SlowStep& step) {
  std::fprintf(stderr, "Executing <Task name='%s'> took %.3f seconds\n",
               step.task_name.c_str(), absl::ToDoubleSeconds(step.duration));
}

}  // namespace

int64_t EventLoop::NowNanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(
    LoopOptions options) {
  absl::StatusOr<std::unique_ptr<Uring>> uring =
      Uring::Create(options.ring_entries, options.faults);
  if (!uring.ok()) return uring.status();
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(options), *std::move(uring)));
  if (int signo = loop->options_.task_tree_signal; signo != 0) {
    EventLoop* self = loop.get();
    absl::Status added = loop->AddSignalHandlerCallback(
        signo, [self] { self->PrintTaskTree(); }, /*background=*/true);
    if (!added.ok()) return added;
  }
  return loop;
}

EventLoop::EventLoop(LoopOptions options, std::unique_ptr<Uring> uring)
    : options_(std::move(options)),
      uring_(std::move(uring)),
      owner_thread_(std::this_thread::get_id()) {
  if (!options_.on_slow_step) options_.on_slow_step = PrintSlowStep;
}

EventLoop::~EventLoop() {
  closing_ = true;
  // Operations in flight may write into task frames: finish them first.
  // Deferred ones never reached the kernel.
  deferred_ops_.clear();
  uring_->CancelAllAndDrain();
  while (live_head_ != nullptr) {
    internal::PromiseBase* task = live_head_;
    OnRootFinished(task);
    task->handle_.destroy();
  }
  for (absl::AnyInvocable<void()>& callback : at_close_) callback();
  // CallLater/CallAt callbacks that never ran: drop them and their captures.
  while (callback_timers_ != nullptr) {
    internal::CallbackTimer* timer = callback_timers_;
    UnlinkCallbackTimer(timer);
    timer->armed = false;
    timer->loop = nullptr;
    timer->callback = nullptr;
    timer->self.reset();  // May free `timer`.
  }
}

void EventLoop::AtClose(absl::AnyInvocable<void()> callback) {
  at_close_.push_back(std::move(callback));
}

EventLoop* EventLoop::Current() { return current_loop; }

std::vector<TaskRef> EventLoop::AllTasks() const {
  std::vector<TaskRef> tasks;
  tasks.reserve(pending_tasks_);
  for (internal::PromiseBase* task = live_head_; task != nullptr; task = task->live_next_) {
    tasks.emplace_back(task);
  }
  return tasks;
}

TaskRef CurrentTask() {
  EventLoop* loop = EventLoop::Current();
  return TaskRef(loop != nullptr ? loop->current_task() : nullptr);
}

std::vector<TaskRef> AllTasks() {
  EventLoop* loop = EventLoop::Current();
  return loop != nullptr ? loop->AllTasks() : std::vector<TaskRef>();
}

void EventLoop::SubmitQueuedBeforeClose(int fd) {
  if (current_loop != nullptr) current_loop->uring_->SubmitQueuedNaming(fd);
}

void EventLoop::StartRoot(internal::PromiseBase* task, std::string name) {
  if (task == nullptr) throw std::logic_error("CreateTask got an empty Task");
  if (task->started_ || task->root_) {
    throw std::logic_error("CreateTask got a Task that was already started");
  }
  task->root_ = true;
  task->started_ = true;
  task->loop_ = this;
  task->innermost_ = task;
  task->id_ = ++next_task_id_;
  if (!name.empty()) task->SetName(std::move(name));
  task->live_next_ = live_head_;
  if (live_head_ != nullptr) live_head_->live_prev_ = task;
  live_head_ = task;
  ++pending_tasks_;
  ++stats_.tasks_created;
  Schedule(task->handle_, task);
}

void EventLoop::OnRootFinished(internal::PromiseBase* task) {
  if (task->live_prev_ != nullptr) {
    task->live_prev_->live_next_ = task->live_next_;
  } else {
    live_head_ = task->live_next_;
  }
  if (task->live_next_ != nullptr) {
    task->live_next_->live_prev_ = task->live_prev_;
  }
  task->live_prev_ = task->live_next_ = nullptr;
  --pending_tasks_;
}

void EventLoop::CallSoon(absl::AnyInvocable<void()> callback) {
  if (!callback) {
    throw std::invalid_argument("CallSoon: a callable object was expected, got an empty one");
  }
  callbacks_.push_back(std::move(callback));
  ready_.Push({std::coroutine_handle<>(), nullptr});
}

LoopStats EventLoop::stats() const {
  LoopStats stats = stats_;
  stats.kernel_enters = uring_->kernel_enters();
  stats.submissions = uring_->submissions();
  stats.completions = uring_->completions();
  return stats;
}

absl::Status EventLoop::RunForever() { return RunUntilDone(nullptr, /*until_stopped=*/true); }

absl::Status EventLoop::RunUntilDone(internal::PromiseBase* task, bool until_stopped) {
  if (std::this_thread::get_id() != owner_thread_) {
    return absl::FailedPreconditionError(
        "an EventLoop must run on the thread that created it");
  }
  if (current_loop != nullptr) {
    return absl::FailedPreconditionError(
        "cannot run an event loop while another loop is running on this "
        "thread");
  }
  current_loop = this;
  auto finished = [&] {
    return !until_stopped && (task != nullptr ? task->done() : live_head_ == nullptr);
  };
  absl::Status status;
  bool stopped = false;
  while (!finished()) {
    // A stopping loop does not wait in the kernel (RunOnce), so it cannot
    // deadlock.
    if (!stopping_ && ready_.empty() && timers_.live() == 0 &&
        uring_->in_flight() == BackgroundOpsInFlight() && deferred_ops_.empty()) {
      const std::string waiting =
          until_stopped ? "the loop runs until Stop()"
                        : absl::StrCat("<Task name='",
                                       task != nullptr ? task->name() : live_head_->name(),
                                       "'> is waiting");
      status = absl::FailedPreconditionError(absl::StrCat(
          "deadlock: ", waiting,
          ", but no task is ready and no timer or kernel operation is pending that could ",
          until_stopped ? "stop it\n" : "wake it\n", FormatTaskTree()));
      break;
    }
    status = RunOnce();
    if (!status.ok()) break;
    if (stopping_) {
      stopped = true;
      break;
    }
  }
  // As asyncio's run_forever, a run ends the stop it obeyed: the next one
  // runs normally.
  stopping_ = false;
  current_loop = nullptr;
  if (stopped && !until_stopped && !finished()) {
    return absl::FailedPreconditionError("Event loop stopped before Future completed.");
  }
  return status;
}

absl::Status EventLoop::CancelAllAndDrain() {
  for (internal::PromiseBase* task = live_head_; task != nullptr;
       task = task->live_next_) {
    task->RequestCancel();
  }
  // A finished task that no handle owns frees itself: wait for the list of
  // pending tasks to empty, not for a task that may be gone.
  return RunUntilDone(nullptr);
}

absl::Status EventLoop::RunOnce() {
  ++stats_.iterations;
  // Deferred operations must not wait behind a blocking entry, nor a
  // stopped loop's last pass (asyncio's _run_once polls when stopping).
  bool wait = ready_.empty() && deferred_ops_.empty() && !stopping_;
  int64_t timeout_ns = -1;
  if (wait) {
    if (std::optional<int64_t> deadline = timers_.NextDeadline()) {
      timeout_ns = *deadline - NowNanos();
      if (timeout_ns <= 0) wait = false;
    }
  }
  absl::Status status = uring_->Enter(wait, timeout_ns);
  if (!status.ok()) return status;
  // Their SQEs go to the kernel with the next entry. (SubmitDeferred never
  // defers again, so the list does not change while it is walked.)
  for (internal::KernelOpBase* op : deferred_ops_) op->SubmitDeferred();
  deferred_ops_.clear();
  uring_->DispatchCompletions();
  FireDueTimers();
  RunReady();
  return absl::OkStatus();
}

void EventLoop::FireDueTimers() {
  if (timers_.live() == 0) return;
  int64_t now = NowNanos();
  int64_t deadline;
  int64_t lag = -1;
  while (internal::Timer* timer = timers_.PopDue(now, &deadline)) {
    if (lag < 0) lag = now - deadline;  // The earliest is the latest.
    timer->Fire();
  }
  if (lag >= 0) {
    stats_.loop_lag = absl::Nanoseconds(lag);
    if (stats_.loop_lag > stats_.max_loop_lag) stats_.max_loop_lag = stats_.loop_lag;
  }
}

// Timing the steps. A precise clock read (CLOCK_MONOTONIC) costs about as
// much as a whole task step, so outside debug mode a step reads only the
// coarse clock (the time of the last kernel tick, a memory load in the
// vDSO). While the coarse clock has not moved, every step since the last
// precise read was shorter than one tick. When a step sees it move, a
// precise read ends that step; the step began after the previous precise
// read, and everything between that read and the step's start lay within
// one tick, so `now - last_precise` bounds the step from above by less than
// a tick more than it took. max_step_time is therefore exact to within the
// kernel tick (1-4 ms), which is what it is for: seeing that one task
// blocked the loop. Debug mode times each step exactly, as asyncio does, to
// report slow steps by name.
namespace {
int64_t CoarseNowNanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}
}  // namespace

void EventLoop::RunReady() {
  size_t steps = ready_.size();
  if (steps == 0) return;
  int64_t max_step = absl::ToInt64Nanoseconds(stats_.max_step_time);
  auto run_step = [this](ReadyItem item) {
    current_task_ = item.task;
    if (item.frame) {
      ++stats_.task_resumes;
      if (item.task != nullptr && item.task->cancel_pending() &&
          item.task->EndIfCancelledBeforeStart(item.frame)) {
        return;
      }
      item.frame.resume();
    } else {
      absl::AnyInvocable<void()> callback = std::move(callbacks_.front());
      callbacks_.pop_front();
      RunCallback(callback);
    }
  };
  // Frames of many connections are rarely in cache: each step starts
  // loading the one two steps ahead. (Prefetching a stale or null address
  // is harmless.)
  if (!options_.debug) {
    int64_t last_precise = NowNanos();
    int64_t tick = CoarseNowNanos();
    for (size_t i = 0; i < steps; ++i) {
      __builtin_prefetch(ready_.Peek(2).frame.address());
      run_step(ready_.Pop());
      int64_t coarse = CoarseNowNanos();
      if (coarse != tick) {
        int64_t now = NowNanos();
        if (now - last_precise > max_step) max_step = now - last_precise;
        last_precise = now;
        tick = coarse;
      }
    }
  } else {
    int64_t step_start = NowNanos();
    for (size_t i = 0; i < steps; ++i) {
      __builtin_prefetch(ready_.Peek(2).frame.address());
      ReadyItem item = ready_.Pop();
      // The step may finish and free its task; keep the name for the report.
      std::string name = item.task != nullptr ? item.task->name() : "callback";
      run_step(item);
      int64_t step_end = NowNanos();
      int64_t step = step_end - step_start;
      if (step > max_step) max_step = step;
      if (step > absl::ToInt64Nanoseconds(options_.slow_callback_duration)) {
        ReportSlowStep(std::move(name), step);
        step_end = NowNanos();
      }
      step_start = step_end;
    }
  }
  current_task_ = nullptr;
  stats_.max_step_time = absl::Nanoseconds(max_step);
}

// asyncio's Handle._run: an exception escaping a callback is reported and
// the loop goes on. (Task steps cannot throw: a coroutine keeps its
// exception for whoever awaits it.)
void EventLoop::RunCallback(absl::AnyInvocable<void()>& callback) {
  try {
    callback();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Exception in callback: %s\n", e.what());
  } catch (const CancelledError& e) {
    std::fprintf(stderr, "Exception in callback: CancelledError: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "Exception in callback: unknown exception\n");
  }
}

void EventLoop::ReportSlowStep(std::string task_name, int64_t duration_ns) {
  ++stats_.slow_steps;
  options_.on_slow_step({std::move(task_name), absl::Nanoseconds(duration_ns)});
}

Sleep::~Sleep() {
  if (armed()) task_->loop()->CancelTimer(this);
}

bool Sleep::Suspend(std::coroutine_handle<> awaiting,
                    internal::PromiseBase* task) {
  task_ = task;
  assert(awaiting == task->innermost()->handle());
  EventLoop* loop = task->loop();
  if (delay_ns_ == 0) {
    // asyncio.sleep(0): yield to the other ready tasks. A cancellation
    // arriving meanwhile is pending and raised by await_resume.
    if (!task->BeginWait(nullptr)) return false;
    loop->Schedule(awaiting, task);
    return true;
  }
  if (!task->BeginWait(this)) return false;
  // Saturate instead of overflowing: an infinite delay never comes (as
  // CallLater's, and asyncio.sleep(math.inf)'s).
  const int64_t now = EventLoop::NowNanos();
  loop->AddTimer(delay_ns_ > INT64_MAX - now ? INT64_MAX : now + delay_ns_, this);
  return true;
}

void Sleep::Fire() {
  task_->EndWait();
  task_->loop()->Schedule(task_->innermost()->handle(), task_);
}

bool Sleep::Cancel() {
  delay_ns_ = kCancelled;
  task_->loop()->CancelTimer(this);
  task_->EndWait();
  task_->loop()->Schedule(task_->innermost()->handle(), task_);
  return true;
}

}  // namespace asyncio_like
