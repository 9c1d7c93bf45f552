#include "harness/workloads.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace harness {
namespace {

using ::testing::HasSubstr;

TEST(WorkloadsTest, NamesRoundTrip) {
  for (Workload w : kAllWorkloads) {
    absl::StatusOr<Workload> parsed = ParseWorkload(WorkloadName(w));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, w);
    EXPECT_FALSE(MetricNames(w).empty());
  }
  EXPECT_THAT(std::string(ParseWorkload("nope").status().message()),
              HasSubstr("valid workloads: io_fanout, tcp_echo"));
}

TEST(WorkloadsTest, PlannedRunsPassTheirOwnParameterCheck) {
  for (const Sizes& sizes : {Sizes::Default(), Sizes::Quick()}) {
    ASSERT_TRUE(sizes.Validate().ok());
    for (Workload w : kAllWorkloads) {
      for (const harness::Run& run : PlanRuns(w, sizes)) {
        EXPECT_TRUE(CheckParams(w, run.params).ok()) << FormatParams(run.params);
      }
    }
  }
  EXPECT_EQ(PlanRuns(Workload::kIoFanout, Sizes::Default()).size(), 5u);
}

TEST(WorkloadsTest, CheckParamsNamesWhatIsWrong) {
  EXPECT_THAT(std::string(CheckParams(Workload::kMixed, {{"probes", 3}}).message()),
              HasSubstr("'slice_ms' is missing"));
  EXPECT_THAT(std::string(CheckParams(Workload::kMixed,
                                      {{"probes", 0}, {"slice_ms", 20}})
                              .message()),
              HasSubstr("probes=0 must be at least 1"));
  EXPECT_THAT(std::string(CheckParams(Workload::kDebugStack,
                                      {{"depth", 3}, {"color", 1}})
                              .message()),
              HasSubstr("no parameter 'color'"));
}

TEST(WorkloadsTest, ParamsTextRoundTrips) {
  Params p = {{"n", 100}, {"wait_ms", 10}};
  EXPECT_EQ(FormatParams(p), "n=100 wait_ms=10");
  absl::StatusOr<Params> back = ParseParams(FormatParams(p));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, p);
  EXPECT_FALSE(ParseParams("n=ten").ok());
  EXPECT_FALSE(ParseParams("=3").ok());
}

TEST(WorkloadsTest, SizesRejectImpossibleValues) {
  Sizes s = Sizes::Quick();
  s.fanout_n = {};
  EXPECT_THAT(std::string(s.Validate().message()), HasSubstr("--fanout_n is empty"));
  s = Sizes::Quick();
  s.block_ms = 0;
  EXPECT_THAT(std::string(s.Validate().message()),
              HasSubstr("--block_ms=0 is out of range: valid is 1..60000"));
  s = Sizes::Quick();
  s.echo_connections = {50};
  s.echo_requests = 10;
  EXPECT_THAT(std::string(s.Validate().message()),
              HasSubstr("every connection needs at least one request"));
}

}  // namespace
}  // namespace harness
