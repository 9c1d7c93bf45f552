// Soak run: the echo server under churning clients and injected faults,
// watched for growth.
//
//   bazel run -c opt //asyncio_like:soak -- --duration=1h
//   bazel run //asyncio_like:soak -- --duration=60s --faults=mix,seed=3 --clients=200
//
// One loop serves the echo server (EchoConnection) and runs --clients
// client tasks, each connecting, echoing a random number of random-size
// messages checked byte by byte (fault_workload.h), and closing; every
// fourth connection instead sends part of a message and resets the
// connection (RST) without reading, so the server sees resets mid-stream.
// Every --report_every it prints RSS, open descriptors, pending tasks and
// ring occupancy (operations in flight, SQEs queued, CQEs not yet reaped).
//
// It fails (exit 1) if any echoed byte is wrong or an error is unclear, or
// if, after the warm-up (the first quarter of the run, at most 10 s), any
// figure passes its bound:
//   RSS           warm-up RSS + 64 MiB (+ 1 GiB under a sanitizer, whose
//                 quarantine and shadow memory grow for minutes before
//                 they level off)
//   descriptors   4 per client + 64 (a client and a server socket each, and
//                 room for those still closing)
//   pending tasks 3 per client + 16 (a client, its server handler, and room)
//   in flight     4 per client + 64 (a receive and a send per socket)
// and, once the clients have stopped and the server closed, unless
// descriptors and pending tasks are back where they started.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/echo_server.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/fault_injector.h"
#include "asyncio_like/fault_workload.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/tcp.h"

// Durations are strings ("60s", "1h"): absl::Duration flags are read with
// a fence that ThreadSanitizer builds reject.
ABSL_FLAG(std::string, duration, "60s", "how long to churn, e.g. 20s, 10m, 1h");
ABSL_FLAG(int, clients, 100, "concurrent client tasks (1..2000)");
ABSL_FLAG(std::string, faults, "mix,seed=1,error=0.001",
          "faults to inject (asyncio_like/fault_injector.h); 'off' for none");
ABSL_FLAG(std::string, report_every, "5s", "how often to print the figures");

namespace asyncio_like {
namespace {

int64_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0;
  int64_t resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int64_t kRssGrowthBound = (64 + 1024) * int64_t{1048576};
#else
constexpr int64_t kRssGrowthBound = 64 * int64_t{1048576};
#endif

struct Figures {
  int64_t rss = 0;
  int fds = 0;
  uint64_t pending = 0;
  uint64_t in_flight = 0;
};

Figures Measure() {
  EventLoop* loop = EventLoop::Current();
  return {RssBytes(), CountOpenFds(), loop->pending_tasks(), loop->uring().in_flight()};
}

struct Soak {
  absl::Time deadline;
  absl::Duration report_every;
  int clients = 0;
  uint16_t port = 0;
  uint64_t next_seed = 1;
  uint64_t connections = 0;
  uint64_t resets = 0;
  WorkloadCounts counts;
  bool stop = false;
  std::vector<std::string> failures;
};

// Sends part of a message and resets the connection without reading.
Task<void> ResettingClient(uint16_t port, uint64_t seed) {
  absl::StatusOr<TcpSocket> socket = co_await Connect("127.0.0.1", port);
  if (!socket.ok()) co_return;
  std::string message(1 + seed % 20000, '\0');
  for (size_t i = 0; i < message.size(); ++i) message[i] = PatternByte(seed, i);
  (void)co_await socket->SendAll(message);
  socket->Abort();
}

Task<void> Churn(Soak* soak) {
  while (!soak->stop) {
    const uint64_t seed = soak->next_seed++;
    ++soak->connections;
    if (seed % 4 == 0) {
      ++soak->resets;
      co_await ResettingClient(soak->port, seed);
      continue;
    }
    EchoClientOptions options;
    options.messages = 1 + static_cast<int>(seed % 8);
    options.max_message = 16 * 1024;
    co_await CheckedEchoClient(soak->port, seed, options, &soak->counts);
  }
}

Task<void> Report(Soak* soak, absl::Time start, absl::Duration warm_up, absl::Duration every) {
  Figures warm;
  bool warmed = false;
  const int c = soak->clients;
  while (!soak->stop) {
    co_await Sleep(std::min(every, std::max(soak->deadline - absl::Now(), absl::Milliseconds(1))));
    const Figures now = Measure();
    const absl::Duration elapsed = absl::Now() - start;
    const Uring& uring = EventLoop::Current()->uring();
    const FaultStats* faults = uring.fault_stats();
    std::printf("t=%5.1fs rss=%.1fMiB fds=%d pending_tasks=%llu ring: in_flight=%llu sq=%u cq=%u"
                " | connections=%llu checked=%.1fMiB failed=%llu violations=%llu faults=%llu\n",
                absl::ToDoubleSeconds(elapsed), now.rss / 1048576.0, now.fds,
                static_cast<unsigned long long>(now.pending),
                static_cast<unsigned long long>(now.in_flight), uring.sq_ready(), uring.cq_ready(),
                static_cast<unsigned long long>(soak->connections),
                soak->counts.bytes_checked / 1048576.0,
                static_cast<unsigned long long>(soak->counts.failed),
                static_cast<unsigned long long>(soak->counts.violations),
                static_cast<unsigned long long>(faults != nullptr ? faults->total() : 0));
    std::fflush(stdout);
    if (!warmed && elapsed >= warm_up) {
      warm = now;
      warmed = true;
    }
    if (warmed) {
      auto check = [&](bool ok, std::string what) {
        if (!ok) soak->failures.push_back(absl::StrCat("t=", absl::FormatDuration(elapsed), ": ", what));
      };
      check(now.rss <= warm.rss + kRssGrowthBound,
            absl::StrCat("RSS ", now.rss, " passed warm-up's ", warm.rss, " + ",
                         kRssGrowthBound / 1048576, " MiB"));
      check(now.fds <= 4 * c + 64, absl::StrCat(now.fds, " descriptors, bound ", 4 * c + 64));
      check(now.pending <= static_cast<uint64_t>(3 * c + 16),
            absl::StrCat(now.pending, " pending tasks, bound ", 3 * c + 16));
      check(now.in_flight <= static_cast<uint64_t>(4 * c + 64),
            absl::StrCat(now.in_flight, " operations in flight, bound ", 4 * c + 64));
    }
    if (absl::Now() >= soak->deadline) soak->stop = true;
  }
}

Task<void> Main(Soak* soak) {
  const int fds_at_start = CountOpenFds();
  {
    absl::StatusOr<Server> server = StartServer(EchoConnection, "127.0.0.1", 0);
    if (!server.ok()) {
      soak->failures.push_back(server.status().ToString());
      co_return;
    }
    soak->port = server->port();
    const absl::Time start = absl::Now();
    const absl::Duration run = soak->deadline - start;
    const absl::Duration warm_up = std::min(run / 4, absl::Seconds(10));
    std::vector<Task<void>> tasks;
    for (int i = 0; i < soak->clients; ++i) tasks.push_back(CreateTask(Churn(soak), "client"));
    co_await Report(soak, start, warm_up, soak->report_every);
    for (Task<void>& task : tasks) co_await task;
    server->Close();
  }
  // The server's handlers end once their clients have gone.
  for (int i = 0; i < 10000 && EventLoop::Current()->pending_tasks() > 1; ++i) {
    co_await Sleep(absl::Milliseconds(1));
  }
  const uint64_t pending = EventLoop::Current()->pending_tasks() - 1;
  const int fds = CountOpenFds();
  std::printf("after the run: %d descriptors (%d at start), %llu tasks pending\n", fds,
              fds_at_start, static_cast<unsigned long long>(pending));
  if (fds != fds_at_start) {
    soak->failures.push_back(absl::StrCat(fds - fds_at_start, " descriptors leaked"));
  }
  if (pending != 0) soak->failures.push_back(absl::StrCat(pending, " tasks left pending"));
}

int RunSoak() {
  absl::StatusOr<FaultOptions> faults = ParseFaultSpec(absl::GetFlag(FLAGS_faults));
  if (!faults.ok()) {
    std::fprintf(stderr, "soak: --faults: %s\n", faults.status().ToString().c_str());
    return 2;
  }
  const int clients = absl::GetFlag(FLAGS_clients);
  absl::Duration duration;
  absl::Duration report_every;
  if (!absl::ParseDuration(absl::GetFlag(FLAGS_duration), &duration) ||
      !absl::ParseDuration(absl::GetFlag(FLAGS_report_every), &report_every)) {
    std::fprintf(stderr, "soak: --duration and --report_every take durations such as 20s or 1h\n");
    return 2;
  }
  if (clients < 1 || clients > 2000) {
    std::fprintf(stderr, "soak: --clients=%d is out of range: valid is 1..2000\n", clients);
    return 2;
  }
  if (duration <= absl::ZeroDuration() || report_every <= absl::ZeroDuration()) {
    std::fprintf(stderr, "soak: --duration and --report_every must be positive\n");
    return 2;
  }
  std::printf("soak: %d clients for %s, faults: %s\n", clients,
              absl::FormatDuration(duration).c_str(),
              faults->enabled() ? faults->ToSpec().c_str() : "off");
  LoopOptions options;
  options.faults = *faults;
  Soak soak;
  soak.clients = clients;
  soak.deadline = absl::Now() + duration;
  soak.report_every = report_every;
  absl::Status status = Run(Main(&soak), options);
  if (!status.ok()) soak.failures.push_back(status.ToString());
  if (soak.counts.violations > 0) {
    soak.failures.push_back(absl::StrCat(soak.counts.violations,
                                         " violations, first: ", soak.counts.first_violation));
  }
  std::printf("soak: %llu connections (%llu reset by the client), %s\n",
              static_cast<unsigned long long>(soak.connections),
              static_cast<unsigned long long>(soak.resets), soak.counts.ToString().c_str());
  for (const std::string& failure : soak.failures) std::printf("FAIL: %s\n", failure.c_str());
  if (soak.counts.succeeded == 0) {
    std::printf("FAIL: no connection ran to the end\n");
    return 1;
  }
  std::printf(soak.failures.empty() ? "PASS\n" : "");
  return soak.failures.empty() ? 0 : 1;
}

}  // namespace
}  // namespace asyncio_like

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Soak run of the asyncio_like echo server under churning clients and injected faults.\n"
      "Usage: soak [--duration=60s] [--clients=100] [--faults=SPEC] [--report_every=5s]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "soak: unexpected argument '%s'; it takes flags only (see --help)\n",
                 rest[1]);
    return 2;
  }
  return asyncio_like::RunSoak();
}
