// Subprocess: starts a program with its standard output on a pipe, for the
// experiments binary (the CPython programs and the convoy client run as
// separate processes). Standard error is inherited.
//
//   absl::StatusOr<std::unique_ptr<Subprocess>> p =
//       Subprocess::Start({"python3", "countdown.py", "1000"});
//   absl::StatusOr<std::string> out = (*p)->Finish();  // all of stdout
//
// The program is looked up on PATH. A program that cannot be started gives
// NotFound (or another error naming it); a program that exits with a non-zero
// status or a signal makes Finish return Internal. A Subprocess destroyed
// before Finish kills its process and reaps it, so nothing is left running.

#ifndef GIL_MODEL_SUBPROCESS_H_
#define GIL_MODEL_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gil_model {

class Subprocess {
 public:
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv);

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  // The next line of standard output, without its newline.
  // DeadlineExceeded if none arrives within `timeout`; OutOfRange at EOF.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);

  // Reads standard output to its end, waits for the exit, and returns what
  // was not read by ReadLine yet.
  absl::StatusOr<std::string> Finish();

 private:
  Subprocess(std::string name, pid_t pid, int stdout_fd);
  // Reads whatever is available into buffer_; false at EOF.
  absl::StatusOr<bool> Fill(absl::Duration timeout);

  std::string name_;
  pid_t pid_;
  int stdout_fd_;
  std::string buffer_;
};

}  // namespace gil_model

#endif  // GIL_MODEL_SUBPROCESS_H_
