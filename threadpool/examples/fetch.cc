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
// HTTP server that this program starts on 127.0.0.1 in a thread of its own,
// unless --url names another (plain HTTP) page. The five fetches are plain
// blocking socket calls, each on a worker: synchronous code, run
// concurrently by the pool.
//
//   bazel run //threadpool/examples:fetch
//   bazel run //threadpool/examples:fetch -- --workers=2 --url=http://127.0.0.1:8000/

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "threadpool/future.h"
#include "threadpool/thread_pool.h"

ABSL_FLAG(int, workers, 5, "max_workers of the pool: 1..64");
ABSL_FLAG(std::string, url, "",
          "the page to fetch, http://HOST[:PORT][/PATH] (plain HTTP only); "
          "default: a page served by this program on 127.0.0.1");

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

struct Url {
  std::string host;
  std::string port;  // a service name or number, as getaddrinfo takes it
  std::string path;
};

absl::StatusOr<Url> ParseUrl(absl::string_view text) {
  absl::string_view rest = text;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--url=", text, " is not an http:// URL (plain HTTP only)"));
  }
  Url url;
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  url.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  const size_t colon = authority.rfind(':');
  url.host = std::string(authority.substr(0, colon));
  url.port = "80";
  if (colon != absl::string_view::npos) {
    int port = 0;
    if (!absl::SimpleAtoi(authority.substr(colon + 1), &port) || port < 1 ||
        port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--url=", text, ": the port must be a number in 1..65535"));
    }
    url.port = absl::StrCat(port);
  }
  if (url.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--url=", text, " has no host"));
  }
  return url;
}

// Connects to the first address of `url` that accepts.
absl::StatusOr<int> Connect(const Url& url) {
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (int rc = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &addresses);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", url.host, ": ", gai_strerror(rc)));
  }
  absl::Status error = absl::UnavailableError(absl::StrCat("no address for ", url.host));
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = ErrnoError("socket");
      continue;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      freeaddrinfo(addresses);
      return fd;
    }
    error = ErrnoError("connect");
    close(fd);
  }
  freeaddrinfo(addresses);
  return error;
}

// requests.get(url).text: one blocking HTTP/1.0 GET, returning the body.
absl::StatusOr<std::string> FetchDataSync(const Url& url) {
  absl::StatusOr<int> fd = Connect(url);
  if (!fd.ok()) return fd.status();
  Socket connection(*fd);
  if (absl::Status s = SendAll(connection.fd(),
                               absl::StrCat("GET ", url.path, " HTTP/1.0\r\nHost: ",
                                            url.host, "\r\n\r\n"));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> response = ReceiveAll(connection.fd(), nullptr);
  if (!response.ok()) return response.status();
  const size_t body = response->find("\r\n\r\n");
  if (!absl::StartsWith(*response, "HTTP/1.") || body == std::string::npos) {
    return absl::DataLossError("malformed HTTP response");
  }
  if (response->compare(9, 3, "200") != 0) {
    return absl::UnavailableError(absl::StrCat(
        "the server answered ", response->substr(0, response->find("\r\n"))));
  }
  return response->substr(body + 4);
}

// Fetches `url`, or this program's own page if there is none, five times.
absl::Status Main(int workers, std::optional<Url> url) {
  std::unique_ptr<PageServer> server;
  if (!url.has_value()) {
    absl::StatusOr<std::unique_ptr<PageServer>> started = PageServer::Start();
    if (!started.ok()) return started.status();
    server = *std::move(started);
    url = Url{"127.0.0.1", absl::StrCat(server->port()), "/"};
  }

  absl::StatusOr<std::unique_ptr<ThreadPoolExecutor>> executor =
      ThreadPoolExecutor::Create({.max_workers = workers});
  if (!executor.ok()) return executor.status();
  std::vector<Future<std::string>> futures;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<Future<std::string>> f =
        (*executor)->Submit(FetchDataSync, *url);
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

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Fetches a page five times on a thread pool and prints each length.\n"
      "Usage: fetch [--workers=N] [--url=http://HOST[:PORT][/PATH]]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr,
                 "fetch: unexpected argument '%s'; it takes flags only (see "
                 "--help)\n",
                 rest[1]);
    return 2;
  }
  const int workers = absl::GetFlag(FLAGS_workers);
  if (workers < 1 || workers > 64) {
    std::fprintf(stderr, "fetch: --workers=%d is out of range: valid is 1..64\n",
                 workers);
    return 2;
  }
  std::optional<Url> url;
  if (const std::string text = absl::GetFlag(FLAGS_url); !text.empty()) {
    absl::StatusOr<Url> parsed = ParseUrl(text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "fetch: %s\n",
                   std::string(parsed.status().message()).c_str());
      return 2;
    }
    url = *std::move(parsed);
  }
  if (absl::Status s = Main(workers, url); !s.ok()) {
    std::fprintf(stderr, "fetch: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
