// A temporary directory for a test, removed with everything in it when the object is destroyed.
// Shared by the end-to-end, fault and CLI tests (their support libraries link different parts of
// Octet, so this one links nothing of Octet's).
//
//   octet::test::TempDir dir;  // $TMPDIR/octet-test-XXXXXX, or /tmp/... without TMPDIR
//   WriteFile(dir.path() + "/config.pbtxt", ...);
//
// Test code: each object belongs to the test that made it.
#ifndef OCTET_TESTS_SUPPORT_TEMP_DIR_H_
#define OCTET_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace octet::test {

class TempDir {
 public:
  // Fails the running test (and leaves path() empty) when the directory cannot be made.
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace octet::test

#endif  // OCTET_TESTS_SUPPORT_TEMP_DIR_H_
