// Threads "running Python": the calling OS thread as an emulated interpreter
// thread of gil_model, for the adapters of the GIL models.
//
// CPython threads hold the GIL while they run bytecode and release it while
// they block (I/O, sleep, waiting for work). The adapters follow the same
// discipline on their threads: a thread attaches once, holds the GIL for the
// Python part of each task (HoldGil), and releases it around each blocking
// call (gil_model::AllowThreads). A pool worker attaches from the pool's
// initializer and stays attached until the thread exits; any other thread
// attaches with AttachToGil and detaches with DetachFromGil before the Gil is
// destroyed.
//
//   pool options: .initializer = [&gil] { return AttachToGil(gil, "worker"); }
//   in a task:    HoldGil python;
//                 python.thread().RunBytecode(units);          // CPU work
//                 Blocking([&] { return read(fd, buf, n); });  // GIL released

#ifndef HARNESS_PYTHON_THREAD_H_
#define HARNESS_PYTHON_THREAD_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gil_model/gil.h"

namespace harness {

// Attaches the calling thread to `gil` and leaves the GIL released.
// FailedPrecondition if the thread is already attached.
absl::Status AttachToGil(gil_model::Gil& gil, absl::string_view name);

// Detaches the calling thread (no-op if it is not attached).
void DetachFromGil();

// The calling thread's interpreter thread, or nullptr if it is not attached.
gil_model::InterpreterThread* AttachedThreadOrNull();

// Holds the GIL for its scope on an attached thread (taking it may wait).
class HoldGil {
 public:
  HoldGil();
  ~HoldGil();
  HoldGil(const HoldGil&) = delete;
  HoldGil& operator=(const HoldGil&) = delete;

  gil_model::InterpreterThread& thread() { return thread_; }

 private:
  gil_model::InterpreterThread& thread_;
};

// Runs `call` (a blocking system call or library call) with the GIL released
// if the calling thread holds it, as CPython's Py_BEGIN_ALLOW_THREADS does
// around every blocking call; on other threads it just runs `call`.
template <typename F>
auto Blocking(F&& call) {
  gil_model::InterpreterThread* thread = AttachedThreadOrNull();
  if (thread == nullptr) return call();
  gil_model::AllowThreads released(*thread);
  return call();
}

// time.sleep: a blocking sleep that releases the GIL.
void BlockingSleep(absl::Duration duration);

// Executes `units` units of gil_model's bytecode work on the calling thread
// outside any GIL (calibration, and the single-threaded event loop), keeping
// the work's result so that it cannot be optimized away.
void RunPureWork(const gil_model::BytecodeWork& work, int64_t units);

}  // namespace harness

#endif  // HARNESS_PYTHON_THREAD_H_
