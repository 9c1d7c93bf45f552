// Fuzzes the harness's JSON reader (harness/json.h) with arbitrary text:
//   - Json::Parse accepts exactly the documents of RFC 8259's grammar (with
//     the reader's nesting limit), as a small independent recognizer below
//     decides, and refuses everything else with an InvalidArgument status;
//   - whatever it accepts, Dump writes as text that parses back to the same
//     document, one-line and indented (numbers to the 6 significant digits
//     Dump keeps; non-finite numbers become null).
// Strings are not checked for valid UTF-8, by either side: the reader passes
// bytes through.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "harness/json.h"

namespace {

using harness::Json;

// A recognizer for RFC 8259 JSON text: true if `text` is one document.
// A value inside more than kMaxDepth containers is refused, as the reader
// refuses it.
class Recognizer {
 public:
  explicit Recognizer(absl::string_view text) : text_(text) {}

  bool Document() {
    if (!Value(0)) return false;
    Space();
    return at_ == text_.size();
  }

 private:
  static constexpr int kMaxDepth = 64;

  bool More() const { return at_ < text_.size(); }
  char Peek() const { return More() ? text_[at_] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c || !More()) return false;
    ++at_;
    return true;
  }
  void Space() {
    while (More() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) ++at_;
  }
  bool Word(absl::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }
  bool Digits() {
    const size_t start = at_;
    while (More() && absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) ++at_;
    return at_ > start;
  }

  bool Value(int depth) {
    if (depth > kMaxDepth) return false;
    Space();
    switch (Peek()) {
      case '{': return Object(depth);
      case '[': return Array(depth);
      case '"': return String();
      case 't': return Word("true");
      case 'f': return Word("false");
      case 'n': return Word("null");
      default: return Number();
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool Number() {
    Eat('-');
    if (!Eat('0')) {
      if (!More() || Peek() < '1' || Peek() > '9') return false;
      Digits();
    }
    if (Eat('.') && !Digits()) return false;
    if (Eat('e') || Eat('E')) {
      if (!Eat('+')) Eat('-');
      if (!Digits()) return false;
    }
    return true;
  }

  bool String() {
    ++at_;
    while (More()) {
      const unsigned char c = static_cast<unsigned char>(text_[at_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') continue;
      if (!More()) return false;
      const char escape = text_[at_++];
      if (escape == 'u') {
        for (int i = 0; i < 4; ++i) {
          if (!More() || !absl::ascii_isxdigit(static_cast<unsigned char>(text_[at_++]))) {
            return false;
          }
        }
      } else if (absl::string_view("\"\\/bfnrt").find(escape) == absl::string_view::npos) {
        return false;
      }
    }
    return false;
  }

  bool Array(int depth) {
    ++at_;
    Space();
    if (Eat(']')) return true;
    for (;;) {
      if (!Value(depth + 1)) return false;
      Space();
      if (Eat(']')) return true;
      if (!Eat(',')) return false;
    }
  }

  bool Object(int depth) {
    ++at_;
    Space();
    if (Eat('}')) return true;
    for (;;) {
      Space();
      if (Peek() != '"' || !More() || !String()) return false;
      Space();
      if (!Eat(':') || !Value(depth + 1)) return false;
      Space();
      if (Eat('}')) return true;
      if (!Eat(',')) return false;
    }
  }

  absl::string_view text_;
  size_t at_ = 0;
};

// Whether `b`, read back from Dump's text, is the document `a`.
bool SameDocument(const Json& a, const Json& b) {
  if (a.is_number()) {
    const double x = a.number();
    if (!std::isfinite(x)) return b.is_null();
    if (!b.is_number()) return false;
    const double y = b.number();
    return std::fabs(x - y) <= 1e-5 * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Json::Type::kNull: return true;
    case Json::Type::kBool: return a.boolean() == b.boolean();
    case Json::Type::kNumber: return false;  // handled above
    case Json::Type::kString: return a.string() == b.string();
    case Json::Type::kArray: {
      if (a.array().size() != b.array().size()) return false;
      for (size_t i = 0; i < a.array().size(); ++i) {
        if (!SameDocument(a.array()[i], b.array()[i])) return false;
      }
      return true;
    }
    case Json::Type::kObject: {
      if (a.members().size() != b.members().size()) return false;
      auto it = b.members().begin();
      for (const auto& [key, value] : a.members()) {
        if (it->first != key || !SameDocument(value, it->second)) return false;
        ++it;
      }
      return true;
    }
  }
  return false;
}

[[noreturn]] void Fail(absl::string_view text, const std::string& what) {
  std::fprintf(stderr, "JSON reader: %s\ninput: \"%s\"\n", what.c_str(),
               absl::CEscape(text.substr(0, 200)).c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<Json> parsed = Json::Parse(text);
  const bool valid = Recognizer(text).Document();
  if (parsed.ok() != valid) {
    Fail(text, valid ? absl::StrCat("refuses valid JSON: ", parsed.status().ToString())
                     : "accepts text that is not JSON");
  }
  if (!parsed.ok()) {
    if (!absl::IsInvalidArgument(parsed.status())) {
      Fail(text, absl::StrCat("refuses with the wrong code: ", parsed.status().ToString()));
    }
    return 0;
  }
  for (int indent : {0, 2}) {
    const std::string dumped = parsed->Dump(indent);
    const absl::StatusOr<Json> reread = Json::Parse(dumped);
    if (!reread.ok()) {
      Fail(text, absl::StrCat("Dump(", indent, ") wrote text it cannot read: ",
                              reread.status().ToString(), "\ndumped: ", absl::CEscape(dumped)));
    }
    if (!SameDocument(*parsed, *reread)) {
      Fail(text, absl::StrCat("Dump(", indent, ") changed the document: ", absl::CEscape(dumped)));
    }
  }
  return 0;
}
