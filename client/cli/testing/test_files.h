// Small data files for the CLI's tests, written into the test's temporary directory.
//
// Header-only test support; not thread-safe (each test writes its own files).
#ifndef OCTET_CLIENT_CLI_TESTING_TEST_FILES_H_
#define OCTET_CLIENT_CLI_TESTING_TEST_FILES_H_

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace octet::cli::testing {

// `name` in the temporary directory, prefixed with this process's id: ctest -j runs each test in
// its own process at the same time as others, and they must not share a file.
inline std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/octet-" + std::to_string(getpid()) + "-" + name;
}

// A CIFAR-10 binary file: one record per label, pixel p of channel c of image i = pixel(i, c, p).
inline std::string WriteCifar10(const std::string& name, const std::vector<int>& labels,
                                const std::function<uint8_t(int, int, int)>& pixel) {
  const std::string path = TempPath(name);
  std::ofstream file(path, std::ios::binary);
  for (size_t i = 0; i < labels.size(); ++i) {
    file.put(static_cast<char>(labels[i]));
    for (int c = 0; c < 3; ++c) {
      for (int p = 0; p < 1024; ++p) file.put(static_cast<char>(pixel(static_cast<int>(i), c, p)));
    }
  }
  EXPECT_TRUE(file.good()) << path;
  return path;
}

inline std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

}  // namespace octet::cli::testing

#endif  // OCTET_CLIENT_CLI_TESTING_TEST_FILES_H_
