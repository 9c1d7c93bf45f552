// The GIL model against the machine's own CPython, side by side.
//
//   tools/bazel run -c opt //gil_model:experiments
//   tools/bazel run -c opt //gil_model:experiments -- --quick    # a few seconds
//   tools/bazel run -c opt //gil_model:experiments -- --help     # the flags
//
// Each experiment runs on the model and, in the same run, as the equivalent
// pure-Python program (python/*.py, standard library only) under `python3`
// from PATH (or --python), and prints both with their ratio. Without python3
// the CPython columns say so and the model's columns are still printed.
//
// 1. CPU-bound: a countdown of N units, twice in a row and then in two
//    threads, under each policy. CPython's GIL gives no speed-up; on two
//    idle cores free threading gives about 2x and the tick-based GIL
//    thrashes (futile wake-ups, slower than sequential).
// 2. Convoy: a server thread echoes 64-byte requests on loopback, with and
//    without a CPU-bound thread beside it, at switch intervals 0.5, 5 and
//    50 ms (--switch_intervals). A client in another process (convoy_client) measures the round
//    trips. The server makes two blocking calls per request (recv, send),
//    each of which releases the GIL, and has to wait for it after each.
// 3. I/O overlap: N threads that each block once; with the GIL released
//    around the block, the wall time is about one wait, not N.
//
// Calibration: one bytecode unit should cost what CPython spends between two
// eval-breaker checks. Experiment 1 first measures exactly that on CPython:
// the CPU time of one countdown iteration (`while n > 0: n -= 1` checks the
// breaker once per iteration; CPU time, because on a shared machine the wall
// clock also counts time the process was not running). The model then uses
// it as its unit cost for all three experiments; without python3 it keeps its
// default of 25 ns.

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gil_model/gil.h"
#include "gil_model/subprocess.h"
#include "tools/cpp/runfiles/runfiles.h"

ABSL_FLAG(bool, quick, false,
          "a run of a few seconds: a shorter countdown, one round, the 5 ms "
          "switch interval only, 4 I/O threads; the other flags override it");
ABSL_FLAG(std::optional<int64_t>, countdown_units, std::nullopt,
          "experiment 1: iterations of each countdown (default 3000000; "
          "--quick 300000)");
ABSL_FLAG(std::optional<int>, rounds, std::nullopt,
          "experiment 1: rounds; each column is the best one (default 5; "
          "--quick 1)");
ABSL_FLAG(std::string, switch_intervals, "",
          "experiment 2: comma-separated switch intervals (default "
          "500us,5ms,50ms; --quick 5ms)");
ABSL_FLAG(std::optional<int>, io_threads, std::nullopt,
          "experiment 3: threads that each block once (default 8; --quick 4)");
ABSL_FLAG(std::optional<absl::Duration>, io_wait, std::nullopt,
          "experiment 3: how long each thread blocks (default 100ms)");
ABSL_FLAG(std::optional<std::string>, python, std::nullopt,
          "the CPython interpreter (default: python3 from PATH if there is "
          "one; one named here must run)");

namespace gil_model {
namespace {

using KeyValues = std::map<std::string, double, std::less<>>;
using bazel::tools::cpp::runfiles::Runfiles;

// Bytecode between the recv and the send of one request in the Python server
// (`if not data`, the call to sendall, the loop's backward jump): about three
// eval-breaker checks.
constexpr int64_t kUnitsPerRequest = 3;

// What to run, from the flags.
struct Config {
  int64_t countdown_units = 3'000'000;
  // Each column is the best of this many rounds: the machine may be shared.
  int rounds = 5;
  std::vector<absl::Duration> switch_intervals = {
      absl::Microseconds(500), absl::Milliseconds(5), absl::Milliseconds(50)};
  int io_threads = 8;
  absl::Duration io_wait = absl::Milliseconds(100);
  std::string python = "python3";
  bool python_required = false;  // named by --python: it must run
};

absl::StatusOr<Config> ConfigFromFlags() {
  Config config;
  if (absl::GetFlag(FLAGS_quick)) {
    config.countdown_units = 300'000;
    config.rounds = 1;
    config.switch_intervals = {absl::Milliseconds(5)};
    config.io_threads = 4;
  }
  config.countdown_units =
      absl::GetFlag(FLAGS_countdown_units).value_or(config.countdown_units);
  if (config.countdown_units < 1000 || config.countdown_units > 1'000'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--countdown_units=", config.countdown_units,
                     " is out of range: valid is 1000..1000000000"));
  }
  config.rounds = absl::GetFlag(FLAGS_rounds).value_or(config.rounds);
  if (config.rounds < 1 || config.rounds > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--rounds=", config.rounds, " is out of range: valid is 1..100"));
  }
  if (const std::string list = absl::GetFlag(FLAGS_switch_intervals);
      !list.empty()) {
    config.switch_intervals.clear();
    for (absl::string_view item : absl::StrSplit(list, ',')) {
      absl::Duration interval;
      if (!absl::ParseDuration(absl::StripAsciiWhitespace(item), &interval)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--switch_intervals: '", item, "' is not a duration; give a "
            "comma-separated list such as 500us,5ms,50ms"));
      }
      if (interval < absl::Microseconds(10) || interval > absl::Seconds(1)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--switch_intervals: ", absl::FormatDuration(interval),
                         " is out of range: valid is 10us..1s"));
      }
      config.switch_intervals.push_back(interval);
    }
  }
  config.io_threads = absl::GetFlag(FLAGS_io_threads).value_or(config.io_threads);
  if (config.io_threads < 1 || config.io_threads > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--io_threads=", config.io_threads, " is out of range: valid is 1..1000"));
  }
  config.io_wait = absl::GetFlag(FLAGS_io_wait).value_or(config.io_wait);
  if (config.io_wait < absl::Milliseconds(1) ||
      config.io_wait > absl::Seconds(10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--io_wait=", absl::FormatDuration(config.io_wait),
                     " is out of range: valid is 1ms..10s"));
  }
  if (std::optional<std::string> python = absl::GetFlag(FLAGS_python)) {
    config.python = *python;
    config.python_required = true;
  }
  return config;
}

struct Files {
  std::string countdown_py;
  std::string convoy_server_py;
  std::string io_overlap_py;
  std::string convoy_client;
};

// The repositories in the runfiles that may hold this package. Bazel 4's
// runfiles library wants paths that start with the repository's name, which
// for this package is the name of whatever workspace it was copied into:
// TEST_WORKSPACE under `bazel test`; otherwise the entries of the runfiles
// directory, or the first components of the manifest's paths.
std::vector<std::string> CandidateRepositories(const Runfiles& runfiles) {
  std::vector<std::string> names;
  auto add = [&names](std::string name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(std::move(name));
    }
  };
  if (const char* name = std::getenv("TEST_WORKSPACE"); name != nullptr) {
    add(name);
  }
  for (const auto& [variable, value] : runfiles.EnvVars()) {
    if (variable == "RUNFILES_DIR") {
      if (DIR* dir = opendir(value.c_str()); dir != nullptr) {
        while (const dirent* entry = readdir(dir)) {
          const std::string name = entry->d_name;
          struct stat info;
          if (name != "." && name != ".." &&
              stat(absl::StrCat(value, "/", name).c_str(), &info) == 0 &&
              S_ISDIR(info.st_mode)) {
            add(name);
          }
        }
        closedir(dir);
      }
    } else if (variable == "RUNFILES_MANIFEST_FILE") {
      std::ifstream manifest(value);
      std::string line;
      while (std::getline(manifest, line)) {
        const size_t slash = line.find('/');
        if (slash != std::string::npos &&
            absl::StartsWith(line.substr(slash), "/gil_model/")) {
          add(line.substr(0, slash));
        }
      }
    }
  }
  return names;
}

absl::StatusOr<Files> LocateFiles(const char* argv0) {
  std::string error;
  std::unique_ptr<Runfiles> runfiles(Runfiles::Create(argv0, &error));
  if (runfiles == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "cannot find this program's runfiles (", error,
        "); start it with `bazel run //gil_model:experiments`, or as "
        "bazel-bin/gil_model/experiments after `bazel build`"));
  }
  const std::vector<std::string> repositories = CandidateRepositories(*runfiles);
  for (const std::string& repository : repositories) {
    auto locate = [&](absl::string_view path) {
      return runfiles->Rlocation(absl::StrCat(repository, "/gil_model/", path));
    };
    Files files{locate("python/countdown.py"), locate("python/convoy_server.py"),
                locate("python/io_overlap.py"), locate("convoy_client")};
    bool complete = true;
    for (const std::string& path : {files.countdown_py, files.convoy_server_py,
                                    files.io_overlap_py, files.convoy_client}) {
      complete = complete && !path.empty() && access(path.c_str(), R_OK) == 0;
    }
    if (complete) return files;
  }
  std::vector<std::string> where;
  for (const auto& [variable, value] : runfiles->EnvVars()) {
    where.push_back(absl::StrCat(variable, "=", value));
  }
  return absl::NotFoundError(absl::StrCat(
      "gil_model/python/*.py and gil_model/convoy_client are not in the "
      "runfiles (",
      absl::StrJoin(where, ", "), "; repositories there: ",
      repositories.empty() ? "none" : absl::StrJoin(repositories, ", "),
      "); the experiments binary needs the data files of its BUILD target"));
}

// "a=1.5 b=2" -> {a: 1.5, b: 2}.
absl::StatusOr<KeyValues> ParseKeyValues(absl::string_view line) {
  KeyValues values;
  for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(field, absl::MaxSplits('=', 1));
    double value = 0;
    if (!absl::SimpleAtod(kv.second, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot parse \"", field, "\" in \"", line, "\""));
    }
    values[std::string(kv.first)] = value;
  }
  return values;
}

absl::StatusOr<KeyValues> RunAndParse(const std::vector<std::string>& argv) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(argv);
  if (!process.ok()) return process.status();
  absl::StatusOr<std::string> out = (*process)->Finish();
  if (!out.ok()) return out.status();
  return ParseKeyValues(absl::StripTrailingAsciiWhitespace(*out));
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

std::unique_ptr<Gil> MakeGil(
    GilPolicy policy, absl::Duration unit_cost,
    absl::Duration switch_interval = absl::Milliseconds(5)) {
  GilOptions options;
  options.policy = policy;
  options.unit_cost = unit_cost;
  options.switch_interval = switch_interval;
  return std::move(Gil::Create(options)).value();
}

InterpreterThread Attach(Gil& gil, absl::string_view name) {
  return std::move(InterpreterThread::Attach(gil, name)).value();
}

// --- The machine and its python3 ---

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (absl::StartsWith(line, "model name")) {
      return std::string(
          absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)));
    }
  }
  return "unknown CPU";
}

std::string LoadAverage() {
  std::ifstream loadavg("/proc/loadavg");
  std::string one, five, fifteen;
  loadavg >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

// The version of `python`, or an explanation of why it cannot run.
absl::StatusOr<std::string> PythonVersion(const std::string& python) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(
      {python, "-c", "import sys; print(sys.version.split()[0])"});
  if (!process.ok()) return process.status();
  absl::StatusOr<std::string> out = (*process)->Finish();
  if (!out.ok()) return out.status();
  return std::string(absl::StripAsciiWhitespace(*out));
}

// --- Experiment 1: CPU-bound countdown ---

struct CountdownTimes {
  double sequential_s = 0;
  double threaded_s = 0;
  int64_t switches = -1;        // GIL hand-overs in the threaded run; -1: n/a
  int64_t futile_wakeups = -1;  // waiters woken for nothing; -1: n/a
};

// One run of each column on the model.
CountdownTimes ModelCountdown(GilPolicy policy, absl::Duration unit_cost,
                              int64_t units) {
  CountdownTimes times;
  {
    std::unique_ptr<Gil> gil = MakeGil(policy, unit_cost);
    const absl::Time start = absl::Now();
    InterpreterThread py = Attach(*gil, "main");
    py.RunBytecode(units).IgnoreError();
    py.RunBytecode(units).IgnoreError();
    times.sequential_s = Seconds(absl::Now() - start);
  }
  std::unique_ptr<Gil> gil = MakeGil(policy, unit_cost);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&gil, units] {
      InterpreterThread py = Attach(*gil, "countdown");
      py.RunBytecode(units).IgnoreError();
    });
  }
  for (std::thread& thread : threads) thread.join();
  times.threaded_s = Seconds(absl::Now() - start);
  const GilStats stats = gil->Stats();
  times.switches = stats.switches;
  times.futile_wakeups = stats.futile_wakeups;
  return times;
}

// One run of each column on CPython.
absl::StatusOr<CountdownTimes> CPythonCountdown(const Config& config,
                                                const Files& files) {
  absl::StatusOr<KeyValues> out =
      RunAndParse({config.python, files.countdown_py,
                   absl::StrCat(config.countdown_units),
                   /*repeats=*/"1"});
  if (!out.ok()) return out.status();
  return CountdownTimes{(*out)["sequential_s"], (*out)["threaded_s"], -1, -1};
}

void KeepBest(CountdownTimes& best, const CountdownTimes& run) {
  best.sequential_s = std::min(best.sequential_s, run.sequential_s);
  if (run.threaded_s < best.threaded_s) {
    best.threaded_s = run.threaded_s;
    best.switches = run.switches;
    best.futile_wakeups = run.futile_wakeups;
  }
}

void PrintCountdownRow(absl::string_view who, const CountdownTimes& t) {
  auto count = [](int64_t n) { return n < 0 ? "-" : absl::StrCat(n); };
  absl::PrintF("| %-26s | %8.3f s | %8.3f s | %6.2fx | %8s | %13s |\n", who,
               t.sequential_s, t.threaded_s, t.sequential_s / t.threaded_s,
               count(t.switches), count(t.futile_wakeups));
}

// Returns the unit cost for the other experiments.
absl::Duration ExperimentCpuBound(const Config& config, const Files& files,
                                  bool have_python) {
  absl::PrintF(
      "\n## 1. CPU-bound: countdown of %d iterations, twice in a row vs. in "
      "two threads (best of %d interleaved rounds)\n\n",
      config.countdown_units, config.rounds);
  absl::Duration unit_cost = absl::Nanoseconds(25);
  bool calibrated = false;
  if (have_python) {
    absl::StatusOr<KeyValues> out =
        RunAndParse({config.python, files.countdown_py,
                     absl::StrCat(config.countdown_units), /*repeats=*/"3"});
    if (out.ok()) {
      unit_cost = absl::Nanoseconds((*out)["ns_per_iteration"]);
      calibrated = true;
    } else {
      absl::PrintF("CPython calibration run failed: %s\n\n",
                   out.status().ToString());
    }
  }
  absl::PrintF(
      "Model unit cost: %s (%s), %d multiply-add steps of %.3f ns.\n\n",
      absl::FormatDuration(unit_cost),
      calibrated ? "CPython's countdown iteration, measured just now"
                 : "default; no CPython measurement",
      BytecodeWork(unit_cost).steps_per_unit(),
      BytecodeWork::StepNanoseconds());

  // Rounds alternate between CPython and the model's policies, and each
  // column keeps its best round, so that a busy spell on a shared machine
  // does not land on one side only.
  constexpr GilPolicy kPolicies[] = {GilPolicy::kNewGil, GilPolicy::kTickBased,
                                     GilPolicy::kFreeThreaded};
  const CountdownTimes worst{1e9, 1e9, -1, -1};
  CountdownTimes model[3] = {worst, worst, worst};
  CountdownTimes cpython = worst;
  absl::Status cpython_status =
      have_python ? absl::OkStatus() : absl::NotFoundError("no CPython");
  for (int round = 0; round < config.rounds; ++round) {
    if (cpython_status.ok()) {
      absl::StatusOr<CountdownTimes> run = CPythonCountdown(config, files);
      cpython_status = run.status();
      if (run.ok()) KeepBest(cpython, *run);
    }
    for (int p = 0; p < 3; ++p) {
      KeepBest(model[p],
               ModelCountdown(kPolicies[p], unit_cost, config.countdown_units));
    }
  }
  if (have_python && !cpython_status.ok()) {
    absl::PrintF("CPython run failed: %s\n\n", cpython_status.ToString());
  }

  absl::PrintF("| %-26s | %10s | %10s | %7s | %8s | %13s |\n", "", "sequential",
               "2 threads", "speed-up", "switches", "futile wakes");
  absl::PrintF("|%s|%s|%s|%s|%s|%s|\n", std::string(28, '-'),
               std::string(12, '-'), std::string(12, '-'), std::string(9, '-'),
               std::string(10, '-'), std::string(15, '-'));
  for (int p = 0; p < 3; ++p) {
    PrintCountdownRow(absl::StrCat("model ", GilPolicyName(kPolicies[p])),
                      model[p]);
  }
  const CountdownTimes& model_new = model[0];
  if (have_python && cpython_status.ok()) {
    PrintCountdownRow("CPython (its GIL)", cpython);
    absl::PrintF(
        "\nmodel new-gil / CPython: sequential %.2f, 2 threads %.2f, "
        "speed-up %.2f\n",
        model_new.sequential_s / cpython.sequential_s,
        model_new.threaded_s / cpython.threaded_s,
        (model_new.sequential_s / model_new.threaded_s) /
            (cpython.sequential_s / cpython.threaded_s));
  } else {
    absl::PrintF("| %-26s | %10s | %10s | %7s | %8s | %13s |\n",
                 "CPython (its GIL)", "n/a", "n/a", "n/a", "-", "-");
  }
  return unit_cost;
}

// --- Experiment 2: convoy ---

// The client's think time between requests: two switch intervals and 1 ms.
// It must exceed the time a woken thread needs to run, or the server thread
// re-takes the GIL before the CPU thread ever gets it and there is no convoy.
// And with more than two intervals the server is always back in recv(), with
// the GIL released, when the next request arrives: every round trip then
// measures one GIL re-acquisition after I/O, not a race between the
// re-acquisition after the previous send() and the next request.
absl::Duration ClientPause(absl::Duration interval) {
  return 2 * interval + absl::Milliseconds(1);
}

// The client's limits: enough requests for a stable median, a few seconds at
// most per configuration.
std::vector<std::string> ClientCommand(const Files& files, int port,
                                       absl::Duration interval, bool with_cpu) {
  const double max_seconds =
      with_cpu ? std::max(1.0, 60 * Seconds(interval)) : 0.5;
  return {files.convoy_client, absl::StrCat(port), "1000",
          absl::StrCat(max_seconds),
          absl::StrCat(absl::ToInt64Microseconds(ClientPause(interval)))};
}

absl::Status SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError("send failed");
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// The model's echo server: the same structure as python/convoy_server.py.
absl::StatusOr<KeyValues> ModelConvoy(const Files& files,
                                      absl::Duration unit_cost,
                                      absl::Duration interval, bool with_cpu,
                                      GilStats& stats) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return absl::InternalError("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
          0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) !=
          0) {
    close(listener);
    return absl::InternalError("cannot listen on loopback");
  }

  std::unique_ptr<Gil> gil = MakeGil(GilPolicy::kNewGil, unit_cost, interval);
  std::atomic<bool> stop{false};
  absl::Notification cpu_running;
  std::thread cpu;
  if (with_cpu) {
    cpu = std::thread([&] {
      InterpreterThread py = Attach(*gil, "cpu");
      cpu_running.Notify();
      while (!stop.load(std::memory_order_relaxed)) {
        py.RunBytecode(1000).IgnoreError();
      }
    });
    cpu_running.WaitForNotification();
  }

  absl::StatusOr<std::unique_ptr<Subprocess>> client = Subprocess::Start(
      ClientCommand(files, ntohs(address.sin_port), interval, with_cpu));
  absl::Status served = client.status();
  if (served.ok()) {
    InterpreterThread py = Attach(*gil, "server");
    int conn = -1;
    {
      AllowThreads blocking(py);
      pollfd readable = {listener, POLLIN, 0};
      if (poll(&readable, 1, 30'000) == 1)
        conn = accept(listener, nullptr, nullptr);
    }
    if (conn < 0) {
      served = absl::InternalError("the client did not connect");
    } else {
      const int one = 1;
      setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      char buffer[64];
      while (served.ok()) {
        ssize_t n;
        {
          AllowThreads blocking(py);
          do {
            n = recv(conn, buffer, sizeof(buffer), 0);
          } while (n < 0 && errno == EINTR);
        }
        if (n <= 0) break;
        served = py.RunBytecode(kUnitsPerRequest);
        if (!served.ok()) break;
        AllowThreads blocking(py);
        served = SendAll(conn, buffer, static_cast<size_t>(n));
      }
      close(conn);
    }
  }
  close(listener);
  stop.store(true);
  if (cpu.joinable()) cpu.join();
  stats = gil->Stats();
  if (!served.ok()) return served;
  absl::StatusOr<std::string> out = (*client)->Finish();
  if (!out.ok()) return out.status();
  return ParseKeyValues(absl::StripTrailingAsciiWhitespace(*out));
}

absl::StatusOr<KeyValues> PythonConvoy(const Config& config,
                                       const Files& files,
                                       absl::Duration interval, bool with_cpu) {
  absl::StatusOr<std::unique_ptr<Subprocess>> server =
      Subprocess::Start({config.python, files.convoy_server_py,
                         absl::StrCat(absl::ToDoubleMilliseconds(interval)),
                         with_cpu ? "cpu" : "nocpu"});
  if (!server.ok()) return server.status();
  absl::StatusOr<std::string> line = (*server)->ReadLine(absl::Seconds(30));
  if (!line.ok()) return line.status();
  absl::StatusOr<KeyValues> port = ParseKeyValues(*line);
  if (!port.ok()) return port.status();
  absl::StatusOr<KeyValues> latency = RunAndParse(ClientCommand(
      files, static_cast<int>((*port)["port"]), interval, with_cpu));
  if (!latency.ok()) return latency.status();
  if (absl::StatusOr<std::string> rest = (*server)->Finish(); !rest.ok()) {
    return rest.status();
  }
  return latency;
}

std::string Micros(double us) {
  return us >= 10000 ? absl::StrFormat("%.1f ms", us / 1000)
                     : absl::StrFormat("%.0f us", us);
}

void ExperimentConvoy(const Config& config, const Files& files,
                      bool have_python, absl::Duration unit_cost) {
  absl::PrintF(
      "\n## 2. Convoy: loopback echo of 64-byte requests, round trip measured "
      "by a client process (pause between requests: 2 intervals + 1 ms)\n\n");
  absl::PrintF("| %8s | %3s | %-20s | %-20s | %13s | %-26s |\n", "interval",
               "CPU", "model p50 (p90)", "CPython p50 (p90)", "model/CPython",
               "model: requests, drops");
  absl::PrintF("|%s|%s|%s|%s|%s|%s|\n", std::string(10, '-'),
               std::string(5, '-'), std::string(22, '-'), std::string(22, '-'),
               std::string(15, '-'), std::string(28, '-'));
  for (absl::Duration interval : config.switch_intervals) {
    for (bool with_cpu : {false, true}) {
      GilStats stats;
      absl::StatusOr<KeyValues> model =
          ModelConvoy(files, unit_cost, interval, with_cpu, stats);
      absl::StatusOr<KeyValues> cpython =
          have_python ? PythonConvoy(config, files, interval, with_cpu)
                      : absl::StatusOr<KeyValues>(
                            absl::NotFoundError("python3 not available"));
      auto cell = [](const absl::StatusOr<KeyValues>& r) {
        if (!r.ok()) return std::string("n/a");
        return absl::StrCat(Micros(r->at("p50_us")), " (",
                            Micros(r->at("p90_us")), ")");
      };
      std::string ratio = "n/a";
      if (model.ok() && cpython.ok()) {
        ratio = absl::StrFormat("%.2f",
                                model->at("p50_us") / cpython->at("p50_us"));
      }
      absl::PrintF("| %8s | %3s | %-20s | %-20s | %13s | %-26s |\n",
                   absl::FormatDuration(interval), with_cpu ? "yes" : "no",
                   cell(model), cell(cpython), ratio,
                   model.ok() ? absl::StrFormat("%.0f, %d requests, %d forced",
                                                model->at("requests"),
                                                stats.drop_requests,
                                                stats.forced_switches)
                              : "");
      if (!model.ok())
        absl::PrintF("  model failed: %s\n", model.status().ToString());
      if (have_python && !cpython.ok()) {
        absl::PrintF("  CPython failed: %s\n", cpython.status().ToString());
      }
    }
  }
}

// --- Experiment 3: I/O overlap ---

// Each thread runs a little bytecode, blocks for --io_wait (with the GIL
// released, or held as by a C extension that forgets
// Py_BEGIN_ALLOW_THREADS), then runs a little more.
double ModelIoOverlap(const Config& config, GilPolicy policy,
                      absl::Duration unit_cost, bool release) {
  std::unique_ptr<Gil> gil = MakeGil(policy, unit_cost);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  const absl::Duration wait = config.io_wait;
  for (int t = 0; t < config.io_threads; ++t) {
    threads.emplace_back([&gil, release, wait] {
      InterpreterThread py = Attach(*gil, "io");
      py.RunBytecode(1000).IgnoreError();
      if (release) {
        AllowThreads blocking(py);
        absl::SleepFor(wait);
      } else {
        absl::SleepFor(wait);
      }
      py.RunBytecode(1000).IgnoreError();
    });
  }
  for (std::thread& thread : threads) thread.join();
  return Seconds(absl::Now() - start);
}

void ExperimentIoOverlap(const Config& config, const Files& files,
                         bool have_python, absl::Duration unit_cost) {
  absl::PrintF("\n## 3. I/O overlap: %d threads each block once for %s\n\n",
               config.io_threads, absl::FormatDuration(config.io_wait));
  absl::PrintF("| %-44s | %9s | %11s |\n", "", "wall", "wall / wait");
  absl::PrintF("|%s|%s|%s|\n", std::string(46, '-'), std::string(11, '-'),
               std::string(13, '-'));
  auto row = [&config](absl::string_view who, double wall_s) {
    absl::PrintF("| %-44s | %7.3f s | %10.2fx |\n", who, wall_s,
                 wall_s / Seconds(config.io_wait));
  };
  for (GilPolicy policy :
       {GilPolicy::kNewGil, GilPolicy::kTickBased, GilPolicy::kFreeThreaded}) {
    row(absl::StrCat("model ", GilPolicyName(policy), ", GIL released"),
        ModelIoOverlap(config, policy, unit_cost, /*release=*/true));
  }
  row("model new-gil, GIL held while blocked",
      ModelIoOverlap(config, GilPolicy::kNewGil, unit_cost, /*release=*/false));
  if (!have_python) {
    absl::PrintF("| %-44s | %9s | %11s |\n", "CPython time.sleep", "n/a",
                 "n/a");
    return;
  }
  absl::StatusOr<KeyValues> cpython =
      RunAndParse({config.python, files.io_overlap_py,
                   absl::StrCat(config.io_threads),
                   absl::StrCat(absl::ToDoubleMilliseconds(config.io_wait))});
  if (cpython.ok()) {
    row("CPython time.sleep (releases the GIL)", (*cpython)["wall_s"]);
  } else {
    absl::PrintF("CPython run failed: %s\n", cpython.status().ToString());
  }
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs the GIL model and the machine's CPython side by side: a CPU-bound "
      "countdown, the convoy effect, I/O overlap.\nUsage: experiments "
      "[--quick] [--switch_intervals=500us,5ms] [--countdown_units=N] "
      "[--rounds=N] [--io_threads=N] [--io_wait=100ms] [--python=PATH]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    absl::FPrintF(stderr,
                  "experiments: unexpected argument '%s'; it takes flags only "
                  "(see --help)\n",
                  rest[1]);
    return 2;
  }
  absl::StatusOr<Config> config = ConfigFromFlags();
  if (!config.ok()) {
    absl::FPrintF(stderr, "experiments: %s\n", config.status().message());
    return 2;
  }
  absl::StatusOr<Files> files = LocateFiles(argv[0]);
  if (!files.ok()) {
    absl::FPrintF(stderr, "experiments: %s\n", files.status().ToString());
    return 1;
  }
  absl::StatusOr<std::string> python = PythonVersion(config->python);
  if (!python.ok() && config->python_required) {
    absl::FPrintF(stderr, "experiments: --python=%s cannot run: %s\n",
                  config->python, python.status().message());
    return 2;
  }
  absl::PrintF("# GIL model vs. CPython\n\n");
  absl::PrintF("Machine: %d CPUs, %s; load average at start: %s\n",
               std::thread::hardware_concurrency(), CpuModel(), LoadAverage());
  if (python.ok()) {
    absl::PrintF("CPython: %s %s\n", config->python, *python);
  } else {
    absl::PrintF(
        "CPython: NOT AVAILABLE (%s); the CPython columns are left empty and "
        "only the model runs.\n",
        python.status().ToString());
  }
  const bool have_python = python.ok();
  const absl::Duration unit_cost =
      ExperimentCpuBound(*config, *files, have_python);
  ExperimentConvoy(*config, *files, have_python, unit_cost);
  ExperimentIoOverlap(*config, *files, have_python, unit_cost);
  return 0;
}

}  // namespace
}  // namespace gil_model

int main(int argc, char** argv) { return gil_model::Main(argc, argv); }
