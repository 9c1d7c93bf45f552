#include "gil_model/bytecode_work.h"

#include <time.h>

#include <cstdint>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace gil_model {
namespace {

TEST(BytecodeWorkTest, StepsScaleWithTheUnitCost) {
  const BytecodeWork small(absl::Nanoseconds(25));
  const BytecodeWork large(absl::Nanoseconds(2500));
  EXPECT_GE(small.steps_per_unit(), 1);
  EXPECT_GT(large.steps_per_unit(), 50 * small.steps_per_unit());
  EXPECT_GT(BytecodeWork::StepNanoseconds(), 0.0);
}

TEST(BytecodeWorkTest, TinyUnitsStillDoOneStep) {
  EXPECT_EQ(BytecodeWork(absl::Nanoseconds(0.001)).steps_per_unit(), 1);
}

TEST(BytecodeWorkTest, TheChainIsDeterministicAndCarriesOver) {
  const BytecodeWork work(absl::Nanoseconds(25));
  EXPECT_EQ(work.Run(0, 42), 42u);
  EXPECT_EQ(work.Run(-3, 42), 42u);
  const uint64_t bulk = work.Run(10, 42);
  uint64_t one_by_one = 42;
  for (int i = 0; i < 10; ++i) one_by_one = work.Run(1, one_by_one);
  EXPECT_EQ(bulk, one_by_one);
  EXPECT_NE(bulk, 42u);
}

// The thread's own CPU time: unlike the wall clock, it does not grow while
// a loaded machine runs other processes, so the bounds hold under any load.
double ThreadCpuMillis() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

// The calibration measures the best of several runs, so a unit costs what
// it should or (if every calibration run was preempted) less; the CPU time
// is the meaningful measure of what was done.
TEST(BytecodeWorkTest, UnitsTakeAboutTheirCost) {
  const BytecodeWork work(absl::Microseconds(1));
  const double start = ThreadCpuMillis();
  const uint64_t chain = work.Run(2000, 1);  // about 2 ms
  const double millis = ThreadCpuMillis() - start;
  EXPECT_NE(chain, 1u);
  EXPECT_GT(millis, 1.0);
  EXPECT_LT(millis, 100.0);
}

}  // namespace
}  // namespace gil_model
