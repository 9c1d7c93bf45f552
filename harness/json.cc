#include "harness/json.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace harness {
namespace {

// Recursive-descent parser over the text; `pos_` is the next unread byte.
class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<Json> Document() {
    absl::StatusOr<Json> value = Value(0);
    if (!value.ok()) return value;
    SkipSpace();
    if (pos_ != text_.size()) return Error("trailing text after the document");
    return value;
  }

 private:
  static constexpr int kMaxDepth = 64;

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON: ", what, " at offset ", pos_));
  }

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' ||
            text_[pos_] == '\t')) {
      ++pos_;
    }
  }

  bool Consume(absl::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  absl::StatusOr<Json> Value(int depth) {
    if (depth > kMaxDepth) return Error("nesting too deep");
    SkipSpace();
    if (pos_ >= text_.size()) return Error("unexpected end");
    char c = text_[pos_];
    if (c == '{') return ObjectValue(depth);
    if (c == '[') return ArrayValue(depth);
    if (c == '"') {
      absl::StatusOr<std::string> s = StringValue();
      if (!s.ok()) return s.status();
      return Json(*std::move(s));
    }
    if (Consume("true")) return Json(true);
    if (Consume("false")) return Json(false);
    if (Consume("null")) return Json();
    return NumberValue();
  }

  // JSON's number grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
  // which is stricter than strtod's ("01", "+1", ".5", "1." are not JSON).
  absl::StatusOr<Json> NumberValue() {
    size_t start = pos_;
    auto digits_here = [&] {
      const size_t from = pos_;
      while (pos_ < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
        ++pos_;
      }
      return pos_ - from;
    };
    Consume("-");
    const size_t integer_start = pos_;
    const size_t integer_digits = digits_here();
    if (integer_digits == 0) {
      pos_ = start;
      return Error("unexpected character");
    }
    bool valid = integer_digits == 1 || text_[integer_start] != '0';
    if (valid && Consume(".")) valid = digits_here() > 0;
    if (valid && (Consume("e") || Consume("E"))) {
      if (!Consume("+")) Consume("-");
      valid = digits_here() > 0;
    }
    if (!valid) {
      pos_ = start;
      return Error("malformed number");
    }
    std::string digits(text_.substr(start, pos_ - start));
    char* end = nullptr;
    double value = std::strtod(digits.c_str(), &end);
    if (end != digits.c_str() + digits.size()) {
      pos_ = start;
      return Error("malformed number");
    }
    return Json(value);
  }

  absl::StatusOr<std::string> StringValue() {
    ++pos_;  // opening quote
    std::string out;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) {
        --pos_;
        return Error("control character in a string");
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) break;
      char e = text_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          if (pos_ + 4 > text_.size()) return Error("short \\u escape");
          for (char hex : text_.substr(pos_, 4)) {
            if (!absl::ascii_isxdigit(static_cast<unsigned char>(hex))) {
              return Error("\\u escape needs four hex digits");
            }
          }
          unsigned code = std::strtoul(
              std::string(text_.substr(pos_, 4)).c_str(), nullptr, 16);
          pos_ += 4;
          // UTF-8 encoding of a code point of the Basic Multilingual Plane.
          if (code < 0x80) {
            out.push_back(static_cast<char>(code));
          } else if (code < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (code >> 6)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
          } else {
            out.push_back(static_cast<char>(0xE0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
          }
          break;
        }
        default:
          return Error("bad escape");
      }
    }
    return Error("unterminated string");
  }

  absl::StatusOr<Json> ArrayValue(int depth) {
    ++pos_;
    Json out = Json(Json::Array());
    SkipSpace();
    if (Consume("]")) return out;
    while (true) {
      absl::StatusOr<Json> item = Value(depth + 1);
      if (!item.ok()) return item;
      out.Append(*std::move(item));
      SkipSpace();
      if (Consume("]")) return out;
      if (!Consume(",")) return Error("expected ',' or ']'");
    }
  }

  absl::StatusOr<Json> ObjectValue(int depth) {
    ++pos_;
    Json out = Json::Object();
    SkipSpace();
    if (Consume("}")) return out;
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"') {
        return Error("expected a member name");
      }
      absl::StatusOr<std::string> key = StringValue();
      if (!key.ok()) return key.status();
      SkipSpace();
      if (!Consume(":")) return Error("expected ':'");
      absl::StatusOr<Json> item = Value(depth + 1);
      if (!item.ok()) return item;
      out.Set(*std::move(key), *std::move(item));
      SkipSpace();
      if (Consume("}")) return out;
      if (!Consume(",")) return Error("expected ',' or '}'");
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

void Quote(std::string& out, const std::string& s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

absl::StatusOr<Json> Json::Parse(absl::string_view text) {
  return Parser(text).Document();
}

const Json* Json::Get(absl::string_view key) const {
  if (!is_object()) return nullptr;
  auto it = members().find(std::string(key));
  return it == members().end() ? nullptr : &it->second;
}

Json& Json::Set(std::string key, Json value) {
  Members& m = std::get<Members>(value_);
  return m[std::move(key)] = std::move(value);
}

std::string Json::Dump(int indent) const {
  std::string out;
  DumpTo(out, indent, 0);
  return out;
}

void Json::DumpTo(std::string& out, int indent, int depth) const {
  auto newline = [&](int d) {
    if (indent == 0) return;
    out.push_back('\n');
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (type()) {
    case Type::kNull: out += "null"; break;
    case Type::kBool: out += boolean() ? "true" : "false"; break;
    case Type::kNumber: {
      double v = number();
      if (!std::isfinite(v)) {
        out += "null";
      } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
        absl::StrAppend(&out, static_cast<long long>(v));
      } else {
        absl::StrAppendFormat(&out, "%.6g", v);
      }
      break;
    }
    case Type::kString: Quote(out, string()); break;
    case Type::kArray: {
      out.push_back('[');
      bool first = true;
      for (const Json& item : array()) {
        if (!first) out.push_back(',');
        first = false;
        newline(depth + 1);
        item.DumpTo(out, indent, depth + 1);
      }
      if (!array().empty()) newline(depth);
      out.push_back(']');
      break;
    }
    case Type::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : members()) {
        if (!first) out.push_back(',');
        first = false;
        newline(depth + 1);
        Quote(out, key);
        out += indent ? ": " : ":";
        item.DumpTo(out, indent, depth + 1);
      }
      if (!members().empty()) newline(depth);
      out.push_back('}');
      break;
    }
  }
}

}  // namespace harness
