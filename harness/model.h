// What a model is to the harness, and the interface of a C++ adapter.
//
// A model is one way of running the workloads: an event loop, a thread pool
// under the GIL, ... Each model stands for one side of the seed article's
// table (asyncio or the thread pool) and is implemented either by a C++
// adapter over this project's packages or by a CPython program in
// harness/python/. models.h lists them (`AllModels()`):
//
//   for (const ModelInfo& model : AllModels()) {
//     if (model.Supports(Workload::kCpuPure)) ...
//   }
//
// A C++ adapter is a function that runs one workload in the current process
// and returns its metrics (the names in MetricNames(workload)). The harness
// calls it in a fresh child process per run (see runner.h).

#ifndef HARNESS_MODEL_H_
#define HARNESS_MODEL_H_

#include <functional>
#include <map>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "harness/workloads.h"

namespace harness {

using Metrics = std::map<std::string, double>;

// What an adapter may tell the harness while a run is in progress.
struct RunContext {
  // tcp_echo: the server listens on 127.0.0.1:port and the load may start.
  std::function<void(int port)> announce_port;
  // http_fetch: the port of the harness's HTTP server on 127.0.0.1.
  int server_port = 0;
};

using Adapter = absl::StatusOr<Metrics> (*)(const Run& run,
                                            const RunContext& context);

// Which column of the seed's table a model stands for.
enum class Side { kAsyncio, kThreadPool };

struct ModelInfo {
  absl::string_view name;   // flag and JSON name, e.g. "threads_gil"
  absl::string_view title;  // for the report, e.g. "threads + GIL"
  absl::string_view what;   // one sentence: how it runs a workload
  Side side;
  // C++ models: the adapter, and its source file (for line counts).
  Adapter adapter;
  // CPython models: the program, relative to the workspace root.
  absl::string_view script;
  // The file whose "[readability:WORKLOAD]" regions hold this model's
  // implementation of a workload, relative to the workspace root.
  absl::string_view source;
  std::vector<Workload> workloads;
  // Runs on asyncio_like's io_uring loop, which some kernels or container
  // profiles do not allow.
  bool needs_io_uring = false;

  bool is_cpython() const { return adapter == nullptr; }
  bool Supports(Workload workload) const;
};

absl::string_view SideName(Side side);  // "asyncio" / "thread_pool"

}  // namespace harness

#endif  // HARNESS_MODEL_H_
