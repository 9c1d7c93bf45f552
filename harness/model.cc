#include "harness/model.h"

#include <algorithm>

namespace harness {

bool ModelInfo::Supports(Workload workload) const {
  return std::find(workloads.begin(), workloads.end(), workload) !=
         workloads.end();
}

absl::string_view SideName(Side side) {
  return side == Side::kAsyncio ? "asyncio" : "thread_pool";
}

}  // namespace harness
