#include "harness/http_fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/workloads.h"

namespace harness {
namespace {

using ::testing::HasSubstr;

std::string Page(absl::string_view status, size_t body_bytes,
                 absl::string_view length) {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Length: ", length,
                      "\r\nConnection: close\r\n\r\n", std::string(body_bytes, 'x'));
}

TEST(HttpFetchTest, ACompletePageIsOk) {
  const std::string length = absl::StrCat(kHttpBodyBytes);
  EXPECT_TRUE(CheckHttpResponse(Page("200 OK", kHttpBodyBytes, length)).ok());
}

TEST(HttpFetchTest, AnythingElseIsDataLossSayingWhat) {
  const std::string length = absl::StrCat(kHttpBodyBytes);
  EXPECT_THAT(std::string(CheckHttpResponse(Page("404 Not Found", 0, "0")).message()),
              HasSubstr("expected an HTTP/1.1 200 response, got 'HTTP/1.1 404"));
  // A body cut short, a body longer than announced, a short page announced
  // as such.
  for (const std::string& page :
       {Page("200 OK", kHttpBodyBytes - 1, length), Page("200 OK", kHttpBodyBytes + 1, length),
        Page("200 OK", 10, "10")}) {
    absl::Status s = CheckHttpResponse(page);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << page.size();
    EXPECT_THAT(std::string(s.message()), HasSubstr("Content-Length"));
  }
  EXPECT_THAT(std::string(CheckHttpResponse("HTTP/1.1 200 OK\r\nContent-Length: 3").message()),
              HasSubstr("headers never ended"));
  EXPECT_THAT(std::string(CheckHttpResponse("HTTP/1.1 200 OK\r\n\r\nabc").message()),
              HasSubstr("no Content-Length"));
}

TEST(HttpFetchTest, OneFailedFetchFailsThemAll) {
  EXPECT_TRUE(AllFetched({absl::OkStatus(), absl::OkStatus()}).ok());
  absl::Status s = AllFetched({absl::OkStatus(), absl::UnavailableError("refused"),
                               absl::DataLossError("short")});
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "2 of 3 fetches failed; first: refused");
}

// The server in a child process, as compare runs it: every GET gets the page,
// `delay` after its request, however many connections wait at once.
class ServerProcess {
 public:
  explicit ServerProcess(absl::Duration delay) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[0]);
      absl::Status s = ServeHttp(delay, [&](int port) {
        if (write(fds[1], &port, sizeof(port)) != sizeof(port)) _exit(3);
      });
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      _exit(2);
    }
    close(fds[1]);
    if (read(fds[0], &port_, sizeof(port_)) != sizeof(port_)) port_ = 0;
    close(fds[0]);
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string ReadToEnd(int fd) {
  std::string received;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
    received.append(buffer, static_cast<size_t>(n));
  }
  return received;
}

TEST(HttpFetchTest, TheServerAnswersEveryRequestAfterItsDelay) {
  constexpr absl::Duration kDelay = absl::Milliseconds(200);
  ServerProcess server(kDelay);
  ASSERT_GT(server.port(), 0);
  // Several requests at once: each waits its own delay, not the sum.
  std::vector<int> fds;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 20; ++i) {
    int fd = Connect(server.port());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, kHttpRequest.data(), kHttpRequest.size()),
              static_cast<ssize_t>(kHttpRequest.size()));
    fds.push_back(fd);
  }
  for (int fd : fds) {
    EXPECT_TRUE(CheckHttpResponse(ReadToEnd(fd)).ok());
    close(fd);
  }
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, kDelay);
  EXPECT_LT(took, 20 * kDelay);  // generous: the delays overlap
}

TEST(HttpFetchTest, TheServerRefusesWhatIsNotAGet) {
  ServerProcess server(absl::ZeroDuration());
  ASSERT_GT(server.port(), 0);
  int fd = Connect(server.port());
  ASSERT_GE(fd, 0);
  constexpr absl::string_view kPost = "POST / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, kPost.data(), kPost.size()), static_cast<ssize_t>(kPost.size()));
  EXPECT_THAT(ReadToEnd(fd), ::testing::StartsWith("HTTP/1.1 400 Bad Request"));
  close(fd);
}

}  // namespace
}  // namespace harness
