// Test-only helpers that write small synthetic files for the datasets tests. Each path
// is unique to the running test, so tests may run in parallel processes (ctest -j).
// Header-only; not thread-safe (tests call it from their own thread).
#ifndef OCTET_DATASETS_INTERNAL_TEST_FILES_H_
#define OCTET_DATASETS_INTERNAL_TEST_FILES_H_

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace octet::datasets::testing_files {

using Bytes = std::vector<uint8_t>;

// A path in the test temp dir, unique to the current test: <tmp>/<suite>.<test>.<name>.
// A file left there by an earlier run is removed, so every run starts from nothing.
inline std::string TestPath(const std::string& name) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string path =
      ::testing::TempDir() + info->test_suite_name() + "." + info->name() + "." + name;
  std::remove(path.c_str());
  return path;
}

inline void WriteFile(const std::string& path, const Bytes& bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  if (!bytes.empty()) {  // fwrite's buffer must not be null, even for 0 bytes
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), file), bytes.size()) << path;
  }
  ASSERT_EQ(std::fclose(file), 0) << path;
}

inline void WriteGzipFile(const std::string& path, const Bytes& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()))
        << path;
  }
  ASSERT_EQ(gzclose(gz), Z_OK) << path;
}

inline Bytes ReadFileBytes(const std::string& path) {
  Bytes bytes;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return bytes;
  uint8_t buffer[4096];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    bytes.insert(bytes.end(), buffer, buffer + got);
  }
  std::fclose(file);
  return bytes;
}

inline void AppendBigEndian32(uint32_t value, Bytes* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<uint8_t>(value >> shift));
}

// An IDX file of unsigned bytes: magic 00 00 08 rank, big-endian dims, then `payload`.
inline Bytes IdxFile(const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (const uint32_t dim : dims) AppendBigEndian32(dim, &bytes);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

}  // namespace octet::datasets::testing_files

#endif  // OCTET_DATASETS_INTERNAL_TEST_FILES_H_
