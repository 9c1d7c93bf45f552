#include "gil_model/bytecode_work.h"

#include <chrono>
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

// The calibration targets CPU time; on a loaded machine the wall time can
// only be longer, so the lower bound is the meaningful one.
TEST(BytecodeWorkTest, UnitsTakeAboutTheirCost) {
  const BytecodeWork work(absl::Microseconds(1));
  const auto start = std::chrono::steady_clock::now();
  const uint64_t chain = work.Run(2000, 1);  // about 2 ms
  const double millis = std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - start)
                            .count();
  EXPECT_NE(chain, 1u);
  EXPECT_GT(millis, 1.0);
  EXPECT_LT(millis, 100.0);
}

}  // namespace
}  // namespace gil_model
