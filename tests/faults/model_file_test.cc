// A model file replaced under a serving version. The loaded model lives in memory, so requests
// keep getting the loaded model's answers whatever happens to the file; a reload (RepositoryModel
// Load) then picks up a valid new file, and refuses a corrupt or truncated one with a clear
// error while the loaded version keeps serving. Files are overwritten in place (same inode,
// truncated then written, as `cp` does) and replaced by rename, the two ways operators do it.
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model.h"
#include "engine/testing/onnx_model_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/faults/fault_support.h"

namespace octet::faults {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kModel[] = "lenet";

// Another model with the example model's interface ("input" [N,1,28,28] -> "logits" [N,10]):
// one fully connected layer with its own weights, so its answers differ.
std::string OtherModelBytes() {
  testing::OnnxModelBuilder m(13);
  m.Input("input", {-1, 1, 28, 28});
  m.Node("Flatten", {"input"}, {"flat"}, "flatten");
  m.Initializer("w", testing::RandomTensor({784, 10}, /*seed=*/7, -0.01f, 0.01f));
  m.Node("MatMul", {"flat", "w"}, {"logits"}, "fc");
  m.Output("logits");
  return m.Serialize();
}

std::vector<float> LogitsOf(const std::string& model_bytes, const std::vector<float>& images) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::FromBytes(model_bytes);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  return e2e::ReferenceModel(*model).Logits(images);
}

// Writes in place: the same inode, truncated, then the new bytes.
void OverwriteInPlace(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Writes beside, then renames over: readers see the old file or the new one, whole.
void ReplaceByRename(const std::string& path, const std::string& bytes) {
  std::ofstream(path + ".new", std::ios::binary) << bytes;
  fs::rename(path + ".new", path);
}

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repository_.AddModel(kModel, e2e::LenetConfig(8, "dynamic_batching { }"));
    server_ = ServerProcess::Start(repository_.path());
    ASSERT_NE(server_, nullptr);
    client_ = e2e::MakeClient(server_->address());
    model_path_ = repository_.path() + "/" + kModel + "/1/model.onnx";
  }

  // Several requests, each answered by the model whose logits are `expected_for(images)`.
  void ExpectAnswers(const std::function<std::vector<float>(const std::vector<float>&)>& expected,
                     const std::string& what) {
    for (int seed = 0; seed < 4; ++seed) {
      const std::vector<float> images = e2e::Images(seed, 1 + seed % 3);
      absl::StatusOr<client::InferResult> result =
          client_->Infer(e2e::ClientRequest(kModel, images));
      ASSERT_TRUE(result.ok()) << what << ": " << result.status();
      e2e::ExpectSameLogits(*result->AsFloats(e2e::kOutput), expected(images), what);
    }
  }
  void ExpectOriginalAnswers(const std::string& what) {
    ExpectAnswers([this](const std::vector<float>& x) { return reference_.Logits(x); }, what);
  }

  e2e::TestRepository repository_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<client::Client> client_;
  std::string model_path_;
  e2e::ReferenceModel reference_;
};

TEST_F(ModelFileTest, CorruptReplacementsKeepTheLoadedModelServingAndReloadsFailCleanly) {
  ExpectOriginalAnswers("before");
  const std::string original = ReadWholeFile(model_path_);
  const std::vector<std::pair<std::string, std::function<void()>>> corruptions = {
      {"garbage written in place", [&] { OverwriteInPlace(model_path_, "not an onnx model"); }},
      {"truncated in place",
       [&] { OverwriteInPlace(model_path_, original.substr(0, original.size() / 2)); }},
      {"emptied in place", [&] { OverwriteInPlace(model_path_, ""); }},
      {"garbage renamed over", [&] { ReplaceByRename(model_path_, std::string(4096, '\x08')); }},
      {"removed", [&] { fs::remove(model_path_); }},
  };
  for (const auto& [what, corrupt] : corruptions) {
    SCOPED_TRACE(what);
    corrupt();
    ExpectOriginalAnswers(what + ", before a reload");
    absl::Status reload = client_->LoadModel(kModel);
    EXPECT_FALSE(reload.ok());
    EXPECT_TRUE(reload.code() == absl::StatusCode::kInvalidArgument ||
                reload.code() == absl::StatusCode::kNotFound ||
                reload.code() == absl::StatusCode::kDataLoss)
        << reload;
    EXPECT_THAT(std::string(reload.message()), HasSubstr("model.onnx")) << reload;
    EXPECT_TRUE(*client_->ModelReady(kModel, "1"));
    EXPECT_THAT(IndexedVersions(*client_, kModel), ::testing::ElementsAre("1"));
    ExpectOriginalAnswers(what + ", after the failed reload");
  }
  // The file restored: a reload succeeds and the same model serves.
  ReplaceByRename(model_path_, original);
  ASSERT_TRUE(client_->LoadModel(kModel).ok());
  ExpectOriginalAnswers("restored");
  EXPECT_EQ(::kill(server_->pid(), 0), 0) << "the server died";
}

TEST_F(ModelFileTest, AValidReplacementServesAfterTheReloadOnly) {
  ExpectOriginalAnswers("before");
  const std::string other = OtherModelBytes();
  for (bool in_place : {true, false}) {
    SCOPED_TRACE(in_place ? "in place" : "by rename");
    if (in_place) {
      OverwriteInPlace(model_path_, other);
    } else {
      ReplaceByRename(model_path_, other);
    }
    // Until the reload, the loaded model answers.
    ExpectOriginalAnswers("replaced, not reloaded");
    absl::Status reload = client_->LoadModel(kModel);
    ASSERT_TRUE(reload.ok()) << reload;
    ExpectAnswers([&](const std::vector<float>& x) { return LogitsOf(other, x); },
                  "the new model after the reload");
    // Back to the example model for the next round.
    ReplaceByRename(model_path_, ReadWholeFile(e2e::ExampleModelPath()));
    ASSERT_TRUE(client_->LoadModel(kModel).ok());
    ExpectOriginalAnswers("the example model again");
  }
}

}  // namespace
}  // namespace octet::faults
