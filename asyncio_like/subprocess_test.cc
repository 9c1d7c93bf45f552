// CPython's test_asyncio/test_subprocess.py, ported; see CONFORMANCE.md.
// CPython's children are `python -c ...`; these use the shell and coreutils
// (sh, cat, sleep, true) for the same behaviour.
#include "asyncio_like/subprocess.h"

#include <dirent.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/test_util.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

const std::vector<std::string> kBlocked = {"3600"};  // sleep 3600

// Open descriptors of this process.
int OpenFds() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory's own
}

// True if this process has no child at all, running or zombie.
bool NoChildren() {
  siginfo_t info = {};
  return waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == -1 && errno == ECHILD;
}

SubprocessOptions Pipes(Stdio in, Stdio out, Stdio err = Stdio::kInherit) {
  SubprocessOptions options;
  options.stdin_mode = in;
  options.stdout_mode = out;
  options.stderr_mode = err;
  return options;
}

// Reads `reader` to end of stream.
Task<std::string> ReadToEnd(StreamReader& reader) {
  std::string data;
  for (;;) {
    absl::StatusOr<std::string> chunk = co_await reader.Read(size_t{65536});
    EXPECT_TRUE(chunk.ok()) << chunk.status();
    if (!chunk.ok() || chunk->empty()) co_return data;
    data += *chunk;
  }
}

class SubprocessMixin : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_TRUE(NoChildren()) << "a child was left behind"; }
};

TEST_F(SubprocessMixin, test_stdin_stdout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<std::string> {
    absl::StatusOr<Process> proc =
        co_await CreateSubprocessExec("cat", {}, Pipes(Stdio::kPipe, Stdio::kPipe));
    EXPECT_TRUE(proc.ok()) << proc.status();
    proc->stdin_pipe()->Write("some data");
    EXPECT_TRUE((co_await proc->stdin_pipe()->Drain()).ok());
    EXPECT_TRUE((co_await proc->stdin_pipe()->Close()).ok());
    std::string data = co_await ReadToEnd(*proc->stdout_pipe());
    const int exitcode = co_await proc->Wait();
    co_return absl::StrCat(exitcode, " ", data);
  };
  absl::StatusOr<std::string> result = RunTest(loop.get(), run());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 some data");
}

Task<std::string> CatCommunicate(std::string input) {
  absl::StatusOr<Process> proc =
      co_await CreateSubprocessExec("cat", {}, Pipes(Stdio::kPipe, Stdio::kPipe));
  EXPECT_TRUE(proc.ok()) << proc.status();
  absl::StatusOr<CommunicateResult> out = co_await proc->Communicate(std::move(input));
  EXPECT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(out->err.has_value());  // stderr is not a pipe: None
  co_return absl::StrCat(*proc->returncode(), " '", out->out.value_or("None"), "'");
}

TEST_F(SubprocessMixin, test_communicate) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result = RunTest(loop.get(), CatCommunicate("some data"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 'some data'");
}

TEST_F(SubprocessMixin, test_communicate_none_input) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result = RunTest(loop.get(), CatCommunicate(""));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 ''");
}

Task<int> ShellExitCode(std::string command, SubprocessOptions options = {}) {
  absl::StatusOr<Process> proc = co_await CreateSubprocessShell(std::move(command), options);
  EXPECT_TRUE(proc.ok()) << proc.status();
  co_return co_await proc->Wait();
}

TEST_F(SubprocessMixin, test_shell) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<int> code = RunTest(loop.get(), ShellExitCode("exit 7"));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 7);
}

TEST_F(SubprocessMixin, test_start_new_session) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  SubprocessOptions options;
  options.start_new_session = true;
  absl::StatusOr<int> code = RunTest(loop.get(), ShellExitCode("exit 8", options));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 8);
  // The child leads a session of its own; without the option it shares ours.
  auto session_of_child = [](bool new_session) -> Task<bool> {
    SubprocessOptions options;
    options.start_new_session = new_session;
    absl::StatusOr<Process> proc = co_await CreateSubprocessExec("sleep", kBlocked, options);
    EXPECT_TRUE(proc.ok()) << proc.status();
    const bool leads = getsid(proc->pid()) == proc->pid();
    EXPECT_TRUE(proc->Kill().ok());
    co_await proc->Wait();
    co_return leads;
  };
  EXPECT_TRUE(*RunTest(loop.get(), session_of_child(true)));
  EXPECT_FALSE(*RunTest(loop.get(), session_of_child(false)));
}

Task<int> SignalBlocked(bool kill) {
  absl::StatusOr<Process> proc = co_await CreateSubprocessExec("sleep", kBlocked);
  EXPECT_TRUE(proc.ok()) << proc.status();
  EXPECT_FALSE(proc->returncode().has_value());
  EXPECT_TRUE((kill ? proc->Kill() : proc->Terminate()).ok());
  co_return co_await proc->Wait();
}

TEST_F(SubprocessMixin, test_kill) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<int> code = RunTest(loop.get(), SignalBlocked(/*kill=*/true));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, -SIGKILL);
}

TEST_F(SubprocessMixin, test_kill_issue43884) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<int> {
    absl::StatusOr<Process> proc = co_await CreateSubprocessShell(
        "sleep 1; sleep 1", Pipes(Stdio::kInherit, Stdio::kPipe));
    EXPECT_TRUE(proc.ok()) << proc.status();
    co_await Sleep(absl::Milliseconds(100));
    EXPECT_TRUE(proc->Kill().ok());
    co_return co_await proc->Wait();
  };
  absl::StatusOr<int> code = RunTest(loop.get(), run());
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, -SIGKILL);
}

TEST_F(SubprocessMixin, test_terminate) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<int> code = RunTest(loop.get(), SignalBlocked(/*kill=*/false));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, -SIGTERM);
}

TEST_F(SubprocessMixin, test_send_signal) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  // As CPython's test: the child must get SIGHUP's default action even if
  // this process ignores SIGHUP.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  struct sigaction before;
  sigaction(SIGHUP, &dfl, &before);
  auto run = []() -> Task<int> {
    absl::StatusOr<Process> proc = co_await CreateSubprocessShell(
        "echo sleeping; exec sleep 3600", Pipes(Stdio::kInherit, Stdio::kPipe));
    EXPECT_TRUE(proc.ok()) << proc.status();
    absl::StatusOr<std::string> line = co_await proc->stdout_pipe()->ReadUntil("\n");
    EXPECT_EQ(line.value_or("error"), "sleeping\n");
    EXPECT_TRUE(proc->SendSignal(SIGHUP).ok());
    co_return co_await proc->Wait();
  };
  absl::StatusOr<int> code = RunTest(loop.get(), run());
  sigaction(SIGHUP, &before, nullptr);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, -SIGHUP);
}

// The child has exited without reading: writing more than the socket
// buffers hold fails Drain with a broken pipe (or reset).
TEST_F(SubprocessMixin, test_stdin_broken_pipe) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<absl::Status> {
    absl::StatusOr<Process> proc =
        co_await CreateSubprocessExec("true", {}, Pipes(Stdio::kPipe, Stdio::kInherit));
    EXPECT_TRUE(proc.ok()) << proc.status();
    EXPECT_EQ(co_await proc->Wait(), 0);
    proc->stdin_pipe()->Write(std::string(4 << 20, 'x'));
    co_return co_await proc->stdin_pipe()->Drain();
  };
  absl::StatusOr<absl::Status> drained = RunTest(loop.get(), run());
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_TRUE(IsBrokenPipe(*drained) || IsConnectionReset(*drained)) << *drained;
}

TEST_F(SubprocessMixin, test_communicate_ignore_broken_pipe) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<absl::Status> {
    absl::StatusOr<Process> proc =
        co_await CreateSubprocessExec("true", {}, Pipes(Stdio::kPipe, Stdio::kInherit));
    EXPECT_TRUE(proc.ok()) << proc.status();
    co_await proc->Wait();
    absl::StatusOr<CommunicateResult> out = co_await proc->Communicate(std::string(4 << 20, 'x'));
    co_return out.status();
  };
  absl::StatusOr<absl::Status> status = RunTest(loop.get(), run());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->ok()) << *status;
}

// `sh -c 'wc -c'` prints how many bytes its stdin had.
Task<std::string> CountInput(SubprocessOptions options, std::string input) {
  absl::StatusOr<Process> proc = co_await CreateSubprocessShell("wc -c", options);
  EXPECT_TRUE(proc.ok()) << proc.status();
  absl::StatusOr<CommunicateResult> out = co_await proc->Communicate(std::move(input));
  EXPECT_TRUE(out.ok()) << out.status();
  const int exitcode = co_await proc->Wait();
  co_return absl::StrCat(exitcode, " out=", out->out ? absl::StrCat("'", *out->out, "'") : "None",
                         " err=", out->err ? absl::StrCat("'", *out->err, "'") : "None");
}

// The parent's end of the stdin pipe is not inherited by the child (close
// on exec): otherwise the child would never see end of input and
// Communicate would hang.
TEST_F(SubprocessMixin, test_stdin_not_inheritable) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result =
      RunTest(loop.get(), CountInput(Pipes(Stdio::kPipe, Stdio::kPipe, Stdio::kPipe), "abc"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 out='3\n' err=''");
}

TEST_F(SubprocessMixin, test_empty_input) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result =
      RunTest(loop.get(), CountInput(Pipes(Stdio::kPipe, Stdio::kPipe, Stdio::kPipe), ""));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 out='0\n' err=''");
}

TEST_F(SubprocessMixin, test_devnull_input) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result =
      RunTest(loop.get(), CountInput(Pipes(Stdio::kDevNull, Stdio::kPipe, Stdio::kPipe), ""));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 out='0\n' err=''");
}

TEST_F(SubprocessMixin, test_devnull_output) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::StatusOr<std::string> result =
      RunTest(loop.get(), CountInput(Pipes(Stdio::kPipe, Stdio::kDevNull, Stdio::kPipe), "abc"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 out=None err=''");
}

TEST_F(SubprocessMixin, test_devnull_error) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<std::string> {
    // The error goes to /dev/null, the output is still collected.
    co_return co_await CountInput(Pipes(Stdio::kPipe, Stdio::kPipe, Stdio::kDevNull), "abc");
  };
  absl::StatusOr<std::string> result = RunTest(loop.get(), run());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 out='3\n' err=None");
}

// stderr=STDOUT: both in the one pipe.
TEST_F(SubprocessMixin, StderrToStdout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<std::string> {
    absl::StatusOr<Process> proc = co_await CreateSubprocessShell(
        "echo out; echo err >&2", Pipes(Stdio::kInherit, Stdio::kPipe, Stdio::kStdout));
    EXPECT_TRUE(proc.ok()) << proc.status();
    absl::StatusOr<CommunicateResult> out = co_await proc->Communicate();
    co_return out->out.value_or("None") + (out->err ? "+err" : "");
  };
  absl::StatusOr<std::string> result = RunTest(loop.get(), run());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "out\nerr\n");
}

// The child starts with no signal blocked, even where the loop's thread
// blocks the signals it handles (signals.h).
TEST_F(SubprocessMixin, ChildStartsWithAnEmptySignalMask) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  ASSERT_TRUE(loop->AddSignalHandler(SIGTERM, [] {}).ok());
  auto run = []() -> Task<std::string> {
    const std::vector<std::string> args = {"SigBlk", "/proc/self/status"};
    absl::StatusOr<Process> proc =
        co_await CreateSubprocessExec("grep", args, Pipes(Stdio::kInherit, Stdio::kPipe));
    EXPECT_TRUE(proc.ok()) << proc.status();
    absl::StatusOr<CommunicateResult> out = co_await proc->Communicate();
    co_return out->out.value_or("None");
  };
  absl::StatusOr<std::string> blocked = RunTest(loop.get(), run());
  EXPECT_TRUE(*loop->RemoveSignalHandler(SIGTERM));
  ASSERT_TRUE(blocked.ok()) << blocked.status();
  EXPECT_EQ(*blocked, "SigBlk:\t0000000000000000\n");
}

TEST_F(SubprocessMixin, test_cancel_process_wait) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<int> {
    absl::StatusOr<Process> proc = co_await CreateSubprocessExec("sleep", kBlocked);
    EXPECT_TRUE(proc.ok()) << proc.status();
    Task<int> wait = CreateTask(proc->Wait());
    co_await Sleep(absl::ZeroDuration());
    wait.Cancel();
    bool cancelled = false;
    try {
      co_await wait;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    EXPECT_FALSE(proc->returncode().has_value());  // the child runs on
    EXPECT_TRUE(proc->Kill().ok());
    co_return co_await proc->Wait();
  };
  absl::StatusOr<int> code = RunTest(loop.get(), run());
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, -SIGKILL);
}

// Cancelled before it ran: no child is started, nothing is left open.
TEST_F(SubprocessMixin, test_cancel_make_subprocess_transport_exec) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  const int fds = OpenFds();
  auto run = []() -> Task<bool> {
    Task<absl::StatusOr<Process>> create =
        CreateTask(CreateSubprocessExec("sleep", kBlocked, Pipes(Stdio::kPipe, Stdio::kPipe)));
    create.Cancel();
    try {
      co_await create;
    } catch (const CancelledError&) {
      co_return true;
    }
    co_return false;
  };
  absl::StatusOr<bool> cancelled = RunTest(loop.get(), run());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_TRUE(*cancelled);
  EXPECT_TRUE(NoChildren());
  EXPECT_EQ(OpenFds(), fds);
}

// Dropping a Process whose child runs kills the child, and the loop reaps
// it (asyncio: transport.close() kills a running child).
TEST_F(SubprocessMixin, test_close_kill_running) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<pid_t> {
    absl::StatusOr<Process> proc = co_await CreateSubprocessExec("sleep", kBlocked);
    EXPECT_TRUE(proc.ok()) << proc.status();
    EXPECT_FALSE(proc->returncode().has_value());
    const pid_t pid = proc->pid();
    proc = absl::CancelledError("dropped");  // destroys the Process
    // Killed at once: a zombie (not yet reaped) by now or soon.
    for (int i = 0; i < 2000 && !NoChildren(); ++i) co_await Sleep(absl::Milliseconds(1));
    co_return pid;
  };
  absl::StatusOr<pid_t> pid = RunTest(loop.get(), run());
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_TRUE(NoChildren());
}

// A child that has exited, though the loop has not yet seen it, is not
// killed: its own exit status is reported.
TEST_F(SubprocessMixin, test_close_dont_kill_finished) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<int> {
    absl::StatusOr<Process> proc = co_await CreateSubprocessShell("exit 3");
    EXPECT_TRUE(proc.ok()) << proc.status();
    // Wait for the exit without reaping (the loop has not run meanwhile).
    siginfo_t info = {};
    EXPECT_EQ(waitid(P_PID, proc->pid(), &info, WEXITED | WNOWAIT), 0);
    EXPECT_FALSE(proc->returncode().has_value());
    EXPECT_TRUE(proc->Kill().ok());
    co_return co_await proc->Wait();
  };
  absl::StatusOr<int> code = RunTest(loop.get(), run());
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 3);
}

// A program that cannot be started: FileNotFoundError, and nothing leaked.
TEST_F(SubprocessMixin, test_popen_error) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  const int fds = OpenFds();
  auto run = []() -> Task<absl::Status> {
    // (GCC 12 miscompiles a braced list of literals inside co_await: name it.)
    std::vector<std::string> args = {"x"};
    absl::StatusOr<Process> proc = co_await CreateSubprocessExec("no-such-program-here", args);
    co_return proc.status();
  };
  absl::StatusOr<absl::Status> status = RunTest(loop.get(), run());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(absl::IsNotFound(*status)) << *status;
  EXPECT_EQ(ErrnoOf(*status), ENOENT);
  EXPECT_NE(status->message().find("spawn 'no-such-program-here'"), std::string::npos) << *status;
  EXPECT_NE(status->message().find("FileNotFoundError"), std::string::npos) << *status;
  EXPECT_EQ(OpenFds(), fds);
  EXPECT_TRUE(NoChildren());
}

// The same with pipes: the socket pairs made for them are closed.
TEST_F(SubprocessMixin, test_popen_error_with_stdin_pipe) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  const int fds = OpenFds();
  auto run = []() -> Task<std::vector<absl::Status>> {
    std::vector<absl::Status> statuses;
    SubprocessOptions pipes = Pipes(Stdio::kPipe, Stdio::kPipe, Stdio::kPipe);
    statuses.push_back((co_await CreateSubprocessExec("/no/such/program", {}, pipes)).status());
    statuses.push_back((co_await CreateSubprocessExec("/dev/null", {}, pipes)).status());
    SubprocessOptions bad_cwd = pipes;
    bad_cwd.cwd = "/no/such/directory";
    statuses.push_back((co_await CreateSubprocessExec("true", {}, bad_cwd)).status());
    co_return statuses;
  };
  absl::StatusOr<std::vector<absl::Status>> statuses = RunTest(loop.get(), run());
  ASSERT_TRUE(statuses.ok()) << statuses.status();
  EXPECT_TRUE(absl::IsNotFound((*statuses)[0])) << (*statuses)[0];
  EXPECT_TRUE(absl::IsPermissionDenied((*statuses)[1])) << (*statuses)[1];  // not executable
  EXPECT_TRUE(absl::IsNotFound((*statuses)[2])) << (*statuses)[2];
  EXPECT_NE((*statuses)[2].message().find("in '/no/such/directory'"), std::string::npos)
      << (*statuses)[2];
  EXPECT_EQ(OpenFds(), fds);
  EXPECT_TRUE(NoChildren());
}

// Bad options are errors before anything is created.
TEST_F(SubprocessMixin, BadOptions) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<std::vector<absl::Status>> {
    std::vector<absl::Status> statuses;
    statuses.push_back((co_await CreateSubprocessExec("")).status());
    statuses.push_back(
        (co_await CreateSubprocessExec("true", {}, Pipes(Stdio::kStdout, Stdio::kPipe))).status());
    statuses.push_back(
        (co_await CreateSubprocessExec("true", {}, Pipes(Stdio::kPipe, Stdio::kStdout))).status());
    absl::StatusOr<Process> proc = co_await CreateSubprocessExec("sleep", kBlocked);
    statuses.push_back(proc->SendSignal(-1));
    statuses.push_back(proc->SendSignal(NSIG + 5));
    EXPECT_TRUE(proc->Kill().ok());
    co_await proc->Wait();
    co_return statuses;
  };
  absl::StatusOr<std::vector<absl::Status>> statuses = RunTest(loop.get(), run());
  ASSERT_TRUE(statuses.ok()) << statuses.status();
  for (const absl::Status& status : *statuses) {
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  }
}

TEST_F(SubprocessMixin, test_read_stdout_after_process_exit) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<std::string> {
    absl::StatusOr<Process> proc = co_await CreateSubprocessShell(
        "head -c 262144 /dev/zero; exit 1", Pipes(Stdio::kInherit, Stdio::kPipe));
    EXPECT_TRUE(proc.ok()) << proc.status();
    size_t total = 0;
    for (;;) {
      absl::StatusOr<std::string> data = co_await proc->stdout_pipe()->Read(size_t{65536});
      EXPECT_TRUE(data.ok()) << data.status();
      if (!data.ok() || data->empty()) break;
      total += data->size();
      co_await Sleep(absl::Milliseconds(20));  // the child exits meanwhile
    }
    co_return absl::StrCat(total, " ", co_await proc->Wait());
  };
  absl::StatusOr<std::string> result = RunTest(loop.get(), run());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "262144 1");
}

Task<std::string> CommunicateStdout(Task<absl::StatusOr<Process>> create) {
  absl::StatusOr<Process> proc = co_await std::move(create);
  EXPECT_TRUE(proc.ok()) << proc.status();
  absl::StatusOr<CommunicateResult> out = co_await proc->Communicate();
  EXPECT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(proc->returncode(), 0);
  // Once reaped, Wait returns at once.
  Task<int> wait = CreateTask(proc->Wait());
  co_await Sleep(absl::ZeroDuration());
  EXPECT_TRUE(wait.done());
  EXPECT_EQ(wait.Result(), 0);
  co_return out->out.value_or("None");
}

TEST_F(SubprocessMixin, test_create_subprocess_env_shell) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  SubprocessOptions options = Pipes(Stdio::kInherit, Stdio::kPipe);
  options.env = std::vector<std::string>{"FOO=bar"};
  absl::StatusOr<std::string> out = RunTest(
      loop.get(), CommunicateStdout(CreateSubprocessShell("printf %s \"$FOO\"", options)));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "bar");
}

TEST_F(SubprocessMixin, test_create_subprocess_env_exec) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  SubprocessOptions options = Pipes(Stdio::kInherit, Stdio::kPipe);
  options.env = std::vector<std::string>{"FOO=baz"};
  options.cwd = "/";
  absl::StatusOr<std::string> out = RunTest(
      loop.get(),
      CommunicateStdout(CreateSubprocessExec("sh", {"-c", "printf '%s %s' \"$FOO\" \"$PWD\""},
                                             options)));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "baz /");
}

TEST_F(SubprocessMixin, test_subprocess_concurrent_wait) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<std::vector<int>> {
    absl::StatusOr<Process> proc =
        co_await CreateSubprocessExec("cat", {}, Pipes(Stdio::kPipe, Stdio::kPipe));
    EXPECT_TRUE(proc.ok()) << proc.status();
    absl::StatusOr<CommunicateResult> out = co_await proc->Communicate("some data");
    EXPECT_EQ(out->out.value_or("None"), "some data");
    EXPECT_EQ(proc->returncode(), 0);
    std::vector<Task<int>> waits;
    for (int i = 0; i < 10; ++i) waits.push_back(proc->Wait());
    co_return co_await Gather(std::move(waits));
  };
  absl::StatusOr<std::vector<int>> codes = RunTest(loop.get(), run());
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_EQ(*codes, std::vector<int>(10, 0));
}

// Several waits of a child still running all see its exit.
TEST_F(SubprocessMixin, ConcurrentWaitsOfARunningChild) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<std::vector<int>> {
    absl::StatusOr<Process> proc = co_await CreateSubprocessShell("sleep 0.05; exit 5");
    EXPECT_TRUE(proc.ok()) << proc.status();
    std::vector<Task<int>> waits;
    for (int i = 0; i < 5; ++i) waits.push_back(proc->Wait());
    co_return co_await Gather(std::move(waits));
  };
  absl::StatusOr<std::vector<int>> codes = RunTest(loop.get(), run());
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_EQ(*codes, std::vector<int>(5, 5));
}

TEST_F(SubprocessMixin, test_subprocess_communicate_stdout) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<std::vector<std::string>> {
    std::vector<Task<std::string>> outputs;
    for (int i = 0; i < 10; ++i) {
      outputs.push_back(CommunicateStdout(CreateSubprocessExec(
          "echo", {absl::StrCat("foo", i)}, Pipes(Stdio::kInherit, Stdio::kPipe))));
    }
    co_return co_await Gather(std::move(outputs));
  };
  absl::StatusOr<std::vector<std::string>> outputs = RunTest(loop.get(), run());
  ASSERT_TRUE(outputs.ok()) << outputs.status();
  for (int i = 0; i < 10; ++i) EXPECT_EQ((*outputs)[i], absl::StrCat("foo", i, "\n"));
}

// A signal sent around the child's exit never reaches another process and
// never loses the exit status (asyncio reported 255).
TEST_F(SubprocessMixin, test_subprocess_send_signal_race) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  auto run = []() -> Task<std::vector<int>> {
    std::vector<int> codes;
    for (int i = 0; i < 10; ++i) {
      const std::vector<std::string> args = {"0.01"};
      absl::StatusOr<Process> proc = co_await CreateSubprocessExec("sleep", args);
      EXPECT_TRUE(proc.ok()) << proc.status();
      co_await Sleep(absl::Milliseconds(10));
      EXPECT_TRUE(proc->SendSignal(SIGUSR1).ok());
      codes.push_back(co_await proc->Wait());
    }
    co_return codes;
  };
  absl::StatusOr<std::vector<int>> codes = RunTest(loop.get(), run());
  ASSERT_TRUE(codes.ok()) << codes.status();
  for (int code : *codes) {
    EXPECT_TRUE(code == 0 || code == -SIGUSR1) << code;
  }
}

// A loop on another thread watches its children just as well (CPython:
// asyncio.run in asyncio.to_thread, with the pidfd watcher).
TEST(GenericWatcherTests, test_create_subprocess_with_pidfd) {
  absl::StatusOr<std::string> result = absl::UnknownError("not run");
  std::thread other([&] {
    result = asyncio_like::Run(CatCommunicate("some data"));
  });
  other.join();
  if (absl::IsUnavailable(result.status())) ASYNCIO_LIKE_SKIP_WITHOUT_IO_URING(result.status());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0 'some data'");
  EXPECT_TRUE(NoChildren());
}

// Closing the loop while a child runs kills and reaps it.
TEST(SubprocessLifetime, ClosingTheLoopKillsAndReapsARunningChild) {
  std::optional<Process> kept;
  {
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
    auto start = [](std::optional<Process>* kept) -> Task<void> {
      absl::StatusOr<Process> proc = co_await CreateSubprocessExec("sleep", kBlocked);
      EXPECT_TRUE(proc.ok()) << proc.status();
      kept->emplace(*std::move(proc));
    };
    ASSERT_TRUE(RunTest(loop.get(), start(&kept)).ok());
    EXPECT_FALSE(kept->returncode().has_value());
    EXPECT_FALSE(NoChildren());
  }  // the loop closes
  EXPECT_TRUE(NoChildren());
  EXPECT_EQ(kept->returncode(), -SIGKILL);
}

}  // namespace
}  // namespace asyncio_like
