#include "asyncio_like/task_group.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/task.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

Task<int> After(absl::Duration d, int v) {
  co_await Sleep(d);
  co_return v;
}


std::vector<std::string> Messages(const TaskGroupError& error) {
  std::vector<std::string> messages;
  for (const std::exception_ptr& e : error.errors()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      messages.push_back(x.what());
    }
  }
  return messages;
}

TEST(TaskGroupTest, WaitsForEveryTask) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<int> {
    TaskGroup group;
    Task<int> a = group.CreateTask(After(absl::Milliseconds(5), 1));
    Task<int> b = group.CreateTask(After(absl::Milliseconds(1), 2), "b");
    group.CreateTask(After(absl::Milliseconds(3), 3));  // Handle dropped.
    co_await group.Wait();
    EXPECT_TRUE(a.done());
    EXPECT_TRUE(b.done());
    EXPECT_EQ(b.name(), "b");
    co_return co_await a + co_await b;
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 3);
}

TEST(TaskGroupTest, FirstFailureCancelsTheOthersAndEveryErrorIsReported) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string how;
  auto result = loop->RunUntilComplete([](std::string* how) -> Task<std::vector<std::string>> {
    TaskGroup group;
    group.CreateTask(SleepRecording(how));
    group.CreateTask(FailAfter(absl::Milliseconds(1), "one"));
    // Fails while being cancelled: reported too.
    group.CreateTask([]() -> Task<void> {
      bool cancelled = false;
      try {
        co_await Sleep(absl::Hours(1));
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) throw std::runtime_error("two failed while cancelled");
    }());
    group.CreateTask([]() -> Task<absl::Status> {
      // Cancelled by the first failure: not an error of its own.
      co_await Sleep(absl::Hours(1));
      co_return absl::OkStatus();
    }());
    try {
      co_await group.Wait();
    } catch (const TaskGroupError& error) {
      co_return Messages(error);
    }
    co_return std::vector<std::string>{};
  }(&how));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, (std::vector<std::string>{"one", "two failed while cancelled"}));
  EXPECT_EQ(how, "cancelled");
}

TEST(TaskGroupTest, ErrorStatusResultsAreFailures) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string how;
  auto result = loop->RunUntilComplete([](std::string* how) -> Task<std::string> {
    TaskGroup group;
    group.CreateTask(SleepRecording(how));
    group.CreateTask([]() -> Task<absl::StatusOr<int>> {
      co_await Sleep(absl::Milliseconds(1));
      co_return absl::DataLossError("corrupt");
    }());
    try {
      co_await group.Wait();
    } catch (const TaskGroupError& error) {
      try {
        std::rethrow_exception(error.errors().at(0));
      } catch (const StatusError& e) {
        co_return std::string(e.status().message());
      }
    }
    co_return "no error";
  }(&how));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "corrupt");
  EXPECT_EQ(how, "cancelled");
}

TEST(TaskGroupTest, CancellingTheWaiterCancelsTheGroup) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string first, second;
  auto result = loop->RunUntilComplete([](std::string* first, std::string* second) -> Task<std::string> {
    Task<void> parent = CreateTask([](std::string* first, std::string* second) -> Task<void> {
      TaskGroup group;
      group.CreateTask(SleepRecording(first));
      group.CreateTask(SleepRecording(second));
      co_await group.Wait();
    }(first, second));
    co_await Sleep(absl::Milliseconds(1));
    parent.Cancel();
    try {
      co_await parent;
    } catch (const CancelledError&) {
      co_return "cancelled";
    }
    co_return "finished";
  }(&first, &second));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "cancelled");
  EXPECT_EQ(first, "cancelled");
  EXPECT_EQ(second, "cancelled");
}

TEST(TaskGroupTest, CancelledChildIsNotAFailure) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string how;
  auto result = loop->RunUntilComplete([](std::string* how) -> Task<int> {
    TaskGroup group;
    Task<void> child = group.CreateTask(SleepRecording(how));
    Task<int> other = group.CreateTask(After(absl::Milliseconds(2), 4));
    co_await Sleep(absl::Milliseconds(1));
    child.Cancel();
    co_await group.Wait();
    co_return co_await other;
  }(&how));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 4);
  EXPECT_EQ(how, "cancelled");
}

TEST(TaskGroupTest, CreateTaskAfterWaitThrows) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto result = loop->RunUntilComplete([]() -> Task<std::string> {
    TaskGroup group;
    group.CreateTask(After(absl::ZeroDuration(), 1));
    co_await group.Wait();
    try {
      group.CreateTask(After(absl::ZeroDuration(), 2));
    } catch (const std::logic_error& e) {
      co_return e.what();
    }
    co_return "accepted";
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "TaskGroup has finished");
}

TEST(TaskGroupTest, GroupDestroyedWithoutWaitCancelsItsTasks) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  std::string how;
  auto result = loop->RunUntilComplete([](std::string* how) -> Task<std::string> {
    std::string error;
    try {
      TaskGroup group;
      group.CreateTask(SleepRecording(how));
      co_await Sleep(absl::Milliseconds(1));
      throw std::runtime_error("body failed");
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    co_await Sleep(absl::Milliseconds(1));  // Let the cancelled task finish.
    co_return error;
  }(&how));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "body failed");
  EXPECT_EQ(how, "cancelled");
}

}  // namespace
}  // namespace asyncio_like
