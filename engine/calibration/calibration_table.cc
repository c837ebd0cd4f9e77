#include "engine/calibration/calibration_table.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "engine/calibration/internal/atomic_file.h"
#include "engine/calibration/model_digest.h"

namespace octet::calibration {
namespace {

constexpr absl::string_view kVersionPrefix = "# octet calibration table v";

// Shortest text that std::from_chars reads back to exactly `value`.
template <typename T>
std::string ShortestText(T value) {
  char buffer[64];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

// The whole of `text` as one finite number (no sign prefix '+', no spaces, no hex).
template <typename T>
bool ParseFinite(absl::string_view text, T& value) {
  if (text.empty()) return false;
  const std::from_chars_result result =
      std::from_chars(text.data(), text.data() + text.size(), value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size() &&
         std::isfinite(value);
}

std::string Quote(absl::string_view text) {
  return absl::StrCat("\"", absl::Utf8SafeCEscape(text), "\"");
}

absl::Status ValidateTensor(const std::string& name, const TensorCalibration& tensor) {
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", Quote(name), ": ", what));
  };
  if (name.empty()) return absl::InvalidArgumentError("tensor name is empty");
  if (!std::isfinite(tensor.min) || !std::isfinite(tensor.max)) return error("range not finite");
  if (tensor.min > tensor.max) return error("min > max");
  if (tensor.observed_min.has_value() && !std::isfinite(*tensor.observed_min)) {
    return error("observed_min not finite");
  }
  if (tensor.observed_max.has_value() && !std::isfinite(*tensor.observed_max)) {
    return error("observed_max not finite");
  }
  if (tensor.observed_min.has_value() && tensor.observed_max.has_value() &&
      *tensor.observed_min > *tensor.observed_max) {
    return error("observed_min > observed_max");
  }
  return absl::OkStatus();
}

bool ValidPercentile(double percentile) { return percentile >= 50.0 && percentile <= 100.0; }

// Parses the lines of one table; every error names the source and the line.
class TableParser {
 public:
  explicit TableParser(std::string source) : source_(std::move(source)) {}

  absl::StatusOr<CalibrationTable> Run(absl::string_view text);

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ", line ", line_, ": ", what));
  }
  absl::Status ParseLine(absl::string_view key, absl::string_view rest);
  absl::Status ParseMethod(absl::string_view rest);
  absl::Status ParseTensor(absl::string_view rest);
  // Consumes a double-quoted, C-escaped string from the front of `rest`.
  absl::Status ConsumeQuoted(absl::string_view& rest, std::string& out) const;

  const std::string source_;
  int line_ = 0;
  bool ended_ = false;
  std::set<std::string> seen_keys_;
  CalibrationTable table_;
};

absl::StatusOr<CalibrationTable> TableParser::Run(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(source_, ": empty"));
  const bool has_final_newline = text.back() == '\n';
  if (has_final_newline) text.remove_suffix(1);
  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');

  line_ = 1;
  if (lines[0] != kCalibrationTableHeader) {
    if (absl::StartsWith(lines[0], kVersionPrefix)) {
      return Error(absl::StrCat("unsupported version '", lines[0].substr(kVersionPrefix.size() - 1),
                                "' (this build reads v1)"));
    }
    return Error(
        absl::StrCat("not an octet calibration table (expected '", kCalibrationTableHeader, "')"));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    line_ = static_cast<int>(i) + 1;
    const absl::string_view line = lines[i];
    if (ended_) return Error("content after the 'end' line");
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find(' ');
    const absl::string_view key = line.substr(0, space);
    // Never a null view: absl::StrSplit yields no pieces at all for one.
    const absl::string_view rest = line.substr(std::min(line.size(), space + 1));
    OCTET_RETURN_IF_ERROR(ParseLine(key, rest));
  }
  if (!ended_) {
    return Error("truncated: no 'end' line (the file was cut short or is not a whole table)");
  }
  if (!has_final_newline) return Error("truncated: no newline after the 'end' line");
  for (absl::string_view required :
       {"model_digest", "weight_scheme", "method", "sample_count", "created"}) {
    if (seen_keys_.count(std::string(required)) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ": required line '", required, "' is missing"));
    }
  }
  return std::move(table_);
}

absl::Status TableParser::ParseLine(absl::string_view key, absl::string_view rest) {
  if (key != "tensor" && key != "extra" && !seen_keys_.insert(std::string(key)).second) {
    return Error(absl::StrCat("repeated '", key, "' line"));
  }
  if (key == "tensor") return ParseTensor(rest);
  if (key == "model_digest") {
    if (!IsWellFormedDigest(rest)) {
      return Error(absl::StrCat("model_digest '", rest, "' is not sha256:<64 lower-case hex>"));
    }
    table_.model_digest = std::string(rest);
    return absl::OkStatus();
  }
  if (key == "weight_scheme") {
    OCTET_RETURN_IF_ERROR(ConsumeQuoted(rest, table_.weight_scheme));
    if (!rest.empty()) return Error("unexpected text after weight_scheme");
    return absl::OkStatus();
  }
  if (key == "method") return ParseMethod(rest);
  if (key == "sample_count") {
    if (rest.empty() || !std::all_of(rest.begin(), rest.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(rest, &table_.sample_count)) {
      return Error(absl::StrCat("sample_count '", rest, "' is not a non-negative integer"));
    }
    return absl::OkStatus();
  }
  if (key == "created") {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, rest, &table_.created, &error)) {
      return Error(absl::StrCat("created '", rest, "' is not an RFC 3339 time: ", error));
    }
    return absl::OkStatus();
  }
  if (key == "extra") {
    std::string extra_key, value;
    OCTET_RETURN_IF_ERROR(ConsumeQuoted(rest, extra_key));
    if (!absl::ConsumePrefix(&rest, " ")) return Error("extra needs a quoted key and value");
    OCTET_RETURN_IF_ERROR(ConsumeQuoted(rest, value));
    if (!rest.empty()) return Error("unexpected text after extra value");
    if (!table_.extra.emplace(std::move(extra_key), std::move(value)).second) {
      return Error("repeated extra key");
    }
    return absl::OkStatus();
  }
  if (key == "end") {
    size_t count = 0;
    if (rest.empty() || !std::all_of(rest.begin(), rest.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(rest, &count)) {
      return Error(absl::StrCat("end '", rest, "' is not a tensor count"));
    }
    if (count != table_.tensors.size()) {
      return Error(absl::StrCat("end says ", count, " tensors but ", table_.tensors.size(),
                                " were read (truncated or edited file)"));
    }
    ended_ = true;
    return absl::OkStatus();
  }
  return Error(absl::StrCat("unknown line '", key, "'"));
}

absl::Status TableParser::ParseMethod(absl::string_view rest) {
  const std::vector<absl::string_view> words = absl::StrSplit(rest, ' ');
  if (words.empty()) return Error("method needs a name");
  absl::StatusOr<CalibrationMethod> method = ParseCalibrationMethod(words[0]);
  if (!method.ok()) return Error(method.status().message());
  table_.method.method = *method;
  if (*method != CalibrationMethod::kPercentile) {
    if (words.size() != 1) return Error("unexpected text after method");
    return absl::OkStatus();
  }
  if (words.size() != 2 || !ParseFinite(words[1], table_.method.percentile) ||
      !ValidPercentile(table_.method.percentile)) {
    return Error("method percentile needs one percentile in [50, 100]");
  }
  return absl::OkStatus();
}

absl::Status TableParser::ParseTensor(absl::string_view rest) {
  std::string name;
  OCTET_RETURN_IF_ERROR(ConsumeQuoted(rest, name));
  if (name.empty()) return Error("empty tensor name");
  if (table_.tensors.count(name) != 0) {
    return Error(absl::StrCat("duplicate tensor ", Quote(name)));
  }
  if (!absl::ConsumePrefix(&rest, " ")) return Error("tensor needs min=... max=... after its name");
  TensorCalibration tensor;
  bool has_min = false, has_max = false;
  std::set<absl::string_view> fields;
  for (absl::string_view field : absl::StrSplit(rest, ' ')) {
    const size_t equals = field.find('=');
    if (equals == absl::string_view::npos) {
      return Error(absl::StrCat("tensor field '", field, "' is not key=value"));
    }
    const absl::string_view key = field.substr(0, equals);
    const absl::string_view text = field.substr(equals + 1);
    if (!fields.insert(key).second) return Error(absl::StrCat("repeated tensor field '", key, "'"));
    float value = 0.0f;
    if (!ParseFinite(text, value)) {
      return Error(absl::StrCat("tensor field ", key, "='", text, "' is not a finite float"));
    }
    if (key == "min") {
      tensor.min = value;
      has_min = true;
    } else if (key == "max") {
      tensor.max = value;
      has_max = true;
    } else if (key == "observed_min") {
      tensor.observed_min = value;
    } else if (key == "observed_max") {
      tensor.observed_max = value;
    } else {
      return Error(absl::StrCat("unknown tensor field '", key, "'"));
    }
  }
  if (!has_min || !has_max) return Error("tensor needs both min= and max=");
  const absl::Status valid = ValidateTensor(name, tensor);
  if (!valid.ok()) return Error(valid.message());
  table_.tensors.emplace(std::move(name), tensor);
  return absl::OkStatus();
}

absl::Status TableParser::ConsumeQuoted(absl::string_view& rest, std::string& out) const {
  if (rest.empty() || rest[0] != '"') return Error("expected a double-quoted string");
  size_t close = 1;
  while (close < rest.size() && rest[close] != '"') close += rest[close] == '\\' ? 2 : 1;
  if (close >= rest.size()) return Error("unterminated string");
  std::string error;
  if (!absl::CUnescape(rest.substr(1, close - 1), &out, &error)) {
    return Error(absl::StrCat("bad escape in string: ", error));
  }
  rest.remove_prefix(close + 1);
  return absl::OkStatus();
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

absl::Status Validate(const CalibrationTable& table) {
  if (!IsWellFormedDigest(table.model_digest)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model_digest '", table.model_digest, "' is not sha256:<64 lower-case hex>"));
  }
  if (table.method.method == CalibrationMethod::kPercentile &&
      !ValidPercentile(table.method.percentile)) {
    return absl::InvalidArgumentError(
        absl::StrCat("percentile must be in [50, 100], got ", table.method.percentile));
  }
  if (table.sample_count < 0) return absl::InvalidArgumentError("sample_count is negative");
  if (table.created == absl::InfiniteFuture() || table.created == absl::InfinitePast()) {
    return absl::InvalidArgumentError("created is not a finite time");
  }
  for (const auto& [name, tensor] : table.tensors) {
    OCTET_RETURN_IF_ERROR(ValidateTensor(name, tensor));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ToText(const CalibrationTable& table) {
  OCTET_RETURN_IF_ERROR(Validate(table));
  std::string text = absl::StrCat(kCalibrationTableHeader, "\n");
  absl::StrAppend(&text, "model_digest ", table.model_digest, "\n");
  absl::StrAppend(&text, "weight_scheme ", Quote(table.weight_scheme), "\n");
  absl::StrAppend(&text, "method ", CalibrationMethodName(table.method.method));
  if (table.method.method == CalibrationMethod::kPercentile) {
    absl::StrAppend(&text, " ", ShortestText(table.method.percentile));
  }
  absl::StrAppend(&text, "\nsample_count ", table.sample_count, "\n");
  absl::StrAppend(&text, "created ",
                  absl::FormatTime(absl::RFC3339_full, table.created, absl::UTCTimeZone()), "\n");
  for (const auto& [key, value] : table.extra) {
    absl::StrAppend(&text, "extra ", Quote(key), " ", Quote(value), "\n");
  }
  for (const auto& [name, tensor] : table.tensors) {
    absl::StrAppend(&text, "tensor ", Quote(name), " min=", ShortestText(tensor.min),
                    " max=", ShortestText(tensor.max));
    if (tensor.observed_min.has_value()) {
      absl::StrAppend(&text, " observed_min=", ShortestText(*tensor.observed_min));
    }
    if (tensor.observed_max.has_value()) {
      absl::StrAppend(&text, " observed_max=", ShortestText(*tensor.observed_max));
    }
    absl::StrAppend(&text, "\n");
  }
  absl::StrAppend(&text, "end ", table.tensors.size(), "\n");
  return text;
}

absl::StatusOr<CalibrationTable> Parse(absl::string_view text) {
  return TableParser("calibration table").Run(text);
}

absl::Status Save(const CalibrationTable& table, const std::string& path) {
  OCTET_ASSIGN_OR_RETURN(const std::string text, ToText(table));
  return internal::WriteFileAtomically(path, text);
}

absl::StatusOr<CalibrationTable> Load(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    const int error = errno;
    return absl::ErrnoToStatus(error, absl::StrCat("cannot open calibration table '", path, "'"));
  }
  std::string text;
  char buffer[1 << 16];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) text.append(buffer, got);
  if (std::ferror(file.get())) {
    const int error = errno;
    return absl::ErrnoToStatus(error, absl::StrCat("cannot read calibration table '", path, "'"));
  }
  return TableParser(absl::StrCat("calibration table '", path, "'")).Run(text);
}

absl::Status CheckMatchesModel(const CalibrationTable& table, const std::string& model_digest) {
  if (table.model_digest == model_digest) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("calibration table was computed for model ", table.model_digest,
                   " but the model being loaded is ", model_digest,
                   "; recalibrate this model or use the table made for it"));
}

}  // namespace octet::calibration
