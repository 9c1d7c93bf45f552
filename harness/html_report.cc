// report.html: the report as a self-contained page with inline SVG charts.
// No scripts, no external resources: it renders anywhere, offline.

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "harness/report.h"

namespace harness {
namespace {

constexpr int kWidth = 560;
constexpr int kHeight = 320;
constexpr int kLeft = 70;
constexpr int kRight = 150;  // room for the legend
constexpr int kTop = 36;
constexpr int kBottom = 78;  // room for slanted category labels

const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

std::string Html(absl::string_view text) {
  return absl::StrReplaceAll(
      text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

struct Series {
  std::string name;
  std::string color;
  std::vector<std::pair<double, double>> points;  // line charts: (x, y)
  std::vector<std::optional<double>> bars;        // bar charts: per category
};

using Formatter = std::function<std::string(double)>;

// Maps a value to [0, 1] on a linear or log axis.
struct Axis {
  double lo;
  double hi;
  bool log;
  double Fraction(double v) const {
    if (log) {
      return (std::log10(std::max(v, lo)) - std::log10(lo)) /
             (std::log10(hi) - std::log10(lo));
    }
    return (v - lo) / (hi - lo);
  }
  std::vector<double> Ticks() const {
    std::vector<double> ticks;
    if (log) {
      for (double t = std::pow(10, std::floor(std::log10(lo))); t <= hi * 1.0001;
           t *= 10) {
        if (t >= lo * 0.9999) ticks.push_back(t);
      }
    } else {
      for (int i = 0; i <= 4; ++i) ticks.push_back(lo + (hi - lo) * i / 4);
    }
    return ticks;
  }
};

Axis MakeAxis(double lo, double hi, bool log) {
  if (log) {
    lo = std::pow(10, std::floor(std::log10(std::max(lo, 1e-12))));
    hi = std::pow(10, std::ceil(std::log10(std::max(hi, lo * 10))));
    if (hi <= lo) hi = lo * 10;
    return {lo, hi, true};
  }
  if (hi <= 0) hi = 1;
  return {0, hi * 1.1, false};
}

std::string Frame(absl::string_view id, absl::string_view title,
                  absl::string_view x_label, absl::string_view y_label) {
  return absl::StrFormat(
      "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
      "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
      "aria-label=\"%s\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n<text x=\"%d\" y=\"20\" font-size=\"14\" "
      "font-weight=\"bold\">%s</text>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" "
      "text-anchor=\"middle\">%s</text>\n<text x=\"14\" y=\"%d\" "
      "font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 14 %d)\">"
      "%s</text>\n",
      id, kWidth, kHeight, kWidth, kHeight, Html(title), kLeft, Html(title),
      kLeft + (kWidth - kLeft - kRight) / 2, kHeight - 8, Html(x_label),
      kTop + (kHeight - kTop - kBottom) / 2, kTop + (kHeight - kTop - kBottom) / 2,
      Html(y_label));
}

std::string Legend(const std::vector<Series>& series) {
  std::string out;
  int y = kTop + 6;
  for (const Series& s : series) {
    absl::StrAppendFormat(&out,
                          "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" "
                          "fill=\"%s\"/><text x=\"%d\" y=\"%d\" "
                          "font-size=\"11\">%s</text>\n",
                          kWidth - kRight + 12, y, s.color, kWidth - kRight + 28,
                          y + 10, Html(s.name));
    y += 18;
  }
  return out;
}

std::string YAxis(const Axis& y, const Formatter& format) {
  std::string out;
  int plot_h = kHeight - kTop - kBottom;
  for (double t : y.Ticks()) {
    double py = kTop + plot_h * (1 - y.Fraction(t));
    absl::StrAppendFormat(&out,
                          "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                          "stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
                          "font-size=\"10\" text-anchor=\"end\">%s</text>\n",
                          kLeft, kWidth - kRight, py, py, kLeft - 4, py + 3,
                          Html(format(t)));
  }
  return out;
}

// A labelled vertical line on a line chart (a crossover).
struct Marker {
  double x;
  std::string label;
};

std::string LineChart(absl::string_view id, absl::string_view title,
                      absl::string_view x_label, absl::string_view y_label,
                      const std::vector<Series>& series, bool log_y,
                      const Formatter& x_format, const Formatter& y_format,
                      bool log_x = true, const std::vector<Marker>& markers = {}) {
  double x_lo = INFINITY, x_hi = 0, y_lo = INFINITY, y_hi = 0;
  for (const Series& s : series) {
    for (auto [x, y] : s.points) {
      x_lo = std::min(x_lo, x);
      x_hi = std::max(x_hi, x);
      if (!log_y || y > 0) y_lo = std::min(y_lo, y);
      y_hi = std::max(y_hi, y);
    }
  }
  std::string out = Frame(id, title, x_label, y_label);
  if (x_hi <= 0) return out + "<text x=\"80\" y=\"100\">no data</text></svg>\n";
  if (!log_x && x_hi <= x_lo) x_hi = x_lo + 1;
  Axis x = MakeAxis(x_lo, x_hi, log_x);
  Axis y = MakeAxis(std::isfinite(y_lo) ? y_lo : 1, y_hi, log_y);
  int plot_w = kWidth - kLeft - kRight;
  int plot_h = kHeight - kTop - kBottom;
  absl::StrAppend(&out, YAxis(y, y_format));
  int marker_row = 0;
  for (const Marker& m : markers) {
    if (m.x < x_lo || m.x > x_hi) continue;
    double px = kLeft + plot_w * x.Fraction(m.x);
    absl::StrAppendFormat(&out,
                          "<line class=\"crossover\" x1=\"%.1f\" y1=\"%d\" "
                          "x2=\"%.1f\" y2=\"%d\" stroke=\"#555\" "
                          "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%d\" "
                          "font-size=\"9\" text-anchor=\"end\">%s</text>\n",
                          px, kTop, px, kHeight - kBottom, px - 3,
                          kTop + 10 + 11 * marker_row++, Html(m.label));
  }
  for (double t : x.Ticks()) {
    double px = kLeft + plot_w * x.Fraction(t);
    absl::StrAppendFormat(&out,
                          "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
                          "text-anchor=\"middle\">%s</text>\n",
                          px, kHeight - kBottom + 14, Html(x_format(t)));
  }
  for (const Series& s : series) {
    std::string path;
    for (auto [vx, vy] : s.points) {
      double px = kLeft + plot_w * x.Fraction(vx);
      double py = kTop + plot_h * (1 - y.Fraction(vy));
      absl::StrAppendFormat(&path, "%s%.1f,%.1f ", path.empty() ? "" : "", px, py);
      absl::StrAppendFormat(&out,
                            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                            "fill=\"%s\"><title>%s: %s</title></circle>\n",
                            px, py, s.color, Html(s.name), Html(y_format(vy)));
    }
    absl::StrAppendFormat(&out,
                          "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" "
                          "stroke-width=\"2\"/>\n",
                          path, s.color);
  }
  absl::StrAppend(&out, Legend(series), "</svg>\n");
  return out;
}

// A labelled horizontal line across a bar chart.
struct Reference {
  double value;
  std::string label;
};

std::string BarChart(absl::string_view id, absl::string_view title,
                     absl::string_view y_label,
                     const std::vector<std::string>& categories,
                     const std::vector<Series>& series, const Formatter& y_format,
                     const std::vector<Reference>& references = {}) {
  double y_hi = 0;
  for (const Reference& r : references) y_hi = std::max(y_hi, r.value);
  for (const Series& s : series) {
    for (const std::optional<double>& v : s.bars) {
      if (v) y_hi = std::max(y_hi, *v);
    }
  }
  std::string out = Frame(id, title, "", y_label);
  Axis y = MakeAxis(0, y_hi, false);
  int plot_w = kWidth - kLeft - kRight;
  int plot_h = kHeight - kTop - kBottom;
  absl::StrAppend(&out, YAxis(y, y_format));
  double group = static_cast<double>(plot_w) / std::max<size_t>(1, categories.size());
  double bar = group * 0.8 / std::max<size_t>(1, series.size());
  for (size_t c = 0; c < categories.size(); ++c) {
    double gx = kLeft + group * static_cast<double>(c);
    double lx = gx + group / 2;
    int ly = kHeight - kBottom + 12;
    absl::StrAppendFormat(&out,
                          "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
                          "text-anchor=\"end\" transform=\"rotate(-30 %.1f "
                          "%d)\">%s</text>\n",
                          lx, ly, lx, ly, Html(categories[c]));
    for (size_t s = 0; s < series.size(); ++s) {
      if (c >= series[s].bars.size() || !series[s].bars[c]) continue;
      double v = *series[s].bars[c];
      double h = plot_h * y.Fraction(v);
      double bx = gx + group * 0.1 + bar * static_cast<double>(s);
      absl::StrAppendFormat(&out,
                            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                            "height=\"%.1f\" fill=\"%s\"><title>%s, %s: "
                            "%s</title></rect>\n",
                            bx, kTop + plot_h - h, bar * 0.95, h, series[s].color,
                            Html(categories[c]), Html(series[s].name),
                            Html(y_format(v)));
    }
  }
  for (size_t i = 0; i < references.size(); ++i) {
    const Reference& r = references[i];
    double py = kTop + plot_h * (1 - y.Fraction(r.value));
    // Labels sit at the left end of their line, alternately above and
    // below it so that two close references stay readable, with a white
    // halo over the bars.
    double label_y = i % 2 == 0 ? py + 11 : py - 3;
    absl::StrAppendFormat(&out,
                          "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                          "stroke=\"#555\" stroke-dasharray=\"4 3\"/><text "
                          "x=\"%d\" y=\"%.1f\" font-size=\"10\" fill=\"#333\" "
                          "stroke=\"white\" stroke-width=\"3\" "
                          "paint-order=\"stroke\">%s</text>\n",
                          kLeft, kWidth - kRight, py, py, kLeft + 4, label_y,
                          Html(r.label));
  }
  absl::StrAppend(&out, Legend(series), "</svg>\n");
  return out;
}

// Line series per model of `metric` against parameter `x_param`.
std::vector<Series> ModelLines(const Results& results, Workload workload,
                               absl::string_view x_param, absl::string_view metric) {
  std::vector<Series> out;
  int color = 0;
  for (const ModelInfo* model : results.options.models) {
    ++color;
    if (!model->Supports(workload)) continue;
    Series s{std::string(model->title), kPalette[(color - 1) % 8], {}, {}};
    for (const Cell& cell : results.cells) {
      if (cell.model != model || cell.workload != workload ||
          cell.status != RunStatus::kOk) {
        continue;
      }
      auto x = cell.params.find(std::string(x_param));
      auto y = cell.median.find(std::string(metric));
      if (x != cell.params.end() && y != cell.median.end()) {
        s.points.emplace_back(static_cast<double>(x->second), y->second);
      }
    }
    if (!s.points.empty()) out.push_back(std::move(s));
  }
  return out;
}

// Line series per model of a sweep figure against N, on the rows the
// crossovers read (http_fetch: the largest delay, the pool sized to N).
std::vector<Series> SweepLines(const Results& results, Workload workload,
                               absl::string_view metric, bool per_operation) {
  int64_t delay = 0;
  for (const Cell& cell : results.cells) {
    if (cell.workload == Workload::kHttpFetch) {
      delay = std::max(delay, cell.params.at("delay_ms"));
    }
  }
  std::vector<Series> out;
  int color = 0;
  for (const ModelInfo* model : results.options.models) {
    ++color;
    if (!model->Supports(workload)) continue;
    Series s{std::string(model->title), kPalette[(color - 1) % 8], {}, {}};
    for (const Cell& cell : results.cells) {
      if (cell.model != model || cell.workload != workload ||
          cell.status != RunStatus::kOk) {
        continue;
      }
      int64_t n = 0;
      if (workload == Workload::kHttpFetch) {
        n = cell.params.at("n");
        if (cell.params.at("delay_ms") != delay) continue;
        if (cell.params.at("workers") == 5 && n != 5) continue;
      } else {
        n = cell.params.at("connections");
      }
      double y = cell.median.at(std::string(metric));
      if (per_operation) y = std::max(y, 4096.0) / static_cast<double>(n);
      s.points.emplace_back(static_cast<double>(n), y);
    }
    if (!s.points.empty()) out.push_back(std::move(s));
  }
  return out;
}

std::vector<Marker> CrossoverMarkers(const Report& report, Workload workload,
                                     absl::string_view figure) {
  std::vector<Marker> out;
  for (const Crossover& c : report.crossovers) {
    if (c.workload != workload || c.figure != figure || !c.crossover) continue;
    out.push_back({static_cast<double>(*c.crossover),
                   absl::StrCat(c.language, " crossover ≥2×")});
  }
  return out;
}

// Bars: one category per model that ran `workload`, one series per metric.
std::string ModelBars(const Results& results, absl::string_view id,
                      absl::string_view title, absl::string_view y_label,
                      Workload workload,
                      const std::vector<std::pair<std::string, std::string>>& metrics,
                      const Formatter& format,
                      const std::vector<Reference>& references = {}) {
  std::vector<std::string> categories;
  std::vector<Series> series;
  for (size_t i = 0; i < metrics.size(); ++i) {
    series.push_back({metrics[i].second, kPalette[i % 8], {}, {}});
  }
  for (const ModelInfo* model : results.options.models) {
    for (const Cell& cell : results.cells) {
      if (cell.model != model || cell.workload != workload ||
          cell.status != RunStatus::kOk) {
        continue;
      }
      categories.push_back(std::string(model->name));
      for (size_t i = 0; i < metrics.size(); ++i) {
        auto it = cell.median.find(metrics[i].first);
        series[i].bars.push_back(it == cell.median.end()
                                     ? std::nullopt
                                     : std::optional<double>(it->second));
      }
      break;
    }
  }
  return BarChart(id, title, y_label, categories, series, format, references);
}

std::string VerdictBadge(Verdict v) {
  const char* color = v == Verdict::kReproduced      ? "#2e7d32"
                      : v == Verdict::kPartly        ? "#ef6c00"
                      : v == Verdict::kNotReproduced ? "#c62828"
                                                     : "#757575";
  return absl::StrFormat("<span class=\"verdict\" style=\"background:%s\">%s</span>",
                         color, VerdictName(v));
}

std::string FindingHtml(const Finding& f) {
  return absl::StrCat("<em>", Html(f.claim), "</em><br>", Html(f.figure), "<br>",
                      VerdictBadge(f.verdict),
                      f.why.empty() ? "" : absl::StrCat(" ", Html(f.why)));
}

}  // namespace

std::string RenderHtml(const Results& results, const Report& report) {
  Formatter seconds = [](double v) { return FormatDurationSeconds(v); };
  Formatter ms = [](double v) { return FormatDurationSeconds(v / 1000); };
  Formatter bytes = [](double v) { return FormatBytes(v); };
  Formatter count = [](double v) { return FormatCount(v); };
  Formatter times = [](double v) { return absl::StrFormat("%.2g×", v); };

  // Speed-up charts mark "no speed-up" and what the machine offered.
  const std::vector<Reference> ceiling = {
      {1.0, "1× (none)"},
      {results.machine.Get("parallel_speedup_available")->number(),
       "machine ceiling"}};

  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<title>Python's concurrency models, measured</title>\n<style>\n"
      "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}\n"
      "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
      "padding:6px;vertical-align:top;font-size:13px}th{background:#f3f3f3}\n"
      ".verdict{color:white;border-radius:3px;padding:1px 5px;font-size:12px}\n"
      ".charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #eee}\n"
      "</style></head><body>\n<h1>Python's concurrency models, measured</h1>\n";
  const Json& m = results.machine;
  const Json* python = m.Get("python");
  absl::StrAppend(
      &out, "<p>Machine: ", Html(m.Get("cpu_model")->string()), ", ",
      FormatCount(m.Get("logical_cpus")->number()), " logical CPUs, ",
      FormatBytes(m.Get("memory_bytes")->number()), " RAM, ",
      Html(m.Get("kernel")->string()), "; build ", Html(m.Get("build")->string()),
      "; python3 ",
      python->is_null() ? std::string("not available") : Html(python->string()),
      "; two threads of native code got a speed-up of ",
      FormatRatio(m.Get("parallel_speedup_available")->number()),
      " over one during the run",
      absl::StrFormat(". %s mode, %d repetition(s), medians; the run took %.0f s.",
                      results.options.quick ? "Quick" : "Default",
                      results.options.repetitions,
                      absl::ToDoubleSeconds(results.elapsed)),
      "</p>\n<h2>Comparing Async and Sync I/O, measured</h2>\n<table>"
      "<tr><th>Feature</th><th>Asyncio</th><th>Thread Pool (Sync)</th></tr>\n");
  for (const TableRow& row : report.table) {
    absl::StrAppend(&out, "<tr><th>", Html(row.feature), "</th><td>",
                    FindingHtml(row.asyncio), "</td><td>",
                    FindingHtml(row.thread_pool), "</td></tr>\n");
  }
  absl::StrAppend(&out, "</table>\n<h2>The seed's other claims</h2>\n<table>"
                        "<tr><th>Claim</th><th>Measured</th><th>Verdict</th></tr>\n");
  for (const Finding& c : report.claims) {
    absl::StrAppend(&out, "<tr><td>", Html(c.claim), "</td><td>", Html(c.figure),
                    "</td><td>", VerdictBadge(c.verdict), " ", Html(c.why),
                    "</td></tr>\n");
  }
  absl::StrAppend(&out, "</table>\n<h2>Charts</h2>\n<div class=\"charts\">\n");
  absl::StrAppend(
      &out,
      LineChart("chart-fanout-wall", "I/O fan-out: wall time against N",
                "N concurrent waits", "wall time",
                ModelLines(results, Workload::kIoFanout, "n", "wall_s"), true,
                count, seconds),
      LineChart("chart-fanout-memory", "I/O fan-out: memory against N",
                "N concurrent waits", "peak RSS growth",
                ModelLines(results, Workload::kIoFanout, "n", "rss_bytes"), true,
                count, bytes),
      ModelBars(results, "chart-cpu-pure", "CPU speed-up, 2 tasks, pure work (GIL held)",
                "speed-up over sequential", Workload::kCpuPure,
                {{"speedup", "pure work"}}, times, ceiling),
      ModelBars(results, "chart-cpu-native",
                "CPU speed-up, 2 tasks, native hashing (GIL released)",
                "speed-up over sequential", Workload::kCpuNative,
                {{"speedup", "native work"}}, times, ceiling),
      ModelBars(results, "chart-loop-lag",
                "Loop lag / convoy: lateness of 1 ms waits beside CPU work",
                "lateness", Workload::kMixed,
                {{"idle_lag_p50_ms", "idle p50"},
                 {"lag_p50_ms", "busy p50"},
                 {"lag_p99_ms", "busy p99"}},
                ms),
      ModelBars(results, "chart-blocking", "Stall caused by one blocking call",
                "longest stall of the others", Workload::kBlockingCall,
                {{"stall_ms", "stall"}}, ms),
      LineChart("chart-echo", "Loopback TCP echo: requests/s against connections",
                "connections", "requests/s",
                ModelLines(results, Workload::kTcpEcho, "connections",
                           "requests_per_s"),
                false, count, count),
      LineChart("chart-scaling-memory", "Thread scaling: memory against T",
                "T in flight", "peak RSS growth",
                ModelLines(results, Workload::kThreadScaling, "threads", "rss_bytes"),
                false, count, bytes),
      LineChart("chart-scaling-switches",
                "Thread scaling: voluntary context switches against T",
                "T in flight", "context switches",
                ModelLines(results, Workload::kThreadScaling, "threads",
                           "voluntary_switches"),
                false, count, count));
  auto micros = [](double v) { return FormatDurationSeconds(v / 1e6); };
  auto per_second = [](double v) { return absl::StrCat(FormatCount(v), "/s"); };
  auto percent = [](double v) { return absl::StrCat(FormatCount(v), "%"); };
  absl::StrAppend(
      &out,
      LineChart("chart-fetch-throughput", "HTTP fetch: fetches/s against N",
                "N fetches (pool sized to N)", "fetches/s",
                SweepLines(results, Workload::kHttpFetch, "fetches_per_s", false),
                true, count, per_second, true,
                CrossoverMarkers(report, Workload::kHttpFetch, "throughput")),
      LineChart("chart-fetch-memory", "HTTP fetch: peak RSS per in-flight fetch",
                "N fetches", "bytes per fetch",
                SweepLines(results, Workload::kHttpFetch, "bytes_per_fetch", false),
                true, count, bytes, true,
                CrossoverMarkers(report, Workload::kHttpFetch,
                                 "memory per concurrent operation")),
      LineChart("chart-fetch-cpu", "HTTP fetch: CPU per fetch against N",
                "N fetches", "CPU per fetch",
                SweepLines(results, Workload::kHttpFetch, "cpu_us_per_fetch", false),
                true, count, micros, true,
                CrossoverMarkers(report, Workload::kHttpFetch, "CPU per operation")),
      LineChart("chart-conn-throughput", "Echo sweep: requests/s against connections",
                "concurrent connections", "requests/s",
                SweepLines(results, Workload::kManyConnections, "requests_per_s", false),
                true, count, per_second, true,
                CrossoverMarkers(report, Workload::kManyConnections, "throughput")),
      LineChart("chart-conn-memory", "Echo sweep: server memory per connection",
                "concurrent connections", "bytes per connection",
                SweepLines(results, Workload::kManyConnections, "server_rss_bytes", true),
                true, count, bytes, true,
                CrossoverMarkers(report, Workload::kManyConnections,
                                 "memory per concurrent operation")),
      LineChart("chart-conn-cpu", "Echo sweep: server CPU per request",
                "concurrent connections", "CPU per request",
                SweepLines(results, Workload::kManyConnections,
                           "server_cpu_us_per_request", false),
                true, count, micros, true,
                CrossoverMarkers(report, Workload::kManyConnections, "CPU per operation")),
      LineChart("chart-starvation",
                "Pool starvation: p99 latency of 1 ms tasks against the share of long ones",
                "share of long tasks", "short-task p99",
                ModelLines(results, Workload::kPoolStarvation, "long_pct", "short_p99_ms"),
                true, percent, ms, /*log_x=*/false));
  absl::StrAppend(&out, "</div>\n<h2>Figures per workload (medians)</h2>\n");
  for (Workload workload : results.options.workloads) {
    absl::StrAppend(&out, "<h3>", WorkloadName(workload), ": ",
                    Html(WorkloadDescription(workload)),
                    "</h3>\n<table><tr><th>model</th><th>parameters</th>");
    for (const std::string& metric : MetricNames(workload)) {
      absl::StrAppend(&out, "<th>", Html(metric), "</th>");
    }
    absl::StrAppend(&out, "</tr>\n");
    for (const Cell& cell : results.cells) {
      if (cell.workload != workload) continue;
      absl::StrAppend(&out, "<tr><td>", Html(cell.model->title), "</td><td>",
                      Html(FormatParams(cell.params)), "</td>");
      for (const std::string& metric : MetricNames(workload)) {
        auto it = cell.median.find(metric);
        absl::StrAppend(
            &out, "<td>",
            cell.status != RunStatus::kOk ? std::string(RunStatusName(cell.status))
            : it == cell.median.end()     ? std::string("—")
                                          : FormatMetric(metric, it->second),
            "</td>");
      }
      absl::StrAppend(&out, "</tr>\n");
    }
    absl::StrAppend(&out, "</table>\n");
  }
  absl::StrAppend(&out, "</body></html>\n");
  return out;
}

}  // namespace harness
