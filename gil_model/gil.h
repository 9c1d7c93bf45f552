// gil_model: CPython's global interpreter lock (GIL) as a model you can run.
//
// CPython lets only one thread at a time execute Python bytecode: the thread
// that holds the GIL. Threads release it around blocking calls, so I/O
// overlaps, but CPU-bound threads take turns instead of running in parallel.
// This package reproduces that behaviour with real OS threads so that C++
// code can run "as if it were Python": an emulated interpreter thread attaches
// to a `Gil`, executes CPU-bound "bytecode" as a number of units (see
// bytecode_work.h for what a unit costs), and releases the GIL around
// blocking calls. The same program runs under three policies:
//
//   kNewGil        CPython 3.2 and later (Python/ceval_gil.c): switch
//                  interval, drop requests, forced switching.
//   kTickBased     CPython 3.1 and earlier: release and re-acquire a plain
//                  lock every `check_interval` units.
//   kFreeThreaded  no GIL at all, as in PEP 703 ("python3.13t") builds.
//
// Usage, from any thread (a thread you created, a thread-pool worker, ...):
//
//   absl::StatusOr<std::unique_ptr<Gil>> gil = Gil::Create({});
//   absl::StatusOr<InterpreterThread> py =
//       InterpreterThread::Attach(**gil, "worker");
//   if (!py.ok()) return py.status();
//   absl::Status s = py->RunBytecode(100'000);  // CPU work, GIL held
//   {
//     AllowThreads io(*py);  // GIL released while blocked
//     ReadFromSocket();
//   }                        // and taken back here
//   ThreadStats mine = py->Stats();
//   GilStats all = (*gil)->Stats();
//
// ---------------------------------------------------------------------------
// The algorithm of the new GIL (kNewGil), as in CPython's ceval_gil.c
// ---------------------------------------------------------------------------
//
// 1. The lock. The GIL is a boolean `locked` protected by a mutex, whose
//    changes are signalled on a condition variable `cond`. CPython takes the
//    mutex on every take and drop. The model adds one refinement that changes
//    no behaviour: `locked` shares an atomic word with the number of threads
//    waiting in the slow path. When that word says "free, nobody waiting", a
//    take is a single compare-and-swap; when it says "locked, nobody waiting",
//    so is a drop. As soon as anyone waits, every step of the new GIL goes
//    through the mutex exactly as described below.
//
// 2. Taking the GIL (take_gil). Under the mutex, while the GIL is locked, the
//    thread remembers `switch_number` and waits on `cond` for at most the
//    switch interval (5 ms by default, `sys.setswitchinterval`). If the wait
//    times out and the GIL is still held by the same holder (`switch_number`
//    unchanged), it sets the *drop request* and keeps waiting. When it finds
//    the GIL free it sets `locked`, makes itself `last_holder`, increments
//    `switch_number`, signals `switch_cond` (see 4) and clears any pending
//    drop request, which it has now been granted.
//
// 3. The eval breaker. The holder executes bytecode in units and, between two
//    units, checks the drop request (CPython checks on backward jumps and
//    calls). When it sees the request it drops the GIL (4) and immediately
//    asks for it again (2), which queues it behind the requester.
//
// 4. Dropping the GIL (drop_gil). Under the mutex, the thread records itself
//    as `last_holder`, clears `locked` and signals `cond`. Then *forced
//    switching*: if a drop request is pending and no one has taken the GIL
//    since (`last_holder` is still this thread), it clears the request and
//    waits on `switch_cond` until another thread has taken the GIL. Without
//    this, the dropper, already running on its core, would usually win the
//    GIL straight back before the woken waiter is scheduled. As in CPython
//    this applies to every drop while a request is pending, including a drop
//    around blocking I/O.
//
// 5. Blocking calls (Py_BEGIN_ALLOW_THREADS / Py_END_ALLOW_THREADS). An
//    `AllowThreads` scope drops the GIL (4) before the call and takes it (2)
//    after. The *convoy effect* follows: a thread coming back from I/O while a
//    CPU-bound thread holds the GIL waits a full switch interval before it
//    even asks, so a server thread that makes k blocking calls per request
//    pays about k switch intervals of latency per request.
//
// The old tick-based GIL (kTickBased) is the same lock without 2's timed wait
// and request, and without 4's forced switching: the waiter sleeps on `cond`
// until woken, and every `check_interval` units (100 by default,
// `sys.setcheckinterval`) the holder drops the lock and immediately takes it
// again "to give another thread a chance". Like CPython 3.1's semaphore, the
// lock goes to whoever finds it free, waiters or not. On a multicore machine
// the holder usually re-takes it before the woken waiter runs, so the waiter
// wakes for nothing (GilStats::futile_wakeups), over and over: two CPU-bound
// threads run slower than one.
//
// Free threading (kFreeThreaded) has no lock: take and drop only record
// statistics, and attached threads execute bytecode in parallel.
//
// ---------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------
// - An InterpreterThread belongs to the OS thread that attached it (as a
//   PyThreadState does); calling it from another OS thread is an error.
// - An OS thread must not take the GIL through a second InterpreterThread
//   while it holds it through a first one: that would deadlock, so it fails.
// - The Gil must outlive every InterpreterThread attached to it.
// - Misuse (bad intervals, dropping a GIL not held, taking it twice) returns
//   a clear absl::Status; nothing in this package aborts or hangs on it.

#ifndef GIL_MODEL_GIL_H_
#define GIL_MODEL_GIL_H_

#if __cplusplus < 202002L
#error "gil_model needs C++20: build with -std=c++20 (see gil_model/README.md)"
#endif

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gil_model/bytecode_work.h"
#include "gil_model/latency_histogram.h"

namespace gil_model {

enum class GilPolicy {
  kNewGil,        // CPython >= 3.2
  kTickBased,     // CPython <= 3.1
  kFreeThreaded,  // PEP 703, no GIL
};

// "new-gil", "tick-based" or "free-threaded".
absl::string_view GilPolicyName(GilPolicy policy);

struct GilOptions {
  GilPolicy policy = GilPolicy::kNewGil;
  // kNewGil: how long a waiter waits before it sets the drop request
  // (sys.setswitchinterval; CPython's default is 5 ms). Must be > 0.
  absl::Duration switch_interval = absl::Milliseconds(5);
  // kTickBased: units between two release/re-acquire cycles
  // (sys.setcheckinterval; CPython 3.1's default is 100). Must be > 0.
  int64_t check_interval = 100;
  // CPU cost of one bytecode unit (see bytecode_work.h). Must be > 0.
  absl::Duration unit_cost = absl::Nanoseconds(25);
  // Whether to measure how long each thread holds the GIL (ThreadStats::
  // hold_total). That takes a clock read at every take and every drop, which
  // more than doubles the cost of an uncontended take+drop (see README.md).
  // Counters, wait times and hand-off latencies are always recorded: they
  // need the clock only when a thread has to wait anyway.
  bool measure_hold_time = true;
};

// What one interpreter thread has done so far.
struct ThreadStats {
  int64_t id = 0;  // unique within its Gil, starting at 1
  std::string name;
  int64_t takes = 0;             // times it took the GIL
  int64_t switches = 0;          // takes after another thread had held the GIL
  int64_t drops_on_request = 0;  // eval-breaker drops for a waiting thread
  int64_t forced_switch_waits = 0;  // drops that waited for another taker
  int64_t bytecode_units = 0;
  absl::Duration wait_total;  // time spent in take (waiting for the GIL)
  absl::Duration wait_p50;
  absl::Duration wait_p99;
  absl::Duration hold_total;  // time between take and drop (if measured)
};

// The GIL as a whole: CPython's counters plus totals over all threads that
// ever attached (live and detached).
struct GilStats {
  GilPolicy policy = GilPolicy::kNewGil;
  absl::Duration switch_interval;
  bool locked = false;
  int64_t last_holder = 0;      // ThreadStats::id; 0 if nobody held it yet
  uint64_t switch_number = 0;   // number of takes (CPython's switch_number)
  int64_t drop_requests = 0;    // times a waiter set the drop request
  int64_t forced_switches = 0;  // drops that waited for another taker
  // Times a waiter was woken by a drop but found the GIL taken again: the
  // old GIL's thrashing, when the dropper re-takes it before the waiter runs.
  int64_t futile_wakeups = 0;
  // From a drop request being set to another thread holding the GIL.
  absl::Duration handoff_p50;
  absl::Duration handoff_p99;
  int64_t threads_attached = 0;  // InterpreterThreads ever attached
  int64_t switches = 0;  // takes by a thread other than the previous holder
  int64_t bytecode_units = 0;
  absl::Duration wait_total;
  absl::Duration wait_p50;  // over every take by every thread
  absl::Duration wait_p99;
  absl::Duration hold_total;
  std::vector<ThreadStats> live_threads;  // ordered by id
};

class InterpreterThread;

class Gil {
 public:
  // InvalidArgument if an interval or the unit cost is not positive.
  static absl::StatusOr<std::unique_ptr<Gil>> Create(GilOptions options);

  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;
  ~Gil();

  // sys.setswitchinterval: InvalidArgument unless `interval` > 0. Takes effect
  // at the next wait. Only kNewGil uses it.
  absl::Status SetSwitchInterval(absl::Duration interval);
  absl::Duration switch_interval() const;

  GilPolicy policy() const { return options_.policy; }
  int64_t check_interval() const { return options_.check_interval; }
  // The CPU cost of one bytecode unit: RunBytecode(cpu_time / unit_cost())
  // emulates `cpu_time` worth of Python code.
  absl::Duration unit_cost() const { return options_.unit_cost; }
  const BytecodeWork& work() const { return work_; }

  GilStats Stats() const;

 private:
  friend class InterpreterThread;
  struct ThreadState;

  // The atomic word of paragraph 1: bit 0 is `locked`, the rest counts the
  // threads waiting in the slow path of Take.
  static constexpr uint32_t kLocked = 1;
  static constexpr uint32_t kOneWaiter = 2;

  explicit Gil(GilOptions options);

  // False if OS thread `self` holds the GIL, so that taking it again would
  // deadlock; WouldDeadlockError says so.
  bool OsThreadMayTake(std::thread::id self) const;
  static absl::Status WouldDeadlockError();
  // Paragraph 2 (and the tick-based lock); `thread` must not hold the GIL.
  void Take(ThreadState& thread);
  void TakeSlow(ThreadState& thread) ABSL_LOCKS_EXCLUDED(mu_);
  // Paragraph 4; `thread` must hold the GIL.
  void Drop(ThreadState& thread);
  void DropSlow(ThreadState& thread) ABSL_LOCKS_EXCLUDED(mu_);
  // Makes `thread` the holder (under mu_ unless on the fast path) and returns
  // the previous holder's id.
  int64_t BecomeHolder(ThreadState& thread);
  // Per-thread bookkeeping after a take / before a drop.
  void RecordTake(ThreadState& thread, int64_t previous_holder,
                  int64_t waited_ns);
  void RecordDrop(ThreadState& thread);
  // Paragraph 3: executes units with an eval-breaker check between them.
  void Execute(ThreadState& thread, int64_t units);

  static ThreadStats SnapshotOf(const ThreadState& thread);
  std::unique_ptr<ThreadState> Register(absl::string_view name);
  void Retire(std::unique_ptr<ThreadState> thread);

  const GilOptions options_;
  const BytecodeWork work_;
  std::atomic<int64_t> switch_interval_ns_;

  std::atomic<uint32_t> state_{0};
  std::atomic<bool> drop_request_{false};  // CPython's gil_drop_request
  std::atomic<int64_t> last_holder_{0};
  std::atomic<uint64_t> switch_number_{0};
  // The OS thread holding the GIL, to refuse a self-deadlocking take.
  std::atomic<std::thread::id> holder_os_thread_{};

  mutable absl::Mutex mu_;
  absl::CondVar cond_;         // `locked` became false
  absl::CondVar switch_cond_;  // `last_holder` changed (forced switching)
  int64_t drop_requests_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t forced_switches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t futile_wakeups_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t drop_requested_at_ns_ ABSL_GUARDED_BY(mu_) = 0;  // 0: none pending
  LatencyHistogram handoff_;                               // written under mu_

  mutable absl::Mutex registry_mu_;
  int64_t next_thread_id_ ABSL_GUARDED_BY(registry_mu_) = 1;
  std::vector<ThreadState*> live_ ABSL_GUARDED_BY(registry_mu_);
  // Totals of detached threads.
  int64_t retired_units_ ABSL_GUARDED_BY(registry_mu_) = 0;
  int64_t retired_switches_ ABSL_GUARDED_BY(registry_mu_) = 0;
  absl::Duration retired_wait_ ABSL_GUARDED_BY(registry_mu_);
  absl::Duration retired_hold_ ABSL_GUARDED_BY(registry_mu_);
  LatencyHistogram retired_waits_;  // written under registry_mu_
};

// An emulated Python thread: a thread state attached to a Gil. Move-only.
// Attach takes the GIL and the destructor drops it if held (like
// PyGILState_Ensure / PyGILState_Release).
class InterpreterThread {
 public:
  // Registers a thread state for the calling OS thread and takes the GIL.
  // FailedPrecondition if this OS thread already holds the GIL.
  static absl::StatusOr<InterpreterThread> Attach(Gil& gil,
                                                  absl::string_view name = "");

  InterpreterThread(InterpreterThread&& other) noexcept;
  InterpreterThread& operator=(InterpreterThread&& other) noexcept;
  ~InterpreterThread();

  // Executes `units` units of CPU-bound bytecode with an eval-breaker check
  // between units, which may hand the GIL to another thread and take it back.
  // InvalidArgument if units < 0; FailedPrecondition if the GIL is not held.
  absl::Status RunBytecode(int64_t units);

  // PyEval_SaveThread: drops the GIL. FailedPrecondition if not held.
  absl::Status DropGil();
  // PyEval_RestoreThread: takes the GIL, waiting as long as needed.
  // FailedPrecondition if already held (by this or another thread state of
  // the same OS thread).
  absl::Status TakeGil();

  bool holds_gil() const;
  int64_t id() const;
  ThreadStats Stats() const;
  Gil& gil() const { return *gil_; }

 private:
  InterpreterThread(Gil& gil, std::unique_ptr<Gil::ThreadState> state);
  // Whether this has a thread state and the caller is its OS thread.
  bool UsableHere() const;
  absl::Status NotUsableHereError() const;
  absl::Status Error(absl::StatusCode code, absl::string_view what) const;
  void Detach();

  Gil* gil_;
  std::unique_ptr<Gil::ThreadState> state_;
};

// Py_BEGIN_ALLOW_THREADS ... Py_END_ALLOW_THREADS as a scope: drops the GIL
// for the lifetime of the scope, around a blocking call, and takes it back at
// the end (waiting for it). If the thread does not hold the GIL when the scope
// begins (a nested scope), the scope does nothing.
class AllowThreads {
 public:
  explicit AllowThreads(InterpreterThread& thread);
  AllowThreads(const AllowThreads&) = delete;
  AllowThreads& operator=(const AllowThreads&) = delete;
  ~AllowThreads();

 private:
  InterpreterThread& thread_;
  bool released_;
};

}  // namespace gil_model

#endif  // GIL_MODEL_GIL_H_
