// Readability, measured: the lines a user writes for a workload in each model.
//
// Each model's implementation of a workload sits between two marker comments
// in its source file, `[readability:io_fanout]` and `[end]` (after `//` in
// C++, `#` in Python). CountRegion counts the code lines between them (not
// blank lines, not comment lines) and the async markers in their code (not
// in trailing comments): the words
// `async`, `await`, `co_await`, `co_return` and coroutine `Task<...>` types,
// the "async/await everywhere" that the seed says asyncio requires.
//
//   absl::StatusOr<RegionCount> c =
//       CountRegion("harness/python/cpython_asyncio.py", "io_fanout");
//   c->code_lines; c->async_markers;

#ifndef HARNESS_SOURCE_LINES_H_
#define HARNESS_SOURCE_LINES_H_

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace harness {

struct RegionCount {
  int code_lines = 0;
  int async_markers = 0;
};

// Counts the region of `text` named `region`.
absl::StatusOr<RegionCount> CountRegionInText(absl::string_view text,
                                              absl::string_view region);
// Reads `path` and counts its region; NotFound if the file or region is missing.
absl::StatusOr<RegionCount> CountRegion(const std::string& path,
                                        absl::string_view region);

}  // namespace harness

#endif  // HARNESS_SOURCE_LINES_H_
