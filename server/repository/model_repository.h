// ModelRepository: the models a server serves, loaded from a directory tree
// (repository_layout.h) and changed at run time by Load and Unload.
//
// Each model has a state (READY, UNAVAILABLE, LOADING, UNLOADING) with the reason for it, and a
// set of serving versions (Servables) chosen by its version policy. A (re)load builds the new
// set beside the old one and swaps it in under the lock, in one step, so a request sees either
// the old set or the new one; versions whose files and config did not change keep their loaded
// Servable, so a reload that only adds a version (a calibration publishing "3") leaves the others
// serving undisturbed. Servables that leave the set are shut down after the swap: their queued
// requests are answered first, so nothing accepted is lost. A model or version that fails to load
// is reported (state, reason, the returned status) and never stops the others; a version that
// fails to reload keeps its previous Servable.
//
//   OCTET_ASSIGN_OR_RETURN(auto repository, ModelRepository::Create(options));
//   absl::Status errors = repository->LoadAll();  // every model; errors listed, none fatal
//   OCTET_ASSIGN_OR_RETURN(std::shared_ptr<Servable> servable, repository->Find("m", ""));
//
// Ownership: Servables are shared with in-flight requests. The MetricsSink and clock are
// borrowed and must outlive the repository.
// Thread-safety: thread-safe. Find(), Index() and Statistics() take a short lock and never wait
// for a load. LoadAll(), Load(), Unload() and Shutdown() block while models load or drain (they
// run one at a time): call them from a thread that may wait, never from a gRPC reaction.
#ifndef OCTET_SERVER_REPOSITORY_MODEL_REPOSITORY_H_
#define OCTET_SERVER_REPOSITORY_MODEL_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "inference.pb.h"
#include "server/batching/clock.h"
#include "server/config/model_config.h"
#include "server/metrics/metrics_sink.h"
#include "server/repository/servable.h"

namespace octet::server {

struct ModelRepositoryOptions {
  // The repository directory.
  std::string root;
  ConfigDefaults defaults;
  MetricsSink* metrics = nullptr;                    // not owned; never null
  batching::Clock* clock = batching::Clock::Real();  // not owned; never null
  // Where INT8 and mixed versions send the share of answers their config's shadow_fraction
  // asks to compare with FP32 (not owned; must outlive the repository). Null: no shadowing.
  ShadowRunner* shadow = nullptr;
  // Where load and unload outcomes are reported, one line each; empty: standard error.
  std::function<void(const std::string&)> log;
};

class ModelRepository {
 public:
  // The states of RepositoryIndex, as Triton names them.
  static constexpr char kReady[] = "READY";
  static constexpr char kUnavailable[] = "UNAVAILABLE";
  static constexpr char kLoading[] = "LOADING";
  static constexpr char kUnloading[] = "UNLOADING";

  struct IndexEntry {
    std::string name;
    std::string version;  // empty for a model-level entry
    std::string state;
    std::string reason;
  };

  // NOT_FOUND when `root` is not a directory. Loads nothing yet.
  static absl::StatusOr<std::unique_ptr<ModelRepository>> Create(ModelRepositoryOptions options);

  // Shutdown().
  ~ModelRepository();
  ModelRepository(const ModelRepository&) = delete;
  ModelRepository& operator=(const ModelRepository&) = delete;

  // Loads every model directory. Returns OK, or an error listing every model that failed.
  absl::Status LoadAll();
  // Loads or reloads one model (config and versions are read again). Errors: INVALID_ARGUMENT
  // for a bad name, NOT_FOUND when it has no directory, else the first failure's code with every
  // failure listed; versions that did load serve anyway.
  absl::Status Load(const std::string& model);
  // Stops serving the model; returns once its queued requests are answered. NOT_FOUND for a
  // model never loaded.
  absl::Status Unload(const std::string& model);
  // Unloads everything and refuses later loads (UNAVAILABLE). Idempotent.
  void Shutdown();

  // The servable for a request. `version` empty: the highest serving version. NOT_FOUND for an
  // unknown model or a version that is not loaded; UNAVAILABLE for a model that is not ready
  // (failed to load, unloaded, loading), with the reason.
  absl::StatusOr<std::shared_ptr<Servable>> Find(const std::string& model,
                                                 const std::string& version) const;
  // Serving versions of a model, ascending (as Find()'s errors for the model itself).
  absl::StatusOr<std::vector<int64_t>> ServingVersions(const std::string& model) const;
  // The engine model of the highest serving FP32 version of `model`: the reference shadow runs
  // compare INT8 answers with. NOT_FOUND when it serves none.
  absl::StatusOr<std::shared_ptr<const Model>> Fp32Reference(const std::string& model) const;
  // Every model on disk or known, one entry per serving or failed version, or one per model
  // when it has none; `ready_only` keeps READY entries.
  std::vector<IndexEntry> Index(bool ready_only) const;
  // ModelStatistics of serving versions; empty `model` means all, empty `version` all versions.
  // NOT_FOUND when a named model or version is not serving.
  absl::StatusOr<std::vector<inference::ModelStatistics>> Statistics(
      const std::string& model, const std::string& version) const;

  const std::string& root() const { return options_.root; }

 private:
  using VersionSet = std::map<int64_t, std::shared_ptr<Servable>>;

  struct ModelEntry {
    std::string state = kUnavailable;
    std::string reason;
    VersionSet versions;                             // serving
    std::map<int64_t, std::string> failed_versions;  // version -> why
  };

  explicit ModelRepository(ModelRepositoryOptions options);

  // REQUIRES: control_mu_ is held.
  absl::Status LoadLocked(const std::string& model) ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  // Sets a model's state and reason. REQUIRES: mu_ is not held.
  void SetState(const std::string& model, const std::string& state, const std::string& reason)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The current serving set (a copy). REQUIRES: mu_ is not held.
  VersionSet CurrentVersions(const std::string& model) const ABSL_LOCKS_EXCLUDED(mu_);
  // Shuts down servables that left a set and tells the metrics sink they are gone.
  void Retire(const std::vector<std::shared_ptr<Servable>>& servables);

  // Constant after construction.
  const ModelRepositoryOptions options_;

  // Serializes loads, unloads and shutdown; held while models load or drain.
  absl::Mutex control_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool shut_down_ ABSL_GUARDED_BY(control_mu_) = false;

  // State below is protected by mu_, which is only held briefly.
  mutable absl::Mutex mu_;
  std::map<std::string, ModelEntry> models_ ABSL_GUARDED_BY(mu_);
};

}  // namespace octet::server

#endif  // OCTET_SERVER_REPOSITORY_MODEL_REPOSITORY_H_
