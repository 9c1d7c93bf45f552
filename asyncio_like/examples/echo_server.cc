// An echo server on asyncio_like streams: every connection gets back what it
// sends, each connection served by a task of its own.
//
//   bazel run //asyncio_like/examples:echo_server -- --port=8888
//   bazel run //asyncio_like/examples:echo_client -- --port=8888 --message=hi
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "asyncio_like/echo_server.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"

ABSL_FLAG(int, port, 8888, "TCP port to listen on (0: any free port)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(std::string, faults, "",
          "faults to inject at the io_uring boundary, e.g. 'mix,seed=7' or "
          "'short=0.3,delay=0.1:3' (see asyncio_like/fault_injector.h); none by default");

namespace {

using asyncio_like::Server;
using asyncio_like::Task;

Task<absl::Status> Serve(std::string host, uint16_t port) {
  absl::StatusOr<Server> server =
      asyncio_like::StartServer(asyncio_like::EchoConnection, host, port);
  if (!server.ok()) co_return server.status();
  std::printf("Serving on %s:%u\n", host.c_str(), server->port());
  std::fflush(stdout);
  co_await server->ServeForever();
  co_return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "An echo server on asyncio_like streams.\n"
      "Usage: echo_server [--port=N] [--host=ADDRESS] [--faults=SPEC]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr,
                 "echo_server: unexpected argument '%s'; it takes flags only, "
                 "such as --port=8888 (see --help)\n",
                 rest[1]);
    return 2;
  }
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "echo_server: --port=%d is out of range: valid is 0..65535\n",
                 port);
    return 2;
  }
  absl::StatusOr<asyncio_like::FaultOptions> faults =
      asyncio_like::ParseFaultSpec(absl::GetFlag(FLAGS_faults));
  if (!faults.ok()) {
    std::fprintf(stderr, "echo_server: --faults: %s\n", faults.status().ToString().c_str());
    return 2;
  }
  asyncio_like::LoopOptions options;
  options.faults = *faults;
  absl::StatusOr<absl::Status> result = asyncio_like::Run(
      Serve(absl::GetFlag(FLAGS_host), static_cast<uint16_t>(port)), options);
  const absl::Status status = result.ok() ? *result : result.status();
  if (!status.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
