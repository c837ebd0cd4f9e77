// What the tests of the `octet` binary against a real octet-server share: the example model
// repository copied to a temporary directory and served, the Debian Fashion-MNIST files (and
// the skip-or-fail rule when they are missing), input files written independently of Octet's
// own readers, and JSON parsed with protobuf's parser into google.protobuf.Value.
//
// Test code: not thread-safe.
#ifndef OCTET_TESTS_CLIENT_CLI_TEST_SUPPORT_H_
#define OCTET_TESTS_CLIENT_CLI_TEST_SUPPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"
#include "tests/client/cli_process.h"

namespace octet::cli_test {

inline constexpr char kModel[] = "fashion-lenet";
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";
inline constexpr int kPixels = 28 * 28;
// Top-1 of the example model (FP32) on the first eight Fashion-MNIST test images; each equals
// the true label: 9 ankle boot, 2 pullover, 1 trouser, 1, 6 shirt, 1, 4 coat, 6.
inline const std::vector<int> kExpectedTop1 = {9, 2, 1, 1, 6, 1, 4, 6};

std::string TestImages();   // "idx:/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
std::string TrainImages();  // the same for train-images
std::string LabelsFile();   // examples/models/fashion-lenet/labels.txt in the source tree
bool HaveFashionMnist();
bool InCi();  // CI=true: missing data fails instead of skipping

// Skips the test (fails it in CI) when Debian's dataset-fashion-mnist is not installed.
#define REQUIRE_FASHION_MNIST()                                                     \
  do {                                                                              \
    if (!::octet::cli_test::HaveFashionMnist()) {                                   \
      if (::octet::cli_test::InCi()) {                                              \
        FAIL() << "missing " << ::octet::cli_test::kFashionMnistDir                 \
               << " (Debian package dataset-fashion-mnist), required when CI=true"; \
      }                                                                             \
      GTEST_SKIP() << "missing " << ::octet::cli_test::kFashionMnistDir             \
                   << " (Debian package dataset-fashion-mnist)";                    \
    }                                                                               \
  } while (0)

// The first `count` test images as raw 0..255 pixel values, image after image.
std::vector<float> FirstTestImages(int count);

// A NumPy 1.0 .npy file of little-endian float32 values (written here by hand, not with
// Octet's writer) and a raw little-endian file of them.
std::string NpyFloat32(const std::vector<int64_t>& shape, const std::vector<float>& values);
std::string RawFloat32(const std::vector<float>& values);

// Parses JSON; a parse error fails the test and gives a null value.
google::protobuf::Value ParseJson(const std::string& json);
// obj[key], or a null value (and a test failure) when `obj` is not an object holding `key`.
const google::protobuf::Value& Field(const google::protobuf::Value& obj, const std::string& key);
// list[index], or a null value (and a test failure) when `list` is not a list that long.
const google::protobuf::Value& At(const google::protobuf::Value& list, int index);
// A number, or an integer written as a string (protobuf's JSON form of 64-bit integers).
double Number(const google::protobuf::Value& v);
int64_t Integer(const google::protobuf::Value& v);
int NumLines(const std::string& text);

// The example model repository copied into a temporary directory and served by octet-server.
class ServedRepository {
 public:
  // Fails the test (and leaves server() not started) when the server does not start.
  explicit ServedRepository(const std::vector<std::string>& server_flags = {});
  std::string repository() const;  // the copy's path
  const std::string& url() const { return url_; }
  ServerProcess& server() { return server_; }
  bool started() const { return !url_.empty(); }

 private:
  TempDir dir_;
  ServerProcess server_;
  std::string url_;
};

// `octet --url URL args...`.
CommandResult Octet(const std::string& url, std::vector<std::string> args,
                    const RunOptions& options = {});

}  // namespace octet::cli_test

#endif  // OCTET_TESTS_CLIENT_CLI_TEST_SUPPORT_H_
