#include "asyncio_like/fault_injector.h"

#include <liburing.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <numeric>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace asyncio_like {

bool FaultOptions::enabled() const {
  return short_transfer > 0 || transient_error > 0 || connection_error > 0 || delay > 0 ||
         reorder > 0 || sq_full > 0 || cq_overflow > 0 || accept_error > 0 || no_buffer_ring > 0;
}

std::string FaultOptions::ToSpec() const {
  std::vector<std::string> items = {absl::StrCat("seed=", seed)};
  auto add = [&](const char* name, double p) {
    if (p > 0) items.push_back(absl::StrCat(name, "=", p));
  };
  add("short", short_transfer);
  add("transient", transient_error);
  add("error", connection_error);
  if (delay > 0) items.push_back(absl::StrCat("delay=", delay, ":", max_delay_passes));
  add("reorder", reorder);
  add("sqfull", sq_full);
  add("overflow", cq_overflow);
  add("accept", accept_error);
  add("nobufring", no_buffer_ring);
  return absl::StrJoin(items, ",");
}

absl::StatusOr<FaultOptions> ParseFaultSpec(absl::string_view spec) {
  FaultOptions options;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    if (item == "off" || item == "none") continue;
    if (item == "mix") {
      options.short_transfer = 0.3;
      options.transient_error = 0.05;
      options.connection_error = 0.002;
      options.delay = 0.1;
      options.reorder = 0.3;
      options.sq_full = 0.05;
      options.cq_overflow = 0.05;
      options.accept_error = 0.1;
      continue;
    }
    const size_t equals = item.find('=');
    if (equals == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault spec: '", item, "' is not CLASS=PROBABILITY, seed=N, mix or off"));
    }
    const absl::string_view key = item.substr(0, equals);
    absl::string_view value = item.substr(equals + 1);
    if (key == "seed") {
      if (!absl::SimpleAtoi(value, &options.seed)) {
        return absl::InvalidArgumentError(
            absl::StrCat("fault spec: seed must be an unsigned integer, got '", value, "'"));
      }
      continue;
    }
    if (key == "delay") {
      const size_t colon = value.find(':');
      if (colon != absl::string_view::npos) {
        if (!absl::SimpleAtoi(value.substr(colon + 1), &options.max_delay_passes) ||
            options.max_delay_passes < 1 || options.max_delay_passes > 1000) {
          return absl::InvalidArgumentError(absl::StrCat(
              "fault spec: delay's pass count must be 1..1000, got '", value.substr(colon + 1),
              "'"));
        }
        value = value.substr(0, colon);
      }
    }
    double* field = nullptr;
    if (key == "short") field = &options.short_transfer;
    if (key == "transient") field = &options.transient_error;
    if (key == "error") field = &options.connection_error;
    if (key == "delay") field = &options.delay;
    if (key == "reorder") field = &options.reorder;
    if (key == "sqfull") field = &options.sq_full;
    if (key == "overflow") field = &options.cq_overflow;
    if (key == "accept") field = &options.accept_error;
    if (key == "nobufring") field = &options.no_buffer_ring;
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fault spec: unknown fault class '", key,
          "' (known: short, transient, error, delay, reorder, sqfull, overflow, accept, nobufring, "
          "seed)"));
    }
    double probability;
    if (!absl::SimpleAtod(value, &probability) || !(probability >= 0 && probability <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fault spec: ", key, "'s probability must be a number in [0, 1], got '", value, "'"));
    }
    *field = probability;
  }
  return options;
}

uint64_t FaultStats::total() const {
  return shortened + transient_errors + connection_errors + delayed + reordered_passes + sq_full +
         refused_submissions + cq_overflows + accept_errors + refused_buffer_rings;
}

std::string FaultStats::ToString() const {
  return absl::StrCat("shortened=", shortened, " transient=", transient_errors,
                      " connection_errors=", connection_errors, " delayed=", delayed,
                      " reordered_passes=", reordered_passes, " sq_full=", sq_full,
                      " refused_submissions=", refused_submissions,
                      " cq_overflows=", cq_overflows, " accept_errors=", accept_errors,
                      " refused_buffer_rings=", refused_buffer_rings);
}

FaultInjector::FaultInjector(const FaultOptions& options)
    : options_(options), state_(options.seed) {}

// splitmix64: small, fast, and the same sequence on every platform.
uint64_t FaultInjector::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool FaultInjector::Chance(double probability) {
  if (probability <= 0) return false;  // draws nothing: classes stay independent
  return static_cast<double>(Next() >> 11) * 0x1.0p-53 < probability;
}

uint64_t FaultInjector::Between(uint64_t low, uint64_t high) {
  return low + Next() % (high - low + 1);
}

bool FaultInjector::SqFull() {
  if (!Chance(options_.sq_full)) return false;
  ++stats_.sq_full;
  return true;
}

bool FaultInjector::EnterBusy() {
  if (!Chance(options_.sq_full)) return false;
  ++stats_.sq_full;
  return true;
}

bool FaultInjector::SubmitRefused(unsigned completions_posted) {
  if (completions_posted == 0) {
    refusing_submissions_ = false;
  } else if (!refusing_submissions_ && Chance(options_.sq_full)) {
    refusing_submissions_ = true;
    ++stats_.refused_submissions;
  }
  return refusing_submissions_;
}

bool FaultInjector::RefuseBufferRing() {
  // Drawn only when enabled, so that other specs' runs repeat as before.
  if (!(options_.no_buffer_ring > 0) || !Chance(options_.no_buffer_ring)) return false;
  ++stats_.refused_buffer_rings;
  return true;
}

void FaultInjector::OnSubmit(io_uring_sqe* sqe, uint64_t user_data) {
  bool socket = false;
  switch (sqe->opcode) {
    case IORING_OP_RECV:
    case IORING_OP_SEND:
      socket = true;
      break;
    case IORING_OP_READ:
    case IORING_OP_WRITE: {
      // Regular files only: an eventfd read (a wakeup) is whole or fails
      // with EINVAL, and no kernel shortens it.
      struct stat st;
      if (fstat(sqe->fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
      break;
    }
    case IORING_OP_ACCEPT:
    case IORING_OP_CONNECT:
      break;
    default:
      return;
  }
  int error = 0;
  if (sqe->opcode == IORING_OP_ACCEPT) {
    static constexpr int kAcceptErrors[] = {EMFILE, ENFILE, ECONNABORTED};
    if (!Chance(options_.accept_error)) return;
    error = kAcceptErrors[Between(0, 2)];
    ++stats_.accept_errors;
  } else if (Chance(options_.transient_error)) {
    error = Between(0, 1) == 0 ? EAGAIN : EINTR;
    ++stats_.transient_errors;
  } else if (sqe->opcode == IORING_OP_CONNECT) {
    return;  // a connect's only injected fault is EAGAIN/EINTR
  } else if (socket && Chance(options_.connection_error)) {
    static constexpr int kReceiveErrors[] = {ECONNRESET, ENOBUFS};
    static constexpr int kSendErrors[] = {ECONNRESET, EPIPE, ENOBUFS};
    error = sqe->opcode == IORING_OP_RECV ? kReceiveErrors[Between(0, 1)]
                                          : kSendErrors[Between(0, 2)];
    ++stats_.connection_errors;
  } else {
    if (sqe->len > 1 && Chance(options_.short_transfer)) {
      sqe->len = static_cast<uint32_t>(Between(1, sqe->len - 1));
      ++stats_.shortened;
    }
    return;
  }
  // The operation never reaches the kernel: its SQE becomes a no-op whose
  // own completion (user_data 0) is dropped, and the error completes it.
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, 0);
  Hold({user_data, -error, 0}, 0);
}

int FaultInjector::HeldPassesOf(uint64_t user_data) const {
  int passes = -1;
  for (const Held& held : held_) {
    if (held.completion.user_data == user_data) passes = std::max(passes, held.passes);
  }
  return passes;
}

void FaultInjector::Hold(const HeldCompletion& completion, int passes) {
  held_.push_back({completion, std::max(passes, HeldPassesOf(completion.user_data))});
}

void FaultInjector::OnPass(std::vector<HeldCompletion>& batch) {
  due_.clear();
  size_t kept = 0;
  for (Held& held : held_) {
    if (held.passes <= 0) {
      due_.push_back(held.completion);
    } else {
      --held.passes;
      held_[kept++] = held;
    }
  }
  held_.resize(kept);
  // As if the completion queue had room for only the first `room`: the
  // rest come on the next pass.
  size_t room = batch.size();
  if (batch.size() >= 2 && Chance(options_.cq_overflow)) {
    room = Between(0, batch.size() - 1);
    ++stats_.cq_overflows;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    const HeldCompletion& completion = batch[i];
    if (completion.user_data == 0 || completion.user_data == LIBURING_UDATA_TIMEOUT) {
      due_.push_back(completion);  // dropped by the dispatcher anyway
    } else if (i >= room) {
      Hold(completion, 0);
    } else if (const int passes = HeldPassesOf(completion.user_data); passes >= 0) {
      Hold(completion, passes);  // behind its operation's earlier completion
    } else if (Chance(options_.delay)) {
      Hold(completion, static_cast<int>(Between(1, options_.max_delay_passes)));
      ++stats_.delayed;
    } else {
      due_.push_back(completion);
    }
  }
  if (due_.size() >= 2 && Chance(options_.reorder)) {
    Shuffle(due_);
    ++stats_.reordered_passes;
  }
  batch.swap(due_);
}

void FaultInjector::Shuffle(std::vector<HeldCompletion>& batch) {
  const size_t n = batch.size();
  std::vector<size_t> order(n);  // order[p]: the completion placed at p
  std::iota(order.begin(), order.end(), size_t{0});
  for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[Between(0, i)]);
  // An operation's completions take the positions its group drew, in
  // their original order.
  std::unordered_map<uint64_t, std::vector<size_t>> positions;
  for (size_t p = 0; p < n; ++p) positions[batch[order[p]].user_data].push_back(p);
  for (auto& [user_data, group] : positions) {
    if (group.size() < 2) continue;
    std::vector<size_t> originals;
    for (size_t p : group) originals.push_back(order[p]);
    std::sort(originals.begin(), originals.end());
    for (size_t k = 0; k < group.size(); ++k) order[group[k]] = originals[k];
  }
  std::vector<HeldCompletion> shuffled;
  shuffled.reserve(n);
  for (size_t p = 0; p < n; ++p) shuffled.push_back(batch[order[p]]);
  batch.swap(shuffled);
}

std::vector<HeldCompletion> FaultInjector::TakeHeld() {
  std::vector<HeldCompletion> taken;
  for (const Held& held : held_) taken.push_back(held.completion);
  held_.clear();
  return taken;
}

}  // namespace asyncio_like
