// A server that gets stuck, and how to see where: the async call graph of a
// task, the task tree on a signal, and the deadlock report.
//
// A flusher takes the database lock and waits for a disk event that never
// comes; two request handlers then wait for the lock. Each handler prints
// its chain (PrintCallGraph) just before it blocks. The program then sends
// itself SIGUSR1, as `kill -USR1 <pid>` would, and the loop prints the task
// tree; once nothing can wake anything, the loop reports the deadlock with
// the tree in the error.
//
//   tools/bazel run //asyncio_like/examples:stuck_server
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asyncio_like/call_graph.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/task.h"

namespace {

using asyncio_like::CaptureCallGraph;
using asyncio_like::CreateTask;
using asyncio_like::Event;
using asyncio_like::Gather;
using asyncio_like::Lock;
using asyncio_like::PrintCallGraph;
using asyncio_like::Sleep;
using asyncio_like::Task;

struct Database {
  Lock lock;
  Event disk_ready;  // never set: the bug
};

Task<void> Flush(Database& db) {
  co_await db.lock.Acquire();
  co_await db.disk_ready.Wait();
  db.lock.Release();
}

Task<void> WriteRecord(Database& db, std::string record) {
  PrintCallGraph(CaptureCallGraph());
  co_await db.lock.Acquire();
  std::printf("wrote %s\n", record.c_str());
  db.lock.Release();
}

Task<void> SaveUser(Database& db, std::string user) { co_await WriteRecord(db, "user:" + user); }

Task<void> HandleRequest(Database& db, std::string user) {
  co_await Sleep(absl::Milliseconds(10));
  co_await SaveUser(db, user);
}

Task<void> Serve(Database& db) {
  Task<void> flusher = CreateTask(Flush(db), "flusher");
  auto requests = CreateTask(Gather(HandleRequest(db, "ada"), HandleRequest(db, "bob")),
                             "requests");
  // Stuck by now. Signal ourselves as `kill -USR1 <pid>` would; the loop
  // prints the tree between steps.
  co_await Sleep(absl::Milliseconds(100));
  kill(getpid(), SIGUSR1);
  co_await Sleep(absl::Milliseconds(100));
  co_await requests;
  co_await flusher;
}

}  // namespace

int main() {
  // Blocked before any thread starts, so the loop's signalfd receives it.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
  asyncio_like::LoopOptions options;
  options.task_tree_signal = SIGUSR1;
  absl::StatusOr<std::unique_ptr<asyncio_like::EventLoop>> loop =
      asyncio_like::EventLoop::Create(options);
  if (!loop.ok()) {
    std::fprintf(stderr, "%s\n", std::string(loop.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "pid %d: `kill -USR1 %d` prints the task tree\n", getpid(), getpid());
  Database db;
  absl::Status status = (*loop)->RunUntilComplete(Serve(db));
  std::fprintf(stderr, "%s\n", status.ToString().c_str());
  return status.ok() ? 0 : 2;
}
