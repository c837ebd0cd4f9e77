#include "server/repository/model_repository.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"
#include "engine/calibration/calibration_table.h"
#include "engine/calibration/calibrator.h"
#include "engine/calibration/model_digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/repository/repository_layout.h"
#include "tests/support/temp_dir.h"

namespace octet::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kLenet =
    std::string(OCTET_SOURCE_DIR) + "/examples/models/fashion-lenet/1/model.onnx";
constexpr char kLenetConfig[] = R"pb(
  max_batch_size: 8 input
  [ {
    name: "input"
    data_type: TYPE_FP32
    dims: [ 1, 28, 28 ]
  }] output
  [ {
    name: "logits"
    data_type: TYPE_FP32
    dims: [ 10 ]
  }]
  dynamic_batching { max_queue_size: 16 }
)pb";

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// <root>/<model>/config.pbtxt and a copy of the example model as each of `versions`.
void AddModel(const std::string& root, const std::string& model, const std::string& config,
              const std::vector<int>& versions) {
  WriteFile(absl::StrCat(root, "/", model, "/config.pbtxt"), config);
  for (int v : versions) {
    const std::string dir = absl::StrCat(root, "/", model, "/", v);
    fs::create_directories(dir);
    fs::copy_file(kLenet, dir + "/model.onnx", fs::copy_options::overwrite_existing);
  }
}

class ModelRepositoryTest : public ::testing::Test {
 protected:
  std::unique_ptr<ModelRepository> MakeRepository() {
    ModelRepositoryOptions options;
    options.root = dir_.path();
    options.metrics = &metrics_;
    options.defaults.cpu_cores = 1;
    options.log = [this](const std::string& line) { log_.push_back(line); };
    auto repository = ModelRepository::Create(options);
    EXPECT_TRUE(repository.ok()) << repository.status();
    return repository.ok() ? std::move(*repository) : nullptr;
  }

  const std::string& root() const { return dir_.path(); }

  test::TempDir dir_;
  NoopMetricsSink metrics_;
  std::vector<std::string> log_;
};

TEST(RepositoryLayoutTest, VersionsAreNumberedDirectoriesHiddenOnesIgnored) {
  test::TempDir dir;
  for (const char* name : {"1", "2", "10", "0", "01", "abc", ".3.tmp", "-4"}) {
    fs::create_directories(dir.path() + "/" + name);
  }
  WriteFile(dir.path() + "/5", "a file, not a version");
  auto versions = ListVersions(dir.path());
  ASSERT_TRUE(versions.ok());
  EXPECT_THAT(*versions, ElementsAre(1, 2, 10));
  EXPECT_EQ(ListVersions(dir.path() + "/none").status().code(), absl::StatusCode::kNotFound);
}

TEST(RepositoryLayoutTest, VersionPolicies) {
  const std::vector<int64_t> available = {1, 2, 5};
  v1::ModelVersionPolicy policy;
  EXPECT_THAT(SelectVersions(policy, available).versions, ElementsAre(5));
  policy.mutable_latest()->set_num_versions(2);
  EXPECT_THAT(SelectVersions(policy, available).versions, ElementsAre(2, 5));
  policy.mutable_latest()->set_num_versions(9);
  EXPECT_THAT(SelectVersions(policy, available).versions, ElementsAre(1, 2, 5));
  policy.mutable_all();
  EXPECT_THAT(SelectVersions(policy, available).versions, ElementsAre(1, 2, 5));
  policy.mutable_specific()->add_versions(5);
  policy.mutable_specific()->add_versions(3);
  policy.mutable_specific()->add_versions(1);
  VersionSelection selection = SelectVersions(policy, available);
  EXPECT_THAT(selection.versions, ElementsAre(1, 5));
  ASSERT_EQ(selection.missing.size(), 1u);
  EXPECT_THAT(selection.missing.at(3), HasSubstr("does not exist"));
  EXPECT_TRUE(SelectVersions(v1::ModelVersionPolicy(), {}).versions.empty());
}

TEST(RepositoryLayoutTest, ModelNamesCannotLeaveTheRepository) {
  EXPECT_TRUE(CheckModelName("fashion-lenet").ok());
  for (const char* bad : {"", "..", ".", "a/b", "../etc", ".hidden"}) {
    EXPECT_EQ(CheckModelName(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(ModelRepositoryTest, MissingRootIsAnError) {
  ModelRepositoryOptions options;
  options.root = root() + "/nope";
  options.metrics = &metrics_;
  EXPECT_EQ(ModelRepository::Create(options).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelRepositoryTest, BadModelsAreReportedAndDoNotStopTheOthers) {
  AddModel(root(), "good", kLenetConfig, {1});
  AddModel(root(), "bad-config", "max_batch_size: [\n", {1});
  AddModel(root(), "no-versions", kLenetConfig, {});
  AddModel(root(), "bad-model", kLenetConfig, {});
  WriteFile(root() + "/bad-model/1/model.onnx", "not an onnx file");
  AddModel(root(), "wrong-input",
           "max_batch_size: 8 input [ { name: \"image\" data_type: TYPE_FP32 dims: 1 } ]", {1});
  AddModel(root(), "int8-uncalibrated",
           std::string(kLenetConfig) + "optimization { precision: PRECISION_INT8 }", {1});
  auto repository = MakeRepository();

  absl::Status status = repository->LoadAll();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("5 of 6 models failed to load"));

  auto good = repository->Find("good", "");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ((*good)->version(), 1);
  EXPECT_EQ((*good)->precision(), "fp32");

  auto expect_unavailable = [&](const std::string& model, const std::string& why) {
    auto found = repository->Find(model, "");
    EXPECT_EQ(found.status().code(), absl::StatusCode::kUnavailable) << model;
    EXPECT_THAT(std::string(found.status().message()), HasSubstr(why)) << model;
  };
  expect_unavailable("bad-config", "config.pbtxt: line 1");
  expect_unavailable("no-versions", "has no version directories");
  expect_unavailable("bad-model", "model 'bad-model' version 1");
  expect_unavailable("wrong-input", "input 'image' is not an input of the model");
  expect_unavailable("int8-uncalibrated",
                     "PRECISION_INT8 but the version has no "
                     "calibration.table; calibrate it first");
  EXPECT_EQ(repository->Find("nope", "").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(repository->Find("", "").status().code(), absl::StatusCode::kInvalidArgument);

  std::vector<ModelRepository::IndexEntry> index = repository->Index(/*ready_only=*/false);
  ASSERT_EQ(index.size(), 6u);
  for (const auto& entry : index) {
    if (entry.name == "good") {
      EXPECT_EQ(entry.state, "READY");
      EXPECT_EQ(entry.version, "1");
    } else {
      EXPECT_EQ(entry.state, "UNAVAILABLE") << entry.name;
      EXPECT_FALSE(entry.reason.empty()) << entry.name;
    }
  }
  ASSERT_EQ(repository->Index(/*ready_only=*/true).size(), 1u);
  EXPECT_EQ(log_.size(), 6u);
}

TEST_F(ModelRepositoryTest, ModelWarmupRunsAtLoadAndABadOneFailsTheLoad) {
  const std::string warmup = R"pb(
    model_warmup {
      name: "w"
      batch_size: 5
      count: 2
      inputs {
        key: "INPUT"
        value {
          data_type: TYPE_FP32
          dims: [ 1, 28, 28 ]
          random_data: true
        }
      }
    }
  )pb";
  AddModel(root(), "warm", kLenetConfig + absl::StrReplaceAll(warmup, {{"INPUT", "input"}}), {1});
  AddModel(root(), "warm-bad", kLenetConfig + absl::StrReplaceAll(warmup, {{"INPUT", "image"}}),
           {1});
  auto repository = MakeRepository();
  absl::Status status = repository->LoadAll();
  EXPECT_THAT(std::string(status.message()), HasSubstr("1 of 2 models failed to load"));

  auto warm = repository->Find("warm", "");
  ASSERT_TRUE(warm.ok()) << warm.status();
  // Warm-up runs are not requests: the statistics start at zero.
  EXPECT_EQ((*warm)->Statistics().inference_count(), 0u);
  EXPECT_EQ((*warm)->Statistics().execution_count(), 0u);

  auto bad = repository->Find("warm-bad", "");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("model_warmup 'w': 'image' is not a model input"));
}

TEST_F(ModelRepositoryTest, VersionPolicyChoosesWhatServes) {
  AddModel(root(), "m", std::string(kLenetConfig) + "version_policy { latest { num_versions: 2 } }",
           {1, 2, 3});
  AddModel(root(), "s",
           std::string(kLenetConfig) + "version_policy { specific { versions: [1, 4] } }", {1, 2});
  auto repository = MakeRepository();
  EXPECT_FALSE(repository->LoadAll().ok());  // s asks for a version 4 that does not exist

  EXPECT_THAT(*repository->ServingVersions("m"), ElementsAre(2, 3));
  EXPECT_EQ((*repository->Find("m", ""))->version(), 3);
  EXPECT_EQ((*repository->Find("m", "2"))->version(), 2);
  auto v1 = repository->Find("m", "1");
  EXPECT_EQ(v1.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(v1.status().message()), HasSubstr("serving versions: 2, 3"));
  EXPECT_EQ(repository->Find("m", "x").status().code(), absl::StatusCode::kNotFound);

  EXPECT_THAT(*repository->ServingVersions("s"), ElementsAre(1));
  auto v4 = repository->Find("s", "4");
  EXPECT_EQ(v4.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(v4.status().message()), HasSubstr("listed in version_policy.specific"));
}

TEST_F(ModelRepositoryTest, ReloadKeepsUnchangedVersionsAndPublishesNewOnes) {
  AddModel(root(), "m", std::string(kLenetConfig) + "version_policy { latest { num_versions: 2 } }",
           {1, 2});
  auto repository = MakeRepository();
  ASSERT_TRUE(repository->LoadAll().ok());
  std::shared_ptr<Servable> v1 = *repository->Find("m", "1");
  std::shared_ptr<Servable> v2 = *repository->Find("m", "2");

  // Publish version 3 the way a calibration would: written hidden, then renamed.
  AddModel(root(), "m", std::string(kLenetConfig) + "version_policy { latest { num_versions: 2 } }",
           {});
  fs::create_directories(root() + "/m/.3.tmp");
  fs::copy_file(kLenet, root() + "/m/.3.tmp/model.onnx");
  EXPECT_THAT(*ListVersions(root() + "/m"), ElementsAre(1, 2));
  fs::rename(root() + "/m/.3.tmp", root() + "/m/3");
  ASSERT_TRUE(repository->Load("m").ok());

  EXPECT_THAT(*repository->ServingVersions("m"), ElementsAre(2, 3));
  EXPECT_EQ(*repository->Find("m", "2"), v2);  // the same servable: not reloaded
  // Version 1 left the set and was shut down: it refuses new work.
  std::unique_ptr<InferTask> task =
      std::make_unique<InferTask>(DecodedRequest{}, nullptr, absl::Now(), absl::InfiniteFuture());
  EXPECT_EQ(v1->Schedule(&task).code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(task, nullptr);
}

TEST_F(ModelRepositoryTest, FailedReloadKeepsServingThePreviousVersions) {
  AddModel(root(), "m", kLenetConfig, {1});
  auto repository = MakeRepository();
  ASSERT_TRUE(repository->LoadAll().ok());
  WriteFile(root() + "/m/config.pbtxt", "max_batch_size: -3");
  EXPECT_EQ(repository->Load("m").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(repository->Find("m", "").ok());
  std::vector<ModelRepository::IndexEntry> index = repository->Index(false);
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index[0].state, "READY");
}

TEST_F(ModelRepositoryTest, UnloadThenLoadAgain) {
  AddModel(root(), "m", kLenetConfig, {1});
  auto repository = MakeRepository();
  ASSERT_TRUE(repository->LoadAll().ok());
  EXPECT_EQ(repository->Unload("other").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(repository->Unload("m").ok());
  auto found = repository->Find("m", "");
  EXPECT_EQ(found.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(found.status().message()), HasSubstr("UNAVAILABLE: unloaded"));
  ASSERT_TRUE(repository->Load("m").ok());
  EXPECT_TRUE(repository->Find("m", "1").ok());
  EXPECT_EQ(repository->Load("../m").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(repository->Load("absent").code(), absl::StatusCode::kNotFound);
  repository->Shutdown();
  EXPECT_EQ(repository->Load("m").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(repository->Find("m", "").status().code(), absl::StatusCode::kUnavailable);
}

// A calibration table beside model.onnx makes the version INT8; a report's plan with a node in
// FP32 makes it mixed; a table made for other bytes is refused.
TEST_F(ModelRepositoryTest, CalibratedVersionsServeInt8OrMixed) {
  AddModel(root(), "q", std::string(kLenetConfig) + "version_policy { all { } }", {1, 2, 3});
  auto fp32 = Model::Load(kLenet);
  ASSERT_TRUE(fp32.ok());
  Tensor batch(DataType::kFloat32, {8, 1, 28, 28});
  std::mt19937 rng(7);
  for (int64_t i = 0; i < batch.num_elements(); ++i) batch.data<float>()[i] = rng() % 256;
  calibration::CalibrationOptions calibration_options;
  calibration_options.threads = 1;
  auto table = calibration::Calibrate(**fp32, {batch}, calibration_options);
  ASSERT_TRUE(table.ok()) << table.status();
  table->model_digest = *calibration::FileDigest(kLenet);
  for (int v : {1, 2}) {
    ASSERT_TRUE(
        calibration::Save(*table, absl::StrCat(root(), "/q/", v, "/calibration.table")).ok());
  }
  const std::string node = PrecisionPlan::AllInt8((*fp32)->graph()).nodes.begin()->first;
  WriteFile(root() + "/q/2/calibration_report.pbtxt",
            absl::StrCat("plan { key: \"", node, "\" value: \"fp32\" }"));
  table->model_digest = "sha256:" + std::string(64, '0');
  ASSERT_TRUE(calibration::Save(*table, root() + "/q/3/calibration.table").ok());

  auto repository = MakeRepository();
  absl::Status status = repository->LoadAll();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("version 3"));
  EXPECT_EQ((*repository->Find("q", "1"))->precision(), "int8");
  EXPECT_EQ((*repository->Find("q", "1"))->key().precision, "int8");
  EXPECT_EQ((*repository->Find("q", "2"))->precision(), "mixed");
  EXPECT_EQ(repository->Find("q", "3").status().code(), absl::StatusCode::kUnavailable);
  auto stats = repository->Statistics("q", "");
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 2u);
  EXPECT_GT((*stats)[0].memory_usage(0).byte_size(), 0u);
  EXPECT_THAT(repository->Statistics("", "")->size(), 2u);
  EXPECT_EQ(repository->Statistics("q", "3").status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace octet::server
