// The octet-server process killed with SIGKILL in the middle of a calibration, then restarted
// on the same repository: the versions it served before serve again, the version being
// calibrated never appears (not in RepositoryIndex, not as a directory), and the hidden
// directory a publication leaves when it dies half-written is ignored, then removed by the next
// calibration, which publishes a whole version under the number the dead one would have used.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/faults/fault_support.h"

namespace octet::faults {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

constexpr char kModel[] = "lenet";

// Every version on disk serves (version 1 stays beside the calibrated ones).
std::string AllVersionsConfig() {
  return e2e::LenetConfig(8, "dynamic_batching { }\nversion_policy { all { } }");
}

void ExpectServesVersion(const client::Client& client, const std::string& version,
                         const e2e::ReferenceModel& reference) {
  client::InferRequest request = e2e::ClientRequest(kModel, e2e::Images(5));
  request.version = version;
  absl::StatusOr<client::InferResult> result = client.Infer(request);
  ASSERT_TRUE(result.ok()) << "version " << version << ": " << result.status();
  EXPECT_EQ(result->model_version, version);
  if (version == "1") {
    e2e::ExpectSameLogits(*result->AsFloats(e2e::kOutput), reference.Logits(e2e::Images(5)),
                          "version 1 after the restart");
  }
}

TEST(CrashRecoveryTest, KillDuringCalibrationLeavesOnlyWholeVersions) {
  e2e::TestRepository repository;
  repository.AddModel(kModel, AllVersionsConfig());
  const std::string model_dir = repository.path() + "/" + kModel;
  e2e::ReferenceModel reference;

  std::unique_ptr<ServerProcess> server = ServerProcess::Start(repository.path());
  ASSERT_NE(server, nullptr);
  std::unique_ptr<client::Client> client = e2e::MakeClient(server->address());
  ExpectServesVersion(*client, "1", reference);

  // A calibration with enough samples (4000 observed, 4000 validation, mixed precision with no
  // tolerance) that it is still observing or evaluating when the first progress message past
  // RECEIVING arrives; the server is killed right then, from the progress callback.
  v1::CalibrationSpec spec = LenetSpec(kModel, 4000);
  spec.set_precision(v1::PRECISION_MIXED);
  spec.set_tolerance(0.0);
  std::vector<v1::CalibrationSample> samples;
  for (int chunk = 0; chunk < 16; ++chunk) {
    samples.push_back(LenetSamples(
        chunk, 500,
        chunk < 8 ? v1::CalibrationSample::CALIBRATION : v1::CalibrationSample::VALIDATION));
  }
  std::atomic<int> killed_in_phase{0};
  const pid_t pid = server->pid();
  absl::StatusOr<v1::CalibrationReport> report =
      client->Calibrate(spec, samples, [&](const v1::CalibrationProgress& progress) {
        if (progress.phase() > v1::CalibrationProgress::RECEIVING && killed_in_phase == 0) {
          killed_in_phase = progress.phase();
          ::kill(pid, SIGKILL);
        }
      });
  ASSERT_NE(killed_in_phase.load(), 0)
      << "the calibration never got past RECEIVING: " << report.status();
  EXPECT_FALSE(report.ok());
  const int status = server->process().Wait();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  std::printf("killed in phase %s\n",
              v1::CalibrationProgress::Phase_Name(killed_in_phase.load()).c_str());
  EXPECT_TRUE(killed_in_phase == v1::CalibrationProgress::OBSERVING ||
              killed_in_phase == v1::CalibrationProgress::QUANTIZING ||
              killed_in_phase == v1::CalibrationProgress::EVALUATING ||
              killed_in_phase == v1::CalibrationProgress::FALLBACK)
      << v1::CalibrationProgress::Phase_Name(killed_in_phase.load());

  // Nothing but version 1 on disk (a publication killed half-way would leave a hidden
  // ".calibrating-*" directory, never a numbered one).
  for (const std::string& entry : DirEntries(model_dir)) {
    EXPECT_TRUE(entry == "1" || entry == "config.pbtxt" || absl::StartsWith(entry, ".calibrating-"))
        << entry;
  }
  // What a SIGKILL during PUBLISHING leaves behind, planted here because the kill above cannot be
  // timed to land inside the few milliseconds of writing: a hidden directory with a truncated
  // model and no table.
  const std::string abandoned = model_dir + "/.calibrating-2-999999";
  e2e::WriteFile(abandoned + "/model.onnx", ReadWholeFile(e2e::ExampleModelPath()).substr(0, 4096));

  // Restarted: version 1 serves, nothing else is visible.
  server = ServerProcess::Start(repository.path());
  ASSERT_NE(server, nullptr);
  client = e2e::MakeClient(server->address());
  EXPECT_THAT(IndexedVersions(*client, kModel), ElementsAre("1"));
  EXPECT_TRUE(*client->ModelReady(kModel));
  EXPECT_FALSE(client->ModelReady(kModel, "2").value_or(false));
  ExpectServesVersion(*client, "1", reference);

  // The next calibration publishes a whole version 2 and clears the abandoned directory.
  absl::StatusOr<v1::CalibrationReport> next =
      client->Calibrate(LenetSpec(kModel, 64), {LenetSamples(100, 64)}, nullptr);
  ASSERT_TRUE(next.ok()) << next.status() << "\nserver log:\n" << server->Log();
  EXPECT_EQ(next->published_version(), "2");
  EXPECT_THAT(DirEntries(model_dir), ElementsAre("1", "2", "config.pbtxt"));
  EXPECT_THAT(DirEntries(model_dir + "/2"),
              ElementsAre("calibration.table", "calibration_report.pbtxt", "model.onnx"));
  EXPECT_THAT(IndexedVersions(*client, kModel), ElementsAre("1", "2"));
  ExpectServesVersion(*client, "2", reference);
  ExpectServesVersion(*client, "1", reference);
}

}  // namespace
}  // namespace octet::faults
