#include "asyncio_like/uring.h"

#include <liburing.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"

namespace asyncio_like {

namespace {
// How many completions ahead DispatchCompletions prefetches.
constexpr unsigned kPrefetchDistance = 4;
// How many times in a row the kernel may refuse a submission while there
// is no completion to reap (see Uring::SubmitToMakeRoom), 1 ms apart.
constexpr int kMaxRefusals = 1000;
// How long Create waits for locked memory held by rings just closed.
constexpr absl::Duration kLockedMemoryWait = absl::Seconds(1);
}  // namespace

absl::StatusOr<std::unique_ptr<Uring>> Uring::Create(unsigned entries,
                                                     const FaultOptions& faults) {
  if (entries == 0 || entries > 32768) {
    return absl::InvalidArgumentError(absl::StrCat(
        "io_uring ring size must be between 1 and 32768 entries, got ", entries));
  }
  std::unique_ptr<Uring> uring(new Uring());
  // One thread submits and reaps, so the kernel may run completion work
  // only when that thread enters (DEFER_TASKRUN) and skip interrupting it
  // (COOP_TASKRUN); it flags pending completion work in the ring
  // (TASKRUN_FLAG), so that a pass with nothing to submit need not enter
  // just to look. Kernels before 6.1 reject these flags; fall back.
  const unsigned preferred[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
          IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, 0};
  auto set_up = [&]() {
    int rc = -EINVAL;
    for (unsigned flags : preferred) {
      io_uring_params params;
      std::memset(&params, 0, sizeof(params));
      params.flags = flags | IORING_SETUP_CQSIZE;
      params.cq_entries = entries * 2;
      rc = io_uring_queue_init_params(entries, &uring->ring_, &params);
      if (rc != -EINVAL) break;
    }
    return rc;
  };
  int rc = set_up();
  // A ring's memory is pinned, and without CAP_IPC_LOCK (in most containers
  // and sandboxes) it counts against RLIMIT_MEMLOCK. The kernel releases a
  // closed ring's pages asynchronously, up to some 150 ms later when many
  // rings close together, so a process that closes loops and opens new
  // ones quickly can find the limit full for a moment: wait for that.
  const absl::Time give_up = absl::Now() + kLockedMemoryWait;
  while (rc == -ENOMEM && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
    rc = set_up();
  }
  if (rc == -ENOMEM) {
    rlimit limit{};
    getrlimit(RLIMIT_MEMLOCK, &limit);
    // SQEs and the SQ index array, and twice as many CQEs.
    const uint64_t ring_kib = (uint64_t{entries} * (64 + 4) + uint64_t{entries} * 2 * 16) / 1024;
    return absl::ResourceExhaustedError(absl::StrCat(
        "io_uring_setup: out of locked memory (ENOMEM). A ring of ", entries,
        " entries pins about ", ring_kib, " KiB, which counts against RLIMIT_MEMLOCK (ulimit -l: ",
        limit.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                        : absl::StrCat(limit.rlim_cur / 1024, " KiB"),
        ") for processes without CAP_IPC_LOCK; raise the limit, or use fewer or smaller rings "
        "(LoopOptions::ring_entries)"));
  }
  if (rc == -ENOSYS || rc == -EPERM) {
    return absl::UnavailableError(absl::StrCat(
        "io_uring is unavailable (io_uring_setup: ", std::strerror(-rc),
        "); it may be disabled by the kernel.io_uring_disabled sysctl or "
        "blocked by a container's seccomp profile"));
  }
  if (rc < 0) {
    return absl::InternalError(
        absl::StrCat("io_uring_setup failed: ", std::strerror(-rc)));
  }
  if (faults.enabled()) uring->faults_ = std::make_unique<FaultInjector>(faults);
  uring->SetUpBufferRing();
  return uring;
}

Uring::~Uring() {
  CancelAllAndDrain();
  io_uring_queue_exit(&ring_);
  // Nothing is in flight any more, and the kernel let go of the ring with
  // the ring's descriptor.
  if (buffer_ring_ != nullptr) {
    munmap(buffer_ring_, kMaxRingBuffers * sizeof(io_uring_buf));
    munmap(ring_buffers_, size_t{kMaxRingBuffers} * kRingBufferSize);
  }
}

void Uring::SetUpBufferRing() {
  if (faults_ != nullptr && faults_->RefuseBufferRing()) return;
  // Anonymous mappings: page-aligned, as the kernel wants the ring, and
  // a buffer's pages cost memory only once data has landed in them.
  const size_t ring_bytes = kMaxRingBuffers * sizeof(io_uring_buf);
  const size_t buffer_bytes = size_t{kMaxRingBuffers} * kRingBufferSize;
  void* ring = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
  if (ring == MAP_FAILED) return;
  void* buffers = mmap(nullptr, buffer_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (buffers == MAP_FAILED) {
    munmap(ring, ring_bytes);
    return;
  }
  io_uring_buf_reg registration;
  std::memset(&registration, 0, sizeof registration);
  registration.ring_addr = reinterpret_cast<uint64_t>(ring);
  registration.ring_entries = kMaxRingBuffers;
  registration.bgid = 0;
  // Kernels before 5.19 do not know the opcode (EINVAL); then every
  // receive keeps a buffer of its own.
  if (io_uring_register_buf_ring(&ring_, &registration, 0) != 0) {
    munmap(ring, ring_bytes);
    munmap(buffers, buffer_bytes);
    return;
  }
  buffer_ring_ = static_cast<io_uring_buf_ring*>(ring);
  ring_buffers_ = static_cast<char*>(buffers);
  io_uring_buf_ring_init(buffer_ring_);
  buffer_stats_.registered = true;
  ProvideBuffers(kRingGrowth);
}

void Uring::ProvideBuffers(uint32_t count) {
  const int mask = io_uring_buf_ring_mask(kMaxRingBuffers);
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t id = buffer_stats_.provided + i;
    io_uring_buf_ring_add(buffer_ring_, ring_buffers_ + size_t{id} * kRingBufferSize,
                          kRingBufferSize, static_cast<unsigned short>(id), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(count));
  buffer_stats_.provided += count;
}

void Uring::GrowBufferRing() {
  ++buffer_stats_.exhausted;
  // Once per pass: the receives of one kernel entry that found the ring
  // empty are one shortage, not one each.
  // (Completions are delivered only in a pass, numbered from 1.)
  if (last_growth_pass_ == dispatch_passes_) return;
  last_growth_pass_ = dispatch_passes_;
  // Each buffer is in the ring at most once, so the ring never holds more
  // than its kMaxRingBuffers entries.
  ProvideBuffers(std::min(kRingGrowth, kMaxRingBuffers - buffer_stats_.provided));
}

void Uring::PrepareRingReceive(io_uring_sqe* sqe, int fd) {
  // The length caps what the kernel puts in the buffer it picks (the fault
  // injector shortens receives through it).
  io_uring_prep_recv(sqe, fd, nullptr, kRingBufferSize, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = 0;
}

void Uring::ReturnRingBuffer(uint32_t cqe_flags, int32_t result, ReceiveSink* sink) {
  const uint32_t id = cqe_flags >> IORING_CQE_BUFFER_SHIFT;
  char* buffer = ring_buffers_ + size_t{id} * kRingBufferSize;
  if (sink != nullptr && result > 0) {
    const size_t n = static_cast<size_t>(result);
    std::memcpy(sink->Room(n).data(), buffer, n);
    sink->Commit(n);
    ++buffer_stats_.selected;
  }
  io_uring_buf_ring_add(buffer_ring_, buffer, kRingBufferSize, static_cast<unsigned short>(id),
                        io_uring_buf_ring_mask(kMaxRingBuffers), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

void Uring::CancelAllAndDrain() {
  // Completions reaped early or held back by the injector are the
  // kernel's already.
  std::vector<HeldCompletion> taken;
  taken.swap(backlog_);
  if (faults_ != nullptr) {
    for (const HeldCompletion& held : faults_->TakeHeld()) taken.push_back(held);
  }
  for (const HeldCompletion& held : taken) {
    if (held.user_data == 0 || held.user_data == LIBURING_UDATA_TIMEOUT) continue;
    Completion* completion = reinterpret_cast<Completion*>(held.user_data);
    if (held.flags & IORING_CQE_F_MORE) {
      completion->Complete(held.result, held.flags);  // an accepted socket, to close
    } else {
      --in_flight_;
      if (held.flags & IORING_CQE_F_BUFFER) ReturnRingBuffer(held.flags, held.result, nullptr);
      completion->Abandon();
    }
  }
  if (in_flight_ > 0) {
    io_uring_sqe* sqe = NextSqe();
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(sqe, 0);
    // Every cancelled operation completes promptly; the bound only guards
    // against a kernel that cannot cancel one.
    for (int attempt = 0; attempt < 100 && in_flight_ > 0; ++attempt) {
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec timeout = {.tv_sec = 0, .tv_nsec = 10'000'000};
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
      unsigned head;
      unsigned seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        uint64_t data = cqe->user_data;
        if (data == 0 || data == LIBURING_UDATA_TIMEOUT) continue;
        if (cqe->flags & IORING_CQE_F_MORE) {
          // A multishot accept's connection: its acceptor closes it.
          reinterpret_cast<Completion*>(data)->Complete(cqe->res, cqe->flags);
        } else {
          --in_flight_;
          // A receive that took a ring buffer just before its cancel: its
          // bytes have no reader any more, the buffer goes back.
          if (cqe->flags & IORING_CQE_F_BUFFER) ReturnRingBuffer(cqe->flags, cqe->res, nullptr);
          reinterpret_cast<Completion*>(data)->Abandon();
        }
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }
}

io_uring_sqe* Uring::NextSqe() {
  if (faults_ != nullptr && faults_->SqFull()) SubmitToMakeRoom();
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    SubmitToMakeRoom();
    sqe = io_uring_get_sqe(&ring_);
  }
  ++submissions_;
  return sqe;
}

void Uring::SubmitToMakeRoom() {
  for (int refusals = 0;; ++refusals) {
    int rc;
    if (faults_ != nullptr && faults_->SubmitRefused(io_uring_cq_ready(&ring_))) {
      rc = -EBUSY;
    } else {
      rc = io_uring_submit(&ring_);
      ++kernel_enters_;
    }
    if (io_uring_sq_space_left(&ring_) > 0) return;
    // EBUSY (EAGAIN on some kernels): the completion queue is backed up,
    // and the kernel takes no SQE until completions are reaped. They are
    // taken off the ring now, for the next DispatchCompletions to deliver.
    // Any other error cannot be waited out, and neither can a kernel that
    // keeps refusing with nothing left to reap: no operation can be queued,
    // which the caller cannot be told, so the process stops with the cause.
    if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR) {
      Fatal(absl::StrCat("io_uring_submit failed with a full submission queue: ",
                         std::strerror(-rc)));
    }
    if (ReapIntoBacklog() > 0) continue;
    if (refusals >= kMaxRefusals) {
      Fatal(absl::StrCat("the kernel refused ", refusals,
                         " submissions in a row with a full submission queue (",
                         rc < 0 ? std::strerror(-rc) : "nothing taken",
                         ") and no completion to reap"));
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
}

unsigned Uring::ReapIntoBacklog() {
  if (CompletionWorkPending()) (void)io_uring_get_events(&ring_);
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    backlog_.push_back({cqe->user_data, cqe->res, cqe->flags});
  }
  io_uring_cq_advance(&ring_, seen);
  completions_ += seen;
  return seen;
}

void Uring::Fatal(const std::string& message) {
  std::fprintf(stderr, "asyncio_like: io_uring: %s\n", message.c_str());
  std::abort();
}

void Uring::PrepareCompletion(io_uring_sqe* sqe, Completion* completion) {
  io_uring_sqe_set_data(sqe, completion);
  ++in_flight_;
  if (faults_ != nullptr) faults_->OnSubmit(sqe, reinterpret_cast<uint64_t>(completion));
}

void Uring::CancelOperation(Completion* completion) {
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_cancel(sqe, completion, 0);
  io_uring_sqe_set_data64(sqe, 0);
}

absl::Status Uring::Enter(bool wait, int64_t timeout_ns) {
  // Completions reaped early are ready: the loop must not block on the
  // kernel.
  if (!backlog_.empty()) wait = false;
  if (faults_ != nullptr) {
    // So are held ones.
    if (faults_->has_held()) wait = false;
    // As the kernel's EBUSY/EAGAIN: nothing submitted, retried next pass.
    if (faults_->EnterBusy()) return absl::OkStatus();
  }
  int rc;
  if (!wait) {
    if (io_uring_sq_ready(&ring_) == 0 && !CompletionWorkPending()) {
      return absl::OkStatus();
    }
    rc = io_uring_submit_and_get_events(&ring_);
  } else {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec timeout;
    __kernel_timespec* timeout_arg = nullptr;
    if (timeout_ns >= 0) {
      timeout.tv_sec = timeout_ns / 1'000'000'000;
      timeout.tv_nsec = timeout_ns % 1'000'000'000;
      timeout_arg = &timeout;
    }
    rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout_arg,
                                          nullptr);
  }
  ++kernel_enters_;
  // ETIME: the timeout passed; EINTR: a signal; EBUSY/EAGAIN: completions
  // are backed up and must be reaped first. None is an error for the loop.
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY &&
      rc != -EAGAIN) {
    return absl::InternalError(
        absl::StrCat("io_uring_enter failed: ", std::strerror(-rc)));
  }
  return absl::OkStatus();
}

bool Uring::CompletionWorkPending() const {
  if (in_flight_ == 0) return false;
  // Without TASKRUN_FLAG the ring cannot tell; only entering finds out.
  if (!(ring_.flags & IORING_SETUP_TASKRUN_FLAG)) return true;
  return IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW);
}

void Uring::SubmitQueuedNaming(int fd) {
  // Queued: handed out by NextSqe and not yet consumed by the kernel (from
  // its head, which also covers SQEs a failed submission left behind, to
  // liburing's local tail).
  bool named = false;
  const unsigned kernel_head = io_uring_smp_load_acquire(ring_.sq.khead);
  for (unsigned i = kernel_head; i != ring_.sq.sqe_tail && !named; ++i) {
    const io_uring_sqe& sqe = ring_.sq.sqes[i & ring_.sq.ring_mask];
    named = sqe.fd == fd && !(sqe.flags & IOSQE_FIXED_FILE);
  }
  if (!named) return;
  // A failure leaves the SQEs queued for the next Enter, which reports it.
  (void)io_uring_submit(&ring_);
  ++kernel_enters_;
}

unsigned Uring::DispatchCompletions() {
  ++dispatch_passes_;
  if (faults_ != nullptr) return DispatchWithFaults();
  unsigned delivered = DeliverBacklog();
  const unsigned mask = ring_.cq.ring_mask;
  // Each completion is consumed (the head advanced) before it is
  // delivered: delivering may submit, and a refused submission reaps the
  // rest of the ring into the backlog (SubmitToMakeRoom).
  for (;;) {
    const unsigned head = *ring_.cq.khead;
    if (head == io_uring_smp_load_acquire(ring_.cq.ktail)) break;
    const io_uring_cqe& cqe = ring_.cq.cqes[head & mask];
    // With many connections the operation a completion names is rarely in
    // cache: start loading the one four completions ahead while this one
    // runs. A slot past the tail holds an old pointer, and a prefetch of it
    // is harmless.
    __builtin_prefetch(reinterpret_cast<const void*>(
        ring_.cq.cqes[(head + kPrefetchDistance) & mask].user_data));
    const HeldCompletion completion = {cqe.user_data, cqe.res, cqe.flags};
    io_uring_cq_advance(&ring_, 1);
    ++completions_;
    ++delivered;
    Deliver(completion);
    if (!backlog_.empty()) delivered += DeliverBacklog();
  }
  return delivered;
}

unsigned Uring::DeliverBacklog() {
  // Delivering may reap more into the backlog: walk it by index.
  size_t i = 0;
  for (; i < backlog_.size(); ++i) {
    const HeldCompletion completion = backlog_[i];
    Deliver(completion);
  }
  backlog_.clear();
  return static_cast<unsigned>(i);
}

unsigned Uring::DispatchWithFaults() {
  // Completions reaped early come first, as the kernel posted them first.
  batch_.clear();
  batch_.swap(backlog_);
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    batch_.push_back({cqe->user_data, cqe->res, cqe->flags});
  }
  io_uring_cq_advance(&ring_, seen);
  completions_ += seen;
  faults_->OnPass(batch_);
  // Delivering may submit, and a submission may hold an injected error:
  // walk a batch the injector no longer touches.
  std::vector<HeldCompletion> delivering;
  delivering.swap(batch_);
  for (const HeldCompletion& completion : delivering) Deliver(completion);
  const unsigned delivered = static_cast<unsigned>(delivering.size());
  delivering.clear();
  batch_.swap(delivering);  // keep the allocation
  return delivered;
}

void Uring::Deliver(const HeldCompletion& completion) {
  // 0: a cancel request's own completion. LIBURING_UDATA_TIMEOUT: the
  // timeout liburing adds for waits on kernels without EXT_ARG.
  if (completion.user_data == 0 || completion.user_data == LIBURING_UDATA_TIMEOUT) return;
  if (!(completion.flags & IORING_CQE_F_MORE)) --in_flight_;
  reinterpret_cast<Completion*>(completion.user_data)->Complete(completion.result, completion.flags);
}

namespace internal {

namespace {

// The operations for which EINTR and EAGAIN mean "nothing was done".
bool ResubmittedWhenInterrupted(uint8_t opcode) {
  switch (opcode) {
    case IORING_OP_RECV:
    case IORING_OP_SEND:
    case IORING_OP_READ:
    case IORING_OP_WRITE:
    case IORING_OP_ACCEPT:
    case IORING_OP_OPENAT:
    case IORING_OP_FSYNC:
      return true;
    default:
      return false;
  }
}

}  // namespace

io_uring_sqe* KernelOpBase::Begin(std::coroutine_handle<> awaiting,
                                  PromiseBase* task) {
  task_ = task;
  if (!task->BeginWait(this)) return nullptr;
  awaiting_ = awaiting;
  return task->loop()->uring().NextSqe();
}

bool KernelOpBase::BeginDeferred(std::coroutine_handle<> awaiting, PromiseBase* task,
                                 PrepareFunction prepare) {
  task_ = task;
  if (!task->BeginWait(this)) return false;
  awaiting_ = awaiting;
  prepare_ = prepare;
  task->loop()->SubmitAfterNextEnter(this);
  return true;
}

void KernelOpBase::SubmitDeferred() {
  PrepareFunction prepare = prepare_;
  prepare_ = nullptr;
  if (cancel_requested_) {
    KernelOpBase::Complete(-ECANCELED, 0);  // never reached the kernel
    return;
  }
  io_uring_sqe* sqe = NextSqe();
  prepare(this, sqe);
  Submit(sqe);
}

io_uring_sqe* KernelOpBase::NextSqe() { return task_->loop()->uring().NextSqe(); }

Uring& KernelOpBase::uring() const { return task_->loop()->uring(); }

void KernelOpBase::Submit(io_uring_sqe* sqe) {
  opcode_ = sqe->opcode;
  fd_ = sqe->fd;
  task_->loop()->uring().PrepareCompletion(sqe, this);
}

std::string KernelOpBase::Describe() const {
  const char* name = nullptr;
  switch (opcode_) {
    case IORING_OP_RECV: name = "recv"; break;
    case IORING_OP_SEND: name = "send"; break;
    case IORING_OP_READ: name = "read"; break;
    case IORING_OP_WRITE: name = "write"; break;
    case IORING_OP_ACCEPT: name = "accept"; break;
    case IORING_OP_CONNECT: name = "connect"; break;
    case IORING_OP_OPENAT: name = "openat"; break;
    case IORING_OP_CLOSE: name = "close"; break;
    case IORING_OP_FSYNC: name = "fsync"; break;
    case IORING_OP_POLL_ADD: name = "poll"; break;
    case IORING_OP_TIMEOUT: name = "timeout"; break;
    default: break;
  }
  std::string op = name != nullptr ? name : absl::StrCat("opcode ", static_cast<int>(opcode_));
  return fd_ >= 0 ? absl::StrCat("io_uring ", op, " fd ", fd_) : absl::StrCat("io_uring ", op);
}

void KernelOpBase::Complete(int32_t result, uint32_t) {
  if ((result == -EINTR || result == -EAGAIN) && refill_ != nullptr && !cancel_requested_ &&
      ResubmittedWhenInterrupted(opcode_)) {
    io_uring_sqe* sqe = NextSqe();
    refill_(this, sqe);
    Submit(sqe);
    return;
  }
  result_ = result;
  task_->EndWait();
  task_->loop()->Schedule(awaiting_, task_);
}

void KernelOpBase::DropResult() {
  if (result_ >= 0 && (opcode_ == IORING_OP_ACCEPT || opcode_ == IORING_OP_OPENAT)) {
    close(result_);
    result_ = -ECANCELED;
  }
}

void RingReceiveOp::Prepare(KernelOpBase* op, io_uring_sqe* sqe) {
  RingReceiveOp* self = static_cast<RingReceiveOp*>(op);
  Uring& uring = self->uring();
  if (!self->owned_ && uring.has_buffer_ring()) {
    uring.PrepareRingReceive(sqe, self->fd_);
    return;
  }
  self->owned_ = true;
  const absl::Span<char> room = self->sink_->Room(Uring::kRingBufferSize);
  io_uring_prep_recv(sqe, self->fd_, room.data(), room.size(), 0);
}

void RingReceiveOp::Complete(int32_t result, uint32_t flags) {
  // The bytes go to the sink now, whether or not the task still wants
  // them (a cancellation racing the data): they stay buffered for the next
  // read, and the ring buffer is back before anything else runs.
  if (flags & IORING_CQE_F_BUFFER) {
    uring().ReturnRingBuffer(flags, result, sink_);
  } else if (owned_ && result > 0) {
    sink_->Commit(static_cast<size_t>(result));
  }
  // The ring was empty when the data came: nothing was taken, and the
  // buffers are back by the next kernel entry, so the same receive goes
  // again. One that keeps finding it empty (a kernel that misbehaves, or
  // injected faults) takes a buffer of its own rather than spin.
  if (result == -ENOBUFS && !owned_ && !cancel_requested()) {
    uring().GrowBufferRing();
    owned_ = ++ring_retries_ >= Uring::kMaxRingRetries;
    io_uring_sqe* sqe = NextSqe();
    Prepare(this, sqe);
    Submit(sqe);
    return;
  }
  KernelOpBase::Complete(result, flags);
}

bool KernelOpBase::Cancel() {
  if (!cancel_requested_) {
    cancel_requested_ = true;
    // Not submitted yet: SubmitDeferred wakes the task instead.
    if (prepare_ == nullptr) task_->loop()->uring().CancelOperation(this);
  }
  return true;
}

}  // namespace internal
}  // namespace asyncio_like
