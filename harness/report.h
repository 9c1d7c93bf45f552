// The comparison report: the seed article's table, row by row, and its other
// claims, each backed by figures from one run and given a verdict.
//
//   absl::StatusOr<Results> results = RunComparison(options, progress);
//   Report report = BuildReport(*results);
//   std::cout << RenderMarkdown(*results, report);
//   WriteFile(dir + "/results.json", ResultsJson(*results, report).Dump(2));
//   WriteFile(dir + "/report.html", RenderHtml(*results, report));
//
// A finding whose figures are missing (its model or workload was not
// selected, or the run failed) says so and has the verdict "not measured".

#ifndef HARNESS_REPORT_H_
#define HARNESS_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "harness/json.h"
#include "harness/runner.h"

namespace harness {

enum class Verdict { kReproduced, kPartly, kNotReproduced, kNotMeasured };
absl::string_view VerdictName(Verdict verdict);  // "reproduced", "partly", ...

// One claim of the seed with the figures that test it.
struct Finding {
  std::string claim;   // the seed's words
  std::string figure;  // the measured evidence, with numbers
  Verdict verdict = Verdict::kNotMeasured;
  std::string why;     // by how much, or why not
};

// A row of the seed's table "Comparing Async and Sync I/O".
struct TableRow {
  std::string feature;
  Finding asyncio;
  Finding thread_pool;
};

// "Best use cases, measured": from which concurrency asyncio beats the
// thread pool by at least 2x on one figure, in one language and workload.
struct CrossoverPoint {
  int64_t n = 0;                 // concurrent operations
  double asyncio = 0;            // the figure on the asyncio model
  std::optional<double> pool;    // on the pool; nullopt if it could not run
  std::string pool_error;        // why not
  double advantage = 0;          // asyncio's advantage (>1: asyncio better)
};
struct Crossover {
  std::string language;          // "C++" or "CPython"
  Workload workload = Workload::kHttpFetch;            // http_fetch or many_connections
  std::string figure;            // "throughput", "CPU per operation", ...
  std::string asyncio_model;     // model names
  std::string pool_model;
  std::vector<CrossoverPoint> points;  // by n
  std::optional<int64_t> crossover;    // smallest n from which advantage >= 2
  std::string text;              // "N = 1,000" or "no crossover up to 10,000"
};
// The largest N at which the pool is within 20% of asyncio on throughput,
// CPU and memory per operation (and on the first two alone).
struct ModerateIo {
  std::string language;
  Workload workload = Workload::kHttpFetch;
  std::optional<int64_t> all_three;
  std::optional<int64_t> throughput_and_cpu;
  int64_t largest_n = 0;  // of the sweep
};

struct Report {
  std::vector<TableRow> table;
  std::vector<Finding> claims;
  std::vector<Finding> best_uses;  // the seed's Best Use Cases and Summary
  std::vector<Crossover> crossovers;
  std::vector<ModerateIo> moderate_io;
};

// findings.cc: tests every claim against the figures of `results`.
Report BuildReport(const Results& results);

std::string RenderMarkdown(const Results& results, const Report& report);
// The "Best use cases, measured" section alone (part of RenderMarkdown).
std::string RenderBestUses(const Report& report);

// results.json; the schema is documented in harness/README.md and checked by
// CheckResultsSchema.
Json ResultsJson(const Results& results, const Report& report);
absl::Status CheckResultsSchema(const Json& doc);

// report.html: self-contained, with SVG charts (html_report.cc).
std::string RenderHtml(const Results& results, const Report& report);

// Figure formatting shared by the renderers.
std::string FormatDurationSeconds(double seconds);  // "850 us", "12.3 ms", "1.24 s"
std::string FormatBytes(double bytes);              // "312 B", "4.1 KiB", ...
std::string FormatCount(double value);              // "100,000"
std::string FormatRatio(double ratio);              // "1.9×"
// A metric's value in its unit, chosen by its name ("wall_s", "p99_us",
// "rss_bytes", "speedup", counts otherwise).
std::string FormatMetric(absl::string_view name, double value);

}  // namespace harness

#endif  // HARNESS_REPORT_H_
