#include "server/repository/model_repository.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/repository/repository_layout.h"

namespace octet::server {
namespace {

std::string VersionList(const std::map<int64_t, std::shared_ptr<Servable>>& versions) {
  std::vector<int64_t> numbers;
  for (const auto& [v, servable] : versions) numbers.push_back(v);
  return numbers.empty() ? "none" : absl::StrJoin(numbers, ", ");
}

}  // namespace

ModelRepository::ModelRepository(ModelRepositoryOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ModelRepository>> ModelRepository::Create(
    ModelRepositoryOptions options) {
  if (options.metrics == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError("ModelRepository: metrics sink and clock must not be null");
  }
  if (!options.log) {
    options.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  }
  std::error_code error;
  if (!std::filesystem::is_directory(options.root, error)) {
    return absl::NotFoundError(
        absl::StrCat("model repository '", options.root, "' is not a directory"));
  }
  return std::unique_ptr<ModelRepository>(new ModelRepository(std::move(options)));
}

ModelRepository::~ModelRepository() { Shutdown(); }

absl::Status ModelRepository::LoadAll() {
  OCTET_ASSIGN_OR_RETURN(std::vector<std::string> models, ListModels(options_.root));
  std::vector<std::string> errors;
  absl::StatusCode code = absl::StatusCode::kOk;
  for (const std::string& model : models) {
    absl::Status status = Load(model);
    if (status.ok()) continue;
    if (code == absl::StatusCode::kOk) code = status.code();
    errors.push_back(std::string(status.message()));
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::Status(code, absl::StrCat(errors.size(), " of ", models.size(),
                                         " models failed to load: ", absl::StrJoin(errors, "; ")));
}

absl::Status ModelRepository::Load(const std::string& model) {
  absl::MutexLock lock(&control_mu_);
  if (shut_down_) return absl::UnavailableError("the server is shutting down");
  absl::Status status = LoadLocked(model);
  if (status.ok()) {
    options_.log(
        absl::StrCat("loaded model '", model, "' versions ", VersionList(CurrentVersions(model))));
  } else {
    options_.log(absl::StrCat("failed to load model '", model, "': ", status.message()));
  }
  return status;
}

absl::Status ModelRepository::LoadLocked(const std::string& model) {
  OCTET_RETURN_IF_ERROR(CheckModelName(model));
  const std::string dir = absl::StrCat(options_.root, "/", model);
  std::error_code fs_error;
  if (!std::filesystem::is_directory(dir, fs_error)) {
    return absl::NotFoundError(absl::StrCat("model '", model, "' has no directory ", dir));
  }
  const VersionSet old = CurrentVersions(model);
  if (old.empty()) SetState(model, kLoading, "");
  // A failure of the model as a whole: the previous versions, if any, keep serving.
  auto fail = [&](const absl::Status& status) {
    if (old.empty()) {
      SetState(model, kUnavailable, std::string(status.message()));
    } else {
      SetState(model, kReady,
               absl::StrCat("reload failed, previous versions still serving: ", status.message()));
    }
    return status;
  };

  const std::string config_path = absl::StrCat(dir, "/", kModelConfigFileName);
  if (absl::Status inside = CheckInsideRepository(options_.root, config_path); !inside.ok()) {
    return fail(inside);  // the model directory or its config is a link out of the repository
  }
  absl::StatusOr<v1::ModelConfig> config = ReadModelConfig(config_path);
  if (!config.ok()) return fail(config.status());
  if (absl::Status s = ValidateModelConfig(*config, model, config_path); !s.ok()) return fail(s);
  absl::StatusOr<std::vector<int64_t>> available = ListVersions(dir);
  if (!available.ok()) return fail(available.status());
  const VersionSelection selection = SelectVersions(config->version_policy(), *available);
  if (selection.versions.empty() && selection.missing.empty()) {
    return fail(absl::NotFoundError(
        absl::StrCat("model '", model, "' has no version directories (named 1, 2, ...) in ", dir)));
  }

  VersionSet next;
  std::map<int64_t, std::string> failed;
  std::vector<absl::Status> errors;
  for (const auto& [version, why] : selection.missing) {
    failed[version] = why;
    errors.push_back(absl::NotFoundError(absl::StrCat("model '", model, "': ", why)));
  }
  for (int64_t version : selection.versions) {
    const std::string version_dir = absl::StrCat(dir, "/", version);
    auto previous = old.find(version);
    if (absl::Status inside = CheckVersionInsideRepository(options_.root, version_dir);
        !inside.ok()) {
      failed[version] = std::string(inside.message());
      errors.push_back(inside);
      if (previous != old.end()) next[version] = previous->second;
      continue;
    }
    if (previous != old.end() &&
        previous->second->fingerprint() == VersionFingerprint(version_dir, *config)) {
      next[version] = previous->second;
      continue;
    }
    ServableOptions servable_options;
    servable_options.model_name = model;
    servable_options.version = version;
    servable_options.version_dir = version_dir;
    servable_options.config = *config;
    servable_options.config_path = config_path;
    servable_options.defaults = options_.defaults;
    servable_options.metrics = options_.metrics;
    servable_options.clock = options_.clock;
    servable_options.shadow = options_.shadow;
    absl::StatusOr<std::shared_ptr<Servable>> servable = Servable::Load(servable_options);
    if (servable.ok()) {
      next[version] = *std::move(servable);
      continue;
    }
    failed[version] = std::string(servable.status().message());
    errors.push_back(servable.status());
    if (previous != old.end()) next[version] = previous->second;
  }

  std::vector<std::string> messages;
  for (const absl::Status& e : errors) messages.push_back(std::string(e.message()));
  {
    absl::MutexLock lock(&mu_);
    ModelEntry& entry = models_[model];
    entry.versions = next;
    entry.failed_versions = failed;
    entry.state = next.empty() ? kUnavailable : kReady;
    entry.reason = absl::StrJoin(messages, "; ");
  }
  std::vector<std::shared_ptr<Servable>> retired;
  for (const auto& [version, servable] : old) {
    auto it = next.find(version);
    if (it == next.end() || it->second != servable) retired.push_back(servable);
  }
  Retire(retired);
  if (errors.empty()) return absl::OkStatus();
  return absl::Status(errors.front().code(), absl::StrJoin(messages, "; "));
}

absl::Status ModelRepository::Unload(const std::string& model) {
  absl::MutexLock control(&control_mu_);
  std::vector<std::shared_ptr<Servable>> retired;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(model);
    if (it == models_.end()) {
      return absl::NotFoundError(absl::StrCat("model '", model, "' is not loaded"));
    }
    for (auto& [version, servable] : it->second.versions) retired.push_back(servable);
    it->second.versions.clear();
    it->second.failed_versions.clear();
    it->second.state = kUnloading;
    it->second.reason = "";
  }
  Retire(retired);
  SetState(model, kUnavailable, "unloaded");
  options_.log(absl::StrCat("unloaded model '", model, "'"));
  return absl::OkStatus();
}

void ModelRepository::Shutdown() {
  absl::MutexLock control(&control_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  std::vector<std::shared_ptr<Servable>> retired;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [name, entry] : models_) {
      for (auto& [version, servable] : entry.versions) retired.push_back(servable);
      entry.versions.clear();
      entry.state = kUnavailable;
      entry.reason = "the server is shutting down";
    }
  }
  Retire(retired);
}

void ModelRepository::Retire(const std::vector<std::shared_ptr<Servable>>& servables) {
  // One after the other: each Shutdown() answers its queued requests before returning.
  for (const std::shared_ptr<Servable>& servable : servables) {
    servable->Shutdown();
    options_.metrics->ForgetModel(servable->key());
  }
}

void ModelRepository::SetState(const std::string& model, const std::string& state,
                               const std::string& reason) {
  absl::MutexLock lock(&mu_);
  ModelEntry& entry = models_[model];
  entry.state = state;
  entry.reason = reason;
}

ModelRepository::VersionSet ModelRepository::CurrentVersions(const std::string& model) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = models_.find(model);
  return it == models_.end() ? VersionSet() : it->second.versions;
}

absl::StatusOr<std::shared_ptr<Servable>> ModelRepository::Find(const std::string& model,
                                                                const std::string& version) const {
  if (model.empty()) return absl::InvalidArgumentError("the model name is empty");
  absl::ReaderMutexLock lock(&mu_);
  auto it = models_.find(model);
  if (it == models_.end()) return absl::NotFoundError(absl::StrCat("unknown model '", model, "'"));
  const ModelEntry& entry = it->second;
  auto not_ready = [&] {
    return absl::UnavailableError(absl::StrCat("model '", model, "' is not ready (", entry.state,
                                               entry.reason.empty() ? "" : ": ", entry.reason,
                                               ")"));
  };
  if (version.empty()) {
    if (entry.versions.empty()) return not_ready();
    return entry.versions.rbegin()->second;
  }
  int64_t number = 0;
  if (!absl::SimpleAtoi(version, &number) || number < 1) {
    return absl::NotFoundError(absl::StrCat("model '", model, "' has no version '", version,
                                            "': versions are positive integers"));
  }
  auto found = entry.versions.find(number);
  if (found != entry.versions.end()) return found->second;
  auto failed = entry.failed_versions.find(number);
  if (failed != entry.failed_versions.end()) {
    return absl::UnavailableError(absl::StrCat("model '", model, "' version ", number,
                                               " is not available: ", failed->second));
  }
  if (entry.versions.empty()) return not_ready();
  return absl::NotFoundError(
      absl::StrCat("model '", model, "' has no version ", number,
                   " loaded; serving versions: ", VersionList(entry.versions)));
}

absl::StatusOr<std::vector<int64_t>> ModelRepository::ServingVersions(
    const std::string& model) const {
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<Servable> latest, Find(model, ""));
  (void)latest;
  std::vector<int64_t> versions;
  for (const auto& [v, servable] : CurrentVersions(model)) versions.push_back(v);
  return versions;
}

absl::StatusOr<std::shared_ptr<const Model>> ModelRepository::Fp32Reference(
    const std::string& model) const {
  // Only the engine model leaves the lock, never a Servable reference: the caller (the shadow
  // runner's thread) must not end up owning, and so shutting down, a retired version.
  absl::ReaderMutexLock lock(&mu_);
  auto it = models_.find(model);
  if (it != models_.end()) {
    for (auto v = it->second.versions.rbegin(); v != it->second.versions.rend(); ++v) {
      if (v->second->precision() == "fp32") return v->second->model();
    }
  }
  return absl::NotFoundError(absl::StrCat("model '", model, "' serves no FP32 version"));
}

std::vector<ModelRepository::IndexEntry> ModelRepository::Index(bool ready_only) const {
  // Listed before taking the lock: no file system access under mu_.
  absl::StatusOr<std::vector<std::string>> on_disk = ListModels(options_.root);
  std::set<std::string> names;
  if (on_disk.ok()) names.insert(on_disk->begin(), on_disk->end());
  std::vector<IndexEntry> index;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [name, entry] : models_) names.insert(name);
  for (const std::string& name : names) {
    auto it = models_.find(name);
    if (it == models_.end()) {
      if (!ready_only) index.push_back({name, "", kUnavailable, "not loaded"});
      continue;
    }
    const ModelEntry& entry = it->second;
    std::set<int64_t> versions;
    for (const auto& [v, servable] : entry.versions) versions.insert(v);
    for (const auto& [v, why] : entry.failed_versions) versions.insert(v);
    if (versions.empty() && !ready_only) {
      index.push_back({name, "", entry.state, entry.reason});
    }
    for (int64_t v : versions) {
      const bool serving = entry.versions.count(v) > 0;
      if (ready_only && !serving) continue;
      auto failed = entry.failed_versions.find(v);
      std::string reason = failed == entry.failed_versions.end() ? "" : failed->second;
      if (serving && !reason.empty()) reason = "reload failed, still serving: " + reason;
      index.push_back({name, absl::StrCat(v), serving ? kReady : kUnavailable, reason});
    }
  }
  return index;
}

absl::StatusOr<std::vector<inference::ModelStatistics>> ModelRepository::Statistics(
    const std::string& model, const std::string& version) const {
  std::vector<std::shared_ptr<Servable>> servables;
  if (!model.empty()) {
    if (version.empty()) {
      OCTET_ASSIGN_OR_RETURN(std::shared_ptr<Servable> latest, Find(model, ""));
      (void)latest;
      for (const auto& [v, servable] : CurrentVersions(model)) servables.push_back(servable);
    } else {
      OCTET_ASSIGN_OR_RETURN(std::shared_ptr<Servable> servable, Find(model, version));
      servables.push_back(std::move(servable));
    }
  } else {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [name, entry] : models_) {
      for (const auto& [v, servable] : entry.versions) servables.push_back(servable);
    }
  }
  std::vector<inference::ModelStatistics> stats;
  for (const auto& servable : servables) stats.push_back(servable->Statistics());
  return stats;
}

}  // namespace octet::server
