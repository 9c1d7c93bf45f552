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

double MeasureStepNanoseconds() {
  constexpr int64_t kSteps = 1 << 20;
  constexpr int kRuns = 7;
  double best = 1e18;
  uint64_t state = 1;
  for (int run = 0; run < kRuns; ++run) {
    const auto start = std::chrono::steady_clock::now();
    state = Steps(kSteps, state);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    best = std::min(
        best,
        std::chrono::duration<double, std::nano>(elapsed).count() / kSteps);
  }
  asm volatile("" : : "r"(state));
  return std::max(best, 0.01);
}

}  // namespace

double BytecodeWork::StepNanoseconds() {
  static const double nanos = MeasureStepNanoseconds();
  return nanos;
}

BytecodeWork::BytecodeWork(absl::Duration unit_cost)
    : steps_per_unit_(std::max<int64_t>(
          1, std::llround(absl::ToDoubleNanoseconds(unit_cost) /
                          StepNanoseconds()))) {}

uint64_t BytecodeWork::Run(int64_t units, uint64_t chain) const {
  for (int64_t unit = 0; unit < units; ++unit) {
    chain = Steps(steps_per_unit_, chain);
  }
  return chain;
}

}  // namespace gil_model
