#include "asyncio_like/gather.h"

#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// Records "start N" and "end N" around a sleep.
Task<int> Logged(std::vector<std::string>* log, int id, absl::Duration d) {
  log->push_back("start " + std::to_string(id));
  co_await Sleep(d);
  log->push_back("end " + std::to_string(id));
  co_return id;
}


TEST(GatherTest, RunsConcurrentlyAndKeepsArgumentOrder) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete(
      [](std::vector<std::string>* log) -> Task<std::tuple<int, int, std::monostate>> {
        co_return co_await Gather(Logged(log, 1, absl::Milliseconds(20)),
                                  Logged(log, 2, absl::Milliseconds(1)),
                                  [](std::vector<std::string>* log) -> Task<void> {
                                    co_await Logged(log, 3, absl::Milliseconds(10));
                                  }(log));
      }(&log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(std::get<0>(*result), 1);
  EXPECT_EQ(std::get<1>(*result), 2);
  // All three started before any finished, and they finished by deadline.
  EXPECT_EQ(log, (std::vector<std::string>{"start 1", "start 2", "start 3", "end 2",
                                           "end 3", "end 1"}));
}

TEST(GatherTest, RangeFormReturnsResultsInOrder) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete([](std::vector<std::string>* log) -> Task<std::vector<int>> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(Logged(log, i, absl::Milliseconds(5 - i)));
    co_return co_await Gather(std::move(tasks));
  }(&log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(GatherTest, FirstErrorPropagatesAndTheOthersKeepRunning) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete([](std::vector<std::string>* log) -> Task<std::string> {
    Event release;
    auto wait_then_log = [](Event* release, std::vector<std::string>* log) -> Task<void> {
      co_await release->Wait();
      log->push_back("end 1");
    };
    std::string seen;
    try {
      co_await Gather(wait_then_log(&release, log), FailAfter(absl::Milliseconds(1), "first"),
                      FailAfter(absl::Milliseconds(10), "second"));
    } catch (const std::runtime_error& e) {
      seen = e.what();
    }
    seen += log->empty() ? " (1 still running)" : " (1 finished)";
    release.Set();
    co_await Sleep(absl::Milliseconds(20));  // "second" fails unobserved meanwhile.
    seen += " then " + log->back();
    co_return seen;
  }(&log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "first (1 still running) then end 1");
}

TEST(GatherTest, OutcomesCollectEveryResultAndError) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  std::string how;
  auto result = loop->RunUntilComplete(
      [](std::vector<std::string>* log, std::string* how) -> Task<std::string> {
        Task<void> doomed = CreateTask(SleepRecording(how));
        doomed.Cancel();
        auto [a, b, c] = co_await GatherOutcomes(Logged(log, 1, absl::Milliseconds(5)),
                                                 FailAfter(absl::Milliseconds(1), "bad"),
                                                 std::move(doomed));
        std::string out = std::to_string(a.value());
        try {
          b.value();
        } catch (const std::runtime_error& e) {
          out += std::string(" ") + e.what();
        }
        out += c.cancelled() ? " cancelled" : " not cancelled";
        out += a.ok() && !b.ok() && !c.ok() ? " ok" : " wrong";
        co_return out;
      }(&log, &how));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "1 bad cancelled ok");
  // Cancelled before its first step, its body never ran.
  EXPECT_EQ(how, "");
}

TEST(GatherTest, CancellingTheGatherCancelsItsChildren) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string first, second;
  auto result = loop->RunUntilComplete([](std::string* first, std::string* second) -> Task<std::string> {
    Task<std::tuple<std::monostate, std::monostate>> gather =
        CreateTask(Gather(SleepRecording(first), SleepRecording(second)));
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_TRUE(gather.Cancel());
    EXPECT_TRUE(gather.Cancel());  // Twice: still one cancellation each.
    try {
      co_await gather;
    } catch (const CancelledError&) {
      co_return "gather cancelled";
    }
    co_return "gather finished";
  }(&first, &second));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "gather cancelled");
  EXPECT_EQ(first, "cancelled");
  EXPECT_EQ(second, "cancelled");
}

TEST(GatherTest, CancellingTheGatherWhileItIsReadyStillCancelsChildren) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string first, second;
  auto result = loop->RunUntilComplete([](std::string* first, std::string* second) -> Task<std::string> {
    Task<std::tuple<std::monostate, std::monostate>> gather =
        CreateTask(Gather(SleepRecording(first), SleepRecording(second)));
    gather.Cancel();  // Before the gather's first step: it never starts them.
    try {
      co_await gather;
    } catch (const CancelledError&) {
      co_return "gather cancelled";
    }
    co_return "gather finished";
  }(&first, &second));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "gather cancelled");
  EXPECT_EQ(first, "");
  EXPECT_EQ(second, "");
}

TEST(GatherTest, ACancelledChildIsTheGathersError) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string how;
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete(
      [](std::string* how, std::vector<std::string>* log) -> Task<std::string> {
        Task<void> child = CreateTask(SleepRecording(how));
        co_await Sleep(absl::Milliseconds(1));
        child.Cancel();
        std::string out;
        try {
          co_await Gather(std::move(child), Logged(log, 1, absl::Milliseconds(5)));
        } catch (const CancelledError&) {
          out = "gather raised CancelledError";
        }
        co_return out;
      }(&how, &log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "gather raised CancelledError");
  EXPECT_EQ(how, "cancelled");
  // The awaiting task itself was not cancelled: it went on normally.
}

TEST(GatherTest, CancelAfterCompletionHasNoEffect) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete([](std::vector<std::string>* log) -> Task<int> {
    Task<std::tuple<int, int>> gather =
        CreateTask(Gather(Logged(log, 1, absl::ZeroDuration()), Logged(log, 2, absl::ZeroDuration())));
    auto [a, b] = co_await gather;
    EXPECT_FALSE(gather.Cancel());
    EXPECT_FALSE(gather.cancelled());
    co_return a + b;
  }(&log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 3);
}

TEST(GatherTest, GathersTasksThatAlreadyFinished) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::vector<std::string> log;
  auto result = loop->RunUntilComplete([](std::vector<std::string>* log) -> Task<int> {
    Task<int> a = CreateTask(Logged(log, 4, absl::ZeroDuration()));
    Task<int> b = CreateTask(Logged(log, 5, absl::ZeroDuration()));
    co_await Sleep(absl::Milliseconds(1));
    auto [x, y] = co_await Gather(std::move(a), std::move(b));
    co_return x * 10 + y;
  }(&log));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 45);
}

}  // namespace
}  // namespace asyncio_like
