// Loopback echo: the coroutine server on the asyncio_like loop against a
// plain epoll server and a hand-written raw io_uring server (see
// echo_baselines.h), under the closed-loop load of echo_load_generator.h.
//
// The server runs on its own thread pinned to CPU 1; the load generator runs
// on the benchmark thread pinned to CPU 0. Per server and connection count
// the counters are:
//   req/s          echoes per second of wall time
//   p50_us p99_us  round-trip latency seen by the client
//   cpu_us/req     the server thread's CPU time (user + system, from its
//                  thread CPU clock) per echo: on a shared machine this is
//                  the figure that separates servers, not req/s
//   enters/req     the server's own count of system calls that entered the
//                  kernel, over the whole session (warm-up included), per echo
//   corrupted      echoed bytes that differed from what was sent (must be 0)
// The coroutine_timeout server is the coroutine server with every read
// under a 5 s Timeout, as a careful server writes it.
// BM_Echo/<connections> runs rounds: in each, the four servers one after
// the other, in an order shuffled per round, so that the four share the
// same few seconds of the machine. A shared machine has slow phases of
// several seconds in which every server runs 20 to 30% slower; comparing
// servers within a round, and taking the median over the rounds, keeps
// those phases out of the ratios. There are RepetitionsFor(connections)
// rounds, shuffled together with the other benchmarks' repetitions
// (--benchmark_enable_random_interleaving, on by default here). Google
// Benchmark prints each server's req/s and cpu_us/req; at the end one
// table gives every counter's median per server, and another the medians of
// the coroutine server's per-round ratios to the baselines.
//
// BM_ConnectionChurn opens a new connection for every echo (connections per
// second and server CPU per connection), in rounds as BM_Echo does.
//
// BM_IdleConnections holds 10,000 idle connections (one echo each) to a
// server running in a child process and reports the growth of its resident
// set per connection.
//
//   tools/bazel run -c opt //asyncio_like/bench:echo_benchmark
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asyncio_like/bench/echo_baselines.h"
#include "asyncio_like/bench/echo_load_generator.h"
#include "asyncio_like/echo_server.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/fault_injector.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/task.h"
#include "asyncio_like/timeout.h"
#include "benchmark/benchmark.h"

namespace asyncio_like {
namespace {

constexpr int kServerCpu = 1;
constexpr int kClientCpu = 0;

// The coroutine server's loop options: --faults=SPEC (fault_injector.h)
// runs it under injected faults.
LoopOptions& CoroutineLoopOptions() {
  static LoopOptions* options = new LoopOptions();
  return *options;
}

// EchoConnection as a careful server writes it: every read under a 5 s
// timeout (`async with asyncio.timeout(5): n = await reader.read(...)`), so
// a silent client cannot hold the connection forever. Under load every
// timer is cancelled long before it fires.
Task<void> EchoConnectionWithReadTimeout(StreamReader reader, StreamWriter writer) {
  for (;;) {
    absl::StatusOr<absl::string_view> data;
    try {
      Timeout timeout(absl::Seconds(5));
      data = co_await timeout.Run(
          [](StreamReader& reader) -> Task<absl::StatusOr<absl::string_view>> {
            co_return co_await reader.ReadSome(kEchoReadSize);
          }(reader));
    } catch (const TimeoutError&) {
      break;
    }
    if (!data.ok() || data->empty()) break;
    writer.Write(*data);
    if (!(co_await writer.Drain()).ok()) break;
  }
  (void)co_await writer.Close();
}

using ServerFactory = std::function<absl::StatusOr<std::unique_ptr<EchoServerUnderTest>>()>;

struct ServerKind {
  const char* name;
  ServerFactory create;
};

const std::vector<ServerKind>& ServerKinds() {
  static const auto* kinds = new std::vector<ServerKind>{
      {"epoll", EpollEchoServer::Create},
      {"raw_uring", RawUringEchoServer::Create},
      {"coroutine", [] { return CoroutineEchoServer::Create(CoroutineLoopOptions()); }},
      {"coroutine_timeout",
       [] {
         return CoroutineEchoServer::Create(CoroutineLoopOptions(), EchoConnectionWithReadTimeout);
       }},
  };
  return *kinds;
}

void PinCurrentThreadTo(int cpu) {
  if (cpu >= static_cast<int>(std::thread::hardware_concurrency())) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

absl::Duration ThreadCpuTime(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return absl::DurationFromTimespec(now);
}

// A server under test serving on its own thread, pinned to kServerCpu,
// whose CPU time the benchmarks read. The thread is named after the server
// kind, so that `perf report --sort comm` tells the servers apart.
class ServingThread {
 public:
  ServingThread(std::unique_ptr<EchoServerUnderTest> server, const char* name)
      : server_(std::move(server)), thread_([this] {
          PinCurrentThreadTo(kServerCpu);
          served_ = server_->Serve();
        }) {
    pthread_getcpuclockid(thread_.native_handle(), &cpu_clock_);
    pthread_setname_np(thread_.native_handle(), name);  // at most 15 characters
  }
  ServingThread(const ServingThread&) = delete;
  ServingThread& operator=(const ServingThread&) = delete;
  ~ServingThread() {
    if (thread_.joinable()) (void)Stop();
  }

  EchoServerUnderTest& server() { return *server_; }
  absl::Duration CpuTime() const { return ThreadCpuTime(cpu_clock_); }
  // Stops the server, waits for its thread, and returns what Serve returned.
  absl::Status Stop() {
    server_->Stop();
    thread_.join();
    return served_;
  }

 private:
  std::unique_ptr<EchoServerUnderTest> server_;
  absl::Status served_;
  std::thread thread_;
  clockid_t cpu_clock_;
};

constexpr int kRepetitions = 5;
// At 1,000 connections rounds spread most (10 to 20%), so there are more
// of them there: the medians of 12 move less from run to run.
int RepetitionsFor(int connections) { return connections >= 1000 ? 12 : kRepetitions; }

struct EchoFigures {
  double requests_per_second = 0;
  double p50_micros = 0;
  double p99_micros = 0;
  double cpu_micros_per_request = 0;
  double enters_per_request = 0;
  uint64_t corrupted_bytes = 0;
};
// Every repetition's figures, by (server, connections).
std::map<std::pair<std::string, int>, std::vector<EchoFigures>>& MeasuredFigures() {
  static auto* figures = new std::map<std::pair<std::string, int>, std::vector<EchoFigures>>;
  return *figures;
}

struct ChurnFigures {
  double connections_per_second = 0;
  double cpu_micros_per_connection = 0;
  int64_t failures = 0;
};
// Every round's churn figures, by server.
std::map<std::string, std::vector<ChurnFigures>>& MeasuredChurn() {
  static auto* figures = new std::map<std::string, std::vector<ChurnFigures>>;
  return *figures;
}

// The coroutine server's ratios to the two baselines within one round: of
// its rate (requests or connections per second) and of its CPU per unit;
// and the coroutine_timeout server's to the coroutine server (the price of a
// timeout on every read).
struct RoundRatios {
  double rate_vs_epoll = 0;
  double rate_vs_raw = 0;
  double cpu_vs_epoll = 0;
  double cpu_vs_raw = 0;
  double timeout_rate_vs_plain = 0;
  double timeout_cpu_vs_plain = 0;
};
// Every round's ratios, by benchmark: "echo/<connections>" or "churn".
std::map<std::string, std::vector<RoundRatios>>& MeasuredRatios() {
  static auto* ratios = new std::map<std::string, std::vector<RoundRatios>>;
  return *ratios;
}

// Records one round's ratios of the `rate` and `cpu` fields.
template <typename Figures>
void RecordRatios(const std::string& benchmark, const std::map<std::string, Figures>& round,
                  double Figures::*rate, double Figures::*cpu) {
  const Figures& coroutine = round.at("coroutine");
  const Figures& epoll = round.at("epoll");
  const Figures& raw = round.at("raw_uring");
  const Figures& timed = round.at("coroutine_timeout");
  MeasuredRatios()[benchmark].push_back(RoundRatios{
      .rate_vs_epoll = coroutine.*rate / epoll.*rate,
      .rate_vs_raw = coroutine.*rate / raw.*rate,
      .cpu_vs_epoll = coroutine.*cpu / epoll.*cpu,
      .cpu_vs_raw = coroutine.*cpu / raw.*cpu,
      .timeout_rate_vs_plain = timed.*rate / coroutine.*rate,
      .timeout_cpu_vs_plain = timed.*cpu / coroutine.*cpu,
  });
}

// One round: `measure` on every server, in an order shuffled per round.
// Returns the figures by server name, or fails the benchmark and returns
// nothing.
template <typename Figures>
std::optional<std::map<std::string, Figures>> MeasureRound(
    benchmark::State& state,
    const std::function<absl::StatusOr<Figures>(const ServerKind&)>& measure) {
  static std::minstd_rand shuffler;
  std::vector<const ServerKind*> order;
  for (const ServerKind& kind : ServerKinds()) order.push_back(&kind);
  std::shuffle(order.begin(), order.end(), shuffler);
  std::map<std::string, Figures> round;
  for (const ServerKind* kind : order) {
    absl::StatusOr<Figures> figures = measure(*kind);
    if (!figures.ok()) {
      state.SkipWithError(absl::StrCat(kind->name, ": ", figures.status().ToString()).c_str());
      return std::nullopt;
    }
    round[kind->name] = *std::move(figures);
  }
  return round;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

// The median of one field over the rounds of a server or benchmark.
template <typename Figures, typename Field>
double MedianOf(const std::vector<Figures>& rounds, Field Figures::*field) {
  std::vector<double> values;
  for (const Figures& round : rounds) values.push_back(static_cast<double>(round.*field));
  return Median(values);
}

// Every server's medians over the echo rounds, by connections.
void PrintEchoMedians() {
  const auto& figures = MeasuredFigures();
  if (figures.empty()) return;
  std::printf(
      "\nMedians of %d rounds (%d at 1000 connections)\n"
      "| connections | server | req/s | p50 us | p99 us | cpu us/req | "
      "enters/req | corrupted bytes |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
      kRepetitions, RepetitionsFor(1000));
  for (int connections : {1, 10, 100, 1000}) {
    for (const char* server : {"epoll", "raw_uring", "coroutine", "coroutine_timeout"}) {
      auto it = figures.find({server, connections});
      if (it == figures.end()) continue;
      uint64_t corrupted = 0;
      for (const EchoFigures& run : it->second) corrupted += run.corrupted_bytes;
      std::printf("| %d | %s | %.0f | %.1f | %.1f | %.2f | %.3f | %llu |\n", connections, server,
                  MedianOf(it->second, &EchoFigures::requests_per_second),
                  MedianOf(it->second, &EchoFigures::p50_micros),
                  MedianOf(it->second, &EchoFigures::p99_micros),
                  MedianOf(it->second, &EchoFigures::cpu_micros_per_request),
                  MedianOf(it->second, &EchoFigures::enters_per_request),
                  static_cast<unsigned long long>(corrupted));
    }
  }
}

// Every server's medians over the churn rounds.
void PrintChurnMedians() {
  const auto& churn = MeasuredChurn();
  if (churn.empty()) return;
  std::printf(
      "\nConnection churn, medians of %d rounds\n"
      "| server | conn/s | cpu us/conn | failed |\n| --- | ---: | ---: | ---: |\n",
      kRepetitions);
  for (const char* server : {"epoll", "raw_uring", "coroutine", "coroutine_timeout"}) {
    auto it = churn.find(server);
    if (it == churn.end()) continue;
    int64_t failures = 0;
    for (const ChurnFigures& round : it->second) failures += round.failures;
    std::printf("| %s | %.0f | %.2f | %lld |\n", server,
                MedianOf(it->second, &ChurnFigures::connections_per_second),
                MedianOf(it->second, &ChurnFigures::cpu_micros_per_connection),
                static_cast<long long>(failures));
  }
}

// The medians of the coroutine server's per-round ratios, by benchmark.
void PrintRatios() {
  std::printf(
      "\nCoroutine server against the baselines, and coroutine_timeout against the\n"
      "coroutine server: medians of the per-round ratios\n"
      "| benchmark | rate vs epoll | rate vs raw_uring | cpu vs epoll | "
      "cpu vs raw_uring | timeout: rate vs plain | timeout: cpu vs plain |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto& [benchmark, rounds] : MeasuredRatios()) {
    std::printf(
        "| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", benchmark.c_str(),
        MedianOf(rounds, &RoundRatios::rate_vs_epoll), MedianOf(rounds, &RoundRatios::rate_vs_raw),
        MedianOf(rounds, &RoundRatios::cpu_vs_epoll), MedianOf(rounds, &RoundRatios::cpu_vs_raw),
        MedianOf(rounds, &RoundRatios::timeout_rate_vs_plain),
        MedianOf(rounds, &RoundRatios::timeout_cpu_vs_plain));
  }
}

void PrintSummary() {
  PrintEchoMedians();
  PrintChurnMedians();
  if (!MeasuredRatios().empty()) PrintRatios();
}

// One server under the closed-loop load of `connections` connections.
absl::StatusOr<EchoFigures> MeasureEcho(const ServerKind& kind, int connections) {
  absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> server = kind.create();
  if (!server.ok()) return server.status();
  ServingThread serving(*std::move(server), kind.name);
  absl::Duration cpu_at_start, cpu_at_end;
  EchoLoadOptions options;
  options.connections = connections;
  options.warmup = absl::Milliseconds(200);
  options.measurement = absl::Milliseconds(600);
  options.on_measurement_start = [&] { cpu_at_start = serving.CpuTime(); };
  options.on_measurement_end = [&] { cpu_at_end = serving.CpuTime(); };
  absl::StatusOr<EchoLoadReport> report = RunEchoLoad(serving.server().port(), options);
  const absl::Status served = serving.Stop();
  if (!report.ok()) return report.status();
  if (!served.ok()) return served;
  const double requests = static_cast<double>(report->requests);
  const double all_requests = static_cast<double>(report->checked_bytes / options.message_size);
  EchoFigures figures;
  figures.requests_per_second = report->RequestsPerSecond();
  figures.p50_micros = absl::ToDoubleMicroseconds(report->latency.Percentile(0.50));
  figures.p99_micros = absl::ToDoubleMicroseconds(report->latency.Percentile(0.99));
  figures.cpu_micros_per_request = absl::ToDoubleMicroseconds(cpu_at_end - cpu_at_start) / requests;
  figures.enters_per_request = static_cast<double>(serving.server().kernel_enters()) / all_requests;
  figures.corrupted_bytes = report->corrupted_bytes;
  return figures;
}

void BM_Echo(benchmark::State& state) {
  const int connections = static_cast<int>(state.range(0));
  PinCurrentThreadTo(kClientCpu);
  for (auto _ : state) {
    std::optional<std::map<std::string, EchoFigures>> round = MeasureRound<EchoFigures>(
        state, [connections](const ServerKind& kind) { return MeasureEcho(kind, connections); });
    if (!round.has_value()) return;
    uint64_t corrupted = 0;
    for (const auto& [name, figures] : *round) {
      corrupted += figures.corrupted_bytes;
      MeasuredFigures()[{name, connections}].push_back(figures);
      state.counters[absl::StrCat(name, "_req/s")] = figures.requests_per_second;
      state.counters[absl::StrCat(name, "_cpu_us/req")] = figures.cpu_micros_per_request;
    }
    state.counters["corrupted"] = static_cast<double>(corrupted);
    RecordRatios(absl::StrCat("echo/", connections), *round, &EchoFigures::requests_per_second,
                 &EchoFigures::cpu_micros_per_request);
  }
}

// ----- connection churn -----

// One short-lived connection: connect, one 64-byte echo, close with a reset
// (SO_LINGER 0, so no TIME_WAIT piles up on the client's ports). Returns
// false if anything failed or the echo differed.
bool OneShortConnection(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char message[64];
  for (size_t i = 0; i < sizeof message; ++i) message[i] = static_cast<char>(i * 7 + port);
  char echo[64];
  size_t received = 0;
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
            write(fd, message, sizeof message) == static_cast<ssize_t>(sizeof message);
  while (ok && received < sizeof echo) {
    const ssize_t n = read(fd, echo + received, sizeof echo - received);
    ok = n > 0;
    if (ok) received += static_cast<size_t>(n);
  }
  ok = ok && std::memcmp(message, echo, sizeof echo) == 0;
  const linger reset_on_close = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof reset_on_close);
  close(fd);
  return ok;
}

// Connections per second and server CPU per connection when every request
// comes on a new connection: accept, a new handler task and its stream
// state, and close, for every echo.
absl::StatusOr<ChurnFigures> MeasureChurn(const ServerKind& kind) {
  absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> server = kind.create();
  if (!server.ok()) return server.status();
  ServingThread serving(*std::move(server), kind.name);
  const uint16_t port = serving.server().port();
  for (int i = 0; i < 100; ++i) OneShortConnection(port);  // warm-up
  const absl::Duration cpu_at_start = serving.CpuTime();
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Milliseconds(500);
  int64_t connections = 0;
  ChurnFigures figures;
  while (absl::Now() < end) {
    figures.failures += !OneShortConnection(port);
    ++connections;
  }
  const absl::Duration elapsed = absl::Now() - start;
  const absl::Duration cpu = serving.CpuTime() - cpu_at_start;
  if (absl::Status served = serving.Stop(); !served.ok()) return served;
  figures.connections_per_second =
      static_cast<double>(connections) / absl::ToDoubleSeconds(elapsed);
  figures.cpu_micros_per_connection = absl::ToDoubleMicroseconds(cpu) / connections;
  return figures;
}

void BM_ConnectionChurn(benchmark::State& state) {
  PinCurrentThreadTo(kClientCpu);
  for (auto _ : state) {
    std::optional<std::map<std::string, ChurnFigures>> round =
        MeasureRound<ChurnFigures>(state, MeasureChurn);
    if (!round.has_value()) return;
    int64_t failures = 0;
    for (const auto& [name, figures] : *round) {
      failures += figures.failures;
      MeasuredChurn()[name].push_back(figures);
      state.counters[absl::StrCat(name, "_conn/s")] = figures.connections_per_second;
      state.counters[absl::StrCat(name, "_cpu_us/conn")] = figures.cpu_micros_per_connection;
    }
    state.counters["failed"] = static_cast<double>(failures);
    RecordRatios("churn", *round, &ChurnFigures::connections_per_second,
                 &ChurnFigures::cpu_micros_per_connection);
  }
}

// ----- idle connections -----

void RaiseDescriptorLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

// The resident set of `pid` in bytes, from /proc.
int64_t ResidentBytes(pid_t pid, absl::string_view field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, field)) {
      int64_t kib = 0;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits += c;
      }
      if (absl::SimpleAtoi(digits, &kib)) return kib * 1024;
    }
  }
  return -1;
}

// Runs the server in a child process; the child serves until its end of
// `stop_pipe` closes, after writing the port to `port_pipe`.
void ServeInChild(const ServerKind& kind, int port_pipe, int stop_pipe) {
  RaiseDescriptorLimit();
  absl::StatusOr<std::unique_ptr<EchoServerUnderTest>> server = kind.create();
  uint16_t port = server.ok() ? (*server)->port() : 0;
  (void)!write(port_pipe, &port, sizeof port);
  if (!server.ok()) _exit(1);
  std::thread stopper([&] {
    char byte;
    (void)!read(stop_pipe, &byte, 1);
    (*server)->Stop();
  });
  const absl::Status served = (*server)->Serve();
  stopper.join();
  _exit(served.ok() ? 0 : 1);
}

void BM_IdleConnections(benchmark::State& state, const ServerKind& kind) {
  const int connections = static_cast<int>(state.range(0));
  RaiseDescriptorLimit();
  for (auto _ : state) {
    int port_pipe[2], stop_pipe[2];
    if (pipe(port_pipe) != 0 || pipe(stop_pipe) != 0) {
      state.SkipWithError("pipe failed");
      return;
    }
    const pid_t child = fork();
    if (child == 0) {
      close(stop_pipe[1]);
      ServeInChild(kind, port_pipe[1], stop_pipe[0]);
    }
    close(port_pipe[1]);
    close(stop_pipe[0]);
    uint16_t port = 0;
    (void)!read(port_pipe[0], &port, sizeof port);
    close(port_pipe[0]);
    if (port == 0) {
      close(stop_pipe[1]);
      waitpid(child, nullptr, 0);
      state.SkipWithError("the server could not start");
      return;
    }
    // A short warm-up with one connection lets the server reach its steady
    // state (ring mapped, first allocations made) before the baseline.
    EchoLoadOptions one;
    one.warmup = absl::ZeroDuration();
    one.measurement = absl::Milliseconds(50);
    absl::StatusOr<EchoLoadReport> warm = RunEchoLoad(port, one);
    const int64_t rss_before = ResidentBytes(child, "VmRSS:");
    // All connections open and echo for a moment, then they idle (the
    // server waits in a receive on each) while the resident set is read.
    EchoLoadOptions idle;
    idle.connections = connections;
    idle.warmup = absl::Milliseconds(300);
    idle.measurement = absl::ZeroDuration();
    int64_t rss_with_connections = 0, peak = 0;
    idle.on_measurement_end = [&] {
      absl::SleepFor(absl::Milliseconds(100));
      rss_with_connections = ResidentBytes(child, "VmRSS:");
      peak = ResidentBytes(child, "VmHWM:");
    };
    absl::StatusOr<EchoLoadReport> report = RunEchoLoad(port, idle);
    close(stop_pipe[1]);
    int child_status = 0;
    waitpid(child, &child_status, 0);
    if (!warm.ok() || !report.ok()) {
      state.SkipWithError((warm.ok() ? report.status() : warm.status()).ToString().c_str());
      return;
    }
    state.counters["rss_bytes/conn"] =
        static_cast<double>(rss_with_connections - rss_before) / connections;
    state.counters["peak_rss_MiB"] = static_cast<double>(peak) / (1 << 20);
    state.counters["corrupted"] = static_cast<double>(report->corrupted_bytes);
  }
}

void RegisterEchoBenchmarks() {
  for (int connections : {1, 10, 100, 1000}) {
    benchmark::RegisterBenchmark("BM_Echo", BM_Echo)
        ->Arg(connections)
        ->Iterations(1)
        ->Repetitions(RepetitionsFor(connections))
        ->ReportAggregatesOnly(true)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_ConnectionChurn", BM_ConnectionChurn)
      ->Iterations(1)
      ->Repetitions(kRepetitions)
      ->ReportAggregatesOnly(true)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (const ServerKind& kind : ServerKinds()) {
    benchmark::RegisterBenchmark(absl::StrCat("BM_IdleConnections/", kind.name).c_str(),
                                 BM_IdleConnections, kind)
        ->Arg(10000)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace
}  // namespace asyncio_like

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  asyncio_like::RegisterEchoBenchmarks();
  // Interleave the repetitions of all servers unless told otherwise.
  std::vector<char*> args(argv, argv + argc);
  char interleave[] = "--benchmark_enable_random_interleaving=true";
  bool interleaving_given = false;
  for (char* arg : args) {
    interleaving_given |= absl::StartsWith(arg, "--benchmark_enable_random_interleaving");
  }
  if (!interleaving_given) args.insert(args.begin() + 1, interleave);
  // --faults=SPEC is ours, not Google Benchmark's.
  for (auto it = args.begin() + 1; it != args.end(); ++it) {
    if (!absl::StartsWith(*it, "--faults=")) continue;
    absl::StatusOr<asyncio_like::FaultOptions> faults =
        asyncio_like::ParseFaultSpec(absl::string_view(*it).substr(9));
    if (!faults.ok()) {
      std::fprintf(stderr, "echo_benchmark: --faults: %s\n", faults.status().ToString().c_str());
      return 2;
    }
    asyncio_like::CoroutineLoopOptions().faults = *faults;
    args.erase(it);
    break;
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  asyncio_like::PrintSummary();
  return 0;
}
