// A CPU-bound thread and an I/O-bound thread under the model's GIL.
//
//   tools/bazel run //gil_model:example
//
// The I/O thread sleeps with the GIL released (as time.sleep does), then
// needs the GIL back from the CPU-bound thread: the wait it reports is about
// one switch interval per blocking call, the convoy effect.

#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gil_model/gil.h"

int main() {
  using gil_model::AllowThreads;
  using gil_model::Gil;
  using gil_model::InterpreterThread;

  absl::StatusOr<std::unique_ptr<Gil>> gil = Gil::Create({});
  if (!gil.ok()) {
    absl::FPrintF(stderr, "%s\n", gil.status().ToString());
    return 1;
  }
  std::atomic<bool> done{false};

  std::thread cpu([&] {
    absl::StatusOr<InterpreterThread> py =
        InterpreterThread::Attach(**gil, "cpu");
    if (!py.ok()) return;
    while (!done.load()) {
      if (!py->RunBytecode(10'000).ok()) return;  // about 250 us of "Python"
    }
  });

  std::thread io([&] {
    absl::StatusOr<InterpreterThread> py =
        InterpreterThread::Attach(**gil, "io");
    if (!py.ok()) return;
    for (int i = 0; i < 20; ++i) {
      {
        AllowThreads blocking(*py);  // Py_BEGIN_ALLOW_THREADS
        absl::SleepFor(absl::Milliseconds(2));
      }  // Py_END_ALLOW_THREADS: waits for the GIL
      if (!py->RunBytecode(100).ok()) return;
    }
    const gil_model::ThreadStats stats = py->Stats();
    absl::PrintF("io thread: %d takes, GIL wait p50 %s, p99 %s\n", stats.takes,
                 absl::FormatDuration(stats.wait_p50),
                 absl::FormatDuration(stats.wait_p99));
    done.store(true);
  });

  io.join();
  cpu.join();
  const gil_model::GilStats stats = (*gil)->Stats();
  absl::PrintF(
      "GIL: %d takes, %d drop requests, %d forced switches, hand-off p50 %s\n",
      stats.switch_number, stats.drop_requests, stats.forced_switches,
      absl::FormatDuration(stats.handoff_p50));
  return 0;
}
