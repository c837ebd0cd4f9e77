// Fuzzes the calibration table reader (engine/calibration/calibration_table.h), which reads
// calibration.table beside a model version at every load: calibration::Parse must refuse any
// malformed text with a status, and a table it accepts must survive a round trip (ToText, then
// Parse again gives the same table), as the header promises ("a Saved table always Loads").
//
// Seeds: fuzz/corpus/calibration_table (small valid tables written by make_seed_corpus).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/calibration/calibration_table.h"
#include "fuzz/fuzz_support.h"

namespace {

bool SameOptional(const std::optional<float>& a, const std::optional<float>& b) {
  return a.has_value() == b.has_value() && (!a || *a == *b);
}

bool SameTable(const octet::calibration::CalibrationTable& a,
               const octet::calibration::CalibrationTable& b) {
  if (a.model_digest != b.model_digest || a.weight_scheme != b.weight_scheme ||
      a.method.method != b.method.method || a.method.percentile != b.method.percentile ||
      a.sample_count != b.sample_count || a.created != b.created || a.extra != b.extra ||
      a.tensors.size() != b.tensors.size()) {
    return false;
  }
  for (const auto& [name, range] : a.tensors) {
    auto it = b.tensors.find(name);
    if (it == b.tensors.end() || it->second.min != range.min || it->second.max != range.max ||
        !SameOptional(it->second.observed_min, range.observed_min) ||
        !SameOptional(it->second.observed_max, range.observed_max)) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<octet::calibration::CalibrationTable> table = octet::calibration::Parse(text);
  if (!table.ok()) return 0;
  octet::fuzz::Require(octet::calibration::Validate(*table).ok(), "a parsed table is valid");
  absl::StatusOr<std::string> written = octet::calibration::ToText(*table);
  octet::fuzz::Require(written.ok(), "a parsed table can be written");
  absl::StatusOr<octet::calibration::CalibrationTable> again = octet::calibration::Parse(*written);
  octet::fuzz::Require(again.ok(), "a written table parses");
  octet::fuzz::Require(SameTable(*table, *again), "a table survives a round trip");
  return 0;
}
