// The seed article's thread pool example, in C++:
//
//   def fetch_data_sync():
//       return requests.get('https://example.com').text
//
//   with ThreadPoolExecutor(max_workers=5) as executor:
//       futures = [executor.submit(fetch_data_sync) for _ in range(5)]
//       for future in futures:
//           print(len(future.result()))
//
// So that it runs anywhere (no network needed), the page comes from a small
// HTTP server that this program starts on 127.0.0.1 in a thread of its own.
// The five fetches are plain blocking socket calls, each on its own worker:
// synchronous code, run concurrently by the pool.
//
//   bazel run //threadpool/examples:fetch

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "threadpool/future.h"
#include "threadpool/thread_pool.h"

namespace {

using ::threadpool::Future;
using ::threadpool::ThreadPoolExecutor;

absl::Status ErrnoError(const char* what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Closes a socket when it goes out of scope.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

absl::Status SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("send");
    sent += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Reads until the peer closes the connection, or until `stop_after` is in
// what was read (if given).
absl::StatusOr<std::string> ReceiveAll(int fd, const char* stop_after) {
  std::string data;
  char buffer[4096];
  while (stop_after == nullptr || data.find(stop_after) == std::string::npos) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("recv");
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  return data;
}

std::string Page() {
  std::string page =
      "<!doctype html>\n<html>\n<head><title>Example Domain</title></head>\n"
      "<body>\n<h1>Example Domain</h1>\n";
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&page, "<p>Paragraph ", i,
                    ": this domain is for use in illustrative examples.</p>\n");
  }
  absl::StrAppend(&page, "</body>\n</html>\n");
  return page;
}

// An HTTP/1.0 server on 127.0.0.1 that answers every request with Page().
class PageServer {
 public:
  static absl::StatusOr<std::unique_ptr<PageServer>> Start() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ErrnoError("socket");
    auto server = std::unique_ptr<PageServer>(new PageServer(fd));
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;  // any free port
    socklen_t length = sizeof(address);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) < 0) {
      return ErrnoError("bind");
    }
    if (listen(fd, 16) < 0) return ErrnoError("listen");
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
      return ErrnoError("getsockname");
    }
    server->port_ = ntohs(address.sin_port);
    server->thread_ = std::thread([s = server.get()] { s->Serve(); });
    return server;
  }

  ~PageServer() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }

 private:
  explicit PageServer(int fd) : listener_(fd) {}

  void Serve() {
    const std::string page = Page();
    const std::string response =
        absl::StrCat("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n",
                     "Content-Length: ", page.size(), "\r\n\r\n", page);
    while (!stop_.load()) {
      // Wakes up now and then to notice stop_.
      pollfd ready = {listener_.fd(), POLLIN, 0};
      if (poll(&ready, 1, 50) <= 0) continue;
      Socket client(accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client.fd() < 0) continue;
      if (!ReceiveAll(client.fd(), "\r\n\r\n").ok()) continue;
      (void)SendAll(client.fd(), response);
    }
  }

  Socket listener_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// requests.get(url).text: one blocking HTTP/1.0 GET, returning the body.
absl::StatusOr<std::string> FetchDataSync(int port) {
  Socket connection(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connection.fd() < 0) return ErrnoError("socket");
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(connection.fd(), reinterpret_cast<sockaddr*>(&address),
              sizeof(address)) < 0) {
    return ErrnoError("connect");
  }
  if (absl::Status s = SendAll(
          connection.fd(), "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> response = ReceiveAll(connection.fd(), nullptr);
  if (!response.ok()) return response.status();
  const size_t body = response->find("\r\n\r\n");
  if (response->rfind("HTTP/1.0 200", 0) != 0 || body == std::string::npos) {
    return absl::DataLossError("malformed HTTP response");
  }
  return response->substr(body + 4);
}

absl::Status Main() {
  absl::StatusOr<std::unique_ptr<PageServer>> server = PageServer::Start();
  if (!server.ok()) return server.status();
  const int port = (*server)->port();

  absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> executor =
      ThreadPoolExecutor::Create({.max_workers = 5});
  if (!executor.ok()) return executor.status();
  std::vector<Future<std::string>> futures;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<Future<std::string>> f =
        (*executor)->Submit(FetchDataSync, port);
    if (!f.ok()) return f.status();
    futures.push_back(*std::move(f));
  }
  for (const Future<std::string>& future : futures) {
    absl::StatusOr<std::string> text = future.Result();
    if (!text.ok()) return text.status();
    std::printf("%zu\n", text->size());
  }
  return absl::OkStatus();
}

}  // namespace

int main() {
  if (absl::Status s = Main(); !s.ok()) {
    std::fprintf(stderr, "fetch: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
