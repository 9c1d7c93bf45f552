#include "harness/models.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asyncio_like/event_loop.h"
#include "harness/adapters.h"

namespace harness {
namespace {

// Offloading to threads changes nothing for pure waits and sockets, which
// the loop already does well, so the to_thread models run the rest, and
// pool_starvation, where the offloaded blocking calls queue for workers.
constexpr Workload kOffloadable[] = {
    Workload::kCpuPure, Workload::kCpuNative, Workload::kMixed,
    Workload::kBlockingCall, Workload::kDebugStack, Workload::kPoolStarvation,
};

std::vector<Workload> All() {
  return {std::begin(kAllWorkloads), std::end(kAllWorkloads)};
}
// Without a GIL, a pool of threads that sleep queues exactly as with one:
// pool_starvation runs on threads_gil only.
std::vector<Workload> AllButStarvation() {
  std::vector<Workload> out = All();
  std::erase(out, Workload::kPoolStarvation);
  return out;
}
std::vector<Workload> Offloadable() {
  return {std::begin(kOffloadable), std::end(kOffloadable)};
}

}  // namespace

const std::vector<ModelInfo>& AllModels() {
  static const auto* models = new std::vector<ModelInfo>{
      {"asyncio", "asyncio (C++)",
       "asyncio_like coroutine tasks on one io_uring event loop thread",
       Side::kAsyncio, &RunOnAsyncio, "", "harness/asyncio_adapter.cc", All(),
       /*needs_io_uring=*/true},
      {"asyncio_to_thread", "asyncio + to_thread (C++)",
       "the event loop offloading CPU work and blocking calls to a thread "
       "pool with ToThread, loop and workers under the GIL",
       Side::kAsyncio, &RunOnAsyncioToThread, "",
       "harness/asyncio_to_thread_adapter.cc", Offloadable(),
       /*needs_io_uring=*/true},
      {"threads_gil", "threads + GIL (C++)",
       "threadpool workers as emulated interpreter threads under gil_model's "
       "CPython 3.2+ GIL",
       Side::kThreadPool, &RunOnThreadsWithGil, "",
       "harness/threads_adapter.cc", All()},
      {"threads_free", "threads, no GIL (C++)",
       "the same pool under the free-threaded policy (PEP 703, or plain C++)",
       Side::kThreadPool, &RunOnFreeThreads, "", "harness/threads_adapter.cc",
       AllButStarvation()},
      {"cpython_asyncio", "CPython asyncio",
       "python3 running harness/python/cpython_asyncio.py", Side::kAsyncio,
       nullptr, "harness/python/cpython_asyncio.py",
       "harness/python/cpython_asyncio.py", All()},
      {"cpython_to_thread", "CPython asyncio.to_thread",
       "python3 running harness/python/cpython_to_thread.py", Side::kAsyncio,
       nullptr, "harness/python/cpython_to_thread.py",
       "harness/python/cpython_to_thread.py", Offloadable()},
      {"cpython_threads", "CPython threads",
       "python3 running harness/python/cpython_threads.py (ThreadPoolExecutor)",
       Side::kThreadPool, nullptr, "harness/python/cpython_threads.py",
       "harness/python/cpython_threads.py", All()},
  };
  return *models;
}

absl::StatusOr<const ModelInfo*> FindModel(absl::string_view name) {
  for (const ModelInfo& model : AllModels()) {
    if (model.name == name) return &model;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown model '", name, "'; valid models: ", ValidModelNames()));
}

absl::Status IoUringAvailable() {
  return asyncio_like::EventLoop::Create().status();
}

std::string ValidModelNames() {
  std::vector<absl::string_view> names;
  for (const ModelInfo& model : AllModels()) names.push_back(model.name);
  return absl::StrJoin(names, ", ");
}

}  // namespace harness
