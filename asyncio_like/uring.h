// The io_uring boundary: the only code in the package that talks to the
// kernel ring. Everything above it sees two things:
//
//   - Uring, owned by an EventLoop: hands out submission queue entries,
//     enters the kernel in one place (Enter), and passes every completion to
//     the Completion its user_data points at.
//   - KernelOp, the generic awaitable kernel operation: it fills an SQE with
//     a caller-supplied function, suspends the task, and resumes it with the
//     CQE's result (a byte count or other value >= 0, or -errno).
//
//   // Reads from a descriptor; returns bytes read or -errno.
//   Task<int> ReadSome(int fd, std::span<char> buffer) {
//     co_return co_await KernelOp([&](io_uring_sqe* sqe) {
//       io_uring_prep_read(sqe, fd, buffer.data(), buffer.size(), -1);
//     });
//   }
//
// Writing a new operation (sockets, files, ...) is writing such a prep
// function: capture what the SQE needs by reference (the awaiting frame keeps
// it alive until the completion arrives), fill the SQE, and interpret the
// result. Do not set user_data or flags that link SQEs; KernelOp owns them.
//
// Cancellation: cancelling a task suspended in a KernelOp submits
// IORING_OP_ASYNC_CANCEL for it. The operation's own completion still
// arrives (usually -ECANCELED) and is consumed by the still-suspended
// awaiter, which then throws CancelledError; the cancel request's completion
// carries user_data 0 and is dropped. No completion is ever delivered to
// freed memory: a frame suspended in a KernelOp stays alive until its CQE
// arrives, and the loop's destructor cancels and drains every operation still
// in flight before it destroys task frames.
//
// EINTR and EAGAIN: for a receive, send, read, write, accept, open or
// fsync they mean the kernel did nothing (the ring normally retries
// internally and never shows them). A KernelOp then submits the same
// operation again, as a blocking call retried in a loop would, and the task
// never sees them; a cancellation requested meanwhile ends it instead.
//
// An operation that needs several SQEs before the task can go on (a send
// continued after a partial send) derives from KernelOpBase and overrides
// Complete: it submits the next SQE from there, and calls
// KernelOpBase::Complete only when the task is to be woken, so the task is
// resumed once for the whole operation.
//
// An operation can also wait one loop pass before it reaches the kernel
// (KernelOp::SubmitAfterNextEnter): its SQE is filled only after the loop's
// next kernel entry, so it is submitted with the entry after that. A stream
// does this for a receive issued while a send of the same connection is in
// flight: in a request/response protocol the peer cannot have answered a
// reply that has not left yet, so a receive submitted together with the
// reply would only find an empty socket and arm a poll, where one pass
// later the answer has often arrived.
//
// An operation that completes more than once (a multishot accept or receive)
// implements Completion directly: CQEs carrying IORING_CQE_F_MORE leave it in
// flight. Code that needs a completion without a waiting task (a wakeup
// eventfd read, for instance) submits an SQE from NextSqe() with
// PrepareCompletion() and does not count it as task work (see
// EventLoop::RunUntilComplete's deadlock check).
//
// Receive memory: a receive that names its buffer owns it from submission
// until its completion, so a connection waiting for its peer holds that
// memory for as long as it waits (CPython's loop allocates only when data
// arrives). Each Uring therefore registers a provided-buffer ring with the
// kernel (kernel 5.19+): RingReceiveOp submits a receive that names no
// buffer (IOSQE_BUFFER_SELECT); when data arrives the kernel takes a buffer
// from the ring, the completion names it (IORING_CQE_F_BUFFER), the bytes
// are copied into the receiver's ReceiveSink (a stream's read buffer, sized
// to what arrived) and the buffer goes back to the ring before the next
// completion is looked at. Waiting receives hold no memory; the ring holds
// 16 KiB buffers, of which the kernel touches only the pages data lands in.
//
// The ring starts with 64 buffers. A receive that finds it empty (ENOBUFS:
// more receives completed in one kernel entry than there are buffers) took
// no data, so it loses nothing: it is submitted again, and finds the ring
// full on the next entry, since every buffer goes back as its completion is
// delivered. The ring grows by 64 buffers in a pass that ran dry (up to
// 256), so that a server whose passes deliver more receives than that
// stops paying a second submission for them, while the pages touched stay
// bounded (at most 256 buffers' worth of data, whatever the connection
// count). A receive that found the ring empty 16 times in a row (which
// only a fault injector, or a kernel that misbehaves, makes happen) takes a
// buffer of its own instead of waiting longer. Where the kernel has no
// buffer rings (registration fails) every RingReceiveOp receives into a
// buffer of its own, as before.
#ifndef ASYNCIO_LIKE_URING_H_
#define ASYNCIO_LIKE_URING_H_

#include <liburing.h>

#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "asyncio_like/fault_injector.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

// The receiver of a kernel completion; a CQE's user_data points at one.
class Completion {
 public:
  virtual void Complete(int32_t result, uint32_t flags) = 0;
  // Called instead of Complete for an operation's last completion when the
  // ring is drained at shutdown (CancelAllAndDrain). An operation that no
  // task frame owns (a stream's background send) releases itself here;
  // one that lives in a task frame has nothing to do, since the frame is
  // destroyed after the drain.
  virtual void Abandon() {}

 protected:
  ~Completion() = default;
};

// Where a RingReceiveOp puts the bytes it receives (a stream's read
// buffer).
class ReceiveSink {
 public:
  // Room for at least `n` more bytes after those held; stays valid until
  // Commit.
  virtual absl::Span<char> Room(size_t n) = 0;
  // The first `n` bytes of the last Room now hold received data.
  virtual void Commit(size_t n) = 0;

 protected:
  ~ReceiveSink() = default;
};

// What the provided-buffer ring has done (see the top of this file).
struct BufferRingStats {
  bool registered = false;  // false: every receive owns its buffer
  uint32_t provided = 0;    // buffers handed to the ring so far
  uint64_t selected = 0;    // receives that completed into a ring buffer
  uint64_t exhausted = 0;   // receives that found the ring empty (ENOBUFS)
};

// One io_uring ring, used by one thread.
class Uring {
 public:
  // Sets the ring up with IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN |
  // COOP_TASKRUN where the kernel has them, plain otherwise. Returns
  // Unavailable if io_uring is disabled or blocked (ENOSYS, EPERM),
  // InvalidArgument unless 1 <= entries <= 32768, and ResourceExhausted if
  // the ring's pinned memory does not fit under RLIMIT_MEMLOCK, after
  // waiting up to 1 s for rings closed just before to release theirs.
  // With `faults` enabled, a FaultInjector (fault_injector.h) misbehaves
  // at the boundary on purpose.
  static absl::StatusOr<std::unique_ptr<Uring>> Create(unsigned entries,
                                                       const FaultOptions& faults = {});

  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;
  // Cancels and drains what is still in flight, and closes the ring.
  ~Uring();

  // A free SQE; submits the queued ones first if the queue is full. A
  // kernel that refuses that submission because its completion queue is
  // backed up (EBUSY) gets room by having the posted completions reaped
  // (the next DispatchCompletions delivers them first). If it refuses for
  // about a second with nothing to reap, or fails otherwise, no operation
  // can be queued and the process stops with a message naming the cause.
  io_uring_sqe* NextSqe();
  // Points `sqe` at `completion` and counts it as in flight.
  void PrepareCompletion(io_uring_sqe* sqe, Completion* completion);
  // Asks the kernel to cancel the operation of `completion`. Its completion
  // still arrives; the cancel request's own completion is dropped.
  void CancelOperation(Completion* completion);

  // The one place the loop enters the kernel: submits queued SQEs and
  // collects completions. With `wait`, blocks until a completion arrives or
  // `timeout_ns` passes (negative: no timeout). Without, only enters the
  // kernel if something is queued or completion work is pending.
  absl::Status Enter(bool wait, int64_t timeout_ns);
  // Submits the queued SQEs now, without waiting, if one of them names
  // descriptor `fd`. The kernel looks a descriptor up when its SQE is
  // submitted, so code about to close one calls this first: a number closed
  // while an SQE naming it is still queued could be another file's by the
  // time it reaches the kernel.
  void SubmitQueuedNaming(int fd);
  // Delivers every available completion; returns how many.
  unsigned DispatchCompletions();
  // Cancels every operation in flight and waits for their completions,
  // passing each operation's last one to Completion::Abandon instead of
  // Complete. For shutdown.
  void CancelAllAndDrain();

  uint64_t in_flight() const { return in_flight_; }
  uint64_t kernel_enters() const { return kernel_enters_; }
  uint64_t submissions() const { return submissions_; }
  uint64_t completions() const { return completions_; }
  // The setup flags the kernel accepted.
  unsigned setup_flags() const { return ring_.flags; }
  // SQEs queued and not yet submitted, and CQEs posted and not yet reaped.
  unsigned sq_ready() const { return io_uring_sq_ready(&ring_); }
  unsigned cq_ready() const { return io_uring_cq_ready(&ring_); }
  // The provided-buffer ring: 16 KiB buffers, at most 256, in group 0.
  static constexpr uint32_t kRingBufferSize = 16 * 1024;
  static constexpr uint32_t kMaxRingBuffers = 256;
  static constexpr uint32_t kRingGrowth = 64;  // the first buffers, and each growth
  // How many times in a row a receive may find the ring empty before it
  // takes a buffer of its own.
  static constexpr int kMaxRingRetries = 16;
  bool has_buffer_ring() const { return buffer_ring_ != nullptr; }
  const BufferRingStats& buffer_ring_stats() const { return buffer_stats_; }
  // Fills `sqe` with a receive on `fd` that takes its buffer from the ring.
  // Needs has_buffer_ring().
  void PrepareRingReceive(io_uring_sqe* sqe, int fd);
  // For a completion that names a ring buffer (IORING_CQE_F_BUFFER in
  // `cqe_flags`): appends the `result` bytes it holds to `sink` (none if
  // `result` <= 0 or `sink` is null) and gives the buffer back to the ring.
  void ReturnRingBuffer(uint32_t cqe_flags, int32_t result, ReceiveSink* sink);
  // A receive found the ring empty: adds buffers, once per pass, if it
  // may still grow.
  void GrowBufferRing();

  // The faults injected so far, or nullptr without an injector.
  const FaultStats* fault_stats() const {
    return faults_ != nullptr ? &faults_->stats() : nullptr;
  }

 private:
  Uring() = default;
  // Whether the kernel may hold completions that only an enter delivers.
  bool CompletionWorkPending() const;
  // DispatchCompletions through the fault injector.
  unsigned DispatchWithFaults();
  void Deliver(const HeldCompletion& completion);
  // Submits the queued SQEs until the submission queue has room (see
  // NextSqe).
  void SubmitToMakeRoom();
  // Moves the completions the kernel has posted into backlog_; returns how
  // many.
  unsigned ReapIntoBacklog();
  unsigned DeliverBacklog();
  [[noreturn]] static void Fatal(const std::string& message);
  // Registers the buffer ring; leaves has_buffer_ring() false if the kernel
  // (or the fault injector) refuses it.
  void SetUpBufferRing();
  // Hands buffers [provided, provided + count) to the ring.
  void ProvideBuffers(uint32_t count);

  io_uring ring_{};
  io_uring_buf_ring* buffer_ring_ = nullptr;  // null: no provided buffers
  char* ring_buffers_ = nullptr;              // kMaxRingBuffers of them, mapped lazily
  BufferRingStats buffer_stats_;
  uint64_t dispatch_passes_ = 0;   // DispatchCompletions calls
  uint64_t last_growth_pass_ = 0;  // the pass in which the ring last grew
  std::unique_ptr<FaultInjector> faults_;  // null unless faults are enabled
  std::vector<HeldCompletion> batch_;      // DispatchWithFaults' scratch
  // Completions taken off the ring while submitting, not yet delivered.
  std::vector<HeldCompletion> backlog_;
  uint64_t in_flight_ = 0;
  uint64_t kernel_enters_ = 0;
  uint64_t submissions_ = 0;
  uint64_t completions_ = 0;
};

namespace internal {

// The type-independent part of KernelOp.
class KernelOpBase : private CancellableWait, private Completion {
 public:
  KernelOpBase() = default;
  KernelOpBase(const KernelOpBase&) = delete;
  KernelOpBase& operator=(const KernelOpBase&) = delete;

  bool await_ready() const noexcept { return false; }
  int32_t await_resume() {
    if (cancel_requested_ || task_->cancel_pending()) DropResult();
    task_->ThrowIfCancelled(cancel_requested_);
    return result_;
  }

 protected:
  // Returns an SQE to prepare, or nullptr if a pending cancellation means
  // the task must not suspend.
  io_uring_sqe* Begin(std::coroutine_handle<> awaiting, PromiseBase* task);
  // Like Begin, but the SQE is filled by `prepare` after the loop's next
  // kernel entry. Returns false if a pending cancellation means the task
  // must not suspend.
  using PrepareFunction = void (*)(KernelOpBase* op, io_uring_sqe* sqe);
  bool BeginDeferred(std::coroutine_handle<> awaiting, PromiseBase* task,
                     PrepareFunction prepare);
  void Submit(io_uring_sqe* sqe);
  // Wakes the task with `result`. An operation of several SQEs overrides
  // this, and instead of calling it submits its next SQE (NextSqe, then
  // Submit) unless a cancellation was requested.
  void Complete(int32_t result, uint32_t flags) override;
  io_uring_sqe* NextSqe();
  Uring& uring() const;
  bool cancel_requested() const { return cancel_requested_; }

  // Fills an SQE again, to resubmit the operation after EINTR or EAGAIN;
  // null for operations that cannot be resubmitted as they are.
  PrepareFunction refill_ = nullptr;

 private:
  friend class ::asyncio_like::EventLoop;
  bool Cancel() override;
  // "io_uring recv fd 7" (call_graph.h).
  std::string Describe() const override;
  // For an operation whose task is about to see CancelledError instead of
  // the result: a descriptor it created (an accept or open that completed
  // before the cancellation took effect) is closed, as nobody will ever
  // see it.
  void DropResult();
  // Called by the loop after its kernel entry for an operation begun with
  // BeginDeferred: submits it, or wakes the task if it was cancelled.
  void SubmitDeferred();

  PromiseBase* task_ = nullptr;
  std::coroutine_handle<> awaiting_;
  PrepareFunction prepare_ = nullptr;  // set while waiting for SubmitDeferred
  int32_t result_ = 0;
  uint8_t opcode_ = 0;  // of the SQE last submitted
  int32_t fd_ = -1;     // of the SQE last submitted, for Describe
  bool cancel_requested_ = false;
};

}  // namespace internal

// `co_await KernelOp(prep)`: prep(io_uring_sqe*) fills the SQE; the result is
// the CQE's res (>= 0 on success, -errno on failure). Throws CancelledError
// if the task is cancelled while the operation is in flight.
template <typename Prep>
class KernelOp : public internal::KernelOpBase {
 public:
  explicit KernelOp(Prep prep) : prep_(std::move(prep)) { refill_ = &Prepare; }

  // Call before awaiting: the operation reaches the kernel one loop pass
  // later than it would (see the top of this file).
  void SubmitAfterNextEnter() { deferred_ = true; }

  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    if (deferred_) return BeginDeferred(awaiting, awaiting.promise().task(), &Prepare);
    io_uring_sqe* sqe = Begin(awaiting, awaiting.promise().task());
    if (sqe == nullptr) return false;
    prep_(sqe);
    Submit(sqe);
    return true;
  }

 private:
  static void Prepare(KernelOpBase* op, io_uring_sqe* sqe) {
    static_cast<KernelOp*>(op)->prep_(sqe);
  }

  Prep prep_;
  bool deferred_ = false;
};

template <typename Prep>
KernelOp(Prep) -> KernelOp<Prep>;

namespace internal {

// `co_await RingReceiveOp(fd, &sink)`: one receive on socket `fd`, whose bytes
// are appended to `sink`; yields how many (0 at end of stream) or -errno
// (-EBADF at once for a closed socket, fd < 0). On a loop with a buffer ring
// the receive holds no memory while it waits (see the top of this file);
// without one, or after the ring ran out, it receives into sink.Room(16 KiB).
// Bytes that arrived are in `sink` even if the task was cancelled meanwhile
// (it then throws CancelledError), so a later read finds them. EINTR and
// EAGAIN are retried as for every KernelOp, and an empty ring as the top of
// this file says.
class RingReceiveOp final : public KernelOpBase {
 public:
  // With `after_next_enter`, the receive reaches the kernel one loop pass
  // later, as with KernelOp::SubmitAfterNextEnter.
  RingReceiveOp(int fd, ReceiveSink* sink, bool after_next_enter = false)
      : fd_(fd), sink_(sink), deferred_(after_next_enter) {
    refill_ = &Prepare;
  }

  bool await_ready() const noexcept { return fd_ < 0; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    if (deferred_) return BeginDeferred(awaiting, awaiting.promise().task(), &Prepare);
    io_uring_sqe* sqe = Begin(awaiting, awaiting.promise().task());
    if (sqe == nullptr) return false;
    Prepare(this, sqe);
    Submit(sqe);
    return true;
  }
  int32_t await_resume() { return fd_ < 0 ? -EBADF : KernelOpBase::await_resume(); }

 private:
  static void Prepare(KernelOpBase* op, io_uring_sqe* sqe);
  void Complete(int32_t result, uint32_t flags) override;

  const int fd_;
  ReceiveSink* const sink_;
  bool owned_ = false;  // receiving into sink_->Room, not a ring buffer
  const bool deferred_;
  int ring_retries_ = 0;  // ENOBUFS completions in a row
};

}  // namespace internal

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_URING_H_
