#include "tests/client/cli_test_support.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datasets/dataset.h"
#include "google/protobuf/util/json_util.h"

namespace octet::cli_test {

std::string TestImages() {
  return absl::StrCat("idx:", kFashionMnistDir, "/t10k-images-idx3-ubyte.gz");
}

std::string TrainImages() {
  return absl::StrCat("idx:", kFashionMnistDir, "/train-images-idx3-ubyte.gz");
}

std::string LabelsFile() {
  return absl::StrCat(OCTET_SOURCE_DIR, "/examples/models/fashion-lenet/labels.txt");
}

bool HaveFashionMnist() {
  for (const char* file : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                           "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}) {
    if (access(absl::StrCat(kFashionMnistDir, "/", file).c_str(), R_OK) != 0) return false;
  }
  return true;
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::vector<float> FirstTestImages(int count) {
  absl::StatusOr<datasets::LabelledImages> images = datasets::LoadDataset(TestImages(), count);
  if (!images.ok() || images->count < count || images->image_size() != kPixels) {
    ADD_FAILURE() << "cannot read " << TestImages() << ": " << images.status();
    return {};
  }
  return std::vector<float>(images->pixels.begin(), images->pixels.begin() + count * kPixels);
}

std::string NpyFloat32(const std::vector<int64_t>& shape, const std::vector<float>& values) {
  std::string dims = absl::StrJoin(shape, ", ");
  if (shape.size() == 1) dims += ",";
  std::string header =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", dims, "), }");
  // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  return out + RawFloat32(values);
}

std::string RawFloat32(const std::vector<float>& values) {
  // The hosts are little-endian (x86-64), as raw files are.
  std::string out(values.size() * sizeof(float), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

google::protobuf::Value ParseJson(const std::string& json) {
  google::protobuf::Value value;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &value);
  if (!status.ok()) {
    ADD_FAILURE() << "not JSON (" << status.ToString() << "): " << json;
    return google::protobuf::Value();
  }
  return value;
}

const google::protobuf::Value& Field(const google::protobuf::Value& obj, const std::string& key) {
  static const auto* null = new google::protobuf::Value();
  if (!obj.has_struct_value()) {
    ADD_FAILURE() << "looking for '" << key << "' in a non-object: " << obj.DebugString();
    return *null;
  }
  const auto& fields = obj.struct_value().fields();
  const auto it = fields.find(key);
  if (it == fields.end()) {
    ADD_FAILURE() << "no field '" << key << "' in " << obj.DebugString();
    return *null;
  }
  return it->second;
}

const google::protobuf::Value& At(const google::protobuf::Value& list, int index) {
  static const auto* null = new google::protobuf::Value();
  if (!list.has_list_value() || index < 0 || index >= list.list_value().values_size()) {
    ADD_FAILURE() << "no element " << index << " in " << list.DebugString();
    return *null;
  }
  return list.list_value().values(index);
}

double Number(const google::protobuf::Value& v) {
  if (v.has_number_value()) return v.number_value();
  double d = 0;
  if (v.has_string_value() && absl::SimpleAtod(v.string_value(), &d)) return d;
  ADD_FAILURE() << "not a number: " << v.DebugString();
  return 0;
}

int64_t Integer(const google::protobuf::Value& v) {
  int64_t i = 0;
  if (v.has_string_value() && absl::SimpleAtoi(v.string_value(), &i)) return i;
  if (v.has_number_value()) return static_cast<int64_t>(v.number_value());
  ADD_FAILURE() << "not an integer: " << v.DebugString();
  return 0;
}

int NumLines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines + (!text.empty() && text.back() != '\n');
}

ServedRepository::ServedRepository(const std::vector<std::string>& server_flags) {
  const absl::Status copied =
      CopyTree(absl::StrCat(OCTET_SOURCE_DIR, "/examples/models"), repository());
  if (!copied.ok()) {
    ADD_FAILURE() << copied;
    return;
  }
  const absl::Status started = server_.Start(repository(), server_flags);
  if (!started.ok()) {
    ADD_FAILURE() << started;
    return;
  }
  url_ = server_.address();
}

std::string ServedRepository::repository() const { return dir_.path() + "/models"; }

CommandResult Octet(const std::string& url, std::vector<std::string> args,
                    const RunOptions& options) {
  args.insert(args.begin(), {"--url", url});
  return RunOctet(args, options);
}

}  // namespace octet::cli_test
