// The asyncio example, in C++:
//
//   async def fetch_data():
//       await asyncio.sleep(1)  # simulating I/O
//       return "data ready"
//
//   async def main():
//       results = await asyncio.gather(fetch_data(), fetch_data())
//       print(results)
//
//   asyncio.run(main())  # prints ['data ready', 'data ready']
//
// Both fetches sleep at the same time, so the program takes about 1 s, not 2.
//
//   tools/bazel run //asyncio_like/examples:gather
#include <cstdio>
#include <string>
#include <tuple>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/task.h"

namespace {

using asyncio_like::Gather;
using asyncio_like::Sleep;
using asyncio_like::Task;

Task<std::string> FetchData() {
  co_await Sleep(absl::Seconds(1));  // simulating I/O
  co_return "data ready";
}

Task<void> Main() {
  auto [first, second] = co_await Gather(FetchData(), FetchData());
  std::printf("['%s', '%s']\n", first.c_str(), second.c_str());
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
