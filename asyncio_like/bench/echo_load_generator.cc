#include "asyncio_like/bench/echo_load_generator.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace asyncio_like {

// ----- LatencyHistogram -----

int LatencyHistogram::BucketOf(uint64_t nanos) {
  constexpr uint64_t kLinearLimit = uint64_t{2} << kSubBucketBits;  // 64
  if (nanos < kLinearLimit) return static_cast<int>(nanos);
  // Keep the top (kSubBucketBits + 1) bits: the leading one and 5 more.
  const int shift = std::bit_width(nanos) - 1 - kSubBucketBits;
  const int bucket = (shift << kSubBucketBits) + static_cast<int>(nanos >> shift);
  return bucket < kBuckets ? bucket : kBuckets - 1;
}

uint64_t LatencyHistogram::UpperBoundOf(int bucket) {
  constexpr int kLinearLimit = 2 << kSubBucketBits;
  if (bucket < kLinearLimit) return static_cast<uint64_t>(bucket);
  const int shift = (bucket >> kSubBucketBits) - 1;
  const uint64_t mantissa = static_cast<uint64_t>(bucket - (shift << kSubBucketBits));
  return ((mantissa + 1) << shift) - 1;
}

void LatencyHistogram::Record(absl::Duration latency) {
  const int64_t nanos = absl::ToInt64Nanoseconds(latency);
  ++buckets_[BucketOf(nanos < 0 ? 0 : static_cast<uint64_t>(nanos))];
  ++count_;
}

absl::Duration LatencyHistogram::Percentile(double quantile) const {
  if (count_ == 0) return absl::ZeroDuration();
  uint64_t rank = static_cast<uint64_t>(quantile * static_cast<double>(count_));
  if (rank >= count_) rank = count_ - 1;
  uint64_t seen = 0;
  for (int bucket = 0; bucket < kBuckets; ++bucket) {
    seen += buckets_[bucket];
    if (seen > rank) return absl::Nanoseconds(UpperBoundOf(bucket));
  }
  return absl::Nanoseconds(UpperBoundOf(kBuckets - 1));
}

double EchoLoadReport::RequestsPerSecond() const {
  const double seconds = absl::ToDoubleSeconds(window);
  return seconds > 0 ? static_cast<double>(requests) / seconds : 0.0;
}

// ----- The generator -----

namespace {

using Clock = std::chrono::steady_clock;

// Fills `out` with bytes that depend on (connection, sequence), so that an
// echo of another connection's message, or of an older one, is detected.
void FillMessage(uint32_t connection, uint64_t sequence, std::vector<char>& out) {
  uint64_t state = (uint64_t{connection} << 40) ^ sequence ^ 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < out.size(); i += sizeof(uint64_t)) {
    // splitmix64
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    std::memcpy(out.data() + i, &z, std::min(sizeof z, out.size() - i));
  }
}

struct Connection {
  int fd = -1;
  uint64_t sequence = 0;
  size_t received = 0;
  Clock::time_point sent_at;
  std::vector<char> expected;
  std::vector<char> echo;
};

uint64_t FewestEchoes(const std::vector<Connection>& connections) {
  uint64_t fewest = UINT64_MAX;
  for (const Connection& c : connections) fewest = std::min(fewest, c.sequence);
  return connections.empty() ? 0 : fewest;
}

class FdCloser {
 public:
  explicit FdCloser(std::vector<Connection>& connections, int& epoll_fd)
      : connections_(connections), epoll_fd_(epoll_fd) {}
  ~FdCloser() {
    for (Connection& c : connections_) {
      if (c.fd >= 0) close(c.fd);
    }
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

 private:
  std::vector<Connection>& connections_;
  int& epoll_fd_;
};

absl::Status Errno(int error, absl::string_view what) {
  return absl::ErrnoToStatus(error, absl::StrCat("echo load generator: ", what));
}

absl::Status Connect(uint16_t port, int& fd_out) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno(errno, "socket");
  fd_out = fd;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return Errno(errno, absl::StrCat("connect to 127.0.0.1:", port));
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    return Errno(errno, "fcntl(O_NONBLOCK)");
  }
  return absl::OkStatus();
}

absl::Status Send(Connection& connection) {
  connection.sent_at = Clock::now();
  const ssize_t n =
      write(connection.fd, connection.expected.data(), connection.expected.size());
  if (n < 0) return Errno(errno, "write");
  // One small message on a socket whose peer has read everything before:
  // the kernel always takes it whole.
  if (static_cast<size_t>(n) != connection.expected.size()) {
    return absl::InternalError(absl::StrCat("echo load generator: short write of ", n,
                                            " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EchoLoadReport> RunEchoLoad(uint16_t port,
                                           const EchoLoadOptions& options) {
  if (options.connections <= 0 || options.message_size == 0) {
    return absl::InvalidArgumentError(
        "echo load generator: connections and message_size must be positive");
  }
  std::vector<Connection> connections(options.connections);
  int epoll_fd = -1;
  FdCloser closer(connections, epoll_fd);

  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return Errno(errno, "epoll_create1");
  for (size_t i = 0; i < connections.size(); ++i) {
    Connection& c = connections[i];
    if (absl::Status s = Connect(port, c.fd); !s.ok()) return s;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = static_cast<uint32_t>(i);
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.fd, &event) != 0) {
      return Errno(errno, "epoll_ctl");
    }
    c.expected.resize(options.message_size);
    c.echo.resize(options.message_size);
  }

  EchoLoadReport report;
  const Clock::time_point start = Clock::now();
  const Clock::time_point window_opens = start + absl::ToChronoNanoseconds(options.warmup);
  const Clock::time_point window_closes =
      window_opens + absl::ToChronoNanoseconds(options.measurement);
  Clock::time_point window_opened_at{};
  bool in_window = false;
  Clock::time_point last_progress = start;

  for (size_t i = 0; i < connections.size(); ++i) {
    FillMessage(static_cast<uint32_t>(i), 0, connections[i].expected);
    if (absl::Status s = Send(connections[i]); !s.ok()) return s;
  }

  std::vector<epoll_event> events(std::min<size_t>(connections.size(), 1024));
  for (;;) {
    const int ready = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 100);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return Errno(errno, "epoll_wait");
    }
    const Clock::time_point now = Clock::now();
    if (!in_window && now >= window_opens) {
      if (options.on_measurement_start) options.on_measurement_start();
      window_opened_at = Clock::now();
      in_window = true;
    }
    if (in_window && now >= window_closes &&
        FewestEchoes(connections) >= options.min_echoes_per_connection) {
      break;
    }
    if (ready == 0 && now - last_progress > std::chrono::seconds(10)) {
      return absl::DeadlineExceededError(
          "echo load generator: no echo arrived for 10 seconds");
    }
    for (int e = 0; e < ready; ++e) {
      const uint32_t index = events[e].data.u32;
      Connection& c = connections[index];
      const ssize_t n = read(c.fd, c.echo.data() + c.received, c.echo.size() - c.received);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return Errno(errno, absl::StrCat("read on connection ", index));
      }
      if (n == 0) {
        return absl::UnavailableError(absl::StrCat(
            "echo load generator: the server closed connection ", index));
      }
      c.received += static_cast<size_t>(n);
      if (c.received < c.echo.size()) continue;
      const Clock::time_point done = Clock::now();
      last_progress = done;
      for (size_t b = 0; b < c.echo.size(); ++b) {
        report.corrupted_bytes += c.echo[b] != c.expected[b];
      }
      report.checked_bytes += c.echo.size();
      if (in_window) {
        ++report.requests;
        report.latency.Record(absl::FromChrono(done - c.sent_at));
      }
      c.received = 0;
      FillMessage(index, ++c.sequence, c.expected);
      if (absl::Status s = Send(c); !s.ok()) return s;
    }
  }
  const Clock::time_point window_closed_at = Clock::now();
  if (options.on_measurement_end) options.on_measurement_end();
  report.window = absl::FromChrono(window_closed_at - window_opened_at);
  report.fewest_echoes = FewestEchoes(connections);
  return report;
}

}  // namespace asyncio_like
