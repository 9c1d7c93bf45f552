// The C++ adapters: one function per model that runs any supported workload
// in the current process (see model.h for the contract).
//
//   asyncio            asyncio_like tasks on its io_uring event loop, one
//                      thread.
//   threads_gil        threadpool workers running as emulated interpreter
//                      threads under gil_model's new GIL (CPython 3.2+):
//                      the faithful picture of ThreadPoolExecutor.
//   threads_free       the same pool under gil_model's free-threaded policy
//                      (native C++ threads, PEP 703 Python).
//   asyncio_to_thread  the event loop offloading blocking and CPU work to a
//                      threadpool executor whose workers, like the loop
//                      thread, are interpreter threads under the new GIL.

#ifndef HARNESS_ADAPTERS_H_
#define HARNESS_ADAPTERS_H_

#include "absl/status/statusor.h"
#include "harness/model.h"
#include "harness/workloads.h"

namespace harness {

absl::StatusOr<Metrics> RunOnAsyncio(const Run& run, const RunContext& context);
absl::StatusOr<Metrics> RunOnThreadsWithGil(const Run& run,
                                            const RunContext& context);
absl::StatusOr<Metrics> RunOnFreeThreads(const Run& run,
                                         const RunContext& context);
absl::StatusOr<Metrics> RunOnAsyncioToThread(const Run& run,
                                             const RunContext& context);

}  // namespace harness

#endif  // HARNESS_ADAPTERS_H_
