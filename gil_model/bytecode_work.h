// BytecodeWork: the CPU cost of one emulated bytecode unit.
//
// The model's interpreter threads execute "bytecode" as a count of units, with
// an eval-breaker check between units. One unit stands for what CPython does
// between two eval-breaker checks in a tight loop. CPython 3.11 checks the
// breaker on every backward jump and call, so in the countdown loop
// `while n > 0: n -= 1` one unit is one loop iteration: nine bytecodes that
// take about 25 ns on the machine this package was measured on (python3 3.11,
// AMD EPYC, 2.6 GHz; run `python3 gil_model/python/countdown.py` to see the
// figure on yours). The default unit cost is therefore 25 ns.
//
// A unit is real work, not a sleep or a clock-based spin: a chain of dependent
// multiply-adds that the compiler cannot fold. Work that is preempted is not
// done, so two threads thrashing over one core take longer, exactly as two
// CPython threads would. The number of multiply-adds per unit is calibrated
// once per process against the steady clock (best of several short runs, so
// a loaded machine does not inflate the unit).
//
// The chain's value is passed from one call to the next: consecutive calls
// then depend on each other, so the CPU cannot overlap them and a unit costs
// what the calibration measured, whether units run one by one or in bulk.
//
//   BytecodeWork work(absl::Nanoseconds(25));
//   uint64_t chain = 0;
//   chain = work.Run(1000, chain);  // about 25 us of CPU work

#ifndef GIL_MODEL_BYTECODE_WORK_H_
#define GIL_MODEL_BYTECODE_WORK_H_

#include <cstdint>

#include "absl/time/time.h"

namespace gil_model {

class BytecodeWork {
 public:
  // A unit that costs about `unit_cost` of CPU time (at least one step).
  explicit BytecodeWork(absl::Duration unit_cost);

  // Executes `units` units (none if units <= 0), continuing the chain from
  // `chain`; returns the chain's new value for the next call.
  uint64_t Run(int64_t units, uint64_t chain) const;

  // Multiply-add steps per unit.
  int64_t steps_per_unit() const { return steps_per_unit_; }

  // This machine's measured cost of one multiply-add step, in nanoseconds.
  static double StepNanoseconds();

 private:
  int64_t steps_per_unit_;
};

}  // namespace gil_model

#endif  // GIL_MODEL_BYTECODE_WORK_H_
