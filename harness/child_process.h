// A child process with its stdout and stderr captured, and deadlines.
//
// Every workload runs in a fresh process, so that memory, thread and
// context-switch figures belong to that run alone, and a run that crashes or
// hangs cannot take the comparison down with it:
//
//   absl::StatusOr<ChildProcess> child = ChildProcess::Spawn({"python3", ...});
//   absl::StatusOr<std::string> first = child->ReadLine(deadline);
//   absl::StatusOr<std::string> rest = child->Finish(deadline);  // until exit
//
// A child that outlives its deadline is killed and reported as timed out; a
// non-zero exit is an error that carries the child's stderr.

#ifndef HARNESS_CHILD_PROCESS_H_
#define HARNESS_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace harness {

class ChildProcess {
 public:
  // Starts argv[0] (looked up on PATH) with stdin from /dev/null.
  static absl::StatusOr<ChildProcess> Spawn(const std::vector<std::string>& argv);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();  // kills and reaps a child still running

  pid_t pid() const { return pid_; }

  // The next line of stdout, without its newline.
  absl::StatusOr<std::string> ReadLine(absl::Time deadline);

  // The rest of stdout after the child exits with status 0.
  absl::StatusOr<std::string> Finish(absl::Time deadline);

 private:
  ChildProcess(pid_t pid, int out_fd, int err_fd, std::string name)
      : pid_(pid), out_fd_(out_fd), err_fd_(err_fd), name_(std::move(name)) {}

  // Reads what is available on either pipe until `done()` or the deadline.
  // Returns false on timeout.
  template <typename Done>
  bool Pump(absl::Time deadline, Done done);
  void Kill();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string name_;
  std::string out_;
  std::string err_;
};

// The path of the running executable (/proc/self/exe).
std::string SelfExecutable();

// Whether `program` is an executable file on PATH.
bool OnPath(const std::string& program);

}  // namespace harness

#endif  // HARNESS_CHILD_PROCESS_H_
