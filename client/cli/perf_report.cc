#include "client/cli/perf_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "client/cli/text_output.h"

namespace octet::cli {
namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

std::string Load(const PerfStep& step) {
  return step.rate > 0 ? absl::StrFormat("%g/s", step.rate) : absl::StrCat(step.concurrency);
}

// One decimal, or "-" when the server did not say.
std::string Optional(const std::optional<double>& v) {
  return v ? absl::StrFormat("%.1f", *v) : "-";
}

std::string ErrorsText(const PerfStep& step) {
  std::vector<std::string> parts;
  for (const auto& [code, count] : step.errors_by_code)
    parts.push_back(absl::StrCat(code, " x", count));
  return absl::StrJoin(parts, ", ");
}

}  // namespace

std::string PerfTable(const PerfRun& run) {
  const bool by_rate = !run.steps.empty() && run.steps[0].rate > 0;
  TextTable table({{by_rate ? "rate" : "concurrency", TextTable::kRight},
                   {"requests", TextTable::kRight},
                   {"errors", TextTable::kRight},
                   {"infer/s", TextTable::kRight},
                   {"p50 ms", TextTable::kRight},
                   {"p90 ms", TextTable::kRight},
                   {"p95 ms", TextTable::kRight},
                   {"p99 ms", TextTable::kRight},
                   {"max ms", TextTable::kRight},
                   {"srv queue us", TextTable::kRight},
                   {"srv compute us", TextTable::kRight}});
  for (const PerfStep& s : run.steps) {
    table.AddRow(
        {Load(s), absl::StrCat(s.completed), absl::StrCat(s.failed),
         absl::StrFormat("%.1f", s.throughput), absl::StrFormat("%.3f", Ms(s.latency.p50)),
         absl::StrFormat("%.3f", Ms(s.latency.p90)), absl::StrFormat("%.3f", Ms(s.latency.p95)),
         absl::StrFormat("%.3f", Ms(s.latency.p99)), absl::StrFormat("%.3f", Ms(s.latency.max)),
         Optional(s.server_queue_us), Optional(s.server_compute_us)});
  }
  std::string out =
      absl::StrFormat("model %s%s, batch %d\n", run.model,
                      run.version.empty() ? "" : absl::StrCat(" version ", run.version), run.batch);
  out += table.Render();
  for (const PerfStep& s : run.steps) {
    if (s.failed == 0) continue;
    out += absl::StrFormat("errors at %s %s: %s; first: %s\n", by_rate ? "rate" : "concurrency",
                           Load(s), ErrorsText(s), s.first_error);
  }
  return out;
}

std::string PerfCsv(const PerfRun& run) {
  std::string out =
      "concurrency,rate,batch,requests,errors,wall_s,throughput_per_s,latency_p50_ms,"
      "latency_p90_ms,latency_p95_ms,latency_p99_ms,latency_mean_ms,latency_min_ms,"
      "latency_max_ms,server_queue_us,server_compute_us,errors_by_code\n";
  for (const PerfStep& s : run.steps) {
    out += absl::StrCat(
        s.rate > 0 ? "" : absl::StrCat(s.concurrency), ",",
        s.rate > 0 ? absl::StrFormat("%g", s.rate) : "", ",", run.batch, ",", s.completed, ",",
        s.failed, ",", absl::StrFormat("%.6f", s.wall_seconds), ",",
        absl::StrFormat("%.3f", s.throughput), ",", absl::StrFormat("%.6f", Ms(s.latency.p50)), ",",
        absl::StrFormat("%.6f", Ms(s.latency.p90)), ",", absl::StrFormat("%.6f", Ms(s.latency.p95)),
        ",", absl::StrFormat("%.6f", Ms(s.latency.p99)), ",",
        absl::StrFormat("%.6f", Ms(s.latency.mean)), ",",
        absl::StrFormat("%.6f", Ms(s.latency.min)), ",", absl::StrFormat("%.6f", Ms(s.latency.max)),
        ",", s.server_queue_us ? absl::StrFormat("%.3f", *s.server_queue_us) : "", ",",
        s.server_compute_us ? absl::StrFormat("%.3f", *s.server_compute_us) : "", ",",
        CsvField(ErrorsText(s)), "\n");
  }
  return out;
}

std::string PerfJson(const PerfRun& run) {
  std::vector<std::string> steps;
  for (const PerfStep& s : run.steps) {
    std::vector<std::string> errors;
    for (const auto& [code, count] : s.errors_by_code) {
      errors.push_back(absl::StrCat(JsonString(code), ": ", count));
    }
    auto optional = [](const std::optional<double>& v) { return v ? JsonNumber(*v) : "null"; };
    steps.push_back(absl::StrCat(
        "{\"concurrency\": ", s.rate > 0 ? "null" : absl::StrCat(s.concurrency),
        ", \"rate\": ", s.rate > 0 ? JsonNumber(s.rate) : "null", ", \"requests\": ", s.completed,
        ", \"errors\": ", s.failed, ", \"errors_by_code\": {", absl::StrJoin(errors, ", "),
        "}, \"first_error\": ", s.first_error.empty() ? "null" : JsonString(s.first_error),
        ", \"wall_s\": ", JsonNumber(s.wall_seconds), ", \"throughput_per_s\": ",
        JsonNumber(s.throughput), ", \"latency_ms\": {\"p50\": ", JsonNumber(Ms(s.latency.p50)),
        ", \"p90\": ", JsonNumber(Ms(s.latency.p90)), ", \"p95\": ", JsonNumber(Ms(s.latency.p95)),
        ", \"p99\": ", JsonNumber(Ms(s.latency.p99)),
        ", \"mean\": ", JsonNumber(Ms(s.latency.mean)),
        ", \"min\": ", JsonNumber(Ms(s.latency.min)), ", \"max\": ", JsonNumber(Ms(s.latency.max)),
        "}, \"server_queue_us\": ", optional(s.server_queue_us),
        ", \"server_compute_us\": ", optional(s.server_compute_us), "}"));
  }
  return absl::StrCat("{\"model\": ", JsonString(run.model),
                      ", \"version\": ", JsonString(run.version), ", \"batch\": ", run.batch,
                      ", \"steps\": [", absl::StrJoin(steps, ", "), "]}\n");
}

std::string GnuplotScript(const PerfRun& run, const std::string& csv_path,
                          const std::string& png_path) {
  // gnuplot single-quoted strings escape a quote by doubling it.
  auto quote = [](const std::string& s) {
    return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "''"}}), "'");
  };
  const bool by_rate = !run.steps.empty() && run.steps[0].rate > 0;
  const std::string title = absl::StrCat("octet perf ", run.model, ", batch ", run.batch, ", by ",
                                         by_rate ? "request rate" : "concurrency");
  std::string script = absl::StrCat("set terminal png size 960,640\n",           //
                                    "set output ", quote(png_path), "\n",        //
                                    "set datafile separator ','\n",              //
                                    "set title ", quote(title), "\n",            //
                                    "set xlabel 'throughput (inferences/s)'\n",  //
                                    "set ylabel 'latency (ms)'\n",               //
                                    "set yrange [0:*]\n",                        //
                                    "set key outside right top\n",               //
                                    "set grid\n",                                //
                                    "plot");
  // Columns of PerfCsv: 7 throughput, 8..11 p50, p90, p95, p99.
  const std::string data = absl::StrCat(" ", quote(csv_path), " skip 1 using 7:");
  const char* kPercentiles[] = {"p50", "p90", "p95", "p99"};
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&script, data, 8 + i, " with linespoints title '", kPercentiles[i], "', \\\n");
  }
  // Each step's concurrency (column 1) or rate (column 2) written beside its p99 point.
  absl::StrAppend(&script, data, "11:(stringcolumn(", by_rate ? 2 : 1,
                  ")) with labels offset char 0,1 notitle\n");
  return script;
}

}  // namespace octet::cli
