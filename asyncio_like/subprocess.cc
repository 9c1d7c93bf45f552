#include "asyncio_like/subprocess.h"

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/uring.h"

extern char** environ;

namespace asyncio_like {
namespace internal {

// Watches one child through a poll of its pidfd kept in flight on the ring
// (see the top of subprocess.h). While the poll is in flight the watch
// keeps itself alive (`self_`), so that the child is reaped even after its
// Process is gone.
class ChildWatch final : public std::enable_shared_from_this<ChildWatch>, private Completion {
 public:
  ChildWatch(EventLoop& loop, pid_t pid, int pidfd) : loop_(loop), pid_(pid), pidfd_(pidfd) {}
  ChildWatch(const ChildWatch&) = delete;
  ChildWatch& operator=(const ChildWatch&) = delete;
  ~ChildWatch() {
    if (pidfd_ >= 0) close(pidfd_);
  }

  pid_t pid() const { return pid_; }
  const std::optional<int>& returncode() const { return returncode_; }
  Event& exited() { return exited_; }

  void Arm() {
    Uring& uring = loop_.uring();
    io_uring_sqe* sqe = uring.NextSqe();
    io_uring_prep_poll_add(sqe, pidfd_, POLLIN);
    uring.PrepareCompletion(sqe, this);
    self_ = shared_from_this();
  }

  // Through the pidfd, so that a signal never reaches a recycled pid.
  absl::Status Signal(int signo) {
    if (pidfd_ < 0) return absl::OkStatus();  // reaped: nothing to signal
    if (syscall(SYS_pidfd_send_signal, pidfd_, signo, nullptr, 0) != 0) {
      if (errno == ESRCH) return absl::OkStatus();  // exited, not yet reaped
      if (errno == EINVAL) {
        return absl::InvalidArgumentError(absl::StrCat("invalid signal number ", signo));
      }
      return OsError(errno, "pidfd_send_signal");
    }
    return absl::OkStatus();
  }

 private:
  // Reaps the child if it has exited (or, with `block`, once it has).
  bool Reap(bool block) {
    siginfo_t info = {};
    const int flags = WEXITED | (block ? 0 : WNOHANG);
    int rc;
    do {
      rc = waitid(P_PIDFD, pidfd_, &info, flags);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      // ECHILD: other code reaped the child despite the warning in
      // subprocess.h, and its status is lost: 255, as asyncio reports a
      // child whose status it could not get.
      returncode_ = 255;
    } else if (info.si_pid == 0) {
      return false;  // still running
    } else {
      returncode_ = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
    }
    close(pidfd_);
    pidfd_ = -1;
    return true;
  }

  void Complete(int32_t, uint32_t) override {
    std::shared_ptr<ChildWatch> keep = std::move(self_);
    if (!Reap(/*block=*/false)) {
      Arm();  // woken without an exit (should not happen): watch on
      return;
    }
    exited_.Set();
  }

  // The loop is closing with the child still running: kill and reap it.
  void Abandon() override {
    std::shared_ptr<ChildWatch> keep = std::move(self_);
    if (pidfd_ < 0) return;
    (void)Signal(SIGKILL);
    Reap(/*block=*/true);
  }

  EventLoop& loop_;
  pid_t pid_;
  int pidfd_;
  std::optional<int> returncode_;
  Event exited_;
  std::shared_ptr<ChildWatch> self_;
};

}  // namespace internal

namespace {

// Descriptors to close at the end of a scope unless released.
class FdCloser {
 public:
  FdCloser() = default;
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() {
    for (int fd : fds_) close(fd);
  }
  void Add(int fd) { fds_.push_back(fd); }
  void Release(int fd) { std::erase(fds_, fd); }

 private:
  std::vector<int> fds_;
};

// The posix_spawn attributes and file actions, destroyed with the scope.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

const char* ModeName(Stdio mode) {
  switch (mode) {
    case Stdio::kInherit: return "kInherit";
    case Stdio::kPipe: return "kPipe";
    case Stdio::kDevNull: return "kDevNull";
    case Stdio::kStdout: return "kStdout";
  }
  return "?";
}

absl::Status CheckOptions(const std::string& program, const SubprocessOptions& options) {
  if (program.empty()) return absl::InvalidArgumentError("CreateSubprocessExec: empty program name");
  if (program.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("CreateSubprocessExec: embedded null byte in the program name");
  }
  if (options.stdin_mode == Stdio::kStdout || options.stdout_mode == Stdio::kStdout) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CreateSubprocessExec: Stdio::kStdout is for stderr only (stdin_mode=",
        ModeName(options.stdin_mode), ", stdout_mode=", ModeName(options.stdout_mode), ")"));
  }
  return absl::OkStatus();
}

// Reads `reader` to end of stream; nullopt without a pipe.
Task<absl::StatusOr<std::optional<std::string>>> ReadAll(StreamReader* reader) {
  if (reader == nullptr) co_return std::nullopt;
  std::string data;
  for (;;) {
    absl::StatusOr<std::string> chunk = co_await reader->Read(size_t{64 * 1024});
    if (!chunk.ok()) co_return chunk.status();
    if (chunk->empty()) co_return data;
    data += *chunk;
  }
}

// Writes `input` and closes the pipe; a child that has gone is no error.
Task<absl::Status> Feed(StreamWriter* writer, std::string input) {
  if (writer == nullptr) co_return absl::OkStatus();
  if (!input.empty()) writer->Write(input);
  absl::Status status = co_await writer->Close();
  if (IsBrokenPipe(status) || IsConnectionReset(status)) co_return absl::OkStatus();
  co_return status;
}

}  // namespace

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    KillIfRunning();
    watch_ = std::move(other.watch_);
    stdin_ = std::move(other.stdin_);
    stdout_ = std::move(other.stdout_);
    stderr_ = std::move(other.stderr_);
  }
  return *this;
}

Process::~Process() { KillIfRunning(); }

void Process::KillIfRunning() {
  if (watch_ != nullptr && !watch_->returncode().has_value()) (void)watch_->Signal(SIGKILL);
}

pid_t Process::pid() const { return watch_ != nullptr ? watch_->pid() : -1; }

std::optional<int> Process::returncode() const {
  return watch_ != nullptr ? watch_->returncode() : std::nullopt;
}

Task<int> Process::Wait() {
  std::shared_ptr<internal::ChildWatch> watch = watch_;
  if (watch == nullptr) throw std::logic_error("Wait() on a moved-from Process");
  co_await watch->exited().Wait();
  co_return *watch->returncode();
}

Task<absl::StatusOr<CommunicateResult>> Process::Communicate(std::string input) {
  auto [fed, out, err] =
      co_await GatherOutcomes(Feed(stdin_pipe(), std::move(input)), ReadAll(stdout_pipe()),
                              ReadAll(stderr_pipe()));
  if (!fed.value().ok()) co_return fed.value();
  if (!out.value().ok()) co_return out.value().status();
  if (!err.value().ok()) co_return err.value().status();
  co_await Wait();
  co_return CommunicateResult{*std::move(out.value()), *std::move(err.value())};
}

Task<absl::StatusOr<Process>> CreateSubprocessShell(std::string command,
                                                   SubprocessOptions options) {
  std::vector<std::string> args = {"-c", std::move(command)};
  co_return co_await CreateSubprocessExec("/bin/sh", std::move(args), std::move(options));
}

absl::Status Process::SendSignal(int signo) {
  if (watch_ == nullptr) return absl::FailedPreconditionError("SendSignal on a moved-from Process");
  if (signo < 0 || signo >= NSIG) {
    return absl::InvalidArgumentError(absl::StrCat("invalid signal number ", signo));
  }
  return watch_->Signal(signo);
}

absl::Status Process::Terminate() { return SendSignal(SIGTERM); }
absl::Status Process::Kill() { return SendSignal(SIGKILL); }

// Starting the child is synchronous (posix_spawn returns once the child has
// called exec, or has failed to), so it is a plain function.
absl::StatusOr<Process> Process::Spawn(EventLoop& loop, std::string& program,
                                       std::vector<std::string>& args,
                                       SubprocessOptions& options) {
  FdCloser close_on_return;
  SpawnSetup setup;
  // Parent's ends of the pipes (sockets), and the child's standard streams.
  std::array<int, 3> parent_end = {-1, -1, -1};
  const std::array<Stdio, 3> modes = {options.stdin_mode, options.stdout_mode,
                                      options.stderr_mode};
  for (int target = 0; target < 3; ++target) {
    switch (modes[target]) {
      case Stdio::kInherit:
        break;
      case Stdio::kPipe: {
        std::array<int, 2> pair;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair.data()) != 0) {
          return OsError(errno, "socketpair for the child's pipe");
        }
        close_on_return.Add(pair[0]);
        close_on_return.Add(pair[1]);
        parent_end[target] = pair[0];
        posix_spawn_file_actions_adddup2(&setup.actions, pair[1], target);
        break;
      }
      case Stdio::kDevNull:
        posix_spawn_file_actions_addopen(&setup.actions, target, "/dev/null",
                                         target == 0 ? O_RDONLY : O_WRONLY, 0);
        break;
      case Stdio::kStdout:  // stderr only (CheckOptions)
        posix_spawn_file_actions_adddup2(&setup.actions, 1, 2);
        break;
    }
  }
  // close_fds=True: the child gets 0, 1 and 2 only.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  if (!options.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&setup.actions, options.cwd.c_str());
  }
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  posix_spawnattr_setsigdefault(&setup.attr, &defaults);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.start_new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&setup.attr, flags);

  std::vector<char*> argv;
  argv.push_back(program.data());
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (options.env.has_value()) {
    for (std::string& entry : *options.env) envp.push_back(entry.data());
    envp.push_back(nullptr);
  }
  pid_t pid = -1;
  const int spawn_error = posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr,
                                       argv.data(), options.env ? envp.data() : environ);
  if (spawn_error != 0) {
    return OsError(spawn_error, absl::StrCat("spawn '", program, "'",
                                                options.cwd.empty() ? "" : " in '",
                                                options.cwd, options.cwd.empty() ? "" : "'"));
  }
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int error = errno;
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return OsError(error, "pidfd_open for the child (Linux 5.3 or later is needed)");
  }
  auto watch = std::make_shared<internal::ChildWatch>(loop, pid, pidfd);
  watch->Arm();
  Process process(std::move(watch));
  for (int target = 0; target < 3; ++target) {
    if (parent_end[target] < 0) continue;
    close_on_return.Release(parent_end[target]);
    Stream stream{TcpSocket(parent_end[target])};
    if (target == 0) {
      process.stdin_.emplace(std::move(stream.writer));
    } else if (target == 1) {
      process.stdout_.emplace(std::move(stream.reader));
    } else {
      process.stderr_.emplace(std::move(stream.reader));
    }
  }
  return process;  // close_on_return closes the child's ends
}

Task<absl::StatusOr<Process>> CreateSubprocessExec(std::string program,
                                                  std::vector<std::string> args,
                                                  SubprocessOptions options) {
  if (absl::Status valid = CheckOptions(program, options); !valid.ok()) co_return valid;
  EventLoop* loop = EventLoop::Current();
  if (loop == nullptr) {
    co_return absl::FailedPreconditionError("CreateSubprocessExec needs a running event loop");
  }
  co_return Process::Spawn(*loop, program, args, options);
}

}  // namespace asyncio_like
