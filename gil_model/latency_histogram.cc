#include "gil_model/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gil_model {
namespace {

absl::Duration ToDuration(uint64_t nanos) {
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  return absl::Nanoseconds(static_cast<int64_t>(std::min(nanos, kMax)));
}

}  // namespace

uint64_t LatencyHistogram::UpperBoundOf(int bucket) {
  if (bucket < kExactBuckets) return static_cast<uint64_t>(bucket);
  const int octave = ((bucket - kExactBuckets) >> kSubBucketBits) + 4;
  const uint64_t sub = (bucket - kExactBuckets) & ((1 << kSubBucketBits) - 1);
  const uint64_t width = uint64_t{1} << (octave - kSubBucketBits);
  return (uint64_t{1} << octave) + (sub + 1) * width - 1;
}

void LatencyHistogram::Add(const LatencyHistogram& other) {
  int64_t added = 0;
  for (int i = 0; i < kBuckets; ++i) {
    const int64_t n = other.buckets_[i].load(std::memory_order_relaxed);
    if (n == 0) continue;
    AddRelaxed(buckets_[i], n);
    added += n;
  }
  AddRelaxed(count_, added);
}

int64_t LatencyHistogram::count() const {
  return count_.load(std::memory_order_relaxed);
}

absl::Duration LatencyHistogram::Percentile(double fraction) const {
  // Sum the buckets themselves rather than trusting count_, so that a
  // concurrent Record cannot make the target unreachable.
  int64_t total = 0;
  for (const auto& bucket : buckets_) {
    total += bucket.load(std::memory_order_relaxed);
  }
  if (total == 0) return absl::ZeroDuration();
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int64_t target = std::max<int64_t>(
      1,
      static_cast<int64_t>(std::ceil(fraction * static_cast<double>(total))));
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (seen >= target) return ToDuration(UpperBoundOf(i));
  }
  return ToDuration(UpperBoundOf(kBuckets - 1));
}

}  // namespace gil_model
