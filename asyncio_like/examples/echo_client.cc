// An echo client on asyncio_like streams (asyncio.open_connection): sends
// one line, prints the line that comes back.
//
//   bazel run //asyncio_like/examples:echo_client -- --port=8888 --message=hi
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"

ABSL_FLAG(int, port, 8888, "TCP port of the echo server");
ABSL_FLAG(std::string, host, "127.0.0.1", "address of the echo server");
ABSL_FLAG(std::string, message, "Hello World!", "the line to send");

namespace {

using asyncio_like::Stream;
using asyncio_like::Task;

Task<absl::Status> Exchange(std::string host, uint16_t port, std::string message) {
  absl::StatusOr<Stream> stream =
      co_await asyncio_like::OpenConnection(host, port, absl::Seconds(5));
  if (!stream.ok()) co_return stream.status();
  std::printf("Send: %s\n", message.c_str());
  stream->writer.Write(message + "\n");
  if (absl::Status sent = co_await stream->writer.Drain(); !sent.ok()) co_return sent;
  absl::StatusOr<std::string> line = co_await stream->reader.ReadUntil("\n");
  if (!line.ok()) co_return line.status();
  line->pop_back();  // the newline
  std::printf("Received: %s\n", line->c_str());
  co_return co_await stream->writer.Close();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Sends one line to an echo server and prints the reply.\n"
      "Usage: echo_client [--port=N] [--host=ADDRESS] [--message=TEXT]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr,
                 "echo_client: unexpected argument '%s'; it takes flags only, "
                 "such as --port=8888 (see --help)\n",
                 rest[1]);
    return 2;
  }
  const int port = absl::GetFlag(FLAGS_port);
  if (port <= 0 || port > 65535) {
    std::fprintf(stderr, "echo_client: --port=%d is out of range: valid is 1..65535\n",
                 port);
    return 2;
  }
  absl::StatusOr<absl::Status> result = asyncio_like::Run(Exchange(
      absl::GetFlag(FLAGS_host), static_cast<uint16_t>(port), absl::GetFlag(FLAGS_message)));
  const absl::Status status = result.ok() ? *result : result.status();
  if (!status.ok()) {
    std::fprintf(stderr, "echo_client: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
