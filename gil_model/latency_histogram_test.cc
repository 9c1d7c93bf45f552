#include "gil_model/latency_histogram.h"

#include <cstdint>
#include <thread>

#include "gtest/gtest.h"

namespace gil_model {
namespace {

// Percentiles are bucket upper bounds: never below the true value, at most
// 12.5% above it.
void ExpectWithinBucket(absl::Duration got, absl::Duration want) {
  EXPECT_GE(got, want);
  EXPECT_LE(got, want * 1.125 + absl::Nanoseconds(1));
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZero) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0);
  EXPECT_EQ(histogram.Percentile(0.5), absl::ZeroDuration());
  EXPECT_EQ(histogram.Percentile(0.99), absl::ZeroDuration());
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (int nanos = 0; nanos < 10; ++nanos) {
    histogram.Record(absl::Nanoseconds(nanos));
  }
  EXPECT_EQ(histogram.count(), 10);
  EXPECT_EQ(histogram.Percentile(0.0), absl::ZeroDuration());
  EXPECT_EQ(histogram.Percentile(0.5), absl::Nanoseconds(4));
  EXPECT_EQ(histogram.Percentile(1.0), absl::Nanoseconds(9));
}

TEST(LatencyHistogramTest, PercentilesOfAUniformSpread) {
  LatencyHistogram histogram;
  // 1, 2, ..., 1000 microseconds.
  for (int micros = 1; micros <= 1000; ++micros) {
    histogram.Record(absl::Microseconds(micros));
  }
  ExpectWithinBucket(histogram.Percentile(0.50), absl::Microseconds(500));
  ExpectWithinBucket(histogram.Percentile(0.99), absl::Microseconds(990));
  ExpectWithinBucket(histogram.Percentile(1.00), absl::Microseconds(1000));
}

TEST(LatencyHistogramTest, NegativeDurationsCountAsZeroAndFractionIsClamped) {
  LatencyHistogram histogram;
  histogram.Record(absl::Nanoseconds(-5));
  histogram.Record(absl::Seconds(3));
  EXPECT_EQ(histogram.Percentile(-1.0), absl::ZeroDuration());
  ExpectWithinBucket(histogram.Percentile(7.0), absl::Seconds(3));
}

TEST(LatencyHistogramTest, HugeDurationsDoNotOverflow) {
  LatencyHistogram histogram;
  histogram.Record(absl::Hours(24 * 365 * 200));
  EXPECT_GT(histogram.Percentile(1.0), absl::Hours(24 * 365 * 100));
}

TEST(LatencyHistogramTest, AddMergesCounts) {
  LatencyHistogram fast;
  LatencyHistogram slow;
  for (int i = 0; i < 90; ++i) fast.Record(absl::Microseconds(10));
  for (int i = 0; i < 10; ++i) slow.Record(absl::Milliseconds(10));
  LatencyHistogram all;
  all.Add(fast);
  all.Add(slow);
  EXPECT_EQ(all.count(), 100);
  ExpectWithinBucket(all.Percentile(0.90), absl::Microseconds(10));
  ExpectWithinBucket(all.Percentile(0.91), absl::Milliseconds(10));
}

TEST(LatencyHistogramTest, ReadersMayRunWhileOneThreadWrites) {
  LatencyHistogram histogram;
  constexpr int kSamples = 20000;
  std::thread writer([&] {
    for (int i = 0; i < kSamples; ++i) {
      histogram.Record(absl::Nanoseconds(100 + i % 1000));
    }
  });
  while (histogram.count() < kSamples) {
    const absl::Duration p99 = histogram.Percentile(0.99);
    if (p99 != absl::ZeroDuration()) {  // zero while empty
      EXPECT_GE(p99, absl::Nanoseconds(100));
      EXPECT_LE(p99, absl::Nanoseconds(1100 * 1.125));
    }
  }
  writer.join();
  EXPECT_EQ(histogram.count(), kSamples);
}

}  // namespace
}  // namespace gil_model
