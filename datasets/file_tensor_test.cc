#include "datasets/file_tensor.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "datasets/internal/test_files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::datasets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_files::Bytes;
using testing_files::ReadFileBytes;
using testing_files::TestPath;
using testing_files::WriteFile;
using testing_files::WriteGzipFile;

// A .npy file as NumPy writes it: preamble, `dict` padded with spaces and ended by '\n' so
// that the data starts at a multiple of 64, then `data`.
Bytes NpyFile(int major, const std::string& dict, const Bytes& data) {
  const size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((preamble + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  Bytes bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  for (size_t i = 0; i < preamble - 8; ++i) {
    bytes.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  }
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

// 0.0f .. 5.0f as little-endian bytes.
Bytes SixFloats() {
  Bytes bytes(6 * sizeof(float));
  for (int i = 0; i < 6; ++i) {
    const float value = static_cast<float>(i);
    std::memcpy(bytes.data() + i * sizeof(float), &value, sizeof(float));
  }
  return bytes;
}

const char kFloat2x3[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

TEST(LoadNpy, ReadsWhatNumPyWrites) {
  const std::string path = TestPath("x.npy");
  WriteFile(path, NpyFile(1, kFloat2x3, SixFloats()));
  absl::StatusOr<FileTensor> tensor = LoadNpy(path);
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->dtype, "float32");
  EXPECT_THAT(tensor->shape, ElementsAre(2, 3));
  EXPECT_EQ(tensor->element_count(), 6);
  EXPECT_EQ(tensor->bytes, SixFloats());
}

TEST(LoadNpy, ReadsVersion2AndGzipAndPython2Longs) {
  const std::string v2 = TestPath("v2.npy");
  WriteFile(v2, NpyFile(2, kFloat2x3, SixFloats()));
  const std::string gz = TestPath("x.npy.gz");
  WriteGzipFile(gz, NpyFile(1, kFloat2x3, SixFloats()));
  const std::string longs = TestPath("longs.npy");
  WriteFile(longs,
            NpyFile(1, "{'descr':'<f4','fortran_order':False,'shape':(2L,3L)}", SixFloats()));
  for (const std::string& path : {v2, gz, longs}) {
    absl::StatusOr<FileTensor> tensor = LoadNpy(path);
    ASSERT_TRUE(tensor.ok()) << tensor.status();
    EXPECT_THAT(tensor->shape, ElementsAre(2, 3)) << path;
    EXPECT_EQ(tensor->bytes, SixFloats()) << path;
  }
}

TEST(LoadNpy, ReadsEveryDtypeAndScalarShapes) {
  struct Case {
    const char* descr;
    const char* dtype;
    size_t element_size;
  };
  for (const Case& c : {Case{"|u1", "uint8", 1}, Case{"|i1", "int8", 1}, Case{"<i4", "int32", 4},
                        Case{"<i8", "int64", 8}}) {
    const std::string path = TestPath(std::string(c.dtype) + ".npy");
    Bytes data(5 * c.element_size);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
    WriteFile(path, NpyFile(1,
                            std::string("{'descr': '") + c.descr +
                                "', 'fortran_order': False, 'shape': (5,), }",
                            data));
    absl::StatusOr<FileTensor> tensor = LoadNpy(path);
    ASSERT_TRUE(tensor.ok()) << tensor.status();
    EXPECT_EQ(tensor->dtype, c.dtype);
    EXPECT_THAT(tensor->shape, ElementsAre(5));
    EXPECT_EQ(tensor->bytes, data);
  }
  const std::string scalar = TestPath("scalar.npy");
  WriteFile(scalar,
            NpyFile(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (), }", {42, 0, 0, 0}));
  absl::StatusOr<FileTensor> tensor = LoadNpy(scalar);
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_TRUE(tensor->shape.empty());
  EXPECT_EQ(tensor->element_count(), 1);
  EXPECT_THAT(tensor->bytes, ElementsAre(42, 0, 0, 0));
}

absl::Status LoadNpyWithHeader(const std::string& name, const std::string& dict,
                               const Bytes& data) {
  const std::string path = TestPath(name);
  WriteFile(path, NpyFile(1, dict, data));
  return LoadNpy(path).status();
}

TEST(LoadNpy, FortranOrderIsRejected) {
  const absl::Status status = LoadNpyWithHeader(
      "f.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", SixFloats());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("Fortran"));
  EXPECT_THAT(status.message(), HasSubstr("f.npy"));
}

TEST(LoadNpy, UnsupportedDtypesAreRejected) {
  absl::Status status = LoadNpyWithHeader(
      "f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", SixFloats());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("unsupported dtype '<f8'"));
  status = LoadNpyWithHeader(
      "be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", SixFloats());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("big-endian"));
}

TEST(LoadNpy, MalformedHeadersAreRejected) {
  for (const char* dict : {
           "",
           "{'descr': '<f4', 'shape': (6,), }",                                // missing key
           "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}",  // extra key
           "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }",
           "{'descr': '<f4', 'fortran_order': false, 'shape': (6,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } junk",
           "{'descr': '<f4, 'fortran_order': False, 'shape': (6,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
       }) {
    const absl::Status status = LoadNpyWithHeader("bad.npy", dict, SixFloats());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << dict;
    EXPECT_THAT(status.message(), HasSubstr("malformed header")) << dict;
  }
}

TEST(LoadNpy, BadMagicAndVersionAreRejected) {
  const std::string path = TestPath("not.npy");
  WriteFile(path, {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0});
  absl::Status status = LoadNpy(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not a .npy file"));

  Bytes v9 = NpyFile(1, kFloat2x3, SixFloats());
  v9[6] = 9;
  WriteFile(path, v9);
  status = LoadNpy(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("version 9.0"));
}

TEST(LoadNpy, TruncatedAndOverlongDataAreRejected) {
  Bytes short_data = SixFloats();
  short_data.pop_back();
  absl::Status status = LoadNpyWithHeader("short.npy", kFloat2x3, short_data);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("truncated"));

  Bytes long_data = SixFloats();
  long_data.push_back(0);
  status = LoadNpyWithHeader("long.npy", kFloat2x3, long_data);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("unexpected data after byte"));

  // A header cut short: the file ends inside the declared header length.
  const std::string cut = TestPath("cut.npy");
  Bytes bytes = NpyFile(1, kFloat2x3, {});
  bytes.resize(30);
  WriteFile(cut, bytes);
  EXPECT_EQ(LoadNpy(cut).status().code(), absl::StatusCode::kDataLoss);
}

TEST(LoadNpy, HugeShapeIsRejectedBeforeReading) {
  const absl::Status status = LoadNpyWithHeader(
      "huge.npy",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }",
      SixFloats());
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
}

TEST(SaveNpy, WritesNumPysLayout) {
  const std::string path = TestPath("saved.npy");
  FileTensor tensor{"float32", {2, 3}, SixFloats()};
  ASSERT_TRUE(SaveNpy(path, tensor).ok());
  // Byte-identical to what NumPy writes for np.arange(6, dtype='<f4').reshape(2, 3).
  EXPECT_EQ(ReadFileBytes(path), NpyFile(1, kFloat2x3, SixFloats()));
}

TEST(SaveNpy, RoundTripsEveryDtypeAndShape) {
  const std::vector<std::vector<int64_t>> shapes = {{}, {7}, {2, 3}, {0, 4}, {1, 1, 2, 2}};
  for (const char* dtype : {"float32", "uint8", "int8", "int32", "int64"}) {
    for (const std::vector<int64_t>& shape : shapes) {
      FileTensor tensor;
      tensor.dtype = dtype;
      tensor.shape = shape;
      tensor.bytes.resize(tensor.element_count() * *ElementSize(dtype));
      for (size_t i = 0; i < tensor.bytes.size(); ++i)
        tensor.bytes[i] = static_cast<uint8_t>(i * 13);
      const std::string path = TestPath("round.npy");
      ASSERT_TRUE(SaveNpy(path, tensor).ok());
      EXPECT_EQ(ReadFileBytes(path).size() % 64, tensor.bytes.size() % 64);
      absl::StatusOr<FileTensor> loaded = LoadNpy(path);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      EXPECT_EQ(loaded->dtype, tensor.dtype);
      EXPECT_EQ(loaded->shape, tensor.shape);
      EXPECT_EQ(loaded->bytes, tensor.bytes);
    }
  }
}

TEST(SaveNpy, RejectsInconsistentTensors) {
  const std::string path = TestPath("bad.npy");
  EXPECT_EQ(SaveNpy(path, FileTensor{"float32", {2, 3}, Bytes(23)}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SaveNpy(path, FileTensor{"float64", {1}, Bytes(8)}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SaveNpy(path, FileTensor{"uint8", {-1}, Bytes()}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SaveNpy(TestPath("no-such-dir/x.npy"), FileTensor{"uint8", {1}, Bytes(1)}).code(),
            absl::StatusCode::kNotFound);
}

TEST(LoadRaw, ReadsExactlySizedFilesAsIs) {
  // Starts with the gzip magic: raw data is never decompressed.
  const Bytes data = {0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4};
  const std::string path = TestPath("input.bin");
  WriteFile(path, data);
  absl::StatusOr<FileTensor> tensor = LoadRaw(path, "int32", {2});
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->dtype, "int32");
  EXPECT_THAT(tensor->shape, ElementsAre(2));
  EXPECT_EQ(tensor->bytes, data);
}

TEST(LoadRaw, SizeMismatchNamesBothSizes) {
  const std::string path = TestPath("input.bin");
  WriteFile(path, Bytes(10));
  const absl::Status status = LoadRaw(path, "float32", {1, 3}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("holds 10 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("needs exactly 12"));
}

TEST(LoadRaw, RejectsBadArguments) {
  const std::string path = TestPath("input.bin");
  WriteFile(path, Bytes(8));
  EXPECT_EQ(LoadRaw(path, "float16", {4}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadRaw(path, "uint8", {-8}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadRaw(path, "uint8", {int64_t{1} << 40, int64_t{1} << 40}).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(LoadRaw(TestPath("missing.bin"), "uint8", {8}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ParseShape, ParsesCommaSeparatedDimensions) {
  absl::StatusOr<std::vector<int64_t>> shape = ParseShape("1, 3,32,32");
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_THAT(*shape, ElementsAre(1, 3, 32, 32));
  shape = ParseShape("");
  ASSERT_TRUE(shape.ok());
  EXPECT_TRUE(shape->empty());
  for (const char* bad : {"1,-3", "1,,3", "a", "1.5", "1,"}) {
    EXPECT_EQ(ParseShape(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace octet::datasets
