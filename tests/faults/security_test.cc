// The control plane and the file system, against the octet-server binary:
//  - with --admin-token-file, RepositoryModelLoad, RepositoryModelUnload and Calibrate without
//    the token or with a wrong one get UNAUTHENTICATED and change nothing (no model loaded or
//    unloaded, no version published), while inference and the read-only RPCs need no token;
//  - the server reads only inside the directories the operator allowed: model names with "..",
//    "/" or a leading "." are refused, a model directory, version directory or file that is a
//    symbolic link leading outside the repository is refused (links that stay inside it are
//    followed, as Triton does), and server-side calibration data sets are read only from inside
//    --dataset-root ("..", absolute paths, links out, and an IDX labels file beside the images
//    that links out, are all refused).
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/faults/fault_support.h"

namespace octet::faults {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kModel[] = "lenet";
constexpr char kToken[] = "s3cret-admin-token";

std::string ModelState(const client::Client& client, const std::string& model) {
  absl::StatusOr<inference::RepositoryIndexResponse> index = client.RepositoryIndex();
  if (!index.ok()) return index.status().ToString();
  for (const auto& entry : index->models()) {
    if (entry.name() == model) return entry.state();
  }
  return "absent";
}

std::string ModelReason(const client::Client& client, const std::string& model) {
  absl::StatusOr<inference::RepositoryIndexResponse> index = client.RepositoryIndex();
  if (!index.ok()) return "";
  for (const auto& entry : index->models()) {
    if (entry.name() == model) return entry.reason();
  }
  return "";
}

TEST(AdminTokenTest, ControlRpcsWithoutTheRightTokenAreRefusedAndChangeNothing) {
  e2e::TestRepository repository;
  repository.AddModel(kModel, e2e::LenetConfig(8, "version_policy { all { } }"));
  e2e::TempDir secrets;
  e2e::WriteFile(secrets.path() + "/token", std::string(kToken) + "\n");
  std::unique_ptr<ServerProcess> server =
      ServerProcess::Start(repository.path(), {"--admin-token-file", secrets.path() + "/token"});
  ASSERT_NE(server, nullptr);
  // A model added after the start, not loaded yet: a refused Load must not load it.
  repository.AddModel("later", e2e::LenetConfig(8));
  const std::string model_dir = repository.path() + "/" + kModel;

  for (const std::string token :
       {"", "wrong", "s3cret-admin-token-but-longer", "S3CRET-ADMIN-TOKEN"}) {
    SCOPED_TRACE("token '" + token + "'");
    std::unique_ptr<client::Client> client = e2e::MakeClient(server->address(), token);
    absl::Status unload = client->UnloadModel(kModel);
    EXPECT_EQ(unload.code(), absl::StatusCode::kUnauthenticated) << unload;
    absl::Status load = client->LoadModel("later");
    EXPECT_EQ(load.code(), absl::StatusCode::kUnauthenticated) << load;
    absl::StatusOr<v1::CalibrationReport> report =
        client->Calibrate(LenetSpec(kModel, 64), {LenetSamples(1, 64)}, nullptr);
    EXPECT_EQ(report.status().code(), absl::StatusCode::kUnauthenticated) << report.status();
    // Nothing changed; inference and the read-only RPCs work without a token.
    EXPECT_TRUE(*client->ModelReady(kModel));
    EXPECT_FALSE(client->ModelReady("later").value_or(false));
    EXPECT_THAT(IndexedVersions(*client, kModel), ElementsAre("1"));
    EXPECT_THAT(DirEntries(model_dir), ElementsAre("1", "config.pbtxt"));
    EXPECT_TRUE(client->Infer(e2e::ClientRequest(kModel, e2e::Images(1))).ok());
    EXPECT_TRUE(client->ModelStatistics(kModel).ok());
  }
  // With the token, each of them works.
  std::unique_ptr<client::Client> admin = e2e::MakeClient(server->address(), kToken);
  ASSERT_TRUE(admin->LoadModel("later").ok());
  EXPECT_TRUE(*admin->ModelReady("later"));
  absl::StatusOr<v1::CalibrationReport> report =
      admin->Calibrate(LenetSpec(kModel, 64), {LenetSamples(1, 64)}, nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->published_version(), "2");
  ASSERT_TRUE(admin->UnloadModel(kModel).ok());
  EXPECT_FALSE(*admin->ModelReady(kModel));
}

class PathPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repository_.AddModel(kModel, e2e::LenetConfig(8));
    // A whole valid model outside the repository, beside it and elsewhere.
    outside_model_ = outside_.path() + "/model";
    e2e::WriteFile(outside_model_ + "/config.pbtxt", e2e::LenetConfig(8));
    fs::create_directories(outside_model_ + "/1");
    fs::copy_file(e2e::ExampleModelPath(), outside_model_ + "/1/model.onnx");
  }

  void Start() {
    server_ = ServerProcess::Start(repository_.path());
    ASSERT_NE(server_, nullptr);
    client_ = e2e::MakeClient(server_->address());
  }

  // A model directory inside the repository, with a config, whose version 1 is `version_dir`
  // (a link when `link_version`) and whose model file is a link when `link_file`.
  void AddModelWithLinks(const std::string& name, bool link_config, bool link_version,
                         bool link_file) {
    const std::string dir = repository_.path() + "/" + name;
    fs::create_directories(dir);
    if (link_config) {
      fs::create_symlink(outside_model_ + "/config.pbtxt", dir + "/config.pbtxt");
    } else {
      e2e::WriteFile(dir + "/config.pbtxt", e2e::LenetConfig(8));
    }
    if (link_version) {
      fs::create_directory_symlink(outside_model_ + "/1", dir + "/1");
      return;
    }
    fs::create_directories(dir + "/1");
    if (link_file) {
      fs::create_symlink(outside_model_ + "/1/model.onnx", dir + "/1/model.onnx");
    } else {
      fs::copy_file(e2e::ExampleModelPath(), dir + "/1/model.onnx");
    }
  }

  e2e::TestRepository repository_;
  e2e::TempDir outside_;
  std::string outside_model_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<client::Client> client_;
};

TEST_F(PathPolicyTest, ModelNamesThatLeaveTheRepositoryAreRefused) {
  Start();
  for (const std::string& name :
       std::vector<std::string>{"../sibling", "..", ".", "", "/etc", "lenet/../../sibling",
                                "lenet/1", ".hidden", outside_model_, std::string("lenet\0x", 7)}) {
    SCOPED_TRACE("name '" + name + "'");
    absl::Status load = client_->LoadModel(name);
    EXPECT_EQ(load.code(), absl::StatusCode::kInvalidArgument) << load;
    absl::Status unload = client_->UnloadModel(name);
    EXPECT_NE(unload.code(), absl::StatusCode::kOk) << unload;
  }
  absl::StatusOr<inference::RepositoryIndexResponse> index = client_->RepositoryIndex();
  ASSERT_TRUE(index.ok());
  ASSERT_EQ(index->models_size(), 1);
  EXPECT_EQ(index->models(0).name(), kModel);
  EXPECT_TRUE(client_->Infer(e2e::ClientRequest(kModel, e2e::Images(1))).ok());
}

TEST_F(PathPolicyTest, LinksLeadingOutsideTheRepositoryAreRefusedLinksInsideAreFollowed) {
  fs::create_directory_symlink(outside_model_, repository_.path() + "/linked-model");
  AddModelWithLinks("linked-config", /*link_config=*/true, false, false);
  AddModelWithLinks("linked-version", false, /*link_version=*/true, false);
  AddModelWithLinks("linked-file", false, false, /*link_file=*/true);
  // Links that stay inside the repository: another name for a model directory, and a version
  // directory shared with another model.
  fs::create_directory_symlink(repository_.path() + "/" + kModel, repository_.path() + "/alias");
  e2e::WriteFile(repository_.path() + "/shared-version/config.pbtxt", e2e::LenetConfig(8));
  fs::create_directory_symlink(repository_.path() + "/" + kModel + "/1",
                               repository_.path() + "/shared-version/1");
  Start();

  for (const std::string name :
       {"linked-model", "linked-config", "linked-version", "linked-file"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(ModelState(*client_, name), "UNAVAILABLE");
    EXPECT_THAT(ModelReason(*client_, name), HasSubstr("outside the model repository"));
    absl::Status load = client_->LoadModel(name);
    EXPECT_EQ(load.code(), absl::StatusCode::kPermissionDenied) << load;
    EXPECT_THAT(std::string(load.message()), HasSubstr("outside the model repository"));
    absl::Status infer = client_->Infer(e2e::ClientRequest(name, e2e::Images(1))).status();
    EXPECT_FALSE(infer.ok());
    // The calibration report reader keeps out too.
    e2e::WriteFile(outside_model_ + "/1/calibration_report.pbtxt", "published_version: \"1\"\n");
    EXPECT_FALSE(client_->GetCalibrationReport(name, "1").ok());
    fs::remove(outside_model_ + "/1/calibration_report.pbtxt");
  }
  for (const std::string name : {kModel, "alias", "shared-version"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(ModelState(*client_, name), "READY");
    EXPECT_TRUE(client_->Infer(e2e::ClientRequest(name, e2e::Images(1))).ok());
  }
}

// Writes a tiny IDX image file (n images of 28x28) and its labels.
void WriteIdx(const std::string& images_path, const std::string& labels_path, int n) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  std::string images = std::string("\0\0\x08\x03", 4) + be32(n) + be32(28) + be32(28);
  for (int i = 0; i < n * 28 * 28; ++i) images.push_back(static_cast<char>(i * 7 % 256));
  e2e::WriteFile(images_path, images);
  std::string labels = std::string("\0\0\x08\x01", 4) + be32(n);
  for (int i = 0; i < n; ++i) labels.push_back(static_cast<char>(i % 10));
  e2e::WriteFile(labels_path, labels);
}

TEST_F(PathPolicyTest, ServerSideDataSetsStayInsideTheDatasetRoot) {
  e2e::TempDir root;
  WriteIdx(root.path() + "/good-images-idx3-ubyte", root.path() + "/good-labels-idx1-ubyte", 64);
  WriteIdx(outside_.path() + "/secret-images-idx3-ubyte",
           outside_.path() + "/secret-labels-idx1-ubyte", 64);
  fs::create_symlink(outside_.path() + "/secret-images-idx3-ubyte", root.path() + "/link-images");
  fs::create_directory_symlink(outside_.path(), root.path() + "/outside-dir");
  // Images inside the root whose labels (found beside them by the MNIST naming convention) are
  // a link out of it.
  WriteIdx(root.path() + "/sneaky-images-idx3-ubyte", root.path() + "/unused", 64);
  fs::create_symlink(outside_.path() + "/secret-labels-idx1-ubyte",
                     root.path() + "/sneaky-labels-idx1-ubyte");
  server_ = ServerProcess::Start(repository_.path(), {"--dataset-root", root.path()});
  ASSERT_NE(server_, nullptr);
  client_ = e2e::MakeClient(server_->address());

  for (const std::string& dataset : std::vector<std::string>{
           "idx:../" + fs::path(outside_.path()).filename().string() + "/secret-images-idx3-ubyte",
           "idx:" + outside_.path() + "/secret-images-idx3-ubyte", "idx:link-images",
           "idx:outside-dir/secret-images-idx3-ubyte",
           "idx:good-images-idx3-ubyte:../secret-labels-idx1-ubyte",
           "idx:sneaky-images-idx3-ubyte"}) {
    SCOPED_TRACE(dataset);
    v1::CalibrationSpec spec = LenetSpec(kModel, 64);
    spec.set_server_dataset(dataset);
    absl::StatusOr<v1::CalibrationReport> report = client_->Calibrate(spec, {}, nullptr);
    EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied) << report.status();
  }
  EXPECT_THAT(DirEntries(repository_.path() + "/" + kModel), ElementsAre("1", "config.pbtxt"));
  // Inside the root, the same calibration works.
  v1::CalibrationSpec spec = LenetSpec(kModel, 64);
  spec.set_server_dataset("idx:good-images-idx3-ubyte");
  absl::StatusOr<v1::CalibrationReport> report = client_->Calibrate(spec, {}, nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->published_version(), "2");
}

}  // namespace
}  // namespace octet::faults
