#include "asyncio_like/runner.h"

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace asyncio_like {

Runner::~Runner() {
  absl::Status closed = Close();
  if (!closed.ok()) {
    std::fprintf(stderr, "Runner: closing failed: %s\n", closed.ToString().c_str());
  }
}

absl::StatusOr<EventLoop*> Runner::GetLoop() {
  if (closed_) return absl::FailedPreconditionError("Runner is closed");
  if (loop_ == nullptr) {
    absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create(options_);
    if (!loop.ok()) return loop.status();
    loop_ = *std::move(loop);
  }
  return loop_.get();
}

absl::Status Runner::Close() {
  if (closed_) return absl::OkStatus();
  if (loop_ != nullptr && EventLoop::Current() == loop_.get()) {
    return absl::FailedPreconditionError("Cannot close a running event loop");
  }
  closed_ = true;
  if (loop_ == nullptr) return absl::OkStatus();
  absl::Status drained = loop_->CancelAllAndDrain();
  loop_.reset();
  return drained;
}

}  // namespace asyncio_like
