// Subprocesses on the event loop (asyncio.create_subprocess_exec).
//
// CreateSubprocessExec starts a program; its standard input, output and
// error can be the parent's (inherited), /dev/null, or a pipe the parent
// uses as a StreamWriter (stdin) or StreamReader (stdout, stderr), the
// stream types of stream.h. Wait() waits for the program to exit;
// Communicate() feeds it input and collects its output:
//
//   Task<void> Main() {
//     SubprocessOptions options;
//     options.stdin_mode = Stdio::kPipe;
//     options.stdout_mode = Stdio::kPipe;
//     std::vector<std::string> args = {"-r"};   // named: see below
//     absl::StatusOr<Process> sort = co_await CreateSubprocessExec("sort", args, options);
//     if (!sort.ok()) co_return;       // NotFound [FileNotFoundError] if there is no `sort`
//     absl::StatusOr<CommunicateResult> out = co_await sort->Communicate("a\nc\nb\n");
//     // *out->out == "c\nb\na\n", sort->returncode() == 0
//   }
//
// The child's exit is observed through the ring, never through SIGCHLD:
// the child is started with posix_spawn, a pidfd (pidfd_open) is opened on
// it at once, and a poll of that pidfd (IORING_OP_POLL_ADD) is kept in
// flight from then on, whether or not a task waits. When the child exits
// the poll completes, the loop reaps the child (waitid on the pidfd) and
// records returncode() as asyncio does: the exit status, or -N if signal N
// ended it. Nothing is installed for SIGCHLD, so the process's other
// threads and libraries are not disturbed; but other code must not reap
// this package's children with wait(-1)/waitpid(-1) (pidfds cannot stop
// that).
//
// No zombie is left behind:
//   - Destroying a Process whose child still runs kills the child (SIGKILL),
//     as asyncio closes the transport of a Process that is garbage
//     collected; the poll still in flight reaps it when it has died (on the
//     loop's next pass).
//   - Destroying the loop (or closing the Runner, or Run returning) while a
//     child still runs kills it (SIGKILL) and reaps it before the loop is
//     gone; returncode() is then -9. asyncio does the same when it closes a
//     transport whose child still runs ("Close running child process:
//     kill"). To let a child finish, Wait() for it first.
//
// Pipes are AF_UNIX stream socket pairs rather than pipe(2) pipes: the
// package's streams send and receive with socket operations, and asyncio
// uses socket pairs for the same purpose on some platforms. The child sees
// a socket as its standard input or output; programs that read and write
// (cat, sort, python, a shell) see no difference, but one that seeks or
// asks for a FIFO (fstat S_ISFIFO) would.
//
// The child starts with an empty signal mask (a loop thread that handles
// signals blocks them, signals.h), SIGPIPE and SIGXFSZ at their defaults
// (asyncio's restore_signals), and no descriptors of the parent's but 0, 1
// and 2 (close_fds).
//
// Errors: a program that cannot be found or run is the OsError of exec:
// NotFound [FileNotFoundError] ("spawn 'nosuchprog': No such file or
// directory"), PermissionDenied [PermissionError], ...; bad options
// (kStdout for stdin or stdout, an empty program name) are
// InvalidArgument. Whatever fails, no descriptor is left open and no child
// is left behind.
//
// GCC 12 miscompiles a braced list of string literals written inside a
// co_await expression (README, rule 6): name the argument vector first, as
// above, rather than writing co_await CreateSubprocessExec("sort", {"-r"}).
//
// Use a Process on its loop's thread. It is movable; Wait(), Communicate()
// and the pipes refer to it, so keep it alive while they are awaited.
#ifndef ASYNCIO_LIKE_SUBPROCESS_H_
#define ASYNCIO_LIKE_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

// Where a standard stream of the child goes (subprocess.PIPE, DEVNULL, None,
// STDOUT).
enum class Stdio {
  kInherit,  // the parent's (None)
  kPipe,     // a pipe to the parent, as a stream (PIPE)
  kDevNull,  // /dev/null (DEVNULL)
  kStdout,   // stderr only: wherever stdout goes (STDOUT)
};

struct SubprocessOptions {
  Stdio stdin_mode = Stdio::kInherit;
  Stdio stdout_mode = Stdio::kInherit;
  Stdio stderr_mode = Stdio::kInherit;
  // The child's environment, "NAME=value" each; unset: the parent's. The
  // program is looked up on the parent's PATH.
  std::optional<std::vector<std::string>> env;
  // The child's working directory; empty: the parent's.
  std::string cwd;
  // Runs the child in a new session (setsid), as start_new_session=True.
  bool start_new_session = false;
};

// What Communicate collects (asyncio's (stdout_data, stderr_data)): the data
// of a stream that is a pipe, nullopt (None) for one that is not.
struct CommunicateResult {
  std::optional<std::string> out;
  std::optional<std::string> err;
};

namespace internal {
class ChildWatch;
}  // namespace internal

// A running or finished child process (asyncio.subprocess.Process).
class Process {
 public:
  Process(Process&&) noexcept = default;
  Process& operator=(Process&& other) noexcept;
  // Kills the child if it still runs; see the top of this file.
  ~Process();

  pid_t pid() const;
  // The exit status, -N if signal N ended the child, or nullopt while it
  // runs (or has exited but the loop has not yet seen it).
  std::optional<int> returncode() const;

  // The pipes (proc.stdin, proc.stdout, proc.stderr), or nullptr for a
  // stream that is not a pipe.
  StreamWriter* stdin_pipe() { return stdin_ ? &*stdin_ : nullptr; }
  StreamReader* stdout_pipe() { return stdout_ ? &*stdout_ : nullptr; }
  StreamReader* stderr_pipe() { return stderr_ ? &*stderr_ : nullptr; }

  // Waits for the child to exit and returns returncode(). Any number of
  // tasks may wait. Cancelling a waiting task stops only its wait: the
  // child runs on.
  Task<int> Wait();
  // Writes `input` to stdin (if it is a pipe) and closes it, reads stdout
  // and stderr (those that are pipes) to end of stream, all concurrently,
  // then waits for the exit. A child that exits without reading all its
  // input is not an error (a broken pipe is ignored, as in asyncio); any
  // other pipe failure is. Cancelling it cancels the reads and the write;
  // the child runs on.
  Task<absl::StatusOr<CommunicateResult>> Communicate(std::string input);
  Task<absl::StatusOr<CommunicateResult>> Communicate() { return Communicate(std::string()); }

  // Sends signal `signo` to the child (send_signal); does nothing once the
  // child has been reaped (the pid may be another process's by then).
  // InvalidArgument for a number that is not a signal.
  absl::Status SendSignal(int signo);
  absl::Status Terminate();  // SIGTERM
  absl::Status Kill();       // SIGKILL

 private:
  friend Task<absl::StatusOr<Process>> CreateSubprocessExec(std::string program,
                                                            std::vector<std::string> args,
                                                            SubprocessOptions options);
  explicit Process(std::shared_ptr<internal::ChildWatch> watch) : watch_(std::move(watch)) {}
  static absl::StatusOr<Process> Spawn(EventLoop& loop, std::string& program,
                                       std::vector<std::string>& args,
                                       SubprocessOptions& options);
  void KillIfRunning();

  std::shared_ptr<internal::ChildWatch> watch_;
  std::optional<StreamWriter> stdin_;
  std::optional<StreamReader> stdout_;
  std::optional<StreamReader> stderr_;
};

// asyncio.create_subprocess_exec(program, *args, stdin=..., ...): starts
// `program` (looked up on PATH unless it contains a '/') with arguments
// `args` (argv[0] is `program`). Must be awaited on a running loop.
//
// (The defaults are overloads, not default arguments: GCC 12 destroys a
// default argument of a coroutine twice.)
Task<absl::StatusOr<Process>> CreateSubprocessExec(std::string program,
                                                  std::vector<std::string> args,
                                                  SubprocessOptions options);
inline Task<absl::StatusOr<Process>> CreateSubprocessExec(std::string program,
                                                         std::vector<std::string> args = {}) {
  return CreateSubprocessExec(std::move(program), std::move(args), SubprocessOptions());
}

// asyncio.create_subprocess_shell(cmd, ...): runs `command` with /bin/sh -c.
// Quote what comes from users (absl::StrCat it yourself only from trusted
// parts): the shell interprets the whole string.
Task<absl::StatusOr<Process>> CreateSubprocessShell(std::string command,
                                                   SubprocessOptions options);
inline Task<absl::StatusOr<Process>> CreateSubprocessShell(std::string command) {
  return CreateSubprocessShell(std::move(command), SubprocessOptions());
}

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_SUBPROCESS_H_
