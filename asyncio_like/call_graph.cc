#include "asyncio_like/call_graph.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/source_location.h"

namespace asyncio_like {
namespace internal {
namespace {

thread_local const CallGraph* offloaded_graph = nullptr;

// GCC names a coroutine's body "void f(f(int)::_Z1fi.Frame*)".
bool IsCoroutineBody(const char* function_name) {
  return std::string_view(function_name).ends_with(".Frame*)");
}

// Each function name is parsed once per thread: a capture (ToThread makes
// one per call) then copies pointers only. The names are the program's
// static strings, so their addresses are the keys and the cache stays as
// small as the set of functions that await.
absl::string_view CachedShortName(const char* function_name) {
  thread_local absl::flat_hash_map<const char*, absl::string_view> short_names;
  auto [it, inserted] = short_names.try_emplace(function_name);
  if (inserted) {
    std::string_view name = ShortFunctionName(function_name);
    it->second = absl::string_view(name.data(), name.size());
  }
  return it->second;
}

CallFrame FrameAt(const SourceLocation& where, bool coroutine) {
  return CallFrame{CachedShortName(where.function_name()), where.file_name(),
                   where.line(), coroutine};
}

// `path` holds the tasks being expanded, so that tasks awaiting each other
// (a deadlock) end the recursion instead of looping.
CallGraph Capture(PromiseBase* task, const SourceLocation* here,
                  std::vector<PromiseBase*>& path, bool awaiters_too) {
  CallGraph graph;
  graph.task_name = task->name();
  graph.task_id = task->id();
  graph.address = task;
  PromiseBase* frame = task->innermost();
  if (here != nullptr && here->line() != 0) {
    // The capture call is in the innermost coroutine itself, or in a plain
    // function it called (then that function is a frame of its own).
    bool in_frame = IsCoroutineBody(here->function_name()) ||
                    std::strcmp(here->function_name(),
                                frame->suspended_at().function_name()) == 0;
    graph.call_stack.push_back(FrameAt(*here, in_frame));
    if (in_frame) frame = frame->parent();
  } else if (here == nullptr && task->waiting_on() != nullptr) {
    graph.waiting_on = task->waiting_on()->Describe();
  }
  for (; frame != nullptr; frame = frame->parent()) {
    // A frame that never suspended has no location yet (it is running).
    if (frame->suspended_at().line() == 0) continue;
    graph.call_stack.push_back(FrameAt(frame->suspended_at(), true));
  }
  if (!awaiters_too) return graph;
  path.push_back(task);
  std::vector<PromiseBase*> awaiters;
  for (DoneCallback* c = task->done_callbacks(); c != nullptr; c = c->next) {
    PromiseBase* awaiter = c->awaiting_task;
    if (awaiter == nullptr || awaiter->done()) continue;
    bool seen = false;
    for (PromiseBase* a : awaiters) seen = seen || a == awaiter;
    for (PromiseBase* a : path) seen = seen || a == awaiter;
    if (!seen) awaiters.push_back(awaiter);
  }
  for (PromiseBase* awaiter : awaiters) {
    graph.awaited_by.push_back(Capture(awaiter, nullptr, path, true));
  }
  path.pop_back();
  return graph;
}

void AppendChain(const CallGraph& graph, std::vector<CallFrame>& chain) {
  chain.insert(chain.end(), graph.call_stack.begin(), graph.call_stack.end());
  for (const CallGraph& awaiter : graph.awaited_by) AppendChain(awaiter, chain);
}

void Render(const CallGraph& graph, int level, std::string& out) {
  std::string indent(level * 4, ' ');
  absl::StrAppend(&out, indent, "* Task(name='", graph.task_name, "', id=0x",
                  absl::Hex(reinterpret_cast<uintptr_t>(graph.address)), ")\n");
  if (!graph.call_stack.empty()) {
    absl::StrAppend(&out, indent, "  + Call stack:\n");
    for (const CallFrame& frame : graph.call_stack) {
      absl::StrAppend(&out, indent, "  |   File '", frame.file, "', line ", frame.line,
                      ", in ", frame.coroutine ? "async " : "", frame.function, "()\n");
    }
  }
  if (!graph.waiting_on.empty()) {
    absl::StrAppend(&out, indent, "  + Waiting on: ", graph.waiting_on, "\n");
  }
  if (!graph.awaited_by.empty()) {
    absl::StrAppend(&out, indent, "  + Awaited by:\n");
    for (const CallGraph& awaiter : graph.awaited_by) Render(awaiter, level + 1, out);
  }
}

}  // namespace

std::string_view ShortFunctionName(const char* function_name) {
  std::string_view name(function_name);
  // The name ends at the first '(' outside template brackets (a lambda's
  // "<lambda(int)>" holds one) that is not a scope: a local lambda is
  // "f()::<lambda()>::operator()", and "operator()" keeps its own.
  size_t end = name.size();
  int depth = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '<') ++depth;
    if (c == '>' && depth > 0) --depth;
    if (c != '(' || depth != 0) continue;
    if (name.substr(0, i).ends_with("operator") && name.substr(i).starts_with("()")) {
      ++i;
      continue;
    }
    size_t close = i;
    for (int parens = 0; close < name.size(); ++close) {
      if (name[close] == '(') ++parens;
      if (name[close] == ')' && --parens == 0) break;
    }
    if (name.substr(close).starts_with(")::")) {
      i = close;
      continue;
    }
    end = i;
    break;
  }
  name = name.substr(0, end);
  // The return type ends at the last space outside template brackets.
  depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '<') ++depth;
    if (c == '>' && depth > 0) --depth;
    if (c == ' ' && depth == 0) start = i + 1;
  }
  return name.substr(start);
}

CallGraph CaptureTaskGraph(PromiseBase* task, const SourceLocation* here,
                           bool awaiters) {
  std::vector<PromiseBase*> path;
  return Capture(task, here, path, awaiters);
}


}  // namespace internal

// The loop's own awaiters describe themselves here, with the rest of the
// call graph.
std::string Sleep::Describe() const {
  return absl::StrCat("sleep ", absl::FormatDuration(absl::Nanoseconds(delay_ns_)));
}

std::string EventLoop::FormatTaskTree(size_t limit) const {
  std::string out = absl::StrCat("Task tree: ", pending_tasks_, " pending task",
                                 pending_tasks_ == 1 ? "" : "s", "\n");
  size_t listed = 0;
  for (internal::PromiseBase* task = live_head_; task != nullptr; task = task->live_next_) {
    if (listed == limit) {
      absl::StrAppend(&out, "... and ", pending_tasks_ - listed, " more\n");
      break;
    }
    ++listed;
    const char* state = task == current_task_           ? "running"
                        : task->waiting_on() != nullptr ? "waiting"
                                                        : "ready";
    CallGraph graph = internal::CaptureTaskGraph(task, nullptr, /*awaiters=*/false);
    absl::StrAppend(&out, "* Task(name='", graph.task_name, "', id=0x",
                    absl::Hex(reinterpret_cast<uintptr_t>(task)), ") ", state,
                    task->cancel_requests() > 0 ? ", cancelling" : "", "\n");
    if (!graph.waiting_on.empty()) absl::StrAppend(&out, "  + Waiting on: ", graph.waiting_on, "\n");
    for (const CallFrame& frame : graph.call_stack) {
      absl::StrAppend(&out, "  |   File '", frame.file, "', line ", frame.line, ", in async ",
                      frame.function, "()\n");
    }
    bool first = true;
    for (internal::DoneCallback* c = task->done_callbacks(); c != nullptr; c = c->next) {
      if (c->awaiting_task == nullptr) continue;
      absl::StrAppend(&out, first ? "  + Awaited by: " : ", ", "'", c->awaiting_task->name(),
                      "'");
      first = false;
    }
    if (!first) out += "\n";
  }
  return out;
}

void EventLoop::PrintTaskTree() const {
  std::string tree = FormatTaskTree();
  std::fwrite(tree.data(), 1, tree.size(), stderr);
  std::fflush(stderr);
}

ScopedOffloadedGraph::ScopedOffloadedGraph(const CallGraph* graph)
    : previous_(internal::offloaded_graph) {
  internal::offloaded_graph = graph;
}

ScopedOffloadedGraph::~ScopedOffloadedGraph() { internal::offloaded_graph = previous_; }

std::vector<CallFrame> CallGraph::Chain() const {
  std::vector<CallFrame> chain;
  internal::AppendChain(*this, chain);
  return chain;
}

CallGraph CaptureCallGraph(SourceLocation here) {
  EventLoop* loop = EventLoop::Current();
  if (loop != nullptr && loop->current_task() != nullptr) {
    return internal::CaptureTaskGraph(loop->current_task(), &here);
  }
  if (internal::offloaded_graph != nullptr) {
    CallGraph graph = *internal::offloaded_graph;
    graph.call_stack.insert(graph.call_stack.begin(), internal::FrameAt(here, false));
    return graph;
  }
  return CallGraph();
}

CallGraph CaptureCallGraph(TaskRef task) {
  internal::PromiseBase* promise = task.promise();
  if (promise == nullptr || !promise->is_root() || promise->done()) return CallGraph();
  EventLoop* loop = EventLoop::Current();
  const SourceLocation* here = nullptr;
  SourceLocation unknown;
  // The running task is at an unknown line of its innermost frame.
  if (loop != nullptr && loop->current_task() == promise) here = &unknown;
  return internal::CaptureTaskGraph(promise, here);
}

std::string FormatCallGraph(const CallGraph& graph) {
  std::string out;
  if (!graph.empty()) internal::Render(graph, 0, out);
  return out;
}

void PrintCallGraph(const CallGraph& graph, std::FILE* out) {
  std::string text = FormatCallGraph(graph);
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

}  // namespace asyncio_like
