// CheckResultsSchema: results.json as documented in harness/README.md.

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "harness/report.h"

namespace harness {
namespace {

class SchemaCheck {
 public:
  // Each check records the first problem and returns whether the value fits.
  const Json* Member(const Json& object, absl::string_view key, Json::Type type,
                     absl::string_view where) {
    const Json* value = object.Get(key);
    if (value == nullptr) {
      Fail(absl::StrCat(where, ": missing \"", key, "\""));
      return nullptr;
    }
    if (value->type() != type) {
      Fail(absl::StrCat(where, ".", key, ": wrong type"));
      return nullptr;
    }
    return value;
  }

  void OneOf(const Json& object, absl::string_view key,
             const std::set<std::string>& allowed, absl::string_view where) {
    const Json* value = Member(object, key, Json::Type::kString, where);
    if (value != nullptr && !allowed.contains(value->string())) {
      Fail(absl::StrCat(where, ".", key, ": '", value->string(),
                        "' is not one of: ", absl::StrJoin(allowed, ", ")));
    }
  }

  void AllNumbers(const Json& object, absl::string_view where) {
    if (!object.is_object()) {
      Fail(absl::StrCat(where, ": not an object"));
      return;
    }
    for (const auto& [key, value] : object.members()) {
      if (!value.is_number()) Fail(absl::StrCat(where, ".", key, ": not a number"));
    }
  }

  void Finding(const Json& finding, absl::string_view where) {
    if (!finding.is_object()) {
      Fail(absl::StrCat(where, ": not an object"));
      return;
    }
    for (absl::string_view key : {"claim", "figure", "why"}) {
      Member(finding, key, Json::Type::kString, where);
    }
    OneOf(finding, "verdict",
          {"reproduced", "partly", "not reproduced", "not measured"}, where);
  }

  void Fail(std::string problem) {
    if (first_problem_.empty()) first_problem_ = std::move(problem);
  }

  absl::Status status() const {
    return first_problem_.empty()
               ? absl::OkStatus()
               : absl::InvalidArgumentError(
                     absl::StrCat("results.json: ", first_problem_));
  }

 private:
  std::string first_problem_;
};

}  // namespace

absl::Status CheckResultsSchema(const Json& doc) {
  using T = Json::Type;
  SchemaCheck c;
  if (!doc.is_object()) return absl::InvalidArgumentError("results.json: not an object");
  if (const Json* s = c.Member(doc, "schema", T::kString, "$");
      s && s->string() != "harness.results/1") {
    c.Fail("$.schema: expected harness.results/1");
  }
  c.Member(doc, "generated_at", T::kString, "$");
  c.Member(doc, "elapsed_s", T::kNumber, "$");
  if (const Json* m = c.Member(doc, "machine", T::kObject, "$")) {
    for (absl::string_view key : {"cpu_model", "kernel", "compiler", "build"}) {
      c.Member(*m, key, T::kString, "$.machine");
    }
    for (absl::string_view key : {"logical_cpus", "memory_bytes", "load_average_1min",
                                 "parallel_speedup_available", "open_files_limit"}) {
      c.Member(*m, key, T::kNumber, "$.machine");
    }
    const Json* python = m->Get("python");
    if (python == nullptr || !(python->is_null() || python->is_string())) {
      c.Fail("$.machine.python: expected a version string or null");
    }
  }
  std::map<std::string, std::vector<std::string>> metrics_of;
  if (const Json* config = c.Member(doc, "config", T::kObject, "$")) {
    c.Member(*config, "quick", T::kBool, "$.config");
    c.Member(*config, "repetitions", T::kNumber, "$.config");
    if (const Json* models = c.Member(*config, "models", T::kArray, "$.config")) {
      for (const Json& m : models->array()) {
        c.Member(m, "name", T::kString, "$.config.models[]");
        c.Member(m, "title", T::kString, "$.config.models[]");
        c.OneOf(m, "side", {"asyncio", "thread_pool"}, "$.config.models[]");
        c.OneOf(m, "language", {"c++", "python"}, "$.config.models[]");
        c.Member(m, "available", T::kBool, "$.config.models[]");
        c.Member(m, "workloads", T::kArray, "$.config.models[]");
      }
    }
    if (const Json* ws = c.Member(*config, "workloads", T::kArray, "$.config")) {
      for (const Json& w : ws->array()) {
        const Json* name = c.Member(w, "name", T::kString, "$.config.workloads[]");
        c.Member(w, "description", T::kString, "$.config.workloads[]");
        const Json* metrics = c.Member(w, "metrics", T::kArray, "$.config.workloads[]");
        if (name && metrics) {
          for (const Json& metric : metrics->array()) {
            if (metric.is_string()) metrics_of[name->string()].push_back(metric.string());
          }
        }
      }
    }
  }
  if (const Json* runs = c.Member(doc, "runs", T::kArray, "$")) {
    for (const Json& run : runs->array()) {
      const std::string where = "$.runs[]";
      const Json* workload = c.Member(run, "workload", T::kString, where);
      c.Member(run, "model", T::kString, where);
      c.Member(run, "error", T::kString, where);
      c.OneOf(run, "status", {"ok", "not available", "error"}, where);
      if (const Json* p = c.Member(run, "params", T::kObject, where)) {
        c.AllNumbers(*p, where + ".params");
      }
      const Json* reps = c.Member(run, "repetitions", T::kArray, where);
      const Json* median = c.Member(run, "median", T::kObject, where);
      if (reps) {
        for (const Json& r : reps->array()) c.AllNumbers(r, where + ".repetitions[]");
      }
      if (median) c.AllNumbers(*median, where + ".median");
      const Json* status = run.Get("status");
      if (workload && median && reps && status && status->is_string() &&
          status->string() == "ok") {
        if (reps->array().empty()) c.Fail(where + ": status ok without repetitions");
        for (const std::string& metric : metrics_of[workload->string()]) {
          if (median->Get(metric) == nullptr) {
            c.Fail(absl::StrCat(where, ".median: missing ", metric, " for ",
                                workload->string()));
          }
        }
      }
    }
  }
  if (const Json* readability = c.Member(doc, "readability", T::kArray, "$")) {
    for (const Json& r : readability->array()) {
      c.Member(r, "model", T::kString, "$.readability[]");
      c.Member(r, "workload", T::kString, "$.readability[]");
      c.Member(r, "source", T::kString, "$.readability[]");
      if (r.Get("error") == nullptr) {
        c.Member(r, "code_lines", T::kNumber, "$.readability[]");
        c.Member(r, "async_markers", T::kNumber, "$.readability[]");
      }
    }
  }
  if (const Json* table = c.Member(doc, "table", T::kArray, "$")) {
    if (table->array().size() != 6) c.Fail("$.table: expected the seed's 6 rows");
    for (const Json& row : table->array()) {
      c.Member(row, "feature", T::kString, "$.table[]");
      if (const Json* a = row.Get("asyncio")) c.Finding(*a, "$.table[].asyncio");
      else c.Fail("$.table[]: missing asyncio");
      if (const Json* t = row.Get("thread_pool")) c.Finding(*t, "$.table[].thread_pool");
      else c.Fail("$.table[]: missing thread_pool");
    }
  }
  if (const Json* claims = c.Member(doc, "claims", T::kArray, "$")) {
    for (const Json& claim : claims->array()) c.Finding(claim, "$.claims[]");
  }
  if (const Json* uses = c.Member(doc, "best_use_cases", T::kArray, "$")) {
    for (const Json& use : uses->array()) c.Finding(use, "$.best_use_cases[]");
  }
  auto number_or_null = [&](const Json& object, absl::string_view key,
                            absl::string_view where) {
    const Json* v = object.Get(key);
    if (v == nullptr || !(v->is_null() || v->is_number())) {
      c.Fail(absl::StrCat(where, ".", key, ": expected a number or null"));
    }
  };
  if (const Json* crossovers = c.Member(doc, "crossovers", T::kArray, "$")) {
    for (const Json& x : crossovers->array()) {
      const std::string where = "$.crossovers[]";
      c.OneOf(x, "language", {"C++", "CPython"}, where);
      c.OneOf(x, "workload", {"http_fetch", "many_connections"}, where);
      c.OneOf(x, "figure",
              {"throughput", "CPU per operation", "memory per concurrent operation"},
              where);
      for (absl::string_view key : {"asyncio_model", "pool_model", "text"}) {
        c.Member(x, key, T::kString, where);
      }
      number_or_null(x, "crossover_n", where);
      if (const Json* points = c.Member(x, "points", T::kArray, where)) {
        for (const Json& p : points->array()) {
          c.Member(p, "n", T::kNumber, where + ".points[]");
          c.Member(p, "asyncio", T::kNumber, where + ".points[]");
          c.Member(p, "pool_error", T::kString, where + ".points[]");
          number_or_null(p, "pool", where + ".points[]");
          number_or_null(p, "advantage", where + ".points[]");
        }
      }
    }
  }
  if (const Json* moderate = c.Member(doc, "moderate_io", T::kArray, "$")) {
    for (const Json& m : moderate->array()) {
      const std::string where = "$.moderate_io[]";
      c.OneOf(m, "language", {"C++", "CPython"}, where);
      c.OneOf(m, "workload", {"http_fetch", "many_connections"}, where);
      number_or_null(m, "all_three", where);
      number_or_null(m, "throughput_and_cpu", where);
      c.Member(m, "largest_n", T::kNumber, where);
    }
  }
  return c.status();
}

}  // namespace harness
