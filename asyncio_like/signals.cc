#include "asyncio_like/signals.h"

#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "asyncio_like/event_loop.h"

namespace asyncio_like {
namespace {

// Which loop handles which signal: a signal pending for the process is read
// by whichever signalfd gets to it first, so two loops must not share one.
std::mutex registry_mutex;
std::map<int, const EventLoop*>& Registry() {
  static auto* registry = new std::map<int, const EventLoop*>();
  return *registry;
}

// asyncio's _check_signal: the numbers signal.valid_signals() lists. glibc's
// full set leaves out the two real-time signals it keeps for itself.
absl::Status CheckSignal(int signo) {
  sigset_t valid;
  sigfillset(&valid);
  if (signo < 1 || signo >= NSIG || sigismember(&valid, signo) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("invalid signal number ", signo));
  }
  return absl::OkStatus();
}

bool IsMainThread() { return getpid() == gettid(); }

}  // namespace

absl::Status KeyboardInterruptError() { return absl::CancelledError("KeyboardInterrupt"); }

bool IsKeyboardInterrupt(const absl::Status& status) {
  return absl::IsCancelled(status) && status.message() == "KeyboardInterrupt";
}

absl::Status EventLoop::AddSignalHandlerCallback(int signo, absl::AnyInvocable<void()> callback,
                                                 bool background) {
  if (std::this_thread::get_id() != owner_thread_) {
    return absl::FailedPreconditionError(
        "AddSignalHandler must be called on the event loop's thread");
  }
  if (signal_handlers_ == nullptr) {
    signal_handlers_ = std::make_unique<internal::SignalHandlers>(*this);
  }
  return signal_handlers_->Add(signo, std::move(callback), background);
}

absl::StatusOr<bool> EventLoop::RemoveSignalHandler(int signo) {
  if (absl::Status valid = CheckSignal(signo); !valid.ok()) return valid;
  if (std::this_thread::get_id() != owner_thread_) {
    return absl::FailedPreconditionError(
        "RemoveSignalHandler must be called on the event loop's thread");
  }
  if (signal_handlers_ == nullptr) return false;
  return signal_handlers_->Remove(signo);
}

uint64_t EventLoop::BackgroundOpsInFlight() const {
  return signal_handlers_ != nullptr && signal_handlers_->only_background_read() ? 1 : 0;
}

namespace internal {

SignalHandlers::~SignalHandlers() {
  for (auto& [signo, handler] : handlers_) Forget(signo, handler);
  if (fd_ >= 0) close(fd_);
}

absl::Status SignalHandlers::Add(int signo, absl::AnyInvocable<void()> callback,
                                 bool background) {
  if (absl::Status valid = CheckSignal(signo); !valid.ok()) return valid;
  if (signo == SIGKILL || signo == SIGSTOP) {
    return absl::FailedPreconditionError(absl::StrCat("sig ", signo, " cannot be caught"));
  }
  auto it = handlers_.find(signo);
  if (it == handlers_.end()) {
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      auto [owner, inserted] = Registry().emplace(signo, &loop_);
      if (!inserted) {
        return absl::FailedPreconditionError(absl::StrCat(
            "signal ", signo, " (", sigabbrev_np(signo),
            ") is already handled by another event loop"));
      }
    }
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    sigset_t before;
    pthread_sigmask(SIG_BLOCK, &one, &before);
    sigaddset(&mask_, signo);
    const int fd = signalfd(fd_, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      sigdelset(&mask_, signo);
      if (!sigismember(&before, signo)) pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
      std::lock_guard<std::mutex> lock(registry_mutex);
      Registry().erase(signo);
      return absl::InternalError(absl::StrCat("signalfd: ", std::strerror(error)));
    }
    fd_ = fd;
    it = handlers_.emplace(signo, Handler{}).first;
    it->second.was_blocked = sigismember(&before, signo) == 1;
  } else if (background) {
    // Run's Ctrl-C handling gives way to a handler the program added, as
    // asyncio.Runner installs its own only over the default one.
    return absl::FailedPreconditionError("SIGINT is already handled on this loop");
  } else {
    *it->second.removed = true;  // the old handler's queued calls
  }
  it->second.callback = std::make_shared<absl::AnyInvocable<void()>>(std::move(callback));
  it->second.removed = std::make_shared<bool>(false);
  it->second.background = background;
  if (!read_in_flight_) ArmRead();
  return absl::OkStatus();
}

absl::StatusOr<bool> SignalHandlers::Remove(int signo, bool background_only) {
  auto it = handlers_.find(signo);
  if (it == handlers_.end() || (background_only && !it->second.background)) return false;
  Forget(signo, it->second);
  handlers_.erase(it);
  sigdelset(&mask_, signo);
  // Updates the mask in place; it cannot fail on our own descriptor.
  (void)signalfd(fd_, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
  // With nothing left to read, a read in flight would only keep the loop
  // from reporting a deadlock: cancel it (Complete re-arms it if a handler
  // was added meanwhile).
  if (handlers_.empty() && read_in_flight_) loop_.uring().CancelOperation(this);
  return true;
}

void SignalHandlers::Forget(int signo, Handler& handler) {
  *handler.removed = true;
  if (!handler.was_blocked) {
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  }
  std::lock_guard<std::mutex> lock(registry_mutex);
  Registry().erase(signo);
}

bool SignalHandlers::only_background_read() const {
  if (!read_in_flight_) return false;
  for (const auto& [signo, handler] : handlers_) {
    if (!handler.background) return false;
  }
  return true;
}

void SignalHandlers::ArmRead() {
  Uring& uring = loop_.uring();
  io_uring_sqe* sqe = uring.NextSqe();
  io_uring_prep_read(sqe, fd_, records_, sizeof records_, 0);
  uring.PrepareCompletion(sqe, this);
  read_in_flight_ = true;
}

void SignalHandlers::Complete(int32_t result, uint32_t) {
  read_in_flight_ = false;
  const int count = result > 0 ? result / static_cast<int>(sizeof(signalfd_siginfo)) : 0;
  for (int i = 0; i < count; ++i) {
    auto it = handlers_.find(static_cast<int>(records_[i].ssi_signo));
    if (it == handlers_.end()) continue;
    loop_.CallSoon([callback = it->second.callback, removed = it->second.removed] {
      if (!*removed) (*callback)();
    });
  }
  if (handlers_.empty()) return;
  if (result < 0 && result != -EAGAIN && result != -EINTR && result != -ECANCELED) {
    // Not expected from a signalfd we own; re-arming would only spin.
    std::fprintf(stderr, "asyncio_like: reading the signalfd failed (%s); signal handlers stop\n",
                 std::strerror(-result));
    return;
  }
  ArmRead();
}

}  // namespace internal

namespace internal {

RunInterrupt::RunInterrupt(EventLoop& loop, PromiseBase* main) : loop_(loop), main_(main) {
  if (main == nullptr || !IsMainThread()) return;
  struct sigaction current;
  if (sigaction(SIGINT, nullptr, &current) != 0 || current.sa_handler != SIG_DFL ||
      (current.sa_flags & SA_SIGINFO)) {
    return;  // the program ignores SIGINT or handles it itself
  }
  absl::Status added = loop.AddSignalHandlerCallback(
      SIGINT, [this] { OnSigint(); }, /*background=*/true);
  if (!added.ok()) return;  // another loop handles SIGINT
  installed_ = true;
  on_done = &RunInterrupt::OnMainDone;
  main->AddDoneCallback(this);
}

RunInterrupt::~RunInterrupt() {
  Unlink();
  Uninstall();
}

void RunInterrupt::Uninstall() {
  if (!installed_) return;
  installed_ = false;
  // Unless the program has put a handler of its own in its place (asyncio
  // restores SIGINT only if its handler is still the one installed).
  (void)loop_.signal_handlers_->Remove(SIGINT, /*background_only=*/true);
}

void RunInterrupt::OnMainDone(DoneCallback* self, PromiseBase* finished) {
  auto* interrupt = static_cast<RunInterrupt*>(self);
  interrupt->main_done_ = true;
  interrupt->main_cancelled_ = finished->finished_with_cancellation();
  interrupt->cancel_requests_at_end_ = finished->cancel_requests();
}

void RunInterrupt::OnSigint() {
  // From now on SIGINT has its default disposition in this thread too: the
  // next Ctrl-C ends the process, even if a task never awaits again.
  Uninstall();
  if (!interrupted_ && !main_done_) {
    interrupted_ = true;
    main_->RequestCancel();
    return;
  }
  raise(SIGINT);
}

bool RunInterrupt::keyboard_interrupt() const {
  return interrupted_ && main_done_ && main_cancelled_ && cancel_requests_at_end_ <= 1;
}

}  // namespace internal
}  // namespace asyncio_like
