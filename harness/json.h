// A small JSON value, parser and writer.
//
// The harness speaks JSON in two places: every workload run (a child process
// of `compare`, or a CPython program) prints its figures as one JSON object on
// stdout, and `compare --out DIR` writes every figure to `results.json`. Both
// need only the plain JSON data model, so this file provides exactly that:
//
//   absl::StatusOr<Json> doc = Json::Parse(R"({"wall_s": 0.25, "ok": true})");
//   double wall = doc->Get("wall_s")->number();
//   Json out = Json::Object();
//   out.Set("median", Json(1.5));
//   std::string text = out.Dump(/*indent=*/2);
//
// Objects keep their keys sorted, so output is deterministic. Numbers are
// doubles, as in JavaScript; non-finite numbers are written as null.

#ifndef HARNESS_JSON_H_
#define HARNESS_JSON_H_

#include <cstddef>
#include <map>
#include <string>
#include "absl/strings/string_view.h"
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace harness {

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Array = std::vector<Json>;
  using Members = std::map<std::string, Json>;

  Json() = default;  // null
  Json(bool value) : value_(value) {}                       // NOLINT
  Json(double value) : value_(value) {}                     // NOLINT
  Json(int value) : value_(static_cast<double>(value)) {}   // NOLINT
  Json(long value) : value_(static_cast<double>(value)) {}  // NOLINT
  Json(long long value) : value_(static_cast<double>(value)) {}  // NOLINT
  Json(unsigned long value) : value_(static_cast<double>(value)) {}  // NOLINT
  Json(std::string value) : value_(std::move(value)) {}     // NOLINT
  Json(const char* value) : value_(std::string(value)) {}   // NOLINT
  Json(Array value) : value_(std::move(value)) {}           // NOLINT

  static Json Object() { return Json(Members()); }

  // Parses one JSON document; trailing non-space text is an error.
  static absl::StatusOr<Json> Parse(absl::string_view text);

  Type type() const { return static_cast<Type>(value_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_number() const { return type() == Type::kNumber; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Accessors; calling one for the wrong type is a programming error
  // (std::bad_variant_access).
  bool boolean() const { return std::get<bool>(value_); }
  double number() const { return std::get<double>(value_); }
  const std::string& string() const { return std::get<std::string>(value_); }
  const Array& array() const { return std::get<Array>(value_); }
  Array& array() { return std::get<Array>(value_); }
  const Members& members() const { return std::get<Members>(value_); }

  // Object access. Get returns nullptr when the key is absent or this is not
  // an object. Set replaces an existing member.
  const Json* Get(absl::string_view key) const;
  Json& Set(std::string key, Json value);
  void Append(Json value) { array().push_back(std::move(value)); }

  // Writes the document; indent 0 gives one line.
  std::string Dump(int indent = 0) const;

 private:
  explicit Json(Members members) : value_(std::move(members)) {}
  void DumpTo(std::string& out, int indent, int depth) const;

  std::variant<std::monostate, bool, double, std::string, Array, Members>
      value_;
};

}  // namespace harness

#endif  // HARNESS_JSON_H_
