// asyncio.TaskGroup, in C++:
//
//   async def fetch(name, delay, fail=False):
//       await asyncio.sleep(delay)
//       if fail:
//           raise ConnectionError(f"{name}: connection reset")
//       return f"{name}: ok"
//
//   async def main():
//       try:
//           async with asyncio.TaskGroup() as tg:
//               tg.create_task(fetch("a", 0.1))
//               tg.create_task(fetch("b", 0.2, fail=True))
//               tg.create_task(fetch("c", 5))      # cancelled when b fails
//               await asyncio.sleep(10)            # so is the body
//       except* ConnectionError as eg:
//           print(eg.exceptions)
//
//   asyncio.run(main())
//
// The group fails after about 0.2 s, not 5 or 10: b's failure cancels c and
// the body, and the group waits for them before it reports.
//
//   tools/bazel run //asyncio_like/examples:task_group
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/task_group.h"

namespace {

using asyncio_like::CancelledError;
using asyncio_like::Sleep;
using asyncio_like::Task;
using asyncio_like::TaskGroup;
using asyncio_like::TaskGroupError;

struct ConnectionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Task<std::string> Fetch(std::string name, absl::Duration delay, bool fail = false) {
  try {
    co_await Sleep(delay);
  } catch (const CancelledError&) {
    std::printf("%s: cancelled\n", name.c_str());
    throw;
  }
  if (fail) throw ConnectionError(name + ": connection reset");
  co_return name + ": ok";
}

Task<void> Main() {
  std::vector<Task<std::string>> fetches;
  try {
    TaskGroup tg;
    co_await tg.Run([&]() -> Task<void> {
      fetches.push_back(tg.CreateTask(Fetch("a", absl::Milliseconds(100))));
      fetches.push_back(tg.CreateTask(Fetch("b", absl::Milliseconds(200), true)));
      fetches.push_back(tg.CreateTask(Fetch("c", absl::Seconds(5))));
      co_await Sleep(absl::Seconds(10));
    });
  } catch (const TaskGroupError& error) {
    if (!error.Contains<ConnectionError>()) throw;
    std::printf("%s\n", error.what());
  }
  // Every child has finished: each has a result or an error to read.
  std::printf("a: %s\n", fetches[0].Result().c_str());
  std::printf("c cancelled: %s\n", fetches[2].cancelled() ? "yes" : "no");
}

}  // namespace

int main() {
  absl::Time start = absl::Now();
  absl::Status status = asyncio_like::Run(Main());
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "finished in %.2f s\n", absl::ToDoubleSeconds(absl::Now() - start));
  return 0;
}
