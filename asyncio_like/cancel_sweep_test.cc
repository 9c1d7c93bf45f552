// Cancellation at every suspension point. Each scenario runs a "victim"
// task beside the tasks it interacts with. The sweep runs the scenario once
// to count the loop passes K during which the victim is suspended, then
// runs it K more times on fresh loops, cancelling the victim at the k-th
// pass, so that the cancellation lands at each of its suspension points in
// turn (inside Acquire, between Acquire and Release, in Put, in connect,
// ...). Each run checks: the victim ends with CancelledError; what it held
// is released (lock, permits, queue items neither lost nor duplicated,
// sockets); the other tasks finish normally; no task is left pending; the
// process has as many descriptors as before.
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asyncio_like/echo_server.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/fault_workload.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/queue.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task_group.h"
#include "asyncio_like/tcp.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/timeout.h"
#include "asyncio_like/to_thread.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// One pass of the loop.
Sleep Pass() { return Sleep(absl::ZeroDuration()); }

Task<void> Passes(int n) {
  for (int i = 0; i < n; ++i) co_await Pass();
}

// Watches `victim` one loop pass at a time and cancels it at the
// `cancel_at`-th pass it is still pending (0: never). Returns how many
// passes it was pending, and how it ended ("returned", "cancelled", or the
// exception's text).
Task<std::string> Watch(Task<void>& victim, int cancel_at, int* passes) {
  *passes = 0;
  while (!victim.done()) {
    co_await Pass();
    if (victim.done()) break;
    ++*passes;
    if (*passes == cancel_at) victim.Cancel();
  }
  try {
    co_await victim;
    co_return "returned";
  } catch (const CancelledError&) {
    co_return "cancelled";
  } catch (const std::exception& e) {
    co_return e.what();
  }
}

// A scenario: runs its victim under Watch, checks the invariants, and
// returns the victim's ending followed by any broken invariant.
using Scenario = Task<std::string> (*)(int cancel_at, int* passes);

// Runs `scenario` on a fresh loop; fails the test if a task is left
// pending or a descriptor leaks.
std::string RunOnFreshLoop(Scenario scenario, int cancel_at, int* passes) {
  const int fds_before = CountOpenFds();
  std::string ending;
  {
    auto created = EventLoop::Create();
    if (!created.ok()) return "no loop: " + created.status().ToString();
    std::unique_ptr<EventLoop> loop = *std::move(created);
    absl::StatusOr<std::string> result = RunTest(loop.get(), scenario(cancel_at, passes));
    ending = result.ok() ? *result : result.status().ToString();
    EXPECT_TRUE(loop->CancelAllAndDrain().ok());
    EXPECT_EQ(loop->pending_tasks(), 0u) << "cancelled at pass " << cancel_at;
  }
  EXPECT_EQ(CountOpenFds(), fds_before) << "descriptors leaked, cancelled at pass " << cancel_at;
  return ending;
}

// The sweep: K passes uncancelled (the fewer of two runs, the second with
// thread pools and caches warm), then a cancellation at each. A victim whose
// I/O or thread finished sooner than in the counting run may be done
// before the k-th pass; that run is not counted as swept.
void CancelAtEverySuspensionPoint(Scenario scenario) {
  {
    ASYNCIO_LIKE_LOOP_OR_SKIP(probe, LoopOptions{});
  }
  Watchdog watchdog(absl::Seconds(120), "the cancellation sweep");
  int points = 0;
  int again = 0;
  ASSERT_EQ(RunOnFreshLoop(scenario, 0, &points), "returned");
  ASSERT_EQ(RunOnFreshLoop(scenario, 0, &again), "returned");
  points = std::min(points, again);
  ASSERT_GT(points, 0) << "the victim never suspended";
  int swept = 0;
  for (int k = 1; k <= points; ++k) {
    int passes = 0;
    const std::string ending = RunOnFreshLoop(scenario, k, &passes);
    if (ending == "returned" && passes < k) continue;
    EXPECT_EQ(ending, "cancelled") << "cancelled at pass " << k << " of " << points;
    ++swept;
  }
  // Where the victim waits for a thread, how many passes that takes varies
  // with the machine's load; elsewhere every cancellation lands.
  EXPECT_GT(swept, 0) << "no cancellation landed";
  std::printf("%d of %d suspension points swept\n", swept, points);
}

// ----- Lock, Semaphore, Event, Condition, Barrier -----

Task<void> HoldLock(Lock* lock, int passes) {
  co_await lock->Acquire();
  co_await Passes(passes);
  lock->Release();
}

Task<void> UseLock(Lock* lock, int* inside) {
  co_await lock->Acquire();
  ++*inside;
  try {
    co_await Passes(2);
  } catch (...) {
    --*inside;
    lock->Release();
    throw;
  }
  --*inside;
  lock->Release();
}

Task<std::string> LockScenario(int cancel_at, int* passes) {
  Lock lock;
  int inside = 0;
  Task<void> holder = CreateTask(HoldLock(&lock, 3));
  Task<void> victim = CreateTask(UseLock(&lock, &inside));
  Task<void> after = CreateTask(HoldLock(&lock, 1));  // queued behind the victim
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_await holder;
  co_await after;  // the lock reaches the task behind the victim
  if (lock.locked() || lock.waiters() != 0 || inside != 0) ending += "; lock not released";
  co_return ending;
}

TEST(CancelSweepTest, Lock) { CancelAtEverySuspensionPoint(LockScenario); }

Task<void> HoldPermit(Semaphore* semaphore, int passes) {
  co_await semaphore->Acquire();
  try {
    co_await Passes(passes);
  } catch (...) {
    semaphore->Release();
    throw;
  }
  semaphore->Release();
}

Task<std::string> SemaphoreScenario(int cancel_at, int* passes) {
  Semaphore semaphore(2);
  Task<void> a = CreateTask(HoldPermit(&semaphore, 2));
  Task<void> b = CreateTask(HoldPermit(&semaphore, 4));
  Task<void> victim = CreateTask(HoldPermit(&semaphore, 2));
  Task<void> after = CreateTask(HoldPermit(&semaphore, 1));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_await a;
  co_await b;
  co_await after;
  if (semaphore.value() != 2 || semaphore.waiters() != 0) {
    ending += absl::StrCat("; semaphore at ", semaphore.value(), " of 2");
  }
  co_return ending;
}

TEST(CancelSweepTest, Semaphore) { CancelAtEverySuspensionPoint(SemaphoreScenario); }

Task<void> SetAfter(Event* event, int passes) {
  co_await Passes(passes);
  event->Set();
}

Task<void> WaitEvent(Event* event, bool* woke) {
  co_await event->Wait();
  *woke = true;
  co_await Pass();
}

Task<std::string> EventScenario(int cancel_at, int* passes) {
  Event event;
  bool victim_woke = false;
  bool other_woke = false;
  Task<void> setter = CreateTask(SetAfter(&event, 3));
  Task<void> victim = CreateTask(WaitEvent(&event, &victim_woke));
  Task<void> other = CreateTask(WaitEvent(&event, &other_woke));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_await setter;
  co_await other;
  if (!other_woke || event.waiters() != 0) ending += "; the other waiter was disturbed";
  co_return ending;
}

TEST(CancelSweepTest, Event) { CancelAtEverySuspensionPoint(EventScenario); }

Task<void> NotifyAfter(Condition* condition, int passes) {
  co_await Passes(passes);
  co_await condition->Acquire();
  condition->NotifyAll();
  condition->Release();
}

Task<void> WaitCondition(Condition* condition) {
  co_await condition->Acquire();
  try {
    co_await condition->Wait();  // re-acquires the lock, even when cancelled
    co_await Pass();
  } catch (...) {
    condition->Release();
    throw;
  }
  condition->Release();
}

Task<std::string> ConditionScenario(int cancel_at, int* passes) {
  Condition condition;
  Task<void> notifier = CreateTask(NotifyAfter(&condition, 3));
  Task<void> victim = CreateTask(WaitCondition(&condition));
  Task<void> other = CreateTask(WaitCondition(&condition));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_await notifier;
  co_await other;
  if (condition.locked() || condition.waiters() != 0) ending += "; condition lock not released";
  co_return ending;
}

TEST(CancelSweepTest, Condition) { CancelAtEverySuspensionPoint(ConditionScenario); }

Task<void> BarrierParty(Barrier* barrier, int passes_before) {
  co_await Passes(passes_before);
  (void)co_await barrier->Wait();
}

// A party arriving late, then a replacement for the victim if the victim
// was cancelled before the barrier filled.
Task<std::string> BarrierScenario(int cancel_at, int* passes) {
  Barrier barrier(2);
  Task<void> other = CreateTask(BarrierParty(&barrier, 3));
  Task<void> victim = CreateTask(BarrierParty(&barrier, 0));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  if (!other.done()) {
    Task<void> replacement = CreateTask(BarrierParty(&barrier, 0));
    co_await replacement;
  }
  try {
    co_await other;
  } catch (const std::exception& e) {
    ending += absl::StrCat("; the other party failed: ", e.what());
  }
  if (barrier.n_waiting() != 0 || barrier.broken()) ending += "; barrier left waiting or broken";
  co_return ending;
}

TEST(CancelSweepTest, Barrier) { CancelAtEverySuspensionPoint(BarrierScenario); }

// ----- Queue -----

Task<void> Produce(Queue<int>* queue, int first, int count, int* put) {
  for (int i = first; i < first + count; ++i) {
    co_await queue->Put(i);
    ++*put;
  }
}

Task<void> Consume(Queue<int>* queue, int count, std::vector<int>* got) {
  for (int i = 0; i < count; ++i) {
    got->push_back(co_await queue->Get());
    queue->TaskDone();
    co_await Pass();
  }
}

// Every item put was taken once, or is still in the queue.
std::string CheckItems(Queue<int>* queue, const std::vector<int>& got, int put) {
  std::vector<int> all = got;
  while (!queue->empty()) all.push_back(*queue->GetNowait());
  std::set<int> unique(all.begin(), all.end());
  if (unique.size() != all.size()) return "; an item was duplicated";
  if (static_cast<int>(all.size()) != put) {
    return absl::StrCat("; ", put, " items put, ", all.size(), " found");
  }
  return "";
}

// Takes items (one a pass) until the producer is done and the queue empty.
Task<void> ConsumeUntil(Queue<int>* queue, const bool* producer_done, std::vector<int>* got) {
  while (!*producer_done || !queue->empty()) {
    if (!queue->empty()) got->push_back(co_await queue->Get());
    co_await Passes(2);
  }
}

Task<std::string> QueuePutScenario(int cancel_at, int* passes) {
  Queue<int> queue(1);
  int put = 0;
  bool producer_done = false;
  std::vector<int> got;
  Task<void> victim = CreateTask(Produce(&queue, 0, 5, &put));
  Task<void> consumer = CreateTask(ConsumeUntil(&queue, &producer_done, &got));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  producer_done = true;
  co_await consumer;
  co_return ending + CheckItems(&queue, got, put);
}

TEST(CancelSweepTest, QueuePut) { CancelAtEverySuspensionPoint(QueuePutScenario); }

Task<std::string> QueueGetScenario(int cancel_at, int* passes) {
  Queue<int> queue;
  int put = 0;
  std::vector<int> victim_got;
  std::vector<int> other_got;
  Task<void> victim = CreateTask(Consume(&queue, 3, &victim_got));
  Task<void> producer = CreateTask([](Queue<int>* q, int* put) -> Task<void> {
    for (int i = 0; i < 6; ++i) {
      co_await Pass();
      co_await q->Put(i);
      ++*put;
    }
  }(&queue, &put));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_await producer;
  // Another consumer gets what the victim left.
  while (!queue.empty()) other_got.push_back(*queue.GetNowait());
  std::vector<int> all = victim_got;
  all.insert(all.end(), other_got.begin(), other_got.end());
  std::set<int> unique(all.begin(), all.end());
  if (unique.size() != all.size() || static_cast<int>(all.size()) != put) {
    ending += absl::StrCat("; ", put, " put, ", all.size(), " taken, ", unique.size(), " unique");
  }
  co_return ending;
}

TEST(CancelSweepTest, QueueGet) { CancelAtEverySuspensionPoint(QueueGetScenario); }

Task<void> JoinQueue(Queue<int>* queue) { co_await queue->Join(); }

Task<std::string> QueueJoinScenario(int cancel_at, int* passes) {
  Queue<int> queue;
  for (int i = 0; i < 4; ++i) (void)queue.PutNowait(i);
  std::vector<int> got;
  Task<void> worker = CreateTask(Consume(&queue, 4, &got));
  Task<void> victim = CreateTask(JoinQueue(&queue));
  Task<void> other = CreateTask(JoinQueue(&queue));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_await worker;
  co_await other;  // still woken when the work is done
  if (queue.unfinished_tasks() != 0 || got.size() != 4) ending += "; join disturbed the work";
  co_return ending;
}

TEST(CancelSweepTest, QueueJoin) { CancelAtEverySuspensionPoint(QueueJoinScenario); }

// ----- Gather, WaitFor, Timeout, TaskGroup -----

// A child's state: not started, running, returned or cancelled.
enum class ChildState { kNotStarted, kRunning, kReturned, kCancelled };

Task<int> Child(int passes, ChildState* state) {
  *state = ChildState::kRunning;
  try {
    co_await Passes(passes);
  } catch (const CancelledError&) {
    *state = ChildState::kCancelled;
    throw;
  }
  *state = ChildState::kReturned;
  co_return passes;
}

// Once the victim has ended, no child of it may still run.
std::string CheckChildren(ChildState a, ChildState b) {
  if (a == ChildState::kRunning || b == ChildState::kRunning) return "; a child still runs";
  return "";
}

Task<void> GatherTwo(ChildState* a, ChildState* b) {
  auto [x, y] = co_await Gather(Child(2, a), Child(4, b));
  (void)x;
  (void)y;
}

Task<std::string> GatherScenario(int cancel_at, int* passes) {
  ChildState a = ChildState::kNotStarted;
  ChildState b = ChildState::kNotStarted;
  Task<void> victim = CreateTask(GatherTwo(&a, &b));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_return ending + CheckChildren(a, b);
}

TEST(CancelSweepTest, Gather) { CancelAtEverySuspensionPoint(GatherScenario); }

Task<void> WaitForChild(ChildState* state) {
  (void)co_await WaitFor(Child(4, state), absl::Seconds(30));
}

Task<std::string> WaitForScenario(int cancel_at, int* passes) {
  ChildState state = ChildState::kNotStarted;
  Task<void> victim = CreateTask(WaitForChild(&state));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_return ending + CheckChildren(state, ChildState::kNotStarted);
}

TEST(CancelSweepTest, WaitFor) { CancelAtEverySuspensionPoint(WaitForScenario); }

Task<void> TimeoutChild(ChildState* state) {
  Timeout timeout(absl::Seconds(30));
  (void)co_await timeout.Run(Child(4, state));
}

Task<std::string> TimeoutScenario(int cancel_at, int* passes) {
  ChildState state = ChildState::kNotStarted;
  Task<void> victim = CreateTask(TimeoutChild(&state));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_return ending + CheckChildren(state, ChildState::kNotStarted);
}

TEST(CancelSweepTest, Timeout) { CancelAtEverySuspensionPoint(TimeoutScenario); }

Task<void> GroupBody(TaskGroup& group, ChildState* a, ChildState* b) {
  group.CreateTask(Child(2, a));
  group.CreateTask(Child(4, b));
  co_await Pass();
}

Task<void> RunGroup(ChildState* a, ChildState* b) {
  TaskGroup group;
  co_await group.Run(GroupBody(group, a, b));
}

Task<std::string> TaskGroupScenario(int cancel_at, int* passes) {
  ChildState a = ChildState::kNotStarted;
  ChildState b = ChildState::kNotStarted;
  Task<void> victim = CreateTask(RunGroup(&a, &b));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_return ending + CheckChildren(a, b);
}

TEST(CancelSweepTest, TaskGroup) { CancelAtEverySuspensionPoint(TaskGroupScenario); }

// ----- ToThread -----

Task<void> Offload(int* result) {
  *result = co_await ToThread([] { return 42; });
  co_await Pass();
}

Task<std::string> ToThreadScenario(int cancel_at, int* passes) {
  int result = 0;
  Task<void> victim = CreateTask(Offload(&result));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  // The loop still works with the executor afterwards.
  int again = 0;
  co_await Offload(&again);
  if (again != 42) ending += "; ToThread broken after a cancellation";
  co_return ending;
}

TEST(CancelSweepTest, ToThread) { CancelAtEverySuspensionPoint(ToThreadScenario); }

// ----- Streams, connect, accept -----

// Connects, writes, drains, reads the echo back and closes: suspended in
// connect, Drain, ReadExactly and Close in turn.
Task<void> EchoOnce(uint16_t port) {
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", port);
  if (!stream.ok()) throw std::runtime_error(stream.status().ToString());
  const std::string message(200 * 1024, 'x');  // more than Drain's high mark
  stream->writer.Write(message);
  if (absl::Status s = co_await stream->writer.Drain(); !s.ok()) {
    throw std::runtime_error(s.ToString());
  }
  absl::StatusOr<std::string> echo = co_await stream->reader.ReadExactly(message.size());
  if (!echo.ok() || *echo != message) throw std::runtime_error("bad echo");
  if (absl::Status s = co_await stream->writer.Close(); !s.ok()) {
    throw std::runtime_error(s.ToString());
  }
}

// Waits (bounded) for the server's connection handlers to finish.
Task<void> SettleHandlers() {
  for (int i = 0; i < 5000 && EventLoop::Current()->pending_tasks() > 2; ++i) {
    co_await Sleep(absl::Milliseconds(1));
  }
}

Task<std::string> StreamScenario(int cancel_at, int* passes) {
  absl::StatusOr<Server> server = StartServer(EchoConnection, "127.0.0.1", 0);
  if (!server.ok()) co_return server.status().ToString();
  Task<void> victim = CreateTask(EchoOnce(server->port()));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  // Another connection to the same server is served as before.
  Task<void> other = CreateTask(EchoOnce(server->port()));
  try {
    co_await other;
  } catch (const std::exception& e) {
    ending += absl::StrCat("; the next connection failed: ", e.what());
  }
  co_await SettleHandlers();
  server->Close();
  co_return ending;
}

TEST(CancelSweepTest, StreamConnectWriteDrainReadClose) {
  CancelAtEverySuspensionPoint(StreamScenario);
}

Task<void> AcceptAndReceive(TcpListener* listener) {
  absl::StatusOr<TcpSocket> socket = co_await listener->Accept();
  if (!socket.ok()) throw std::runtime_error(socket.status().ToString());
  char byte;
  absl::StatusOr<size_t> n = co_await socket->Receive(absl::MakeSpan(&byte, 1));
  if (!n.ok()) throw std::runtime_error(n.status().ToString());
}

Task<void> ConnectLater(uint16_t port) {
  co_await Passes(2);
  absl::StatusOr<TcpSocket> socket = co_await Connect("127.0.0.1", port);
  if (!socket.ok()) co_return;
  co_await Passes(2);
  (void)co_await socket->SendAll("!");
  co_await Passes(2);
}

Task<std::string> AcceptScenario(int cancel_at, int* passes) {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0);
  if (!listener.ok()) co_return listener.status().ToString();
  Task<void> connector = CreateTask(ConnectLater(listener->port()));
  Task<void> victim = CreateTask(AcceptAndReceive(&*listener));
  std::string ending = co_await Watch(victim, cancel_at, passes);
  co_await connector;
  co_return ending;
}

TEST(CancelSweepTest, AcceptAndReceive) { CancelAtEverySuspensionPoint(AcceptScenario); }

}  // namespace
}  // namespace asyncio_like
