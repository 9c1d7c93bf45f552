// FaultInjector: the kernel misbehaving on purpose, at the io_uring boundary.
//
// The faults that break event loops in production are the ones a test
// cannot provoke from outside: a receive or send that moves fewer bytes than
// asked, EAGAIN or EINTR where the code assumed completion, a connection
// reset on a send, completions arriving a pass late or in another order, a
// full submission queue, a completion queue that overflows, accept running
// out of descriptors. Uring (uring.h) asks a FaultInjector, when the loop was
// created with LoopOptions::faults, at the four points where it meets the
// kernel:
//
//   - an SQE is complete (Uring::PrepareCompletion): a receive, send, or
//     file read or write may be shortened to any length >= 1; a receive,
//     send, file read or write, accept or connect may instead not reach
//     the kernel at all and complete with an error (-EAGAIN, -EINTR,
//     -ECONNRESET, -EPIPE, -ENOBUFS; accept: -EMFILE, -ENFILE,
//     -ECONNABORTED; connect: -EAGAIN, -EINTR only). An error
//     replaces the operation, so no data is lost under it: a failed
//     receive consumed nothing, a failed send sent nothing, as with the
//     kernel's own errors.
//   - the ring is set up (Uring::Create): the provided-buffer ring may be
//     refused, as by a kernel before 5.19, so that receives own their
//     buffers (uring.h).
//   - a free SQE is requested (Uring::NextSqe): the queue may be found full,
//     so the queued SQEs are submitted first, earlier than planned.
//   - the loop enters the kernel (Uring::Enter): the submission may fail as
//     the kernel's does when it is busy (EBUSY/EAGAIN), leaving the SQEs
//     queued for the next pass. A submission made to free a full queue may
//     be refused (EBUSY) until the completions posted are reaped.
//   - completions are reaped (Uring::DispatchCompletions): a completion may
//     be held back for 1..k loop passes, the completions of a pass may be
//     delivered in another order, and a pass may deliver only the first
//     few, the rest following on the next pass, as when the kernel's
//     completion queue overflowed. Completions of one operation (a
//     multishot accept's) always keep their order, as the kernel keeps it.
//
// Every decision comes from one pseudo-random generator seeded with
// FaultOptions::seed, so a run repeats exactly as long as the kernel
// presents the same events in the same order (on loopback, at one
// connection at a time, it does; with many, timing decides how completions
// batch, and a failing seed is a strong hint rather than a replay).
//
//   LoopOptions options;
//   options.faults = *ParseFaultSpec("seed=7,short=0.3,transient=0.1,delay=0.1:3");
//   absl::Status s = Run(Main(), options);
//
// A spec is a comma-separated list of CLASS=PROBABILITY (each class's
// probability per opportunity), plus seed=N; "mix" enables every class at
// moderate rates, "off" or "" none. Classes: short, transient (EAGAIN,
// EINTR), error (ECONNRESET, EPIPE, ENOBUFS), delay (delay=P:K, at most K
// passes, 3 by default), reorder, sqfull, overflow, accept (EMFILE, ENFILE,
// ECONNABORTED), nobufring (per ring set up; "mix" leaves it off). For example "mix,seed=3,error=0".
//
// Without LoopOptions::faults no injector exists and each of those points
// costs one predictable branch on a null pointer.
#ifndef ASYNCIO_LIKE_FAULT_INJECTOR_H_
#define ASYNCIO_LIKE_FAULT_INJECTOR_H_

#include <liburing.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asyncio_like {

// What to inject, and how often: each probability is per opportunity (per
// operation submitted, per completion, per pass, as the class says).
struct FaultOptions {
  uint64_t seed = 1;
  double short_transfer = 0;    // a receive/send/file read/write shortened
  double transient_error = 0;   // an operation (connect too) replaced by
                                // -EAGAIN or -EINTR
  double connection_error = 0;  // a receive/send replaced by -ECONNRESET,
                                // -EPIPE (send) or -ENOBUFS
  double delay = 0;             // a completion held back 1..max_delay passes
  int max_delay_passes = 3;
  double reorder = 0;           // a pass's completions shuffled
  double sq_full = 0;           // a free SQE found only after a submit, a
                                // kernel entry failing as busy, a full
                                // queue's submission refused
  double cq_overflow = 0;       // a pass delivering only part of its batch
  double accept_error = 0;      // an accept replaced by -EMFILE, -ENFILE or
                                // -ECONNABORTED
  double no_buffer_ring = 0;    // the provided-buffer ring refused at set-up

  // Whether any fault is enabled.
  bool enabled() const;
  // The spec that produces these options (for logs and failure messages).
  std::string ToSpec() const;
};

// Parses a spec (see the top of this file). InvalidArgument names the bad
// item: an unknown class, a probability outside [0, 1], a bad number.
absl::StatusOr<FaultOptions> ParseFaultSpec(absl::string_view spec);

// How many faults of each class were injected.
struct FaultStats {
  uint64_t shortened = 0;
  uint64_t transient_errors = 0;
  uint64_t connection_errors = 0;
  uint64_t delayed = 0;
  uint64_t reordered_passes = 0;
  uint64_t sq_full = 0;
  uint64_t refused_submissions = 0;
  uint64_t cq_overflows = 0;
  uint64_t accept_errors = 0;
  uint64_t refused_buffer_rings = 0;

  uint64_t total() const;
  std::string ToString() const;
};

// A completion as the kernel posted it (or as the injector made it up).
struct HeldCompletion {
  uint64_t user_data;
  int32_t result;
  uint32_t flags;
};

// The injector's state and decisions; owned by a Uring.
class FaultInjector {
 public:
  explicit FaultInjector(const FaultOptions& options);

  // A complete SQE, about to be submitted for `user_data`. May shorten it,
  // or turn it into a no-op whose completion (the error) is held for the
  // next pass.
  void OnSubmit(io_uring_sqe* sqe, uint64_t user_data);
  // Whether the ring being set up must do without a provided-buffer ring.
  bool RefuseBufferRing();
  // Whether NextSqe should behave as if the queue were full.
  bool SqFull();
  // Whether this kernel entry should fail as busy, submitting nothing.
  bool EnterBusy();
  // Whether a submission made to free a full submission queue is refused
  // (EBUSY), with `completions_posted` completions waiting on the ring. As
  // a kernel with a backed-up completion queue does, a refusing ring keeps
  // refusing until those completions are reaped.
  bool SubmitRefused(unsigned completions_posted);
  // Takes the completions the kernel posted this pass and replaces them
  // with those to deliver now: held ones whose time has come first, then
  // the new ones not held back, possibly shuffled.
  void OnPass(std::vector<HeldCompletion>& batch);
  // Completions held for a later pass; the loop must not block while any is.
  bool has_held() const { return !held_.empty(); }
  // Hands over every held completion, for shutdown.
  std::vector<HeldCompletion> TakeHeld();

  const FaultStats& stats() const { return stats_; }
  const FaultOptions& options() const { return options_; }

 private:
  struct Held {
    HeldCompletion completion;
    int passes;  // delivered when it reaches 0
  };
  uint64_t Next();
  bool Chance(double probability);
  // Uniform in [low, high].
  uint64_t Between(uint64_t low, uint64_t high);
  // Holds `completion` for at least `passes`, and no less than any
  // completion of the same operation already held.
  void Hold(const HeldCompletion& completion, int passes);
  int HeldPassesOf(uint64_t user_data) const;
  // Shuffles `batch`, keeping each operation's completions in order.
  void Shuffle(std::vector<HeldCompletion>& batch);

  FaultOptions options_;
  uint64_t state_;
  std::vector<Held> held_;
  std::vector<HeldCompletion> due_;  // scratch for OnPass
  bool refusing_submissions_ = false;
  FaultStats stats_;
};

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_FAULT_INJECTOR_H_
