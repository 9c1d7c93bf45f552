// The async call graph (call_graph.h). Tests named test_* port the methods of
// CPython 3.14's Lib/test/test_asyncio/test_graph.py (CONFORMANCE.md); the
// others cover what this package adds: the chain through Gather, WaitFor and
// 50 nested inline awaits, what a task waits on, and the empty graph off the
// loop.
//
// Stack() renders a graph as Python's test helper does: the task's name
// ("T<anon>" for an unnamed one; RunUntilComplete names its task "main"), its call stack innermost first ("s f" for
// the plain function that captured, "a f" for a coroutine frame), then its
// awaiters sorted by name. Function names keep their last component only.
// The library's own coroutines (TaskGroup::Run, Gather, WaitFor) appear in
// the stacks as Python's do (_aexit, __aexit__, wait, _wait).
#include "asyncio_like/call_graph.h"

#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <version>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/future.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/shield.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"
#include "asyncio_like/task_group.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/timeout.h"
#include "asyncio_like/to_thread.h"
#include "asyncio_like/uring.h"
#include "asyncio_like/wait.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// A frame's function as this build names it. With clang 14 there is no
// std::source_location (source_location.h), so names are unqualified and a
// lambda's body is plain "operator()"; everything else is the same.
#if defined(__cpp_lib_source_location)
std::string Named(const std::string& qualified) { return qualified; }
const char kLambda[] = "<lambda()>";
#else
std::string Named(const std::string& qualified) {
  return qualified.substr(qualified.rfind("::") + 2);
}
const char kLambda[] = "operator()";
#endif

std::string LastComponent(absl::string_view name) {
  // "asyncio_like::{anonymous}::C4" -> "C4"; a lambda's "operator()" keeps
  // its owner ("<lambda()>::operator()").
  size_t end = name.size();
  if (absl::EndsWith(name, "::operator()")) end -= std::string("::operator()").size();
  size_t colon = name.rfind("::", end - 1);
  size_t start = colon == absl::string_view::npos ? 0 : colon + 2;
  return std::string(name.substr(start, end - start));
}

std::string Stack(const CallGraph& graph) {
  std::string name = absl::StartsWith(graph.task_name, "Task-")
                         ? "T<anon>"
                         : absl::StrCat("T<", graph.task_name, ">");
  std::vector<std::string> frames;
  for (const CallFrame& frame : graph.call_stack) {
    frames.push_back(absl::StrCat(frame.coroutine ? "a " : "s ", LastComponent(frame.function)));
  }
  std::vector<std::string> awaiters;
  for (const CallGraph& awaiter : graph.awaited_by) awaiters.push_back(Stack(awaiter));
  std::sort(awaiters.begin(), awaiters.end());
  return absl::StrCat("[", name, ", [", absl::StrJoin(frames, ", "), "], [",
                      absl::StrJoin(awaiters, ", "), "]]");
}

// Runs `main` on a fresh loop; fails the test on an error.
#define RUN_MAIN(main)                                              \
  do {                                                              \
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});                 \
    absl::Status status = loop->RunUntilComplete(main);             \
    ASSERT_TRUE(status.ok()) << status;                             \
  } while (0)

// ---- test_stack_tgroup ----

CallGraph tgroup_graph;

void TgC5() { tgroup_graph = CaptureCallGraph(); }
Task<void> TgC4() {
  co_await Sleep(absl::ZeroDuration());
  TgC5();
}
Task<void> TgC3() { co_await TgC4(); }
Task<void> TgC2() { co_await TgC3(); }
Task<void> TgC1(Task<void>& task) { co_await task; }
Task<void> TgMain() {
  TaskGroup group;
  Task<void> task;
  co_await group.Run([&]() -> Task<void> {
    task = group.CreateTask(TgC2(), "c2_root");
    group.CreateTask(TgC1(task), "sub_main_1");
    group.CreateTask(TgC1(task), "sub_main_2");
    co_return;
  });
}

TEST(CallStackTests, test_stack_tgroup) {
  RUN_MAIN(TgMain());
  const std::string group_parent = "[T<main>, [a Exit, a Run, a RunStored, a TgMain], []]";
  EXPECT_EQ(Stack(tgroup_graph),
            absl::StrCat("[T<c2_root>, [s TgC5, a TgC4, a TgC3, a TgC2], [", group_parent,
                         ", [T<sub_main_1>, [a TgC1], [", group_parent,
                         "]], [T<sub_main_2>, [a TgC1], [", group_parent, "]]]]"));
  std::string text = FormatCallGraph(tgroup_graph);
  EXPECT_TRUE(absl::StartsWith(text, "* Task(name='c2_root', id=0x")) << text;
  EXPECT_TRUE(absl::StrContains(
      text, absl::StrCat("in async ", Named("asyncio_like::{anonymous}::TgMain"), "()"))) << text;
  EXPECT_TRUE(absl::StrContains(
      text, absl::StrCat("in ", Named("asyncio_like::{anonymous}::TgC5"), "()"))) << text;
}

// ---- test_stack_gather ----

CallGraph gather_graph;

Task<void> GatherDeep() {
  co_await Sleep(absl::ZeroDuration());
  gather_graph = CaptureCallGraph();
}
Task<void> GatherC1() {
  co_await Sleep(absl::ZeroDuration());
  co_await GatherDeep();
}
Task<void> GatherC2() { co_await Sleep(absl::ZeroDuration()); }
Task<void> GatherMain() { co_await Gather(GatherC1(), GatherC2()); }

TEST(CallStackTests, test_stack_gather) {
  RUN_MAIN(GatherMain());
  EXPECT_EQ(Stack(gather_graph),
            "[T<anon>, [a GatherDeep, a GatherC1], "
            "[[T<main>, [a GatherWait, a Gather, a GatherMain], []]]]");
}

// ---- test_stack_shield ----

CallGraph shield_graph;

Task<void> ShieldDeep() {
  co_await Sleep(absl::ZeroDuration());
  shield_graph = CaptureCallGraph();
}
Task<void> ShieldC1() {
  co_await Sleep(absl::ZeroDuration());
  co_await ShieldDeep();
}
Task<void> ShieldMain() { co_await Shield(ShieldC1()); }

TEST(CallStackTests, test_stack_shield) {
  RUN_MAIN(ShieldMain());
  EXPECT_EQ(Stack(shield_graph),
            "[T<anon>, [a ShieldDeep, a ShieldC1], [[T<main>, [a ShieldOwned, a ShieldMain], []]]]");
}

// ---- test_stack_timeout ----

CallGraph timeout_graph;

Task<void> TimeoutInner() {
  co_await Sleep(absl::ZeroDuration());
  timeout_graph = CaptureCallGraph();
}
Task<void> TimeoutC1() {
  Timeout deadline(absl::Seconds(1));
  co_await deadline.Run([]() -> Task<void> {
    co_await Sleep(absl::ZeroDuration());
    co_await TimeoutInner();
  }());
}
Task<void> TimeoutMain() { co_await Shield(TimeoutC1()); }

TEST(CallStackTests, test_stack_timeout) {
  RUN_MAIN(TimeoutMain());
  EXPECT_EQ(Stack(timeout_graph),
            absl::StrCat("[T<anon>, [a TimeoutInner, a ", kLambda, ", a Run, a TimeoutC1], "
                         "[[T<main>, [a ShieldOwned, a TimeoutMain], []]]]"));
}

// ---- test_stack_wait ----

CallGraph wait_graph;

Task<void> WaitInner() {
  co_await Sleep(absl::ZeroDuration());
  wait_graph = CaptureCallGraph();
}
Task<void> WaitC1() {
  co_await Sleep(absl::ZeroDuration());
  co_await WaitInner();
}
Task<void> WaitC2() {
  for (int i = 0; i < 3; ++i) co_await Sleep(absl::ZeroDuration());
}
Task<void> WaitMain(Task<void>& t1, Task<void>& t2) {
  while (true) {
    WaitResult result = co_await Wait(Waitables(t1, t2));
    if (result.pending.empty()) break;
  }
}
Task<void> WaitTest() {
  Task<void> t1 = CreateTask(WaitC1());
  Task<void> t2 = CreateTask(WaitC2());
  co_await WaitMain(t1, t2);
  co_await t1;
  co_await t2;
}

TEST(CallStackTests, test_stack_wait) {
  RUN_MAIN(WaitTest());
  EXPECT_EQ(Stack(wait_graph),
            "[T<anon>, [a WaitInner, a WaitC1], "
            "[[T<main>, [a Wait, a WaitMain, a WaitTest], []]]]");
}

// ---- test_stack_task ----

CallGraph task_graph;

Task<void> TaskInner() {
  co_await Sleep(absl::ZeroDuration());
  task_graph = CaptureCallGraph();
}
Task<void> TaskC1() { co_await TaskInner(); }
Task<void> TaskC2() { co_await CreateTask(TaskC1(), "there there"); }
Task<void> TaskMain() { co_await TaskC2(); }

TEST(CallStackTests, test_stack_task) {
  RUN_MAIN(TaskMain());
  EXPECT_EQ(Stack(task_graph),
            "[T<there there>, [a TaskInner, a TaskC1], [[T<main>, [a TaskC2, a TaskMain], []]]]");
}

// ---- test_stack_future ----
// A future has no call stack of its own; its graph is that of each task
// awaiting it. Capturing a task awaiting it shows the future as what the
// task waits on, and the tasks that await that task.

Task<void> FutureA2(Future<void> fut) { co_await fut; }
Task<void> FutureA1(Future<void> fut) { co_await FutureA2(fut); }
Task<void> FutureB1(Future<void> fut) { co_await fut; }

CallGraph future_a_graph;
CallGraph future_b_graph;

Task<void> FutureMain() {
  Future<void> fut = CreateFuture<void>();
  TaskGroup group;
  co_await group.Run([&]() -> Task<void> {
    Task<void> a = group.CreateTask(FutureA1(fut), "task A");
    Task<void> b = group.CreateTask(FutureB1(fut), "task B");
    for (int i = 0; i < 5; ++i) co_await Sleep(absl::ZeroDuration());
    future_a_graph = CaptureCallGraph(a);
    future_b_graph = CaptureCallGraph(b);
    fut.SetResult();
  });
}

TEST(CallStackTests, test_stack_future) {
  RUN_MAIN(FutureMain());
  const std::string parent =
      absl::StrCat("[T<main>, [a ", kLambda, ", a Run, a RunStored, a FutureMain], []]");
  EXPECT_EQ(Stack(future_a_graph),
            absl::StrCat("[T<task A>, [a FutureA2, a FutureA1], [", parent, "]]"));
  EXPECT_EQ(Stack(future_b_graph), absl::StrCat("[T<task B>, [a FutureB1], [", parent, "]]"));
  EXPECT_EQ(future_a_graph.waiting_on, "Future");
  EXPECT_TRUE(absl::StartsWith(FormatCallGraph(future_b_graph), "* Task(name='task B', id=0x"));
}

// ---- Beyond CPython's tests ----

CallGraph deep_graph;

Task<int> Nested(int depth) {
  if (depth == 0) {
    co_await Sleep(absl::ZeroDuration());
    deep_graph = CaptureCallGraph();
    co_return 0;
  }
  co_return 1 + co_await Nested(depth - 1);
}
Task<void> NestedMain() { EXPECT_EQ(co_await Nested(50), 50); }

TEST(CallGraphTest, FiftyNestedInlineAwaitsAreFiftyOneFrames) {
  RUN_MAIN(NestedMain());
  ASSERT_EQ(deep_graph.call_stack.size(), 52u);
  EXPECT_EQ(LastComponent(deep_graph.call_stack[51].function), "NestedMain");
  for (size_t i = 0; i < 51; ++i) {
    const CallFrame& frame = deep_graph.call_stack[i];
    EXPECT_EQ(LastComponent(frame.function), "Nested");
    EXPECT_TRUE(frame.coroutine);
    EXPECT_TRUE(absl::EndsWith(frame.file, "call_graph_test.cc")) << frame.file;
  }
  // The innermost frame is at the capture; the others at the recursive await.
  EXPECT_NE(deep_graph.call_stack[0].line, deep_graph.call_stack[1].line);
  EXPECT_EQ(deep_graph.call_stack[1].line, deep_graph.call_stack[50].line);
  EXPECT_TRUE(deep_graph.awaited_by.empty());
}

CallGraph wait_for_graph;

Task<void> WaitForInner() {
  co_await Sleep(absl::ZeroDuration());
  wait_for_graph = CaptureCallGraph();
}
Task<void> WaitForCaller() { co_await WaitFor(WaitForInner(), absl::Seconds(10)); }
Task<void> WaitForMain() { co_await CreateTask(WaitForCaller(), "caller"); }

TEST(CallGraphTest, ChainThroughWaitFor) {
  RUN_MAIN(WaitForMain());
  EXPECT_EQ(Stack(wait_for_graph),
            "[T<caller>, [a WaitForInner, a Run, a WaitFor, a WaitForCaller], "
            "[[T<main>, [a WaitForMain], []]]]");
  // Chain(): every frame from the capture to the outermost caller.
  std::vector<std::string> chain;
  for (const CallFrame& frame : wait_for_graph.Chain()) {
    chain.push_back(LastComponent(frame.function));
  }
  EXPECT_EQ(absl::StrJoin(chain, " "), "WaitForInner Run WaitFor WaitForCaller WaitForMain");
}

Task<void> Sleeper() { co_await Sleep(absl::Hours(1)); }

// ---- Errors carry their chain ----

std::vector<std::string> Names(const std::vector<CallFrame>& frames) {
  std::vector<std::string> names;
  for (const CallFrame& frame : frames) names.push_back(LastComponent(frame.function));
  return names;
}

Task<void> ThrowingInner() {
  co_await Sleep(absl::ZeroDuration());
  throw std::runtime_error("deep failure");
}
Task<void> ThrowingMiddle() { co_await ThrowingInner(); }
Task<void> ThrowingOuter() { co_await ThrowingMiddle(); }
Task<void> CatchingMain(std::vector<std::string>& chain, std::string& text) {
  Task<void> failing = CreateTask(ThrowingOuter(), "failing");
  try {
    co_await failing;
  } catch (const std::runtime_error&) {
  }
  CallGraph graph = ErrorCallGraph(failing);
  chain = Names(graph.Chain());
  text = FormatCallGraph(graph);
}

TEST(CallGraphTest, ExceptionCarriesItsChain) {
  std::vector<std::string> chain;
  std::string text;
  RUN_MAIN(CatchingMain(chain, text));
  EXPECT_EQ(absl::StrJoin(chain, " "), "ThrowingInner ThrowingMiddle ThrowingOuter CatchingMain");
  EXPECT_TRUE(absl::StartsWith(text, "* Task(name='failing'")) << text;
}

Task<void> Abandoning() {
  CreateTask(ThrowingOuter(), "abandoned");
  co_await Sleep(absl::Milliseconds(1));
}

TEST(CallGraphTest, NeverRetrievedReportPrintsTheChain) {
  testing::internal::CaptureStderr();
  {
    RUN_MAIN(Abandoning());
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(absl::StrContains(
      err, "Task exception was never retrieved: <Task name='abandoned'>: deep failure"))
      << err;
  EXPECT_TRUE(absl::StrContains(err, "Raised at:\n* Task(name='abandoned'")) << err;
  EXPECT_TRUE(absl::StrContains(
      err, absl::StrCat("in async ", Named("asyncio_like::{anonymous}::ThrowingInner"), "()")))
      << err;
  EXPECT_TRUE(absl::StrContains(
      err, absl::StrCat("in async ", Named("asyncio_like::{anonymous}::ThrowingOuter"), "()")))
      << err;
}

Task<void> NotAnError() {
  co_await Sleep(absl::ZeroDuration());
  throw CancelledError("stop");
}
Task<void> CancelledMain(bool& empty) {
  Task<void> task = CreateTask(NotAnError());
  try {
    co_await task;
  } catch (const CancelledError&) {
  }
  empty = ErrorCallGraph(task).empty();
}

TEST(CallGraphTest, CancellationIsNotRecorded) {
  bool empty = false;
  RUN_MAIN(CancelledMain(empty));
  EXPECT_TRUE(empty);
}

Task<absl::Status> StatusInner() {
  co_await Sleep(absl::ZeroDuration());
  co_return absl::NotFoundError("no such key");
}
Task<absl::Status> StatusOuter() { co_return co_await StatusInner(); }
bool statuses_equal_inside = false;
Task<absl::StatusOr<int>> StatusOrOuter() {
  absl::Status status = co_await StatusOuter();
  statuses_equal_inside = status == absl::NotFoundError("no such key");
  co_return status;
}

TEST(CallGraphTest, MainsErrorStatusCarriesTheChainWhereItWasReturned) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
  absl::StatusOr<absl::StatusOr<int>> result = loop->RunUntilComplete(StatusOrOuter());
  ASSERT_TRUE(result.ok()) << result.status();
  absl::Status status = result->status();
  EXPECT_TRUE(absl::IsNotFound(status));
  auto graph = status.GetPayload(kCallGraphPayload);
  ASSERT_TRUE(graph.has_value()) << status;
  std::string text(*graph);
  // The innermost return wins: the graph starts at StatusInner. Inside the
  // program the status has no payload: it still equals the plain one.
  EXPECT_TRUE(statuses_equal_inside);
  size_t inner = text.find("StatusInner()");
  size_t outer = text.find("StatusOuter()");
  size_t main = text.find("StatusOrOuter()");
  EXPECT_NE(inner, std::string::npos) << text;
  EXPECT_LT(inner, outer) << text;
  EXPECT_LT(outer, main) << text;
  EXPECT_TRUE(absl::StrContains(status.ToString(), "StatusInner")) << status;
}

// ---- Across threads ----

Task<CallGraph> Offloading() {
  co_return co_await ToThread([] { return CaptureCallGraph(); });
}
Task<void> OffloadingCaller(CallGraph& graph) {
  graph = co_await CreateTask(Offloading(), "offloading");
}

TEST(CallGraphTest, ToThreadWorkCarriesTheChain) {
  CallGraph graph;
  RUN_MAIN(OffloadingCaller(graph));
  ASSERT_FALSE(graph.empty());
  EXPECT_EQ(graph.task_name, "offloading");
  EXPECT_EQ(graph.waiting_on, "work on an executor thread");
  std::vector<std::string> chain = Names(graph.Chain());
  ASSERT_GE(chain.size(), 3u);
  EXPECT_FALSE(graph.call_stack[0].coroutine);  // the worker's own function
  EXPECT_EQ(absl::StrJoin(chain.begin() + 1, chain.end(), " "),
            "RunInExecutor Offloading OffloadingCaller");
}

// ---- The task tree ----

Task<void> WaitsForever(Event& event) { co_await event.Wait(); }
Task<void> Deadlocked() {
  Event never;
  Task<void> stuck = CreateTask(WaitsForever(never), "stuck");
  co_await stuck;
}

TEST(CallGraphTest, DeadlockErrorIncludesTheTaskTree) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
  absl::Status status = loop->RunUntilComplete(Deadlocked());
  ASSERT_TRUE(absl::IsFailedPrecondition(status)) << status;
  std::string message(status.message());
  EXPECT_TRUE(absl::StrContains(message, "deadlock: <Task name='main'>")) << message;
  EXPECT_TRUE(absl::StrContains(message, "Task tree: 2 pending tasks")) << message;
  EXPECT_TRUE(absl::StrContains(message, "* Task(name='stuck'")) << message;
  EXPECT_TRUE(absl::StrContains(message, "+ Waiting on: Event")) << message;
  EXPECT_TRUE(absl::StrContains(message, "+ Waiting on: Task 'stuck'")) << message;
  EXPECT_TRUE(absl::StrContains(message, "+ Awaited by: 'main'")) << message;
  EXPECT_TRUE(absl::StrContains(
      message, absl::StrCat("in async ", Named("asyncio_like::{anonymous}::WaitsForever"), "()")))
      << message;
}

Task<void> ManyTasks(std::string& tree, size_t& pending) {
  std::vector<Task<void>> tasks;
  for (int i = 0; i < 100'000; ++i) tasks.push_back(CreateTask(Sleeper()));
  co_await Sleep(absl::ZeroDuration());
  EventLoop* loop = EventLoop::Current();
  pending = loop->pending_tasks();
  tree = loop->FormatTaskTree(10);
  for (Task<void>& task : tasks) task.Cancel();
}

TEST(CallGraphTest, TaskTreeOfAHundredThousandTasksIsBounded) {
  std::string tree;
  size_t pending = 0;
  RUN_MAIN(ManyTasks(tree, pending));
  EXPECT_EQ(pending, 100'001u);
  EXPECT_TRUE(absl::StartsWith(tree, "Task tree: 100001 pending tasks\n")) << tree;
  EXPECT_TRUE(absl::EndsWith(tree, "... and 99991 more\n")) << tree;
  EXPECT_EQ(std::count(tree.begin(), tree.end(), '*'), 10);
  EXPECT_LT(tree.size(), 10'000u);
}

// The tree is printed to stderr when the loop's signal arrives. Here stderr
// is a pipe that the main task reads through the loop itself.
const bool kTreeSignalBlocked = [] {
  // Blocked in every thread (set before any starts), so the process-directed
  // signal stays pending for the loop's signalfd.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  return pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0;
}();

Task<std::string> ReadTreeFromPipe(int read_fd) {
  Event never;
  Task<void> stuck = CreateTask(WaitsForever(never), "stuck");
  kill(getpid(), SIGUSR1);
  std::string text;
  char buffer[4096];
  while (!absl::StrContains(text, "WaitsForever()")) {
    int n = co_await KernelOp([&](io_uring_sqe* sqe) {
      io_uring_prep_read(sqe, read_fd, buffer, sizeof buffer, 0);
    });
    if (n <= 0) break;
    text.append(buffer, n);
  }
  stuck.Cancel();
  co_return text;
}

TEST(CallGraphTest, SignalPrintsTheTaskTree) {
  ASSERT_TRUE(kTreeSignalBlocked);
  LoopOptions options;
  options.task_tree_signal = SIGUSR1;
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, options);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::fflush(stderr);
  int saved_stderr = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  absl::StatusOr<std::string> text = loop->RunUntilComplete(ReadTreeFromPipe(fds[0]));
  std::fflush(stderr);
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  close(fds[0]);
  close(fds[1]);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(absl::StartsWith(*text, "Task tree: 2 pending tasks\n")) << *text;
  EXPECT_TRUE(absl::StrContains(*text, "* Task(name='stuck'")) << *text;
  EXPECT_TRUE(absl::StrContains(*text, "+ Waiting on: Event")) << *text;
}

TEST(CallGraphTest, TaskTreeSignalMustBeASignal) {
  LoopOptions options;
  options.task_tree_signal = 4096;
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create(options);
  if (absl::IsUnavailable(loop.status())) GTEST_SKIP() << loop.status();
  EXPECT_TRUE(absl::IsInvalidArgument(loop.status())) << loop.status();
}

// What each task waits on, and the graph of a task from outside it.
Task<void> LockWaiter(Lock& lock) {
  co_await lock.Acquire();
  lock.Release();
}
Task<void> Observer(std::vector<std::string>& seen) {
  Lock lock;
  co_await lock.Acquire();
  Task<void> sleeper = CreateTask(Sleeper(), "sleeper");
  Task<void> waiter = CreateTask(LockWaiter(lock), "lock-waiter");
  co_await Sleep(absl::ZeroDuration());
  seen.push_back(CaptureCallGraph(sleeper).waiting_on);
  seen.push_back(CaptureCallGraph(waiter).waiting_on);
  CallGraph self = CaptureCallGraph(CurrentTask());
  seen.push_back(self.waiting_on.empty() ? "running" : self.waiting_on);
  lock.Release();
  sleeper.Cancel();
  co_await waiter;
  seen.push_back(CaptureCallGraph(waiter).empty() ? "empty" : "not empty");
}

TEST(CallGraphTest, WaitingOnDescribesTheAwait) {
  std::vector<std::string> seen;
  RUN_MAIN(Observer(seen));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0], "sleep 1h");
  EXPECT_EQ(seen[1], "Lock");
  EXPECT_EQ(seen[2], "running");
  EXPECT_EQ(seen[3], "empty");  // a finished task has no graph
}

TEST(CallGraphTest, NoLoopNoChainIsEmpty) {
  CallGraph graph = CaptureCallGraph();
  EXPECT_TRUE(graph.empty());
  EXPECT_EQ(FormatCallGraph(graph), "");
  CallGraph from_thread;
  std::thread([&] { from_thread = CaptureCallGraph(); }).join();
  EXPECT_TRUE(from_thread.empty());
  EXPECT_TRUE(CaptureCallGraph(TaskRef()).empty());
}

TEST(CallGraphTest, ShortFunctionName) {
  using internal::ShortFunctionName;
  EXPECT_EQ(ShortFunctionName("void f(f(int)::_Z1fi.Frame*)"), "f");
  EXPECT_EQ(ShortFunctionName("void ns::Q<long int>::g(ns::Q<long int>::g(long int)::_Z.Frame*)"),
            "ns::Q<long int>::g");
  EXPECT_EQ(ShortFunctionName("void ns::<lambda(int)>::operator()(ns::<lambda(int)>::_Z.Frame*)"),
            "ns::<lambda(int)>::operator()");
  EXPECT_EQ(ShortFunctionName("asyncio_like::Task<int> ns::Handle(int)"), "ns::Handle");
  EXPECT_EQ(ShortFunctionName(""), "");
}

}  // namespace
}  // namespace asyncio_like
