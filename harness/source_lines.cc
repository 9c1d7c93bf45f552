#include "harness/source_lines.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace harness {
namespace {

bool IsWordChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// Occurrences of `word` in `line` that are whole words.
int CountWord(absl::string_view line, absl::string_view word) {
  int count = 0;
  for (size_t at = line.find(word); at != absl::string_view::npos;
       at = line.find(word, at + word.size())) {
    bool starts = at == 0 || !IsWordChar(line[at - 1]);
    size_t end = at + word.size();
    bool ends = end == line.size() || !IsWordChar(line[end]);
    if (starts && ends) ++count;
  }
  return count;
}

int AsyncMarkers(absl::string_view line) {
  int markers = 0;
  for (absl::string_view word : {"async", "await", "co_await", "co_return"}) {
    markers += CountWord(line, word);
  }
  // Coroutine types: Task<...> (a word "Task" followed by '<').
  for (size_t at = line.find("Task<"); at != absl::string_view::npos;
       at = line.find("Task<", at + 5)) {
    if (at == 0 || !IsWordChar(line[at - 1])) ++markers;
  }
  return markers;
}

// The line without a trailing comment ("// ..." in C++, " # ..." in Python).
absl::string_view WithoutComment(absl::string_view line) {
  size_t cut = line.find("//");
  size_t hash = line.find(" #");
  if (hash != absl::string_view::npos && hash < cut) cut = hash;
  return cut == absl::string_view::npos ? line : line.substr(0, cut);
}

}  // namespace

absl::StatusOr<RegionCount> CountRegionInText(absl::string_view text,
                                              absl::string_view region) {
  const std::string begin = absl::StrCat("[readability:", region, "]");
  bool inside = false;
  bool found = false;
  RegionCount count;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::string_view code = absl::StripAsciiWhitespace(line);
    bool comment = absl::StartsWith(code, "//") || absl::StartsWith(code, "#");
    if (comment && absl::StrContains(code, begin)) {
      inside = found = true;
      continue;
    }
    if (!inside) continue;
    if (comment && absl::StrContains(code, "[end]")) {
      return count;
    }
    if (code.empty() || comment) continue;
    ++count.code_lines;
    count.async_markers += AsyncMarkers(WithoutComment(code));
  }
  return absl::NotFoundError(
      found ? absl::StrCat("region '", region, "' has no [end] marker")
            : absl::StrCat("no region '", region, "'"));
}

absl::StatusOr<RegionCount> CountRegion(const std::string& path,
                                        absl::string_view region) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<RegionCount> count = CountRegionInText(text.str(), region);
  if (!count.ok()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": ", count.status().message()));
  }
  return count;
}

}  // namespace harness
