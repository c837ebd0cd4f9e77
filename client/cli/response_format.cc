#include "client/cli/response_format.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/text_output.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace octet::cli {
namespace {

using client::ShapeString;

std::string Shape(const google::protobuf::RepeatedField<int64_t>& shape) {
  return ShapeString(std::vector<int64_t>(shape.begin(), shape.end()));
}

// Mean of a cumulative duration in microseconds, or "-" when it counted nothing.
std::string MeanUs(const inference::StatisticDuration& d) {
  if (d.count() == 0) return "-";
  return absl::StrFormat("%.1f", static_cast<double>(d.ns()) / d.count() / 1000.0);
}

double MeanNs(const inference::StatisticDuration& d) {
  return d.count() ? static_cast<double>(d.ns()) / d.count() : 0.0;
}

std::string ComputeUs(const inference::InferStatistics& s) {
  if (s.compute_input().count() + s.compute_infer().count() + s.compute_output().count() == 0) {
    return "-";
  }
  return absl::StrFormat(
      "%.1f", (MeanNs(s.compute_input()) + MeanNs(s.compute_infer()) + MeanNs(s.compute_output())) /
                  1000.0);
}

std::string MethodName(octet::v1::CalibrationMethod m, double percentile) {
  switch (m) {
    case octet::v1::MINMAX:
      return "minmax";
    case octet::v1::PERCENTILE:
      return absl::StrFormat("percentile %g", percentile);
    case octet::v1::ENTROPY:
      return "entropy";
    case octet::v1::MSE:
      return "mse";
    default:
      return "server default";
  }
}

std::string PrecisionName(octet::v1::Precision p) {
  switch (p) {
    case octet::v1::PRECISION_FP32:
      return "fp32";
    case octet::v1::PRECISION_INT8:
      return "int8";
    case octet::v1::PRECISION_MIXED:
      return "mixed";
    default:
      return "unspecified";
  }
}

std::string ClassName(const std::vector<std::string>& names, int64_t index) {
  return index >= 0 && index < static_cast<int64_t>(names.size()) ? names[index] : "";
}

template <typename T>
std::string IntegersJson(const std::string& raw) {
  std::vector<std::string> items(raw.size() / sizeof(T));
  for (size_t i = 0; i < items.size(); ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    items[i] = absl::StrCat(+v);  // + prints int8/uint8 as numbers
  }
  return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
}

absl::StatusOr<std::string> DataJson(const client::InferResult& result,
                                     const client::OutputTensor& t) {
  const std::string& d = t.datatype;
  if (d == "INT8") return IntegersJson<int8_t>(t.raw);
  if (d == "UINT8" || d == "BOOL") return IntegersJson<uint8_t>(t.raw);
  if (d == "INT16") return IntegersJson<int16_t>(t.raw);
  if (d == "UINT16") return IntegersJson<uint16_t>(t.raw);
  if (d == "INT32") return IntegersJson<int32_t>(t.raw);
  if (d == "UINT32") return IntegersJson<uint32_t>(t.raw);
  if (d == "INT64") return IntegersJson<int64_t>(t.raw);
  if (d == "UINT64") return IntegersJson<uint64_t>(t.raw);
  if (d == "FP64") {
    std::vector<std::string> items(t.raw.size() / sizeof(double));
    for (size_t i = 0; i < items.size(); ++i) {
      double v;
      std::memcpy(&v, t.raw.data() + i * sizeof(double), sizeof(double));
      items[i] = JsonNumber(v, 17);
    }
    return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
  }
  OCTET_ASSIGN_OR_RETURN(std::vector<float> values, result.AsFloats(t.name));
  std::vector<std::string> items;
  items.reserve(values.size());
  for (float v : values) items.push_back(JsonNumber(v, 9));
  return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
}

}  // namespace

std::string ProtoJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) return absl::StrCat("{\"error\": ", JsonString(status.ToString()), "}\n");
  return json + "\n";
}

std::string FormatRepositoryIndex(const inference::RepositoryIndexResponse& index) {
  if (index.models_size() == 0) return "no models\n";
  TextTable table({{"MODEL"}, {"VERSION"}, {"STATE"}, {"REASON"}});
  for (const auto& m : index.models()) table.AddRow({m.name(), m.version(), m.state(), m.reason()});
  return table.Render();
}

std::string FormatModelMetadata(const inference::ModelMetadataResponse& metadata) {
  std::string out = absl::StrCat("model     ", metadata.name(), "\n", "platform  ",
                                 metadata.platform().empty() ? "-" : metadata.platform(), "\n",
                                 "versions  ", absl::StrJoin(metadata.versions(), ", "), "\n");
  auto tensors =
      [](const char* title,
         const google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>&
             list) {
        TextTable table({{title}, {"DATATYPE"}, {"SHAPE"}});
        for (const auto& t : list) table.AddRow({t.name(), t.datatype(), Shape(t.shape())});
        return table.Render();
      };
  return absl::StrCat(out, tensors("INPUT", metadata.inputs()),
                      tensors("OUTPUT", metadata.outputs()));
}

std::string FormatStatistics(const inference::ModelStatisticsResponse& stats) {
  if (stats.model_stats_size() == 0) return "no statistics\n";
  TextTable table({{"MODEL"},
                   {"VERSION"},
                   {"INFERENCES", TextTable::kRight},
                   {"EXECUTIONS", TextTable::kRight},
                   {"SUCCESS", TextTable::kRight},
                   {"FAIL", TextTable::kRight},
                   {"QUEUE us", TextTable::kRight},
                   {"COMPUTE us", TextTable::kRight},
                   {"REQUEST us", TextTable::kRight}});
  std::string batches;
  for (const auto& m : stats.model_stats()) {
    const auto& s = m.inference_stats();
    table.AddRow({m.name(), m.version(), absl::StrCat(m.inference_count()),
                  absl::StrCat(m.execution_count()), absl::StrCat(s.success().count()),
                  absl::StrCat(s.fail().count()), MeanUs(s.queue()), ComputeUs(s),
                  MeanUs(s.success())});
    std::vector<std::string> sizes;
    for (const auto& b : m.batch_stats()) {
      sizes.push_back(absl::StrFormat("%d x%d (%s us)", b.batch_size(), b.compute_infer().count(),
                                      MeanUs(b.compute_infer())));
    }
    if (!sizes.empty()) {
      batches += absl::StrCat(m.name(), " version ", m.version(),
                              " batch sizes: ", absl::StrJoin(sizes, ", "), "\n");
    }
  }
  return absl::StrCat(table.Render(),
                      "(us: mean microseconds per request; COMPUTE = input + infer + output)\n",
                      batches);
}

bool ToleranceMet(const octet::v1::CalibrationReport& r) {
  constexpr double kSlack = 1e-9;  // accuracies are ratios of counts; equality must count as met
  if (r.tolerance_mode() == octet::v1::RELATIVE) {
    return r.accuracy() >= r.fp32_accuracy() * (1 - r.tolerance() / 100) - kSlack;
  }
  return r.accuracy() >= r.fp32_accuracy() - r.tolerance() - kSlack;
}

std::string FormatCalibrationReport(const octet::v1::CalibrationReport& r) {
  int int8_layers = 0;
  std::vector<std::string> fp32_layers;
  TextTable layers({{"  LAYER"},
                    {"OP"},
                    {"PRECISION"},
                    {"SQNR dB", TextTable::kRight},
                    {"MAX |ERR|", TextTable::kRight}});
  for (const auto& layer : r.layers()) {
    if (layer.precision() == "int8") {
      ++int8_layers;
    } else {
      fp32_layers.push_back(layer.node_name());
    }
    layers.AddRow({absl::StrCat("  ", layer.node_name()), layer.op_type(), layer.precision(),
                   absl::StrFormat("%.2f", layer.sqnr_db()),
                   absl::StrFormat("%.4g", layer.max_abs_error())});
  }
  const double ratio =
      r.weight_bytes_fp32() ? 100.0 * r.weight_bytes() / r.weight_bytes_fp32() : 0.0;
  const bool relative = r.tolerance_mode() == octet::v1::RELATIVE;
  std::string out = absl::StrFormat(
      "calibrated %s version %s -> version %s (%s, %s)\n"
      "samples    %d calibration, %d validation; accuracy against %s\n"
      "accuracy   fp32 %.2f%%   all-int8 %.2f%%   published %.2f%%   drop %.2f points\n"
      "tolerance  %g %s: %s\n"
      "agreement  %.2f%% of top-1 predictions equal FP32's\n"
      "weights    %d bytes vs %d FP32 (%.1f%%); isa %s, %s\n"
      "plan       %d of %d layers INT8%s%s\n"
      "time       %.2f s\n",
      r.model_name(), r.source_version(), r.published_version(), PrecisionName(r.precision()),
      MethodName(r.method(), r.percentile()), r.num_calibration_samples(),
      r.num_validation_samples(), r.accuracy_from_labels() ? "labels" : "FP32 top-1",
      r.fp32_accuracy(), r.initial_accuracy(), r.accuracy(), r.fp32_accuracy() - r.accuracy(),
      r.tolerance(), relative ? "percent of FP32 (relative)" : "points (absolute)",
      ToleranceMet(r) ? "met" : "NOT met", r.top1_agreement(), r.weight_bytes(),
      r.weight_bytes_fp32(), ratio, r.isa().empty() ? "-" : r.isa(),
      r.weight_scheme().empty() ? "-" : r.weight_scheme(), int8_layers, r.layers_size(),
      fp32_layers.empty() ? "" : "; FP32: ", absl::StrJoin(fp32_layers, ", "),
      r.duration_seconds());
  if (r.layers_size() > 0) out += layers.Render();
  return out;
}

absl::StatusOr<std::string> FormatTopK(const client::InferResult& result, const std::string& output,
                                       int k, const std::vector<std::string>& class_names,
                                       const std::vector<SampleOrigin>& origins) {
  OCTET_ASSIGN_OR_RETURN(auto top, result.TopK(output, k));
  const client::OutputTensor& t = *result.Find(output);
  std::string out = absl::StrFormat("model %s version %s, output '%s' %s %s\n", result.model_name,
                                    result.model_version, t.name, t.datatype, ShapeString(t.shape));
  for (size_t row = 0; row < top.size(); ++row) {
    std::vector<std::string> about;
    if (row < origins.size()) {
      if (!origins[row].description.empty()) about.push_back(origins[row].description);
      if (origins[row].label >= 0) {
        const std::string name = ClassName(class_names, origins[row].label);
        about.push_back(absl::StrCat("label ", origins[row].label, name.empty() ? "" : " ", name));
      }
    }
    out += absl::StrCat("sample ", row,
                        about.empty() ? "" : absl::StrCat(" (", absl::StrJoin(about, ", "), ")"),
                        "\n");
    TextTable table({{"   #", TextTable::kRight},
                     {"CLASS", TextTable::kRight},
                     {"NAME"},
                     {"SCORE", TextTable::kRight}});
    for (size_t i = 0; i < top[row].size(); ++i) {
      table.AddRow({absl::StrCat(i + 1), absl::StrCat(top[row][i].index),
                    ClassName(class_names, top[row][i].index),
                    absl::StrFormat("%.6g", top[row][i].score)});
    }
    out += table.Render();
  }
  return out;
}

absl::StatusOr<std::string> InferResultJson(const client::InferResult& result,
                                            const std::string& output, int k,
                                            const std::vector<std::string>& class_names,
                                            const std::vector<SampleOrigin>& origins) {
  std::vector<std::string> outputs;
  for (const client::OutputTensor& t : result.outputs) {
    OCTET_ASSIGN_OR_RETURN(std::string data, DataJson(result, t));
    outputs.push_back(absl::StrCat("{\"name\": ", JsonString(t.name),
                                   ", \"datatype\": ", JsonString(t.datatype), ", \"shape\": [",
                                   absl::StrJoin(t.shape, ", "), "], \"data\": ", data, "}"));
  }
  std::string top_json = "null";
  if (k > 0) {
    OCTET_ASSIGN_OR_RETURN(auto top, result.TopK(output, k));
    std::vector<std::string> rows;
    for (size_t row = 0; row < top.size(); ++row) {
      std::vector<std::string> classes;
      for (const client::ScoredClass& c : top[row]) {
        const std::string name = ClassName(class_names, c.index);
        classes.push_back(absl::StrCat("{\"class\": ", c.index,
                                       ", \"name\": ", name.empty() ? "null" : JsonString(name),
                                       ", \"score\": ", JsonNumber(c.score), "}"));
      }
      const SampleOrigin origin = row < origins.size() ? origins[row] : SampleOrigin();
      rows.push_back(absl::StrCat(
          "{\"sample\": ", row,
          ", \"source\": ", origin.description.empty() ? "null" : JsonString(origin.description),
          ", \"label\": ", origin.label >= 0 ? absl::StrCat(origin.label) : "null",
          ", \"classes\": [", absl::StrJoin(classes, ", "), "]}"));
    }
    top_json = absl::StrCat("{\"output\": ", JsonString(output), ", \"rows\": [",
                            absl::StrJoin(rows, ", "), "]}");
  }
  return absl::StrCat("{\"model_name\": ", JsonString(result.model_name),
                      ", \"model_version\": ", JsonString(result.model_version),
                      ", \"id\": ", JsonString(result.id), ", \"outputs\": [",
                      absl::StrJoin(outputs, ", "), "], \"top_k\": ", top_json, "}\n");
}

}  // namespace octet::cli
