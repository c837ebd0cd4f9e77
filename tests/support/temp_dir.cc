#include "tests/support/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "gtest/gtest.h"

namespace octet::test {

TempDir::TempDir() {
  std::error_code error;
  std::filesystem::path base = std::filesystem::temp_directory_path(error);  // honours TMPDIR
  if (error) base = "/tmp";
  std::string pattern = (base / "octet-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "cannot make a temporary directory " << pattern << ": "
                  << std::strerror(errno);
    return;
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace octet::test
