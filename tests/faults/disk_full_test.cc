// A full disk while a calibration publishes its version. The repository lives on a small tmpfs
// mounted by the test (it runs as root in CI; without the right to mount, the test is skipped
// and says why), filled so that exactly the space the publication needs is missing: first none
// at all (the copy of the model fails), then just enough for the model copy (the calibration
// table's write fails). Each time the client gets RESOURCE_EXHAUSTED naming the file and the
// cause, no version and no temporary directory is left, version 1 keeps serving, and once space
// is back the same calibration publishes version 2.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/faults/fault_support.h"

namespace octet::faults {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kModel[] = "lenet";

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_point_ = dir_.path() + "/fs";
    fs::create_directories(mount_point_);
    if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=4m,mode=0755") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                   << "): this test needs root or CAP_SYS_ADMIN";
    }
    mounted_ = true;
  }
  void TearDown() override {
    server_.reset();  // the server's files must be closed before the unmount
    if (mounted_) ::umount2(mount_point_.c_str(), MNT_DETACH);
  }

  // Fills the file system so that `free_bytes` (rounded up to blocks) stay free.
  void LeaveFree(int64_t free_bytes) {
    fs::remove(Filler());
    struct statvfs stats;
    ASSERT_EQ(::statvfs(mount_point_.c_str(), &stats), 0);
    const int64_t block = static_cast<int64_t>(stats.f_bsize);
    const int64_t keep = (free_bytes + block - 1) / block;
    const int64_t fill = (static_cast<int64_t>(stats.f_bavail) - keep) * block;
    ASSERT_GE(fill, 0) << "the file system is too small";
    const int fd = ::open(Filler().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    const std::vector<char> zeros(1 << 16, 0);
    for (int64_t left = fill; left > 0;) {
      const ssize_t n = ::write(fd, zeros.data(), std::min<int64_t>(left, zeros.size()));
      ASSERT_GT(n, 0) << std::strerror(errno);
      left -= n;
    }
    ::close(fd);
    ASSERT_EQ(::statvfs(mount_point_.c_str(), &stats), 0);
    ASSERT_EQ(static_cast<int64_t>(stats.f_bavail), keep);
  }
  std::string Filler() const { return mount_point_ + "/filler"; }

  e2e::TempDir dir_;
  std::string mount_point_;
  bool mounted_ = false;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(DiskFullTest, PublishingOnAFullDiskFailsCleanlyAndVersionOneServes) {
  const std::string repository = mount_point_ + "/repository";
  const std::string model_dir = repository + "/" + kModel;
  e2e::WriteFile(model_dir + "/config.pbtxt", e2e::LenetConfig(8, "version_policy { all { } }"));
  fs::create_directories(model_dir + "/1");
  fs::copy_file(e2e::ExampleModelPath(), model_dir + "/1/model.onnx");
  server_ = ServerProcess::Start(repository);
  ASSERT_NE(server_, nullptr);
  std::unique_ptr<client::Client> client = e2e::MakeClient(server_->address());
  e2e::ReferenceModel reference;

  const int64_t model_bytes = static_cast<int64_t>(fs::file_size(e2e::ExampleModelPath()));
  struct Case {
    int64_t free_bytes;
    std::string failing_file;
  };
  for (const Case& c : {Case{0, "model.onnx"}, Case{model_bytes, "calibration.table"}}) {
    SCOPED_TRACE(testing::Message() << c.free_bytes << " bytes free");
    LeaveFree(c.free_bytes);
    absl::StatusOr<v1::CalibrationReport> report =
        client->Calibrate(LenetSpec(kModel, 64), {LenetSamples(1, 64)}, nullptr);
    ASSERT_FALSE(report.ok()) << "published version " << report->published_version();
    EXPECT_EQ(report.status().code(), absl::StatusCode::kResourceExhausted) << report.status();
    EXPECT_THAT(std::string(report.status().message()), HasSubstr(c.failing_file));
    EXPECT_THAT(std::string(report.status().message()), HasSubstr("No space left on device"));
    // The old state, whole: no version 2, no temporary directory, version 1 serving.
    EXPECT_THAT(DirEntries(model_dir), ElementsAre("1", "config.pbtxt"));
    EXPECT_THAT(DirEntries(model_dir + "/1"), ElementsAre("model.onnx"));
    EXPECT_THAT(IndexedVersions(*client, kModel), ElementsAre("1"));
    absl::StatusOr<client::InferResult> result =
        client->Infer(e2e::ClientRequest(kModel, e2e::Images(3)));
    ASSERT_TRUE(result.ok()) << result.status();
    e2e::ExpectSameLogits(*result->AsFloats(e2e::kOutput), reference.Logits(e2e::Images(3)),
                          "version 1 after the failed publication");
  }

  fs::remove(Filler());
  absl::StatusOr<v1::CalibrationReport> report =
      client->Calibrate(LenetSpec(kModel, 64), {LenetSamples(1, 64)}, nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->published_version(), "2");
  EXPECT_THAT(IndexedVersions(*client, kModel), ElementsAre("1", "2"));
}

}  // namespace
}  // namespace octet::faults
