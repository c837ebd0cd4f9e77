// How the CLI prints what the server answers: the model repository, model metadata, statistics,
// calibration reports and inference results, as text for people or as JSON for programs. Pure
// functions from values to strings, so that every format is tested without a server.
//
// Proto responses become JSON through protobuf's own printer, with the .proto field names
// (snake_case) and zero values included, so that scripts see a stable set of keys.
//
// Stateless; thread-safe.
#ifndef OCTET_CLIENT_CLI_RESPONSE_FORMAT_H_
#define OCTET_CLIENT_CLI_RESPONSE_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "client/infer_types.h"
#include "google/protobuf/message.h"
#include "inference.pb.h"
#include "octet/v1/calibration.pb.h"

namespace octet::cli {

// One line of JSON (ends with a newline).
std::string ProtoJson(const google::protobuf::Message& message);

std::string FormatRepositoryIndex(const inference::RepositoryIndexResponse& index);
std::string FormatModelMetadata(const inference::ModelMetadataResponse& metadata);
std::string FormatStatistics(const inference::ModelStatisticsResponse& stats);
std::string FormatCalibrationReport(const octet::v1::CalibrationReport& report);

// Whether the report's published accuracy is within its tolerance (ToleranceMode semantics).
bool ToleranceMet(const octet::v1::CalibrationReport& report);

// What one row of an inference batch was, for printing beside its classes.
struct SampleOrigin {
  std::string description;  // e.g. "test.bin #17"; "" when unknown
  int64_t label = -1;       // -1: unlabelled
};

// Top-k classes of every row of `output` (rows as InferResult::TopK), named by `class_names`
// where it has an entry. `origins` has one entry per row or is empty.
absl::StatusOr<std::string> FormatTopK(const client::InferResult& result, const std::string& output,
                                       int k, const std::vector<std::string>& class_names,
                                       const std::vector<SampleOrigin>& origins);

// The whole result: model, version, id, and every output with its data (integers exactly,
// floats to 9 significant digits), plus the top-k classes of `output` when k > 0.
absl::StatusOr<std::string> InferResultJson(const client::InferResult& result,
                                            const std::string& output, int k,
                                            const std::vector<std::string>& class_names,
                                            const std::vector<SampleOrigin>& origins);

}  // namespace octet::cli

#endif  // OCTET_CLIENT_CLI_RESPONSE_FORMAT_H_
