// The async call graph: who awaits whom, and where (Python 3.14's
// asyncio.capture_call_graph / format_call_graph / print_call_graph).
//
// A native stack trace taken inside a coroutine shows the frame that is
// running and the loop that resumed it, not the callers: a C++ coroutine's
// callers are suspended heap frames, not stack frames. The call graph
// rebuilds the chain from what every task records as it runs:
//
//   - each Task frame remembers the co_await expression it is suspended at
//     (file, line and function, through SourceLocation captured by
//     the promise's await_transform: one store per await);
//   - a frame awaited inline knows the frame awaiting it, and each
//     scheduled task knows its innermost frame;
//   - a scheduled task knows the tasks awaiting it (`co_await task`,
//     Gather, Wait, WaitFor, TaskGroup, Shield), through the completion
//     callbacks they register on it;
//   - each await point can say what it waits on (a timer and its delay, a
//     kernel operation with its opcode and descriptor, a lock, a queue, an
//     event, a future, another task).
//
// Nothing is assembled until a graph is captured, so recording costs one
// pointer store per await and three pointers per frame.
//
//   Task<void> Fetch() {
//     co_await Sleep(absl::Milliseconds(10));
//     PrintCallGraph(CaptureCallGraph());   // this task's chain, to stderr
//   }
//
// prints, like Python's print_call_graph:
//
//   * Task(name='fetch', id=0x...)
//     + Call stack:
//     |   File 'server.cc', line 12, in async Fetch()
//     |   File 'server.cc', line 20, in async Handle()
//     + Awaited by:
//        * Task(name='main', id=0x...)
//           + Call stack:
//           |   File 'server.cc', line 31, in async Main()
//
// A frame's line is its latest co_await (C++ keeps no program counter for a
// running coroutine frame); the innermost frame of the capturing task is the
// line that called CaptureCallGraph. Function names are qualified and
// without return type or parameters.
//
// Threads: a graph is captured on the loop's thread. Work offloaded with
// ToThread or RunInExecutor carries the chain of the task that offloaded it,
// so CaptureCallGraph() in that work returns it (CPython cannot do this). On
// any other thread the graph is empty.
#ifndef ASYNCIO_LIKE_CALL_GRAPH_H_
#define ASYNCIO_LIKE_CALL_GRAPH_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

#include "asyncio_like/source_location.h"
#include "asyncio_like/task.h"

namespace asyncio_like {

// One frame of a call stack (Python's FrameCallGraphEntry). The names point
// into the program's static strings (SourceLocation's), so a frame can be
// kept, copied and sent to any thread for as long as the program runs.
struct CallFrame {
  absl::string_view function;  // Qualified name, e.g. "server::Handle".
  absl::string_view file;
  uint32_t line = 0;
  bool coroutine = true;  // False for the plain function that captured.
};

// A task, its call stack and the tasks awaiting it (Python's
// FutureCallGraph). Empty (`empty()`) when there was nothing to capture.
struct CallGraph {
  std::string task_name;
  uint64_t task_id = 0;
  const void* address = nullptr;  // The task's identity, printed as id=.
  // What the innermost frame waits on; empty while the task runs.
  std::string waiting_on;
  std::vector<CallFrame> call_stack;  // Innermost first.
  std::vector<CallGraph> awaited_by;

  bool empty() const { return address == nullptr; }
  // The call stack of this task and of every task awaiting it, transitively
  // (each awaiter's stack once), innermost first: the chain a debugger
  // would show if the frames were on one stack.
  std::vector<CallFrame> Chain() const;
};

// The graph of the current task (asyncio.capture_call_graph()): on the loop
// thread inside a task, that task; on a thread running offloaded work, the
// chain of the task that offloaded it; elsewhere an empty graph. `here`
// marks the calling line.
CallGraph CaptureCallGraph(SourceLocation here = SourceLocation::current());
// The graph of `task` (capture_call_graph(task)); empty if the task is not
// pending. Loop thread only.
CallGraph CaptureCallGraph(TaskRef task);

// The graph recorded when the exception `task` finished with escaped its
// innermost frame: every caller of the failing frame, across tasks, each at
// its latest co_await. Empty if the task did not fail with an exception (a
// CancelledError is not recorded). The "Task exception was never retrieved"
// report prints it. Loop thread only.
CallGraph ErrorCallGraph(TaskRef task);

// An error absl::Status that the main task of RunUntilComplete or Run
// returns (Task<absl::Status>, Task<absl::StatusOr<T>>) carries the
// formatted graph of the frame that returned it first, as this payload
// (Status::ToString prints it). Statuses inside the program are left as they
// are: a payload would change their equality.
inline constexpr char kCallGraphPayload[] = "asyncio_like/call_graph";

// Python's format_call_graph / print_call_graph layout.
std::string FormatCallGraph(const CallGraph& graph);
void PrintCallGraph(const CallGraph& graph, std::FILE* out = stderr);

namespace internal {

// "ns::Handle" from a source_location function name such as
// "void ns::Handle(ns::Handle(int)::_ZN..Frame*)" (GCC's name for a
// coroutine body) or "asyncio_like::Task<int> ns::Handle(int)": a part of
// `function_name`, which must outlive it.
std::string_view ShortFunctionName(const char* function_name);

// The graph of a pending root task `task`. `here`, if given, is where the
// innermost frame is running (the capture call). Without `awaiters`, the
// task alone (no awaited_by).
CallGraph CaptureTaskGraph(PromiseBase* task, const SourceLocation* here,
                           bool awaiters = true);

}  // namespace internal

// While alive, CaptureCallGraph() on this thread (outside a task) returns
// `graph`, which must outlive it, below the capturing line: what ToThread
// and RunInExecutor install around the work they offload, with the graph of
// the offloading task. Code that hands work to its own threads can do the
// same.
class ScopedOffloadedGraph {
 public:
  explicit ScopedOffloadedGraph(const CallGraph* graph);
  ScopedOffloadedGraph(const ScopedOffloadedGraph&) = delete;
  ScopedOffloadedGraph& operator=(const ScopedOffloadedGraph&) = delete;
  ~ScopedOffloadedGraph();

 private:
  const CallGraph* previous_;
};
}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_CALL_GRAPH_H_
