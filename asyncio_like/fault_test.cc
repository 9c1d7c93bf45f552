// The package under injected kernel faults (fault_injector.h): the echo
// server with 1,000 byte-checked connections, ReadUntil/ReadExactly framing,
// Drain with flow control and file reads and writes at offsets, under each
// fault class alone and under a random mix of all of them for 100 seeds.
// Every byte arrives in order or the operation fails with a clear error;
// faults that lose nothing (short transfers, EAGAIN/EINTR, delays, reorders,
// a full SQ, CQ overflow, accept errors) fail nothing at all. Descriptors
// are counted before and after, and no task is left pending.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asyncio_like/echo_server.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/fault_injector.h"
#include "asyncio_like/fault_workload.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/tcp.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

struct Scenario {
  int echo_clients = 0;
  EchoClientOptions echo;
  int framing_clients = 0;
  int frames = 20;
  int drain_clients = 0;
  size_t drain_bytes = 128 * 1024;
  int files = 0;
  size_t file_bytes = 64 * 1024;

  int workloads() const { return echo_clients + framing_clients + drain_clients + files; }
};

std::string TempPath(uint64_t seed, int i) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/fault_test_", getpid(), "_", seed, "_", i);
}

Task<void> RunWorkloads(const Scenario* s, uint64_t seed, WorkloadCounts* counts) {
  absl::StatusOr<Server> echo = StartServer(EchoConnection, "127.0.0.1", 0);
  if (!echo.ok()) throw std::runtime_error(echo.status().ToString());
  const int frames = s->frames;
  absl::StatusOr<Server> framing = StartServer(
      [seed, frames](StreamReader reader, StreamWriter writer) {
        return FramingServerHandler(std::move(reader), std::move(writer), seed, frames);
      },
      "127.0.0.1", 0);
  if (!framing.ok()) throw std::runtime_error(framing.status().ToString());
  std::vector<Task<void>> tasks;
  for (int i = 0; i < s->echo_clients; ++i) {
    tasks.push_back(CreateTask(CheckedEchoClient(echo->port(), seed * 100003 + i, s->echo, counts), "echo client"));
  }
  for (int i = 0; i < s->framing_clients; ++i) {
    tasks.push_back(CreateTask(CheckedFramingClient(framing->port(), seed, frames, counts), "framing client"));
  }
  for (int i = 0; i < s->drain_clients; ++i) {
    tasks.push_back(
        CreateTask(CheckedDrainClient(echo->port(), seed * 7 + i, s->drain_bytes, counts),
                   "drain client"));
  }
  for (int i = 0; i < s->files; ++i) {
    tasks.push_back(
        CreateTask(CheckedFileRoundTrip(TempPath(seed, i), seed + i, s->file_bytes, counts),
                   "file"));
  }
  for (Task<void>& task : tasks) co_await task;
  echo->Close();
  framing->Close();
  // The servers' connection handlers end once their clients have closed.
  for (int i = 0; i < 10000 && EventLoop::Current()->pending_tasks() > 1; ++i) {
    co_await Sleep(absl::Milliseconds(1));
  }
  for (const TaskRef& task : AllTasks()) {
    if (!(task == CurrentTask())) ADD_FAILURE() << "still pending: " << task.name();
  }
}

// Runs `scenario` under `faults` on a loop of its own, checking that no
// descriptor and no task outlives it. Adds to *counts and *injected.
void RunScenario(const FaultOptions& faults, const Scenario& scenario, WorkloadCounts* counts,
                 FaultStats* injected, unsigned ring_entries = 4096) {
  const int fds_before = CountOpenFds();
  {
    LoopOptions options;
    options.faults = faults;
    options.ring_entries = ring_entries;
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, options);
    WorkloadCounts run;
    absl::Status status = RunTest(loop.get(), RunWorkloads(&scenario, faults.seed, &run));
    ASSERT_TRUE(status.ok()) << status << " under " << faults.ToSpec();
    EXPECT_EQ(loop->pending_tasks(), 0u) << "tasks left pending under " << faults.ToSpec();
    EXPECT_EQ(run.succeeded + run.failed + run.violations,
              static_cast<uint64_t>(scenario.workloads()))
        << "every workload ends exactly once";
    EXPECT_EQ(run.violations, 0u) << run.ToString() << " under " << faults.ToSpec();
    if (const FaultStats* stats = loop->uring().fault_stats(); stats != nullptr) {
      injected->shortened += stats->shortened;
      injected->transient_errors += stats->transient_errors;
      injected->connection_errors += stats->connection_errors;
      injected->delayed += stats->delayed;
      injected->reordered_passes += stats->reordered_passes;
      injected->sq_full += stats->sq_full;
      injected->refused_submissions += stats->refused_submissions;
      injected->cq_overflows += stats->cq_overflows;
      injected->accept_errors += stats->accept_errors;
    }
    counts->Add(run);
  }
  EXPECT_EQ(CountOpenFds(), fds_before) << "descriptors leaked under " << faults.ToSpec();
}

// Faults that lose nothing: every workload must succeed.
void ExpectAllSucceed(const WorkloadCounts& counts, const Scenario& scenario, int runs) {
  EXPECT_EQ(counts.failed, 0u) << counts.ToString();
  EXPECT_EQ(counts.succeeded, static_cast<uint64_t>(scenario.workloads()) * runs)
      << counts.ToString();
}

// 1,000 echo connections, framing, flow control and files.
Scenario FullScenario() {
  Scenario s;
  s.echo_clients = kUnderSanitizer ? 300 : 1000;
  s.echo.messages = 3;
  s.echo.max_message = 4096;
  s.framing_clients = 4;
  s.drain_clients = 2;
  s.drain_bytes = 256 * 1024;
  s.files = 2;
  s.file_bytes = 128 * 1024;
  return s;
}

struct ClassCase {
  const char* name;
  const char* spec;
  uint64_t FaultStats::*counter;
  bool loses_nothing;
};

class FaultClassTest : public ::testing::TestWithParam<ClassCase> {};

TEST_P(FaultClassTest, EveryByteArrivesInOrderOrFailsClearly) {
  const ClassCase& c = GetParam();
  absl::StatusOr<FaultOptions> faults = ParseFaultSpec(c.spec);
  ASSERT_TRUE(faults.ok()) << faults.status();
  const Scenario scenario = FullScenario();
  WorkloadCounts counts;
  FaultStats injected;
  RunScenario(*faults, scenario, &counts, &injected);
  if (HasFatalFailure() || IsSkipped()) return;
  EXPECT_GT(injected.*c.counter, 0u) << "no fault of the class was injected: " << c.spec;
  if (c.loses_nothing) {
    ExpectAllSucceed(counts, scenario, 1);
  } else {
    // A connection error fails its workload; the rest run to the end.
    EXPECT_GT(counts.succeeded, 0u) << counts.ToString();
  }
  std::printf("faults %-28s injected: %s\n  workloads: %s\n", c.spec,
              injected.ToString().c_str(), counts.ToString().c_str());
}

const ClassCase kClassCases[] = {
    {"Short", "seed=11,short=0.5", &FaultStats::shortened, true},
    {"Transient", "seed=12,transient=0.2", &FaultStats::transient_errors, true},
    {"ConnectionError", "seed=13,error=0.002", &FaultStats::connection_errors, false},
    {"Delay", "seed=14,delay=0.3:4", &FaultStats::delayed, true},
    {"Reorder", "seed=15,reorder=0.8", &FaultStats::reordered_passes, true},
    {"SqFull", "seed=16,sqfull=0.2", &FaultStats::sq_full, true},
    {"Overflow", "seed=17,overflow=0.5", &FaultStats::cq_overflows, true},
    {"Accept", "seed=18,accept=0.5", &FaultStats::accept_errors, true},
};

std::string ClassCaseName(const ::testing::TestParamInfo<ClassCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Classes, FaultClassTest, ::testing::ValuesIn(kClassCases),
                         ClassCaseName);

// Every class at once, at moderate rates, for 100 seeds (and a smaller
// workload per seed). Connection errors are left out of most seeds, so that
// what loses nothing provably fails nothing; every tenth seed has them.
TEST(FaultMixTest, HundredSeedsOfEveryClass) {
  Scenario scenario;
  scenario.echo_clients = 12;
  scenario.echo.messages = 3;
  scenario.framing_clients = 2;
  scenario.frames = 10;
  scenario.drain_clients = 1;
  scenario.drain_bytes = 96 * 1024;
  scenario.files = 1;
  scenario.file_bytes = 24 * 1024;
  constexpr int kSeeds = 100;
  WorkloadCounts lossless;
  WorkloadCounts with_errors;
  FaultStats injected;
  int lossless_runs = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    const bool errors = seed % 10 == 0;
    absl::StatusOr<FaultOptions> faults =
        ParseFaultSpec(absl::StrCat("mix,seed=", seed, errors ? ",error=0.02" : ",error=0"));
    ASSERT_TRUE(faults.ok()) << faults.status();
    RunScenario(*faults, scenario, errors ? &with_errors : &lossless, &injected);
    if (HasFatalFailure() || IsSkipped()) return;
    if (!errors) ++lossless_runs;
  }
  ExpectAllSucceed(lossless, scenario, lossless_runs);
  EXPECT_EQ(with_errors.violations, 0u) << with_errors.ToString();
  // Every class was exercised.
  EXPECT_GT(injected.shortened, 0u);
  EXPECT_GT(injected.transient_errors, 0u);
  EXPECT_GT(injected.connection_errors, 0u);
  EXPECT_GT(injected.delayed, 0u);
  EXPECT_GT(injected.reordered_passes, 0u);
  EXPECT_GT(injected.sq_full, 0u);
  EXPECT_GT(injected.cq_overflows, 0u);
  EXPECT_GT(injected.accept_errors, 0u);
  std::printf("%d seeds, injected: %s (total %llu)\n  without connection errors: %s\n"
              "  with connection errors: %s\n",
              kSeeds, injected.ToString().c_str(),
              static_cast<unsigned long long>(injected.total()), lossless.ToString().c_str(),
              with_errors.ToString().c_str());
}

// The kernel's own completion-queue overflow: a ring of 2 entries (4 CQEs)
// under a few hundred connections overflows constantly.
TEST(FaultMixTest, KernelCompletionQueueOverflow) {
  Scenario scenario;
  scenario.echo_clients = 200;
  scenario.echo.messages = 2;
  scenario.framing_clients = 2;
  scenario.drain_clients = 1;
  scenario.files = 1;
  WorkloadCounts counts;
  FaultStats injected;
  RunScenario(FaultOptions{}, scenario, &counts, &injected, /*ring_entries=*/2);
  if (HasFatalFailure() || IsSkipped()) return;
  ExpectAllSucceed(counts, scenario, 1);
}

// A raw socket's SendAll and Connect under EAGAIN/EINTR (and short sends):
// the connect is made again, the send goes on with what is left, and every
// byte arrives in order.
// Sends `data` with one SendAll per 4 KiB, so that many sends meet faults.
Task<absl::Status> SendInPieces(const TcpSocket* socket, const std::string* data) {
  constexpr size_t kPiece = 4096;
  for (size_t at = 0; at < data->size(); at += kPiece) {
    absl::Status sent =
        co_await socket->SendAll(absl::string_view(*data).substr(at, kPiece));
    if (!sent.ok()) co_return sent;
  }
  co_return absl::OkStatus();
}

Task<void> SendAllThroughFaults(const std::string* data, std::string* received,
                                absl::Status* sent, int* connects) {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0);
  if (!listener.ok()) throw std::runtime_error(listener.status().ToString());
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<TcpSocket> client = co_await Connect("127.0.0.1", listener->port());
    if (!client.ok()) throw std::runtime_error(client.status().ToString());
    absl::StatusOr<TcpSocket> server = co_await listener->Accept();
    if (!server.ok()) throw std::runtime_error(server.status().ToString());
    ++*connects;
    if (i > 0) continue;  // the first connection carries the data
    Task<absl::Status> sending = CreateTask(SendInPieces(&*client, data), "send all");
    std::vector<char> chunk(8192);
    while (received->size() < data->size()) {
      absl::StatusOr<size_t> n = co_await server->Receive(absl::MakeSpan(chunk));
      if (!n.ok() || *n == 0) break;
      received->append(chunk.data(), *n);
    }
    *sent = co_await sending;
  }
}

TEST(FaultTransientTest, SendAllAndConnectGoOnAfterEagainAndEintr) {
  absl::StatusOr<FaultOptions> faults = ParseFaultSpec("seed=21,transient=0.3,short=0.3");
  ASSERT_TRUE(faults.ok()) << faults.status();
  const int fds_before = CountOpenFds();
  {
    LoopOptions options;
    options.faults = *faults;
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, options);
    std::string data(512 * 1024, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
    std::string received;
    absl::Status sent = absl::UnknownError("not sent");
    int connects = 0;
    absl::Status status =
        RunTest(loop.get(), SendAllThroughFaults(&data, &received, &sent, &connects));
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_TRUE(sent.ok()) << sent;
    EXPECT_EQ(connects, 50);
    EXPECT_TRUE(received == data) << received.size() << " of " << data.size()
                                  << " bytes, or not in order";
    EXPECT_GT(loop->uring().fault_stats()->transient_errors, 10u);
  }
  EXPECT_EQ(CountOpenFds(), fds_before);
}

// A full submission queue whose submission the kernel refuses (EBUSY)
// until the completions it has posted are reaped: a ring of 2 entries is
// full at every turn; what is reaped to make room is delivered, nothing is
// lost, nothing spins.
TEST(FaultMixTest, RefusedSubmissionsWithAFullQueue) {
  Scenario scenario;
  scenario.echo_clients = 100;
  scenario.echo.messages = 2;
  scenario.framing_clients = 2;
  scenario.drain_clients = 1;
  scenario.files = 1;
  absl::StatusOr<FaultOptions> faults = ParseFaultSpec("seed=19,sqfull=0.5");
  ASSERT_TRUE(faults.ok()) << faults.status();
  WorkloadCounts counts;
  FaultStats injected;
  RunScenario(*faults, scenario, &counts, &injected, /*ring_entries=*/2);
  if (HasFatalFailure() || IsSkipped()) return;
  ExpectAllSucceed(counts, scenario, 1);
  EXPECT_GT(injected.refused_submissions, 0u) << injected.ToString();
  std::printf("full 2-entry ring, %s: injected: %s\n", faults->ToSpec().c_str(),
              injected.ToString().c_str());
}

// ----- The injector itself -----

TEST(FaultSpecTest, ParsesEveryClass) {
  absl::StatusOr<FaultOptions> options = ParseFaultSpec(
      "seed=9, short=0.5,transient=0.1,error=0.01,delay=0.2:7,reorder=1,sqfull=0.3,"
      "overflow=0.4,accept=0.6");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->seed, 9u);
  EXPECT_EQ(options->short_transfer, 0.5);
  EXPECT_EQ(options->transient_error, 0.1);
  EXPECT_EQ(options->connection_error, 0.01);
  EXPECT_EQ(options->delay, 0.2);
  EXPECT_EQ(options->max_delay_passes, 7);
  EXPECT_EQ(options->reorder, 1);
  EXPECT_EQ(options->sq_full, 0.3);
  EXPECT_EQ(options->cq_overflow, 0.4);
  EXPECT_EQ(options->accept_error, 0.6);
  EXPECT_TRUE(options->enabled());
  absl::StatusOr<FaultOptions> again = ParseFaultSpec(options->ToSpec());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ToSpec(), options->ToSpec());
}

TEST(FaultSpecTest, OffAndMix) {
  for (const char* off : {"", "off", "none", "seed=4"}) {
    absl::StatusOr<FaultOptions> options = ParseFaultSpec(off);
    ASSERT_TRUE(options.ok()) << off;
    EXPECT_FALSE(options->enabled()) << off;
  }
  absl::StatusOr<FaultOptions> mix = ParseFaultSpec("mix,error=0");
  ASSERT_TRUE(mix.ok());
  EXPECT_TRUE(mix->enabled());
  EXPECT_EQ(mix->connection_error, 0);
  EXPECT_GT(mix->short_transfer, 0);
}

TEST(FaultSpecTest, RejectsBadSpecsClearly) {
  for (const char* bad : {"short", "short=2", "short=-0.1", "short=x", "bogus=0.1", "seed=-1",
                          "delay=0.1:0", "delay=0.1:x"}) {
    absl::StatusOr<FaultOptions> options = ParseFaultSpec(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(options.status())) << bad << ": " << options.status();
    EXPECT_NE(options.status().message().find("fault spec"), absl::string_view::npos) << bad;
  }
}

TEST(FaultInjectorTest, OffMeansNoInjector) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
  EXPECT_EQ(loop->uring().fault_stats(), nullptr);
}

// Feeds the injector the same submissions and passes; returns what it did.
std::string Trace(uint64_t seed) {
  FaultOptions options;
  options.seed = seed;
  options.short_transfer = 0.5;
  options.transient_error = 0.1;
  options.connection_error = 0.1;
  options.delay = 0.3;
  options.reorder = 0.5;
  options.cq_overflow = 0.3;
  FaultInjector injector(options);
  std::string trace;
  for (int pass = 0; pass < 50; ++pass) {
    io_uring_sqe sqe{};
    io_uring_prep_recv(&sqe, 0, nullptr, 1000, 0);
    injector.OnSubmit(&sqe, 1000 + pass);
    absl::StrAppend(&trace, "s", sqe.opcode, ":", sqe.len, " ");
    std::vector<HeldCompletion> batch;
    for (uint64_t op = 1; op <= 5; ++op) batch.push_back({op, static_cast<int32_t>(pass), 0});
    injector.OnPass(batch);
    for (const HeldCompletion& c : batch) absl::StrAppend(&trace, c.user_data, "=", c.result, " ");
    absl::StrAppend(&trace, "|");
  }
  return trace;
}

TEST(FaultInjectorTest, SameSeedSameFaults) {
  EXPECT_EQ(Trace(5), Trace(5));
  EXPECT_NE(Trace(5), Trace(6));
}

// Delays, overflows and reorders never swap two completions of one
// operation (a multishot accept's connections), and lose none.
TEST(FaultInjectorTest, AnOperationsCompletionsKeepTheirOrder) {
  FaultOptions options;
  options.seed = 3;
  options.delay = 0.5;
  options.max_delay_passes = 5;
  options.reorder = 1;
  options.cq_overflow = 0.5;
  FaultInjector injector(options);
  std::vector<int32_t> next_expected(4, 0);
  std::vector<int32_t> next_to_post(4, 0);
  int delivered = 0;
  for (int pass = 0; pass < 300 || injector.has_held(); ++pass) {
    std::vector<HeldCompletion> batch;
    if (pass < 300) {
      for (uint64_t op = 0; op < 4; ++op) {
        for (int k = 0; k < 3; ++k) batch.push_back({op + 1, next_to_post[op]++, IORING_CQE_F_MORE});
      }
    }
    injector.OnPass(batch);
    for (const HeldCompletion& c : batch) {
      ASSERT_EQ(c.result, next_expected[c.user_data - 1]++) << "operation " << c.user_data;
      ++delivered;
    }
  }
  EXPECT_EQ(delivered, 300 * 4 * 3);
  EXPECT_GT(injector.stats().delayed, 0u);
  EXPECT_GT(injector.stats().reordered_passes, 0u);
}

// An injected error replaces the operation: the SQE becomes a no-op whose
// completion is dropped, and the error completes the operation next pass.
TEST(FaultInjectorTest, AnInjectedErrorReplacesTheOperation) {
  FaultOptions options;
  options.connection_error = 1;
  FaultInjector injector(options);
  io_uring_sqe sqe{};
  io_uring_prep_send(&sqe, 0, nullptr, 100, 0);
  injector.OnSubmit(&sqe, 77);
  EXPECT_EQ(sqe.opcode, IORING_OP_NOP);
  EXPECT_EQ(sqe.user_data, 0u);
  std::vector<HeldCompletion> batch;
  injector.OnPass(batch);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].user_data, 77u);
  EXPECT_TRUE(batch[0].result == -ECONNRESET || batch[0].result == -EPIPE ||
              batch[0].result == -ENOBUFS)
      << batch[0].result;
}

}  // namespace
}  // namespace asyncio_like
