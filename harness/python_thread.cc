#include "harness/python_thread.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/time/clock.h"

namespace harness {
namespace {

thread_local std::optional<gil_model::InterpreterThread> attached;

// A HoldGil on an unattached thread, or a GIL already held, is a bug in an
// adapter, not a condition a run can recover from.
gil_model::InterpreterThread& AttachedThread() {
  if (!attached.has_value()) {
    std::fprintf(stderr, "harness: HoldGil on a thread not attached to a GIL\n");
    std::abort();
  }
  return *attached;
}

void MustSucceed(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "harness: GIL misuse: %s\n",
                 std::string(status.message()).c_str());
    std::abort();
  }
}

}  // namespace

absl::Status AttachToGil(gil_model::Gil& gil, absl::string_view name) {
  if (attached.has_value()) {
    return absl::FailedPreconditionError("this thread is already attached");
  }
  absl::StatusOr<gil_model::InterpreterThread> thread =
      gil_model::InterpreterThread::Attach(gil, name);
  if (!thread.ok()) return thread.status();
  attached.emplace(*std::move(thread));
  return attached->DropGil();
}

void DetachFromGil() { attached.reset(); }

gil_model::InterpreterThread* AttachedThreadOrNull() {
  return attached.has_value() ? &*attached : nullptr;
}

void RunPureWork(const gil_model::BytecodeWork& work, int64_t units) {
  thread_local uint64_t chain = 1;
  chain = work.Run(units, chain);
}

void BlockingSleep(absl::Duration duration) {
  Blocking([duration] { absl::SleepFor(duration); });
}

HoldGil::HoldGil() : thread_(AttachedThread()) { MustSucceed(thread_.TakeGil()); }

HoldGil::~HoldGil() { MustSucceed(thread_.DropGil()); }

}  // namespace harness
