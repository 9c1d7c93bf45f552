#include "harness/stack_view.h"

#include <string>

#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"

namespace harness {

StackView CaptureStackView(absl::string_view user_function) {
  static constexpr int kMaxFrames = 128;
  void* frames[kMaxFrames];
  int depth = absl::GetStackTrace(frames, kMaxFrames, /*skip_count=*/1);
  StackView view;
  view.frames_total = depth;
  for (int i = 0; i < depth; ++i) {
    char symbol[1024];
    // Return addresses point just past the call; step back into it.
    void* pc = static_cast<char*>(frames[i]) - 1;
    if (absl::Symbolize(pc, symbol, sizeof(symbol)) &&
        absl::string_view(symbol).find(user_function) != absl::string_view::npos) {
      ++view.user_frames_visible;
    }
  }
  return view;
}

int CountUserFrames(absl::Span<const std::string> functions,
                    absl::string_view user_function) {
  int count = 0;
  for (const std::string& function : functions) {
    if (absl::string_view(function).find(user_function) != absl::string_view::npos) ++count;
  }
  return count;
}

void InitializeSymbolizer(const char* argv0) { absl::InitializeSymbolizer(argv0); }

}  // namespace harness
