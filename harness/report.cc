#include "harness/report.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"

namespace harness {
namespace {

std::string Ms(double ms) { return FormatDurationSeconds(ms / 1000); }

std::string VerdictMark(Verdict verdict) {
  switch (verdict) {
    case Verdict::kReproduced: return "**reproduced**";
    case Verdict::kPartly: return "**partly**";
    case Verdict::kNotReproduced: return "**not reproduced**";
    case Verdict::kNotMeasured: return "**not measured**";
  }
  return "";
}

std::string Escape(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"|", "\\|"}, {"\n", " "}});
}

std::string CellText(const Finding& finding) {
  std::string text = absl::StrCat("*", Escape(finding.claim), "* — ",
                                  Escape(finding.figure), " — ",
                                  VerdictMark(finding.verdict));
  if (!finding.why.empty()) absl::StrAppend(&text, " (", Escape(finding.why), ")");
  return text;
}

Json FindingJson(const Finding& finding) {
  Json out = Json::Object();
  out.Set("claim", finding.claim);
  out.Set("figure", finding.figure);
  out.Set("verdict", std::string(VerdictName(finding.verdict)));
  out.Set("why", finding.why);
  return out;
}


}  // namespace

absl::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kReproduced: return "reproduced";
    case Verdict::kPartly: return "partly";
    case Verdict::kNotReproduced: return "not reproduced";
    case Verdict::kNotMeasured: return "not measured";
  }
  return "not measured";
}

std::string FormatDurationSeconds(double seconds) {
  double a = std::fabs(seconds);
  if (a >= 1) return absl::StrFormat("%.2f s", seconds);
  if (a >= 1e-3) return absl::StrFormat("%.3g ms", seconds * 1e3);
  if (a >= 1e-6) return absl::StrFormat("%.3g µs", seconds * 1e6);
  return absl::StrFormat("%.3g ns", seconds * 1e9);
}

std::string FormatRatio(double ratio) { return absl::StrFormat("%.2g×", ratio); }

std::string FormatBytes(double bytes) {
  double a = std::fabs(bytes);
  if (a >= 1 << 30) return absl::StrFormat("%.3g GiB", bytes / (1 << 30));
  if (a >= 1 << 20) return absl::StrFormat("%.3g MiB", bytes / (1 << 20));
  if (a >= 1 << 10) return absl::StrFormat("%.3g KiB", bytes / (1 << 10));
  return absl::StrFormat("%.0f B", bytes);
}

std::string FormatCount(double value) {
  if (std::fabs(value) < 100 && value != std::floor(value)) {
    return absl::StrFormat("%.3g", value);
  }
  std::string digits = absl::StrFormat("%.0f", std::fabs(value));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return value < 0 ? "-" + out : out;
}

std::string FormatMetric(absl::string_view name, double value) {
  if (absl::EndsWith(name, "_per_s")) return FormatCount(value);
  if (absl::StrContains(name, "_us_per_")) return FormatDurationSeconds(value / 1e6);
  if (absl::EndsWith(name, "_s")) return FormatDurationSeconds(value);
  if (absl::EndsWith(name, "_ms")) return Ms(value);
  if (absl::EndsWith(name, "_us") || name == "us_per_task" ||
      name == "server_cpu_us_per_request") {
    return FormatDurationSeconds(value / 1e6);
  }
  if (absl::StrContains(name, "bytes")) return FormatBytes(value);
  if (name == "speedup") return FormatRatio(value);
  return FormatCount(value);
}

std::string RenderMarkdown(const Results& results, const Report& report) {
  const Json& m = results.machine;
  auto text = [&](absl::string_view key) {
    const Json* v = m.Get(key);
    if (v == nullptr || v->is_null()) return std::string("not available");
    return v->is_string() ? v->string() : FormatCount(v->number());
  };
  std::string out = "# Python's concurrency models, measured\n\n";
  absl::StrAppend(
      &out, "Machine: ", text("cpu_model"), ", ", text("logical_cpus"),
      " logical CPUs, ", FormatBytes(m.Get("memory_bytes")->number()), " RAM, ",
      text("kernel"), "; build: ", text("build"), "; python3: ", text("python"),
      "; load average at start ",
      absl::StrFormat("%.2f", m.Get("load_average_1min")->number()),
      "; two threads of native code got a speed-up of ",
      FormatRatio(m.Get("parallel_speedup_available")->number()),
      " over one during the run (median of samples; the ceiling for any "
      "parallel speed-up below).\n",
      absl::StrFormat("Mode: %s, %d repetition(s) per figure (medians), run "
                      "took %.0f s.\n\n",
                      results.options.quick ? "quick" : "default",
                      results.options.repetitions,
                      absl::ToDoubleSeconds(results.elapsed)));
  absl::StrAppend(&out,
                  "## Comparing Async and Sync I/O (the seed's table, measured)\n\n"
                  "Each cell: *the seed's claim* — the measured figure — the "
                  "verdict (by how much).\n\n"
                  "| Feature | Asyncio | Thread Pool (Sync) |\n| --- | --- | --- |\n");
  for (const TableRow& row : report.table) {
    absl::StrAppend(&out, "| ", row.feature, " | ", CellText(row.asyncio), " | ",
                    CellText(row.thread_pool), " |\n");
  }
  absl::StrAppend(&out, "\n## The seed's other claims\n\n"
                        "| Claim | Measured | Verdict |\n| --- | --- | --- |\n");
  for (const Finding& c : report.claims) {
    absl::StrAppend(&out, "| ", Escape(c.claim), " | ", Escape(c.figure), " | ",
                    VerdictMark(c.verdict),
                    c.why.empty() ? "" : absl::StrCat(" (", Escape(c.why), ")"),
                    " |\n");
  }
  absl::StrAppend(&out, "\n## Models\n\n| model | side | how it runs |\n"
                        "| --- | --- | --- |\n");
  for (const ModelInfo* model : results.options.models) {
    absl::string_view how = model->what;
    std::string note;
    if (model->is_cpython() && !results.python_available) note = " (not available)";
    absl::StrAppend(&out, "| ", model->title, note, " | ", SideName(model->side),
                    " | ", how, " |\n");
  }
  absl::StrAppend(&out, "\n## Figures per workload (medians)\n");
  for (Workload workload : results.options.workloads) {
    absl::StrAppend(&out, "\n### ", WorkloadName(workload), ": ",
                    WorkloadDescription(workload), "\n\n| model | parameters |");
    for (const std::string& metric : MetricNames(workload)) {
      absl::StrAppend(&out, " ", metric, " |");
    }
    absl::StrAppend(&out, "\n| --- | --- |");
    for (size_t i = 0; i < MetricNames(workload).size(); ++i) {
      absl::StrAppend(&out, " --- |");
    }
    absl::StrAppend(&out, "\n");
    for (const Cell& cell : results.cells) {
      if (cell.workload != workload) continue;
      absl::StrAppend(&out, "| ", cell.model->title, " | ",
                      FormatParams(cell.params), " |");
      for (const std::string& metric : MetricNames(workload)) {
        auto it = cell.median.find(metric);
        if (cell.status != RunStatus::kOk) {
          absl::StrAppend(&out, " ", RunStatusName(cell.status), " |");
        } else {
          absl::StrAppend(&out, " ",
                          it == cell.median.end() ? "—"
                                                  : FormatMetric(metric, it->second),
                          " |");
        }
      }
      absl::StrAppend(&out, "\n");
    }
  }
  std::vector<std::string> errors;
  for (const Cell& cell : results.cells) {
    if (cell.status == RunStatus::kOk) continue;
    errors.push_back(absl::StrCat("- ", cell.model->name, " ",
                                  WorkloadName(cell.workload), " ",
                                  FormatParams(cell.params), ": ",
                                  RunStatusName(cell.status), ": ", cell.error));
  }
  if (!errors.empty()) {
    absl::StrAppend(&out, "\n## Runs without figures\n\n",
                    absl::StrJoin(errors, "\n"), "\n");
  }
  return out;
}

Json ResultsJson(const Results& results, const Report& report) {
  Json doc = Json::Object();
  doc.Set("schema", "harness.results/1");
  // "Z", as documented: absl's RFC3339_sec writes UTC as "+00:00".
  doc.Set("generated_at", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(),
                                           absl::UTCTimeZone()));
  doc.Set("elapsed_s", absl::ToDoubleSeconds(results.elapsed));
  doc.Set("machine", results.machine);
  Json& config = doc.Set("config", Json::Object());
  config.Set("quick", results.options.quick);
  config.Set("repetitions", results.options.repetitions);
  Json models(Json::Array{});
  for (const ModelInfo* model : results.options.models) {
    Json m = Json::Object();
    m.Set("name", std::string(model->name));
    m.Set("title", std::string(model->title));
    m.Set("side", std::string(SideName(model->side)));
    m.Set("language", model->is_cpython() ? "python" : "c++");
    m.Set("available", !model->is_cpython() || results.python_available);
    Json supported(Json::Array{});
    for (Workload w : model->workloads) supported.Append(std::string(WorkloadName(w)));
    m.Set("workloads", supported);
    models.Append(m);
  }
  config.Set("models", models);
  Json workloads(Json::Array{});
  for (Workload w : results.options.workloads) {
    Json item = Json::Object();
    item.Set("name", std::string(WorkloadName(w)));
    item.Set("description", std::string(WorkloadDescription(w)));
    Json metrics(Json::Array{});
    for (const std::string& metric : MetricNames(w)) metrics.Append(metric);
    item.Set("metrics", metrics);
    workloads.Append(item);
  }
  config.Set("workloads", workloads);
  Json runs(Json::Array{});
  for (const Cell& cell : results.cells) {
    Json run = Json::Object();
    run.Set("model", std::string(cell.model->name));
    run.Set("workload", std::string(WorkloadName(cell.workload)));
    Json& params = run.Set("params", Json::Object());
    for (const auto& [name, value] : cell.params) {
      params.Set(name, static_cast<double>(value));
    }
    run.Set("status", std::string(RunStatusName(cell.status)));
    run.Set("error", cell.error);
    Json reps(Json::Array{});
    for (const Metrics& rep : cell.repetitions) {
      Json r = Json::Object();
      for (const auto& [name, value] : rep) r.Set(name, value);
      reps.Append(r);
    }
    run.Set("repetitions", reps);
    Json& median = run.Set("median", Json::Object());
    for (const auto& [name, value] : cell.median) median.Set(name, value);
    runs.Append(run);
  }
  doc.Set("runs", runs);
  Json readability(Json::Array{});
  for (const Readability& r : results.readability) {
    Json item = Json::Object();
    item.Set("model", std::string(r.model->name));
    item.Set("workload", std::string(WorkloadName(r.workload)));
    item.Set("source", std::string(r.model->source));
    if (r.count.ok()) {
      item.Set("code_lines", r.count->code_lines);
      item.Set("async_markers", r.count->async_markers);
    } else {
      item.Set("error", std::string(r.count.status().message()));
    }
    readability.Append(item);
  }
  doc.Set("readability", readability);
  Json table(Json::Array{});
  for (const TableRow& row : report.table) {
    Json item = Json::Object();
    item.Set("feature", row.feature);
    item.Set("asyncio", FindingJson(row.asyncio));
    item.Set("thread_pool", FindingJson(row.thread_pool));
    table.Append(item);
  }
  doc.Set("table", table);
  Json claims(Json::Array{});
  for (const Finding& c : report.claims) claims.Append(FindingJson(c));
  doc.Set("claims", claims);
  return doc;
}

}  // namespace harness
