// asyncio tasks that await thread pool work, the C++ form of:
//
//   def checksum(n):                      # blocking, CPU-bound
//       return sum(i * i for i in range(n)) % 1_000_003
//
//   async def job(loop, pool, name, n):
//       value = await loop.run_in_executor(pool, checksum, n)
//       print(f"{name}: {value}")
//
//   async def main():
//       loop = asyncio.get_running_loop()
//       with ThreadPoolExecutor(max_workers=2) as pool:
//           fut = pool.submit(checksum, 10)            # a concurrent future...
//           print("wrapped:", await asyncio.wrap_future(fut))   # ...awaited
//           await asyncio.gather(*(job(loop, pool, f"job{i}", 2_000_000 * (i + 1))
//                                  for i in range(3)))
//
//   asyncio.run(main())
//
//   tools/bazel run //futures_bridge:example
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "futures_bridge/wrap_future.h"
#include "threadpool/thread_pool.h"

namespace {

using asyncio_like::CreateTask;
using asyncio_like::Task;
using futures_bridge::RunInExecutor;
using futures_bridge::WrapFuture;
using threadpool::ThreadPoolExecutor;

int64_t Checksum(int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; ++i) sum = (sum + i * i) % 1'000'003;
  return sum;
}

Task<void> Job(ThreadPoolExecutor& pool, std::string name, int64_t n) {
  auto work = [n] { return Checksum(n); };
  const int64_t value = co_await RunInExecutor(pool, work);
  std::printf("%s: %lld\n", name.c_str(), static_cast<long long>(value));
}

Task<void> Main(ThreadPoolExecutor& pool) {
  const int64_t wrapped = co_await WrapFuture(pool.Submit(Checksum, 10));
  std::printf("wrapped: %lld\n", static_cast<long long>(wrapped));
  std::vector<Task<void>> jobs;
  for (int i = 0; i < 3; ++i) {
    jobs.push_back(CreateTask(
        Job(pool, "job" + std::to_string(i), 2'000'000 * (i + 1))));
  }
  for (Task<void>& job : jobs) co_await job;
}

}  // namespace

int main() {
  absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> pool =
      ThreadPoolExecutor::Create({.max_workers = 2});
  if (!pool.ok()) {
    std::fprintf(stderr, "%s\n", pool.status().ToString().c_str());
    return 1;
  }
  absl::Status status = asyncio_like::Run(Main(**pool));
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
