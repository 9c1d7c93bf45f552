#include "gil_model/bytecode_work.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace gil_model {
namespace {

// A dependent chain of 64-bit multiply-adds (a linear congruential step).
// The empty asm statement tells the compiler the value may have changed, so
// it can neither vectorise nor collapse the loop.
uint64_t Steps(int64_t steps, uint64_t state) {
  for (int64_t i = 0; i < steps; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    asm volatile("" : "+r"(state));
  }
  return state;
}

absl::Duration MeasureStepCost() {
  constexpr int64_t kSteps = 1 << 20;
  constexpr int kRuns = 7;
  double best_nanos = 1e18;
  uint64_t state = 1;
  for (int run = 0; run < kRuns; ++run) {
    const auto start = std::chrono::steady_clock::now();
    state = Steps(kSteps, state);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    best_nanos = std::min(
        best_nanos,
        std::chrono::duration<double, std::nano>(elapsed).count() / kSteps);
  }
  asm volatile("" : : "r"(state));
  return absl::Nanoseconds(std::max(best_nanos, 0.01));
}

}  // namespace

absl::Duration BytecodeWork::StepCost() {
  static const absl::Duration cost = MeasureStepCost();
  return cost;
}

BytecodeWork::BytecodeWork(absl::Duration unit_cost)
    : steps_per_unit_(std::max<int64_t>(
          1, std::llround(absl::FDivDuration(unit_cost, StepCost())))) {}

void BytecodeWork::Run(int64_t units) const {
  uint64_t state = 0x9E3779B97F4A7C15ULL;
  for (int64_t unit = 0; unit < units; ++unit) {
    state = Steps(steps_per_unit_, state);
  }
  asm volatile("" : : "r"(state));
}

}  // namespace gil_model
