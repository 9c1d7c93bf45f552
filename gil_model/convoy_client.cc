// The client of the convoy experiment (see experiments.cc), run as its own
// process so that it measures the server from outside, whichever server it
// is (the model's or CPython's).
//
//   convoy_client PORT MAX_REQUESTS MAX_SECONDS PAUSE_US
//
// Connects to 127.0.0.1:PORT, sends 64-byte requests one after the other,
// each PAUSE_US microseconds after the previous echo is complete, and
// measures each round trip. The pause is the client's think time: while the
// server waits in recv() with the GIL released, another thread can take it.
// Stops after MAX_REQUESTS requests or MAX_SECONDS, whichever comes first
// (but not before 10 requests), closes the connection and prints one line:
//   requests=N p50_us=... p90_us=... p99_us=... mean_us=...
// The first 3 round trips warm up the connection and are not counted.
// Exits with status 1 and a message on stderr on any error; a server that
// stops answering for 30 s is an error.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

constexpr int kWarmup = 3;
constexpr int kMinRequests = 10;
constexpr size_t kRequestBytes = 64;

int Fail(const char* what) {
  std::fprintf(stderr, "convoy_client: %s: %s\n", what, std::strerror(errno));
  return 1;
}

bool ParsePositive(const char* text, double& value) {
  char* end = nullptr;
  value = std::strtod(text, &end);
  return end != text && *end == '\0' && value > 0;
}

// Sends `request` and reads the echo back; false on any error.
bool RoundTrip(int fd, const std::array<char, kRequestBytes>& request) {
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  std::array<char, kRequestBytes> reply;
  size_t received = 0;
  while (received < reply.size()) {
    const ssize_t n =
        recv(fd, reply.data() + received, reply.size() - received, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    received += static_cast<size_t>(n);
  }
  return reply == request;
}

double Percentile(const std::vector<double>& sorted, double fraction) {
  const size_t index =
      static_cast<size_t>(fraction * (sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  double port = 0, max_requests = 0, max_seconds = 0, pause_us = 0;
  if (argc != 5 || !ParsePositive(argv[1], port) || port > 65535 ||
      !ParsePositive(argv[2], max_requests) ||
      !ParsePositive(argv[3], max_seconds) ||
      !ParsePositive(argv[4], pause_us)) {
    std::fprintf(
        stderr,
        "usage: convoy_client PORT MAX_REQUESTS MAX_SECONDS PAUSE_US\n");
    return 2;
  }

  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Fail("socket");
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const timeval patience = {30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof(patience));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address),
              sizeof(address)) != 0) {
    return Fail("connect");
  }

  std::array<char, kRequestBytes> request;
  std::vector<double> micros;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(max_seconds);
  for (int i = 0;; ++i) {
    const int counted = i - kWarmup;
    if (counted >= max_requests) break;
    if (counted >= kMinRequests &&
        std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::fill(request.begin(), request.end(), static_cast<char>('a' + i % 26));
    const auto start = std::chrono::steady_clock::now();
    if (!RoundTrip(fd, request)) return Fail("round trip");
    const double elapsed = std::chrono::duration<double, std::micro>(
                               std::chrono::steady_clock::now() - start)
                               .count();
    if (counted >= 0) micros.push_back(elapsed);
    std::this_thread::sleep_for(
        std::chrono::duration<double, std::micro>(pause_us));
  }
  close(fd);

  double sum = 0;
  for (double m : micros) sum += m;
  std::sort(micros.begin(), micros.end());
  std::printf("requests=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f\n",
              micros.size(), Percentile(micros, 0.50), Percentile(micros, 0.90),
              Percentile(micros, 0.99), sum / micros.size());
  return 0;
}
