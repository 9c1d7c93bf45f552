#include "asyncio_like/to_thread.h"

#include <algorithm>
#include <thread>

namespace asyncio_like {

Executor& DefaultExecutor() {
  // Never destroyed: its threads may still run functions whose loops are
  // gone when the process exits.
  static Executor* const executor = new ThreadExecutor(
      std::min(32, static_cast<int>(std::thread::hardware_concurrency()) + 4));
  return *executor;
}

}  // namespace asyncio_like
