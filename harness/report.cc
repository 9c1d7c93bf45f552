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


std::string AdvantageText(double advantage) {
  return std::isinf(advantage) ? "pool could not" : FormatRatio(advantage);
}

std::string CrossoverValue(const Crossover& c, double value) {
  if (c.figure == "throughput") return absl::StrCat(FormatCount(value), "/s");
  if (c.figure == "CPU per operation") return FormatDurationSeconds(value / 1e6);
  return FormatBytes(value);
}

}  // namespace

std::string RenderBestUses(const Report& report) {
  std::string out =
      "\n## Best use cases, measured\n\n"
      "The seed's \"Best Use Cases\" and \"Summary\", each against the sweeps "
      "(http_fetch, many_connections, pool_starvation).\n\n"
      "| The seed says | Measured | Verdict |\n| --- | --- | --- |\n";
  for (const Finding& f : report.best_uses) {
    absl::StrAppend(&out, "| ", Escape(f.claim), " | ", Escape(f.figure), " | ",
                    VerdictMark(f.verdict),
                    f.why.empty() ? "" : absl::StrCat(" (", Escape(f.why), ")"),
                    " |\n");
  }
  absl::StrAppend(
      &out,
      "\n### Crossovers\n\nThe concurrency N from which asyncio beats the thread "
      "pool by at least 2× on a figure, at that N and every larger N measured "
      "(C++: asyncio vs threads, no GIL; CPython: asyncio vs ThreadPoolExecutor "
      "sized to N; http_fetch rows at the largest delay). \"Moderate I/O\": the "
      "largest N at which the pool is within 20% of asyncio on all three "
      "figures (and on throughput and CPU alone).\n\n"
      "| language | workload | throughput | CPU per operation | memory per "
      "concurrent operation | moderate I/O: all three | throughput and CPU |\n"
      "| --- | --- | --- | --- | --- | --- | --- |\n");
  for (size_t i = 0; i + 2 < report.crossovers.size(); i += 3) {
    const Crossover& c = report.crossovers[i];
    std::string moderate_all = "—", moderate_two = "—";
    for (const ModerateIo& m : report.moderate_io) {
      if (m.language != c.language || m.workload != c.workload) continue;
      auto text = [](std::optional<int64_t> n) {
        return n ? absl::StrCat("N = ", FormatCount(static_cast<double>(*n)))
                 : std::string("none");
      };
      moderate_all = text(m.all_three);
      moderate_two = text(m.throughput_and_cpu);
    }
    absl::StrAppend(&out, "| ", c.language, " | ", WorkloadName(c.workload), " | ",
                    c.text, " | ", report.crossovers[i + 1].text, " | ",
                    report.crossovers[i + 2].text, " | ", moderate_all, " | ",
                    moderate_two, " |\n");
  }
  absl::StrAppend(&out,
                  "\n### How the crossovers are derived\n\nEach row: the "
                  "figure on asyncio, on the pool, and asyncio's advantage "
                  "(pool ÷ asyncio for costs, asyncio ÷ pool for throughput; "
                  "≥2× counts). CPython first: its numbers are the ones a "
                  "Python user will quote.\n");
  for (absl::string_view language : {"CPython", "C++"}) {
    for (const Crossover& c : report.crossovers) {
      if (c.language != language || c.points.empty()) continue;
      absl::StrAppend(&out, "\n", c.language, " ", WorkloadName(c.workload), ", ",
                      c.figure, " (", c.asyncio_model, " vs ", c.pool_model,
                      "): crossover ", c.text, "\n\n| N | asyncio | pool | "
                      "advantage |\n| --- | --- | --- | --- |\n");
      for (const CrossoverPoint& p : c.points) {
        absl::StrAppend(&out, "| ", FormatCount(static_cast<double>(p.n)), " | ",
                        CrossoverValue(c, p.asyncio), " | ",
                        p.pool ? CrossoverValue(c, *p.pool)
                               : absl::StrCat("not measured: ", Escape(p.pool_error)),
                        " | ", AdvantageText(p.advantage),
                        p.advantage >= 2 ? " ✓" : "", " |\n");
      }
    }
  }
  return out;
}

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
      "parallel speed-up below). Open-files limit ",
      m.Get("open_files_limit") != nullptr ? FormatCount(m.Get("open_files_limit")->number())
                                           : std::string("not known"),
      " (compare raised its soft limit to the hard one; each end of a "
      "connection is in its own process).\n",
      absl::StrFormat("Mode: %s, %d repetition(s) per figure (medians; the "
                      "sweeps %s), run took %.0f s.%s\n\n",
                      results.options.quick  ? "quick"
                      : results.options.full ? "full"
                                             : "default",
                      results.options.repetitions,
                      results.options.full ? "too" : "once",
                      absl::ToDoubleSeconds(results.elapsed),
                      results.options.quick || results.options.full
                          ? ""
                          : " `--full` adds io_fanout at 100,000 waits, http_fetch "
                            "and many_connections at 10,000, the 5-worker pool at "
                            "1,000 fetches, 0 ms delay at 10,000 fetches and six "
                            "shares of long tasks."));
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
  absl::StrAppend(&out, RenderBestUses(report));
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
  Json best_uses(Json::Array{});
  for (const Finding& f : report.best_uses) best_uses.Append(FindingJson(f));
  doc.Set("best_use_cases", best_uses);
  Json crossovers(Json::Array{});
  for (const Crossover& c : report.crossovers) {
    Json item = Json::Object();
    item.Set("language", c.language);
    item.Set("workload", std::string(WorkloadName(c.workload)));
    item.Set("figure", c.figure);
    item.Set("asyncio_model", c.asyncio_model);
    item.Set("pool_model", c.pool_model);
    item.Set("crossover_n", c.crossover ? Json(static_cast<double>(*c.crossover)) : Json());
    item.Set("text", c.text);
    Json points(Json::Array{});
    for (const CrossoverPoint& p : c.points) {
      Json point = Json::Object();
      point.Set("n", static_cast<double>(p.n));
      point.Set("asyncio", p.asyncio);
      point.Set("pool", p.pool ? Json(*p.pool) : Json());
      point.Set("pool_error", p.pool_error);
      point.Set("advantage", std::isinf(p.advantage) ? Json() : Json(p.advantage));
      points.Append(point);
    }
    item.Set("points", points);
    crossovers.Append(item);
  }
  doc.Set("crossovers", crossovers);
  Json moderate(Json::Array{});
  for (const ModerateIo& m : report.moderate_io) {
    Json item = Json::Object();
    item.Set("language", m.language);
    item.Set("workload", std::string(WorkloadName(m.workload)));
    item.Set("all_three", m.all_three ? Json(static_cast<double>(*m.all_three)) : Json());
    item.Set("throughput_and_cpu", m.throughput_and_cpu
                                       ? Json(static_cast<double>(*m.throughput_and_cpu))
                                       : Json());
    item.Set("largest_n", static_cast<double>(m.largest_n));
    moderate.Append(item);
  }
  doc.Set("moderate_io", moderate);
  return doc;
}

}  // namespace harness
