#include "gil_model/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace gil_model {

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command line");
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int error =
      posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (error != 0) {
    close(pipe_fds[0]);
    const std::string message =
        absl::StrCat("cannot start ", argv[0], ": ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message)
                           : absl::InternalError(message);
  }
  return std::unique_ptr<Subprocess>(new Subprocess(argv[0], pid, pipe_fds[0]));
}

Subprocess::Subprocess(std::string name, pid_t pid, int stdout_fd)
    : name_(std::move(name)), pid_(pid), stdout_fd_(stdout_fd) {}

Subprocess::~Subprocess() {
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

absl::StatusOr<bool> Subprocess::Fill(absl::Duration timeout) {
  pollfd readable = {stdout_fd_, POLLIN, 0};
  const int ready =
      poll(&readable, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (ready == 0) {
    return absl::DeadlineExceededError(absl::StrCat(
        name_, " wrote nothing for ", absl::FormatDuration(timeout)));
  }
  if (ready < 0 && errno != EINTR) {
    return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
  }
  char chunk[4096];
  const ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
  if (n < 0) {
    if (errno == EINTR) return true;
    return absl::InternalError(absl::StrCat("read: ", std::strerror(errno)));
  }
  buffer_.append(chunk, static_cast<size_t>(n));
  return n > 0;
}

absl::StatusOr<std::string> Subprocess::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    absl::StatusOr<bool> more =
        Fill(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (!more.ok()) return more.status();
    if (!*more) {
      return absl::OutOfRangeError(
          absl::StrCat(name_, " closed its output before a full line"));
    }
  }
}

absl::StatusOr<std::string> Subprocess::Finish() {
  while (true) {
    absl::StatusOr<bool> more = Fill(absl::Minutes(5));
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("waitpid: ", std::strerror(errno)));
    }
  }
  pid_ = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(
        name_, " failed (",
        WIFEXITED(status) ? absl::StrCat("exit status ", WEXITSTATUS(status))
                          : absl::StrCat("signal ", WTERMSIG(status)),
        ")"));
  }
  return std::exchange(buffer_, "");
}

}  // namespace gil_model
