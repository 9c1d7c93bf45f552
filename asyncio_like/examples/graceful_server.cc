// A line echo server that stops cleanly: on Ctrl-C (SIGINT) or SIGTERM it
// stops accepting, tells every client it is shutting down, closes every
// connection, and exits with status 0.
//
//   bazel run //asyncio_like/examples:graceful_server -- --port=8888
//   (in another terminal) nc 127.0.0.1 8888, type lines, then Ctrl-C the server
//
// Ctrl-C is Run()'s (asyncio.run's) own handling: the first SIGINT cancels
// the main task, and Run returns KeyboardInterruptError(). SIGTERM is
// handled with AddSignalHandler, which cancels the main task the same way.
// Either way the cancellation reaches the main task, which closes the
// server and then cancels each connection's task and waits until all
// have closed. A second Ctrl-C while that is under way ends the process at
// once (signals.h).
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/signals.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/sync.h"

ABSL_FLAG(int, port, 8888, "TCP port to listen on (0: any free port)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");

namespace {

using asyncio_like::CancelledError;
using asyncio_like::Event;
using asyncio_like::StreamReader;
using asyncio_like::StreamWriter;
using asyncio_like::Task;
using asyncio_like::TaskRef;

// The connections' tasks, so that shutting down can cancel each and wait
// for the last to close.
struct Connections {
  std::vector<TaskRef> open;
  int closed = 0;
  Event none_open;
};
Connections connections;

Task<void> ServeConnection(StreamReader reader, StreamWriter writer) {
  const TaskRef self = asyncio_like::CurrentTask();
  connections.open.push_back(self);
  connections.none_open.Clear();
  bool cancelled = false;
  try {
    for (;;) {
      absl::StatusOr<std::string> line = co_await reader.ReadUntil("\n");
      if (!line.ok()) break;  // end of stream, or a line over the limit
      writer.Write(*line);
      if (!(co_await writer.Drain()).ok()) break;
    }
  } catch (const CancelledError&) {
    cancelled = true;
  }
  if (cancelled) writer.Write("server shutting down\n");
  (void)co_await writer.Close();
  std::erase(connections.open, self);
  ++connections.closed;
  if (connections.open.empty()) connections.none_open.Set();
  if (cancelled) throw CancelledError();
}

Task<absl::Status> Serve(std::string host, uint16_t port) {
  absl::StatusOr<asyncio_like::Server> server =
      asyncio_like::StartServer(ServeConnection, host, port);
  if (!server.ok()) co_return server.status();
  asyncio_like::EventLoop* loop = asyncio_like::EventLoop::Current();
  absl::Status handled = loop->AddSignalHandler(
      SIGTERM, [main = asyncio_like::CurrentTask()]() mutable { main.Cancel("SIGTERM"); });
  if (!handled.ok()) co_return handled;
  std::printf("Serving on %s:%u\n", host.c_str(), server->port());
  std::fflush(stdout);
  std::string why;
  // Not ServeForever: cancelled, it waits (as asyncio's serve_forever does)
  // until every connection has closed, and these close only once cancelled
  // below. The server accepts in the background until it is closed.
  try {
    Event never_set;
    co_await never_set.Wait();
  } catch (const CancelledError& e) {
    why = e.message().empty() ? "Ctrl-C" : e.message();
  }
  server->Close();  // stop accepting
  for (TaskRef& connection : connections.open) connection.Cancel();
  if (!connections.open.empty()) co_await connections.none_open.Wait();
  std::printf("%s: closed %d connections, %zu open\n", why.c_str(), connections.closed,
              connections.open.size());
  std::fflush(stdout);
  // Ends as it was asked to: cancelled (Run reports Ctrl-C as
  // KeyboardInterrupt).
  throw CancelledError(why);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "A line echo server that closes every connection on Ctrl-C or SIGTERM.\n"
      "Usage: graceful_server [--port=N] [--host=ADDRESS]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "graceful_server: unexpected argument '%s'; it takes flags only\n",
                 rest[1]);
    return 2;
  }
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "graceful_server: --port=%d is out of range: valid is 0..65535\n", port);
    return 2;
  }
  absl::Status status;
  try {
    absl::StatusOr<absl::Status> result =
        asyncio_like::Run(Serve(absl::GetFlag(FLAGS_host), static_cast<uint16_t>(port)));
    status = result.ok() ? *result : result.status();
  } catch (const CancelledError& e) {
    std::printf("Stopped (%s)\n", e.what());
    return 0;
  }
  if (asyncio_like::IsKeyboardInterrupt(status)) {
    std::printf("Stopped (KeyboardInterrupt)\n");
    return 0;
  }
  std::fprintf(stderr, "graceful_server: %s\n", status.ToString().c_str());
  return 1;
}
