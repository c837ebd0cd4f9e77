#include "engine/calibration/model_digest.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace octet::calibration {
namespace {

constexpr char kAbcDigest[] =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string WriteTempFile(const std::string& contents) {
  std::string path = ::testing::TempDir() + "/octet_digest_XXXXXX";
  const int fd = ::mkstemp(path.data());
  EXPECT_GE(fd, 0);
  std::FILE* file = ::fdopen(fd, "wb");
  std::fwrite(contents.data(), 1, contents.size(), file);
  std::fclose(file);
  return path;
}

TEST(ModelDigestTest, KnownVectors) {
  EXPECT_EQ(*ModelDigest("abc"), kAbcDigest);
  EXPECT_EQ(*ModelDigest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ModelDigestTest, FileDigestMatchesInMemoryDigest) {
  const std::string small = WriteTempFile("abc");
  EXPECT_EQ(*FileDigest(small), kAbcDigest);
  std::remove(small.c_str());

  // Several read chunks and a partial last one.
  std::string large(3 * (1 << 20) + 12345, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 131 + (i >> 9));
  const std::string path = WriteTempFile(large);
  EXPECT_EQ(*FileDigest(path), *ModelDigest(large));
  std::remove(path.c_str());
}

TEST(ModelDigestTest, MissingFile) {
  absl::StatusOr<std::string> digest = FileDigest("/nonexistent/octet/model.onnx");
  EXPECT_EQ(digest.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(digest.status().message().find("/nonexistent/octet/model.onnx"), std::string::npos);
}

TEST(ModelDigestTest, WellFormedDigests) {
  EXPECT_TRUE(IsWellFormedDigest(kAbcDigest));
  EXPECT_FALSE(IsWellFormedDigest(""));
  EXPECT_FALSE(IsWellFormedDigest("sha256:"));
  EXPECT_FALSE(IsWellFormedDigest(std::string(kAbcDigest) + "0"));
  EXPECT_FALSE(
      IsWellFormedDigest("sha1:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  EXPECT_FALSE(IsWellFormedDigest(
      "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
}

}  // namespace
}  // namespace octet::calibration
