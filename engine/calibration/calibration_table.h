// CalibrationTable: the result of calibrating one model - a real range per activation tensor,
// with what is needed to trust it later: the method, how many samples it saw, the digest of the
// exact model bytes, the weight scheme it was made for, and when. It is persisted beside the
// model version and reloaded on restart; a table made for other model bytes is refused.
//
//   CalibrationTable table;
//   table.model_digest = digest;  // FileDigest(model_path), model_digest.h
//   table.tensors["conv1 out"] = {/*min=*/0.0f, /*max=*/6.2f};
//   OCTET_RETURN_IF_ERROR(Save(table, version_dir + "/calibration.txt"));
//   ...
//   OCTET_ASSIGN_OR_RETURN(CalibrationTable loaded, Load(version_dir + "/calibration.txt"));
//   OCTET_RETURN_IF_ERROR(CheckMatchesModel(loaded, digest));
//
// Ranges, not scale and zero point: the quantization parameters follow from a range and the
// target type by the quant module's math, so storing ranges keeps the table valid if that math
// (or the target type) changes, and keeps it readable.
//
// Text format v1, made to be read and diffed by people: one header line naming the version,
// one `key value` line per field, one line per tensor (sorted by name), and a closing
// `end <tensor count>` line so that a truncated file is detected. Strings are double-quoted with
// C escapes (absl::Utf8SafeCEscape: quotes, backslashes and control characters escaped, UTF-8
// kept as is). Floats use the shortest text that reads back to the same float. Blank lines and
// lines starting with '#' are comments.
//
//   # octet calibration table v1
//   model_digest sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
//   weight_scheme "pair-limited-8bit"
//   method percentile 99.99
//   sample_count 512
//   created 2024-05-01T12:00:00+00:00
//   extra "dataset" "cifar10 test[0:512]"
//   tensor "conv1 \"out\"" min=0 max=6.2 observed_min=0 observed_max=17.5
//   end 1
//
// Plain values; the functions are stateless and thread-safe (Save: see internal/atomic_file.h).
#ifndef OCTET_ENGINE_CALIBRATION_CALIBRATION_TABLE_H_
#define OCTET_ENGINE_CALIBRATION_CALIBRATION_TABLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/calibration/range_selection.h"

namespace octet::calibration {

struct TensorCalibration {
  // The selected range that quantization covers. Finite, min <= max.
  float min = 0.0f;
  float max = 0.0f;
  // What the calibration data actually reached, when recorded (for reports; finite).
  std::optional<float> observed_min;
  std::optional<float> observed_max;
};

struct CalibrationTable {
  // "sha256:<64 hex>" of the model bytes the ranges were computed on (model_digest.h).
  std::string model_digest;
  // Free text naming how weights are quantized, e.g. "pair-limited-8bit".
  std::string weight_scheme;
  // The percentile is stored only for CalibrationMethod::kPercentile; otherwise Load leaves the
  // default.
  MethodOptions method;
  // Calibration samples (inputs, not batches) the ranges were computed from.
  int64_t sample_count = 0;
  absl::Time created = absl::UnixEpoch();
  // Anything else worth keeping (dataset name, tool version); keys unique.
  std::map<std::string, std::string> extra;
  // Keyed by tensor name (non-empty; any bytes).
  std::map<std::string, TensorCalibration> tensors;
};

// The first line of every v1 table.
inline constexpr absl::string_view kCalibrationTableHeader = "# octet calibration table v1";

// InvalidArgument when a field breaks the rules above (a Saved table always Loads).
absl::Status Validate(const CalibrationTable& table);

absl::StatusOr<std::string> ToText(const CalibrationTable& table);

// Strict: InvalidArgument, with the line number, for a wrong or missing version line, an
// unknown or repeated key, a malformed or non-finite number, min > max, a duplicate tensor, a
// missing required field, or a missing/inconsistent `end` line (truncation).
absl::StatusOr<CalibrationTable> Parse(absl::string_view text);

// Writes atomically (internal/atomic_file.h): on failure the previous file, if any, is intact.
absl::Status Save(const CalibrationTable& table, const std::string& path);

// Reads and parses; errors name the path.
absl::StatusOr<CalibrationTable> Load(const std::string& path);

// FailedPrecondition, naming both digests, when the table was made for other model bytes.
absl::Status CheckMatchesModel(const CalibrationTable& table, const std::string& model_digest);

}  // namespace octet::calibration

#endif  // OCTET_ENGINE_CALIBRATION_CALIBRATION_TABLE_H_
