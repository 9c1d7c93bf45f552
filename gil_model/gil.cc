#include "gil_model/gil.h"

#include <algorithm>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace gil_model {
namespace {

// Timestamps for statistics. Abseil's clock is several times cheaper than
// std::chrono::steady_clock on virtual machines; a rare step of the system
// clock can at worst distort one sample, and negative samples count as zero.
int64_t NowNanos() { return absl::GetCurrentTimeNanos(); }

// Statistics are written by one thread and read by any: a relaxed load and
// store is enough and cheaper than a read-modify-write.
void AddRelaxed(std::atomic<int64_t>& counter, int64_t delta) {
  counter.store(counter.load(std::memory_order_relaxed) + delta,
                std::memory_order_relaxed);
}

int64_t LoadRelaxed(const std::atomic<int64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

}  // namespace

absl::string_view GilPolicyName(GilPolicy policy) {
  switch (policy) {
    case GilPolicy::kNewGil:
      return "new-gil";
    case GilPolicy::kTickBased:
      return "tick-based";
    case GilPolicy::kFreeThreaded:
      return "free-threaded";
  }
  return "unknown";
}

// One emulated Python thread (CPython's PyThreadState, reduced to what the
// GIL needs). The owning OS thread writes everything; other threads only read
// the atomics, for statistics.
struct Gil::ThreadState {
  ThreadState(int64_t id, std::string name) : id(id), name(std::move(name)) {}

  const int64_t id;
  const std::string name;
  const std::thread::id os_thread = std::this_thread::get_id();

  std::atomic<bool> holds{false};
  int64_t held_since_ns = 0;  // owner only
  int64_t ticks_left = 0;     // owner only; kTickBased countdown
  uint64_t work_chain = 0;    // owner only; see BytecodeWork::Run

  std::atomic<int64_t> takes{0};
  std::atomic<int64_t> switches{0};
  std::atomic<int64_t> drops_on_request{0};
  std::atomic<int64_t> forced_switch_waits{0};
  std::atomic<int64_t> bytecode_units{0};
  std::atomic<int64_t> wait_ns{0};
  std::atomic<int64_t> hold_ns{0};
  LatencyHistogram waits;
};

absl::StatusOr<std::unique_ptr<Gil>> Gil::Create(GilOptions options) {
  if (options.switch_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("switch interval must be strictly positive, got ",
                     absl::FormatDuration(options.switch_interval)));
  }
  if (options.check_interval <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("check interval must be strictly positive, got ",
                     options.check_interval));
  }
  if (options.unit_cost <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bytecode unit cost must be strictly positive, got ",
                     absl::FormatDuration(options.unit_cost)));
  }
  return std::unique_ptr<Gil>(new Gil(options));
}

Gil::Gil(GilOptions options)
    : options_(options),
      work_(options.unit_cost),
      switch_interval_ns_(std::max<int64_t>(
          1, absl::ToInt64Nanoseconds(options.switch_interval))) {}

Gil::~Gil() = default;

absl::Status Gil::SetSwitchInterval(absl::Duration interval) {
  if (interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("switch interval must be strictly positive, got ",
                     absl::FormatDuration(interval)));
  }
  // Sub-nanosecond intervals round up to 1 ns rather than to zero.
  switch_interval_ns_.store(
      std::max<int64_t>(1, absl::ToInt64Nanoseconds(interval)),
      std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Duration Gil::switch_interval() const {
  return absl::Nanoseconds(switch_interval_ns_.load(std::memory_order_relaxed));
}

bool Gil::OsThreadMayTake(std::thread::id self) const {
  return options_.policy == GilPolicy::kFreeThreaded ||
         holder_os_thread_.load(std::memory_order_relaxed) != self;
}

absl::Status Gil::WouldDeadlockError() {
  return absl::FailedPreconditionError(
      "this OS thread already holds the GIL through another interpreter "
      "thread; taking it again would deadlock");
}

// --- Paragraph 2: taking the GIL ---

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Gil::Take(ThreadState& thread) {
  if (options_.policy == GilPolicy::kFreeThreaded) {
    RecordTake(thread, BecomeHolder(thread), /*waited_ns=*/0);
    return;
  }
  if (options_.policy == GilPolicy::kTickBased) {
    // The old GIL is a plain lock: whoever finds it free takes it, waiters or
    // not (CPython <= 3.1 used a semaphore). This is how the releasing thread
    // wins it straight back while the woken waiter is still being scheduled.
    uint32_t seen = state_.load(std::memory_order_relaxed);
    while ((seen & kLocked) == 0) {
      if (state_.compare_exchange_weak(seen, seen | kLocked,
                                       std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
        RecordTake(thread, BecomeHolder(thread), /*waited_ns=*/0);
        return;
      }
    }
    TakeSlow(thread);
    return;
  }
  // Fast path of paragraph 1: free and nobody waiting.
  uint32_t expected = 0;
  if (state_.compare_exchange_strong(expected, kLocked,
                                     std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
    RecordTake(thread, BecomeHolder(thread), /*waited_ns=*/0);
    return;
  }
  TakeSlow(thread);
}

void Gil::TakeSlow(ThreadState& thread) {
  const int64_t started_ns = NowNanos();
  int64_t previous_holder;
  {
    absl::MutexLock lock(&mu_);
    // Counted as a waiter, the fast paths are closed, except the tick-based
    // lock's: `locked` is cleared only under mu_, so no wake-up is lost, but
    // it may be set without it, hence the compare-and-swap.
    state_.fetch_add(kOneWaiter, std::memory_order_acq_rel);
    while (true) {
      uint32_t seen = state_.load(std::memory_order_acquire);
      if ((seen & kLocked) == 0) {
        // Stop counting ourselves as a waiter and set `locked`, in one step.
        if (state_.compare_exchange_strong(seen, (seen - kOneWaiter) | kLocked,
                                           std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
          break;
        }
        continue;
      }
      if (options_.policy == GilPolicy::kTickBased) {
        cond_.Wait(&mu_);
        if (state_.load(std::memory_order_acquire) & kLocked) {
          ++futile_wakeups_;
        }
        continue;
      }
      const uint64_t saved_switch_number =
          switch_number_.load(std::memory_order_relaxed);
      const bool timed_out = cond_.WaitWithTimeout(
          &mu_, absl::Nanoseconds(
                    switch_interval_ns_.load(std::memory_order_relaxed)));
      if (!timed_out && (state_.load(std::memory_order_acquire) & kLocked)) {
        ++futile_wakeups_;
      }
      if (timed_out && (state_.load(std::memory_order_acquire) & kLocked) &&
          switch_number_.load(std::memory_order_relaxed) ==
              saved_switch_number &&
          !drop_request_.load(std::memory_order_relaxed)) {
        drop_request_.store(true, std::memory_order_relaxed);
        ++drop_requests_;
        drop_requested_at_ns_ = NowNanos();
      }
    }
    previous_holder = BecomeHolder(thread);
    switch_cond_.SignalAll();  // forced switching: a dropper may wait for us
    if (drop_request_.load(std::memory_order_relaxed)) {
      drop_request_.store(false, std::memory_order_relaxed);
    }
    if (drop_requested_at_ns_ != 0) {
      handoff_.Record(absl::Nanoseconds(NowNanos() - drop_requested_at_ns_));
      drop_requested_at_ns_ = 0;
    }
  }
  RecordTake(thread, previous_holder, NowNanos() - started_ns);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline int64_t Gil::BecomeHolder(
    ThreadState& thread) {
  if (options_.policy == GilPolicy::kFreeThreaded) {
    // Several threads "take" at once: read-modify-writes.
    switch_number_.fetch_add(1, std::memory_order_relaxed);
    return last_holder_.exchange(thread.id, std::memory_order_relaxed);
  }
  // Only the holder writes these, one holder at a time, so plain stores
  // suffice (the atomics are for readers such as waiters and Stats).
  holder_os_thread_.store(thread.os_thread, std::memory_order_relaxed);
  switch_number_.store(switch_number_.load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
  const int64_t previous = last_holder_.load(std::memory_order_relaxed);
  if (previous != thread.id) {
    last_holder_.store(thread.id, std::memory_order_relaxed);
  }
  return previous;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Gil::RecordTake(
    ThreadState& thread, int64_t previous_holder, int64_t waited_ns) {
  AddRelaxed(thread.takes, 1);
  if (previous_holder != 0 && previous_holder != thread.id) {
    AddRelaxed(thread.switches, 1);
  }
  if (waited_ns > 0) AddRelaxed(thread.wait_ns, waited_ns);
  thread.waits.RecordNanoseconds(waited_ns);
  thread.ticks_left = options_.check_interval;
  if (options_.measure_hold_time) thread.held_since_ns = NowNanos();
  thread.holds.store(true, std::memory_order_relaxed);
}

// --- Paragraph 4: dropping the GIL ---

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Gil::Drop(ThreadState& thread) {
  RecordDrop(thread);
  if (options_.policy == GilPolicy::kFreeThreaded) return;
  holder_os_thread_.store(std::thread::id(), std::memory_order_relaxed);
  // Fast path of paragraph 1: nobody waiting, hence no drop request either.
  uint32_t expected = kLocked;
  if (state_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
    return;
  }
  DropSlow(thread);
}

void Gil::DropSlow(ThreadState& thread) {
  absl::MutexLock lock(&mu_);
  last_holder_.store(thread.id, std::memory_order_relaxed);
  state_.fetch_and(~kLocked, std::memory_order_acq_rel);
  cond_.Signal();
  if (options_.policy == GilPolicy::kNewGil &&
      drop_request_.load(std::memory_order_relaxed) &&
      last_holder_.load(std::memory_order_relaxed) == thread.id) {
    // Forced switching. The requester still waits in TakeSlow (a request is
    // cleared by whoever takes the GIL), so someone will take it.
    drop_request_.store(false, std::memory_order_relaxed);
    ++forced_switches_;
    AddRelaxed(thread.forced_switch_waits, 1);
    while (last_holder_.load(std::memory_order_relaxed) == thread.id) {
      switch_cond_.Wait(&mu_);
    }
  }
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Gil::RecordDrop(ThreadState& thread) {
  thread.holds.store(false, std::memory_order_relaxed);
  if (options_.measure_hold_time) {
    AddRelaxed(thread.hold_ns,
               std::max<int64_t>(0, NowNanos() - thread.held_since_ns));
  }
}

// --- Paragraph 3: executing bytecode ---

void Gil::Execute(ThreadState& thread, int64_t units) {
  uint64_t chain = thread.work_chain;
  switch (options_.policy) {
    case GilPolicy::kFreeThreaded:
      chain = work_.Run(units, chain);
      break;
    case GilPolicy::kNewGil:
      for (int64_t unit = 0; unit < units; ++unit) {
        chain = work_.Run(1, chain);
        if (drop_request_.load(std::memory_order_relaxed)) {
          Drop(thread);
          AddRelaxed(thread.drops_on_request, 1);
          Take(thread);
        }
      }
      break;
    case GilPolicy::kTickBased:
      for (int64_t unit = 0; unit < units; ++unit) {
        chain = work_.Run(1, chain);
        if (--thread.ticks_left <= 0) {
          // "Give another thread a chance": release, then re-acquire at once.
          Drop(thread);
          Take(thread);
        }
      }
      break;
  }
  thread.work_chain = chain;
  AddRelaxed(thread.bytecode_units, units);
}

// --- Registry and statistics ---

std::unique_ptr<Gil::ThreadState> Gil::Register(absl::string_view name) {
  absl::MutexLock lock(&registry_mu_);
  const int64_t id = next_thread_id_++;
  auto thread = std::make_unique<ThreadState>(
      id, name.empty() ? absl::StrCat("thread-", id) : std::string(name));
  live_.push_back(thread.get());
  return thread;
}

void Gil::Retire(std::unique_ptr<ThreadState> thread) {
  absl::MutexLock lock(&registry_mu_);
  live_.erase(std::find(live_.begin(), live_.end(), thread.get()));
  retired_units_ += LoadRelaxed(thread->bytecode_units);
  retired_switches_ += LoadRelaxed(thread->switches);
  retired_wait_ += absl::Nanoseconds(LoadRelaxed(thread->wait_ns));
  retired_hold_ += absl::Nanoseconds(LoadRelaxed(thread->hold_ns));
  retired_waits_.Add(thread->waits);
}

GilStats Gil::Stats() const {
  GilStats stats;
  stats.policy = options_.policy;
  stats.switch_interval = switch_interval();
  stats.locked = (state_.load(std::memory_order_relaxed) & kLocked) != 0;
  stats.last_holder = last_holder_.load(std::memory_order_relaxed);
  stats.switch_number = switch_number_.load(std::memory_order_relaxed);
  {
    absl::MutexLock lock(&mu_);
    stats.drop_requests = drop_requests_;
    stats.forced_switches = forced_switches_;
    stats.futile_wakeups = futile_wakeups_;
    stats.handoff_p50 = handoff_.Percentile(0.50);
    stats.handoff_p99 = handoff_.Percentile(0.99);
  }
  absl::MutexLock lock(&registry_mu_);
  LatencyHistogram all_waits;
  all_waits.Add(retired_waits_);
  stats.threads_attached = next_thread_id_ - 1;
  stats.bytecode_units = retired_units_;
  stats.switches = retired_switches_;
  stats.wait_total = retired_wait_;
  stats.hold_total = retired_hold_;
  for (const ThreadState* thread : live_) {
    ThreadStats one = SnapshotOf(*thread);
    stats.bytecode_units += one.bytecode_units;
    stats.switches += one.switches;
    stats.wait_total += one.wait_total;
    stats.hold_total += one.hold_total;
    all_waits.Add(thread->waits);
    stats.live_threads.push_back(std::move(one));
  }
  std::sort(
      stats.live_threads.begin(), stats.live_threads.end(),
      [](const ThreadStats& a, const ThreadStats& b) { return a.id < b.id; });
  stats.wait_p50 = all_waits.Percentile(0.50);
  stats.wait_p99 = all_waits.Percentile(0.99);
  return stats;
}

ThreadStats Gil::SnapshotOf(const ThreadState& thread) {
  ThreadStats stats;
  stats.id = thread.id;
  stats.name = thread.name;
  stats.takes = LoadRelaxed(thread.takes);
  stats.switches = LoadRelaxed(thread.switches);
  stats.drops_on_request = LoadRelaxed(thread.drops_on_request);
  stats.forced_switch_waits = LoadRelaxed(thread.forced_switch_waits);
  stats.bytecode_units = LoadRelaxed(thread.bytecode_units);
  stats.wait_total = absl::Nanoseconds(LoadRelaxed(thread.wait_ns));
  stats.wait_p50 = thread.waits.Percentile(0.50);
  stats.wait_p99 = thread.waits.Percentile(0.99);
  stats.hold_total = absl::Nanoseconds(LoadRelaxed(thread.hold_ns));
  return stats;
}

// --- InterpreterThread ---

absl::StatusOr<InterpreterThread> InterpreterThread::Attach(
    Gil& gil, absl::string_view name) {
  if (!gil.OsThreadMayTake(std::this_thread::get_id())) {
    return Gil::WouldDeadlockError();
  }
  InterpreterThread thread(gil, gil.Register(name));
  gil.Take(*thread.state_);
  return thread;
}

InterpreterThread::InterpreterThread(Gil& gil,
                                     std::unique_ptr<Gil::ThreadState> state)
    : gil_(&gil), state_(std::move(state)) {}

InterpreterThread::InterpreterThread(InterpreterThread&& other) noexcept
    : gil_(other.gil_), state_(std::move(other.state_)) {}

InterpreterThread& InterpreterThread::operator=(
    InterpreterThread&& other) noexcept {
  if (this != &other) {
    Detach();
    gil_ = other.gil_;
    state_ = std::move(other.state_);
  }
  return *this;
}

InterpreterThread::~InterpreterThread() { Detach(); }

void InterpreterThread::Detach() {
  if (state_ == nullptr) return;
  if (state_->holds.load(std::memory_order_relaxed)) gil_->Drop(*state_);
  gil_->Retire(std::move(state_));
}

bool InterpreterThread::UsableHere() const {
  return state_ != nullptr && state_->os_thread == std::this_thread::get_id();
}

// Errors are built out of line, so that the hot paths keep small frames.
ABSL_ATTRIBUTE_NOINLINE absl::Status InterpreterThread::NotUsableHereError()
    const {
  if (state_ == nullptr) {
    return absl::FailedPreconditionError(
        "interpreter thread was moved from; it has no thread state");
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "interpreter thread ", state_->name,
      " belongs to another OS thread; use it only on the thread that "
      "attached it"));
}

ABSL_ATTRIBUTE_NOINLINE absl::Status InterpreterThread::Error(
    absl::StatusCode code, absl::string_view what) const {
  return absl::Status(code,
                      absl::StrCat("interpreter thread ", state_->name, what));
}

absl::Status InterpreterThread::RunBytecode(int64_t units) {
  if (ABSL_PREDICT_FALSE(units < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bytecode units must be >= 0, got ", units));
  }
  if (ABSL_PREDICT_FALSE(!UsableHere())) return NotUsableHereError();
  if (ABSL_PREDICT_FALSE(!state_->holds.load(std::memory_order_relaxed))) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 " does not hold the GIL; bytecode runs only while holding it");
  }
  gil_->Execute(*state_, units);
  return absl::OkStatus();
}

absl::Status InterpreterThread::DropGil() {
  if (ABSL_PREDICT_FALSE(!UsableHere())) return NotUsableHereError();
  if (ABSL_PREDICT_FALSE(!state_->holds.load(std::memory_order_relaxed))) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 " cannot drop the GIL: it does not hold it");
  }
  gil_->Drop(*state_);
  return absl::OkStatus();
}

absl::Status InterpreterThread::TakeGil() {
  if (ABSL_PREDICT_FALSE(!UsableHere())) return NotUsableHereError();
  if (ABSL_PREDICT_FALSE(state_->holds.load(std::memory_order_relaxed))) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 " already holds the GIL; taking it again would deadlock");
  }
  // UsableHere established that state_->os_thread is the caller.
  if (ABSL_PREDICT_FALSE(!gil_->OsThreadMayTake(state_->os_thread))) {
    return Gil::WouldDeadlockError();
  }
  gil_->Take(*state_);
  return absl::OkStatus();
}

bool InterpreterThread::holds_gil() const {
  return state_ != nullptr && state_->holds.load(std::memory_order_relaxed);
}

int64_t InterpreterThread::id() const {
  return state_ == nullptr ? 0 : state_->id;
}

ThreadStats InterpreterThread::Stats() const {
  return state_ == nullptr ? ThreadStats{} : Gil::SnapshotOf(*state_);
}

// --- AllowThreads ---

AllowThreads::AllowThreads(InterpreterThread& thread)
    : thread_(thread), released_(thread.DropGil().ok()) {}

AllowThreads::~AllowThreads() {
  // Taking back can only fail if this OS thread took the GIL through another
  // interpreter thread inside the scope; the thread then stays detached and
  // its next RunBytecode says so.
  if (released_) thread_.TakeGil().IgnoreError();
}

}  // namespace gil_model
