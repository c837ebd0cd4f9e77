// health, models, metadata, load, unload, stats, report: one RPC each, printed.
#include "absl/strings/str_cat.h"
#include "client/cli/commands.h"
#include "client/cli/response_format.h"
#include "client/cli/text_output.h"
#include "common/status_macros.h"

namespace octet::cli {

absl::Status RunHealth(const client::Client& client, const std::string& model, bool json,
                       Console& console) {
  OCTET_ASSIGN_OR_RETURN(const bool live, client.ServerLive());
  OCTET_ASSIGN_OR_RETURN(const bool ready, client.ServerReady());
  std::optional<bool> model_ready;
  if (!model.empty()) {
    OCTET_ASSIGN_OR_RETURN(model_ready, client.ModelReady(model));
  }
  const std::string url = client.options().url;
  if (json) {
    console.out << "{\"url\": " << JsonString(url) << ", \"live\": " << (live ? "true" : "false")
                << ", \"ready\": " << (ready ? "true" : "false");
    if (model_ready) {
      console.out << ", \"model\": " << JsonString(model)
                  << ", \"model_ready\": " << (*model_ready ? "true" : "false");
    }
    console.out << "}\n";
  } else {
    console.out << "server " << url << ": " << (live ? "live" : "not live") << ", "
                << (ready ? "ready" : "not ready") << "\n";
    if (model_ready) {
      console.out << "model " << model << ": " << (*model_ready ? "ready" : "not ready") << "\n";
    }
  }
  if (!live || !ready) {
    return absl::UnavailableError(
        absl::StrCat("server ", url, " is not ", live ? "ready" : "live"));
  }
  if (model_ready && !*model_ready) {
    return absl::UnavailableError(absl::StrCat("model '", model, "' is not ready"));
  }
  return absl::OkStatus();
}

absl::Status RunModels(const client::Client& client, bool ready_only, bool json, Console& console) {
  OCTET_ASSIGN_OR_RETURN(inference::RepositoryIndexResponse index,
                         client.RepositoryIndex(ready_only));
  console.out << (json ? ProtoJson(index) : FormatRepositoryIndex(index));
  return absl::OkStatus();
}

absl::Status RunMetadata(const client::Client& client, const ModelRef& model, bool json,
                         Console& console) {
  OCTET_ASSIGN_OR_RETURN(inference::ModelMetadataResponse metadata,
                         client.ModelMetadata(model.name, model.version));
  console.out << (json ? ProtoJson(metadata) : FormatModelMetadata(metadata));
  return absl::OkStatus();
}

absl::Status RunLoadModel(const client::Client& client, const std::string& model,
                          Console& console) {
  OCTET_RETURN_IF_ERROR(client.LoadModel(model));
  console.out << "loaded " << model << "\n";
  return absl::OkStatus();
}

absl::Status RunUnloadModel(const client::Client& client, const std::string& model,
                            Console& console) {
  OCTET_RETURN_IF_ERROR(client.UnloadModel(model));
  console.out << "unloaded " << model << "\n";
  return absl::OkStatus();
}

absl::Status RunStats(const client::Client& client, const ModelRef& model, bool json,
                      Console& console) {
  OCTET_ASSIGN_OR_RETURN(inference::ModelStatisticsResponse stats,
                         client.ModelStatistics(model.name, model.version));
  console.out << (json ? ProtoJson(stats) : FormatStatistics(stats));
  return absl::OkStatus();
}

absl::Status RunReport(const client::Client& client, const ModelRef& model, bool json,
                       Console& console) {
  OCTET_ASSIGN_OR_RETURN(octet::v1::CalibrationReport report,
                         client.GetCalibrationReport(model.name, model.version));
  console.out << (json ? ProtoJson(report) : FormatCalibrationReport(report));
  return absl::OkStatus();
}

}  // namespace octet::cli
