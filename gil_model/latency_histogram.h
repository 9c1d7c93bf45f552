// LatencyHistogram: a fixed-size, log-linear histogram of durations.
//
// The GIL model records how long each thread waits for the GIL and how long a
// hand-off takes after a drop request. Keeping every sample would grow without
// bound in a long run, so durations are counted in buckets instead: exact
// nanoseconds below 16 ns, then 8 buckets per power of two. A percentile is
// therefore accurate to within 1/8 of its value (12.5%), which is plenty for
// latencies that span nanoseconds to seconds.
//
// One thread writes (Record, Add), any thread may read at the same time
// (count, Percentile): buckets are relaxed atomics, so a reader sees a recent,
// possibly slightly torn snapshot, never a data race.
//
//   LatencyHistogram waits;
//   waits.Record(absl::Microseconds(40));
//   absl::Duration p99 = waits.Percentile(0.99);

#ifndef GIL_MODEL_LATENCY_HISTOGRAM_H_
#define GIL_MODEL_LATENCY_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

#include "absl/time/time.h"

namespace gil_model {

class LatencyHistogram {
 public:
  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  // Counts one sample. Negative durations count as zero. Single writer.
  void Record(absl::Duration duration) {
    RecordNanoseconds(absl::ToInt64Nanoseconds(duration));
  }
  void RecordNanoseconds(int64_t nanos) {
    AddRelaxed(buckets_[BucketOf(nanos > 0 ? static_cast<uint64_t>(nanos) : 0)],
               1);
    AddRelaxed(count_, 1);
  }

  // Adds all of `other`'s samples to this histogram. Single writer of `this`.
  void Add(const LatencyHistogram& other);

  // Number of samples recorded.
  int64_t count() const;

  // The smallest duration d such that at least `fraction` of the samples are
  // <= d (to bucket precision). `fraction` is clamped to [0, 1]. Zero when the
  // histogram is empty.
  absl::Duration Percentile(double fraction) const;

 private:
  static constexpr int kExactBuckets = 16;  // 0..15 ns, one bucket each
  static constexpr int kSubBucketBits = 3;  // 8 buckets per power of two
  static constexpr int kOctaves = 64 - 4;   // 2^4 ns .. 2^63 ns
  static constexpr int kBuckets = kExactBuckets + (kOctaves << kSubBucketBits);

  static int BucketOf(uint64_t nanos) {
    if (nanos < kExactBuckets) return static_cast<int>(nanos);
    const int octave = std::bit_width(nanos) - 1;  // >= 4
    const int sub = static_cast<int>((nanos >> (octave - kSubBucketBits)) &
                                     ((1 << kSubBucketBits) - 1));
    return kExactBuckets + ((octave - 4) << kSubBucketBits) + sub;
  }
  // Single-writer increment: a relaxed load and store is enough (no other
  // thread writes) and is cheaper than a read-modify-write.
  static void AddRelaxed(std::atomic<int64_t>& counter, int64_t delta) {
    counter.store(counter.load(std::memory_order_relaxed) + delta,
                  std::memory_order_relaxed);
  }
  // The largest value that falls into `bucket`.
  static uint64_t UpperBoundOf(int bucket);

  std::array<std::atomic<int64_t>, kBuckets> buckets_{};
  std::atomic<int64_t> count_{0};
};

}  // namespace gil_model

#endif  // GIL_MODEL_LATENCY_HISTOGRAM_H_
