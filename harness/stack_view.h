// What a debugger sees from inside a failing operation: the call stack.
//
// The debug_stack workload calls `depth` nested user functions (all named
// UserCall), waits for I/O in the innermost, then calls a failing operation.
// From inside it, CaptureStackView() records the current thread's stack with
// absl::GetStackTrace and counts the frames whose symbol contains the user
// function's name:
//
//   StackView view = CaptureStackView("UserCall");
//   view.frames_total;         // every frame on this thread's stack
//   view.user_frames_visible;  // how many UserCall frames a trace would show
//
// On threads every caller is still on the stack. A coroutine resumed by the
// event loop has only its own frame: its awaiting callers are suspended in
// heap frames that no stack trace walks. The asyncio models also count the
// callers in their async call graph (asyncio_like/call_graph.h), which the
// loop records as the coroutines suspend:
//
//   view.user_frames_in_call_graph =
//       CountUserFrames(FunctionNames(CaptureCallGraph().Chain()), "UserCall");

#ifndef HARNESS_STACK_VIEW_H_
#define HARNESS_STACK_VIEW_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace harness {

struct StackView {
  int frames_total = 0;
  int user_frames_visible = 0;
  // Callers in the async call graph; -1 where the model has none.
  int user_frames_in_call_graph = -1;
};

// How many of `functions` (names, innermost first) contain `user_function`.
int CountUserFrames(absl::Span<const std::string> functions,
                    absl::string_view user_function);

// Requires InitializeSymbolizer (compare's main does it).
StackView CaptureStackView(absl::string_view user_function);

void InitializeSymbolizer(const char* argv0);

}  // namespace harness

#endif  // HARNESS_STACK_VIEW_H_
