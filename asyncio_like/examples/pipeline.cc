// A shell pipeline run by one event loop: each program's output is copied
// into the next one's standard input by a task, as it arrives, and the last
// one's output is collected and printed.
//
//   bazel run //asyncio_like/examples:pipeline                 # seq 1 1000 | grep 7 | wc -l
//   bazel run //asyncio_like/examples:pipeline -- ls / '|' sort -r '|' head -3
//
// The exit status is the last program's (or 1 if a program cannot be
// started). A program that cannot be started ends the pipeline: the ones
// already running are killed and reaped when their Process is dropped.
#include <signal.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_join.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/subprocess.h"
#include "asyncio_like/tcp_errors.h"

namespace {

using asyncio_like::CreateSubprocessExec;
using asyncio_like::Process;
using asyncio_like::Stdio;
using asyncio_like::StreamReader;
using asyncio_like::StreamWriter;
using asyncio_like::SubprocessOptions;
using asyncio_like::Task;

// Copies `from`'s output into `to`'s input until end of stream, then closes
// `to`'s input so that it sees the end. If `to` stops reading (head), its
// input breaks, and `from` gets SIGPIPE, as it would from a shell's pipe.
Task<absl::Status> Copy(Process* from, Process* to) {
  for (;;) {
    absl::StatusOr<std::string> chunk = co_await from->stdout_pipe()->Read(size_t{64 * 1024});
    if (!chunk.ok()) co_return chunk.status();
    if (chunk->empty()) break;
    to->stdin_pipe()->Write(*chunk);
    // Flow control: a slow reader holds the writer back.
    absl::Status drained = co_await to->stdin_pipe()->Drain();
    if (asyncio_like::IsBrokenPipe(drained) || asyncio_like::IsConnectionReset(drained)) {
      co_return from->SendSignal(SIGPIPE);
    }
    if (!drained.ok()) co_return drained;
  }
  absl::Status closed = co_await to->stdin_pipe()->Close();
  // Closing flushes: a reader that has gone is not a failure here either.
  if (asyncio_like::IsBrokenPipe(closed) || asyncio_like::IsConnectionReset(closed)) {
    co_return absl::OkStatus();
  }
  co_return closed;
}

// Runs the stages; returns the last one's output and exit status.
Task<absl::StatusOr<std::pair<std::string, int>>> RunPipeline(
    std::vector<std::vector<std::string>> stages) {
  std::vector<Process> processes;
  for (size_t i = 0; i < stages.size(); ++i) {
    SubprocessOptions options;
    options.stdin_mode = i == 0 ? Stdio::kInherit : Stdio::kPipe;
    options.stdout_mode = Stdio::kPipe;
    std::vector<std::string> args(stages[i].begin() + 1, stages[i].end());
    absl::StatusOr<Process> process =
        co_await CreateSubprocessExec(stages[i][0], std::move(args), options);
    if (!process.ok()) co_return process.status();
    processes.push_back(*std::move(process));
  }
  std::vector<Task<absl::Status>> copies;
  for (size_t i = 1; i < processes.size(); ++i) {
    copies.push_back(asyncio_like::CreateTask(Copy(&processes[i - 1], &processes[i])));
  }
  std::string output;
  StreamReader* last = processes.back().stdout_pipe();
  for (;;) {
    absl::StatusOr<std::string> chunk = co_await last->Read(size_t{64 * 1024});
    if (!chunk.ok()) co_return chunk.status();
    if (chunk->empty()) break;
    output += *chunk;
  }
  for (Task<absl::Status>& copy : copies) {
    if (absl::Status copied = co_await copy; !copied.ok()) co_return copied;
  }
  int status = 0;
  for (Process& process : processes) status = co_await process.Wait();
  co_return std::make_pair(std::move(output), status);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::vector<std::string>> stages(1);
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "|") {
      stages.emplace_back();
    } else {
      stages.back().push_back(argv[i]);
    }
  }
  if (argc == 1) stages = {{"seq", "1", "1000"}, {"grep", "7"}, {"wc", "-l"}};
  for (const std::vector<std::string>& stage : stages) {
    if (stage.empty()) {
      std::fprintf(stderr,
                   "pipeline: empty stage; usage: pipeline PROGRAM [ARGS] ['|' PROGRAM [ARGS]]...\n");
      return 2;
    }
  }
  std::vector<std::string> shown;
  for (const std::vector<std::string>& stage : stages) shown.push_back(absl::StrJoin(stage, " "));
  std::fprintf(stderr, "$ %s\n", absl::StrJoin(shown, " | ").c_str());
  absl::StatusOr<absl::StatusOr<std::pair<std::string, int>>> result =
      asyncio_like::Run(RunPipeline(std::move(stages)));
  const absl::Status status = !result.ok() ? result.status() : result->status();
  if (!status.ok()) {
    std::fprintf(stderr, "pipeline: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  std::fwrite((*result)->first.data(), 1, (*result)->first.size(), stdout);
  return (*result)->second;
}
