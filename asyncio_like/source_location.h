// Where a co_await or a call-graph capture is in the source: file, line and
// function, as the call graph records them (call_graph.h).
//
// This is std::source_location wherever the standard library provides it.
// libstdc++'s <source_location> needs the compiler's
// __builtin_source_location, which clang has only from version 15, so with
// clang 14 the same facts come from the builtins both compilers have
// (__builtin_FILE, __builtin_LINE, __builtin_FUNCTION), evaluated at the
// caller as a default argument is. The one difference: there a function's
// name is unqualified ("Handle", not "ns::Handle").

#ifndef ASYNCIO_LIKE_SOURCE_LOCATION_H_
#define ASYNCIO_LIKE_SOURCE_LOCATION_H_

#include <cstdint>
#include <version>

#if defined(__cpp_lib_source_location)
#include <source_location>
#endif

namespace asyncio_like {

#if defined(__cpp_lib_source_location)

using SourceLocation = std::source_location;

#else

class SourceLocation {
 public:
  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          std::uint_least32_t line = __builtin_LINE(),
                                          const char* function = __builtin_FUNCTION()) noexcept {
    SourceLocation location;
    location.file_ = file;
    location.line_ = line;
    location.function_ = function;
    return location;
  }

  // An unknown location: line 0, empty names (as std::source_location's).
  constexpr SourceLocation() noexcept = default;

  constexpr const char* file_name() const noexcept { return file_; }
  constexpr const char* function_name() const noexcept { return function_; }
  constexpr std::uint_least32_t line() const noexcept { return line_; }
  constexpr std::uint_least32_t column() const noexcept { return 0; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  std::uint_least32_t line_ = 0;
};

#endif

}  // namespace asyncio_like

#endif  // ASYNCIO_LIKE_SOURCE_LOCATION_H_
