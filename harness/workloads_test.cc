#include "harness/workloads.h"

#include <algorithm>
#include <string>
#include <vector>

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
  EXPECT_EQ(PlanRuns(Workload::kIoFanout, Sizes::Default()).size(), 4u);
  // --full adds 100,000 waits.
  ASSERT_EQ(PlanRuns(Workload::kIoFanout, Sizes::Full()).size(), 5u);
  EXPECT_EQ(PlanRuns(Workload::kIoFanout, Sizes::Full()).back().params.at("n"), 100000);
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

TEST(WorkloadsTest, HttpFetchPlansThePoolSizedToNAndTheSeedsFiveWorkers) {
  std::vector<std::string> planned;
  for (const harness::Run& run : PlanRuns(Workload::kHttpFetch, Sizes::Default())) {
    planned.push_back(FormatParams(run.params));
  }
  EXPECT_THAT(planned, ::testing::Contains("delay_ms=50 n=5 workers=5"));
  EXPECT_THAT(planned, ::testing::Contains("delay_ms=50 n=100 workers=5"));
  EXPECT_THAT(planned, ::testing::Contains("delay_ms=50 n=1000 workers=1000"));
  EXPECT_THAT(planned, ::testing::Contains("delay_ms=0 n=1000 workers=1000"));
  // Past the default budget: 10,000 fetches, 5 workers at N = 1,000.
  EXPECT_THAT(planned, ::testing::Not(::testing::Contains("delay_ms=50 n=10000 workers=10000")));
  EXPECT_THAT(planned, ::testing::Not(::testing::Contains("delay_ms=50 n=1000 workers=5")));
  std::vector<std::string> full;
  for (const harness::Run& run : PlanRuns(Workload::kHttpFetch, Sizes::Full())) {
    full.push_back(FormatParams(run.params));
  }
  EXPECT_THAT(full, ::testing::Contains("delay_ms=50 n=10000 workers=10000"));
  EXPECT_THAT(full, ::testing::Contains("delay_ms=50 n=1000 workers=5"));
  EXPECT_THAT(full, ::testing::Contains("delay_ms=0 n=10000 workers=10000"));
  Sizes capped = Sizes::Full();
  capped.fetch_max_workers = 2000;
  // The largest N comes last, first at the first delay: its pool is capped.
  const std::vector<harness::Run> runs = PlanRuns(Workload::kHttpFetch, capped);
  ASSERT_GE(runs.size(), 2u);
  EXPECT_EQ(runs[runs.size() - 2].params,
            (Params{{"n", 10000}, {"delay_ms", 50}, {"workers", 2000}}));
}

TEST(WorkloadsTest, HttpFetchRunsEachNAtEveryDelayInTurn) {
  // The set-up cost (delay 0) is measured next to the delayed fetches it is
  // compared with, not after every other N.
  std::vector<std::string> planned;
  for (const harness::Run& run : PlanRuns(Workload::kHttpFetch, Sizes::Default())) {
    planned.push_back(FormatParams(run.params));
  }
  auto at = [&](const std::string& params) {
    return std::find(planned.begin(), planned.end(), params) - planned.begin();
  };
  EXPECT_EQ(at("delay_ms=0 n=1000 workers=1000"),
            at("delay_ms=50 n=1000 workers=1000") + 1);
}

TEST(WorkloadsTest, ManyConnectionsGivesEveryConnectionTwoRoundTrips) {
  std::vector<harness::Run> runs = PlanRuns(Workload::kManyConnections, Sizes::Default());
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs.back().params.at("connections"), 1000);
  EXPECT_EQ(runs.front().params.at("requests"), 4000);
  runs = PlanRuns(Workload::kManyConnections, Sizes::Full());
  ASSERT_EQ(runs.size(), 5u);
  EXPECT_EQ(runs.back().params.at("connections"), 10000);
  EXPECT_EQ(runs.back().params.at("requests"), 20000);
}

TEST(WorkloadsTest, ZeroIsAllowedOnlyForDelayAndLongShare) {
  EXPECT_TRUE(CheckParams(Workload::kHttpFetch,
                          {{"n", 5}, {"delay_ms", 0}, {"workers", 5}}).ok());
  EXPECT_THAT(std::string(CheckParams(Workload::kHttpFetch,
                                      {{"n", 0}, {"delay_ms", 0}, {"workers", 5}})
                              .message()),
              HasSubstr("n=0 must be at least 1"));
  Sizes s = Sizes::Default();
  s.fetch_delay_ms = {-1};
  EXPECT_THAT(std::string(s.Validate().message()),
              HasSubstr("--fetch_delay_ms=-1 is out of range: valid is 0..10000"));
  s = Sizes::Default();
  s.starvation_long_pct = {101};
  EXPECT_THAT(std::string(s.Validate().message()),
              HasSubstr("--starvation_long_pct=101 is out of range"));
}

}  // namespace
}  // namespace harness
