#include "datasets/dataset.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <numeric>
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
using testing_files::IdxFile;
using testing_files::TestPath;
using testing_files::WriteFile;
using testing_files::WriteGzipFile;

// Three 2x3 images whose pixels are 0..17, labelled 7, 0, 9.
Bytes ThreeImagePixels() {
  Bytes pixels(18);
  std::iota(pixels.begin(), pixels.end(), 0);
  return pixels;
}
Bytes ThreeImagesIdx() { return IdxFile({3, 2, 3}, ThreeImagePixels()); }
Bytes ThreeLabelsIdx() { return IdxFile({3}, {7, 0, 9}); }

void ExpectThreeImages(const LabelledImages& images) {
  EXPECT_EQ(images.count, 3);
  EXPECT_EQ(images.channels, 1);
  EXPECT_EQ(images.height, 2);
  EXPECT_EQ(images.width, 3);
  EXPECT_EQ(images.image_size(), 6);
  EXPECT_EQ(images.pixels, ThreeImagePixels());
  EXPECT_EQ(images.image(2)[0], 12);
  EXPECT_THAT(images.labels, ElementsAre(7, 0, 9));
}

TEST(LoadIdx, ReadsRawFiles) {
  const std::string images = TestPath("images");
  const std::string labels = TestPath("labels");
  WriteFile(images, ThreeImagesIdx());
  WriteFile(labels, ThreeLabelsIdx());
  absl::StatusOr<LabelledImages> loaded = LoadIdx(images, labels);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectThreeImages(*loaded);
}

TEST(LoadIdx, ReadsGzipFilesWhateverTheirName) {
  // Gzip is detected by content: neither name ends in .gz, and the labels are not gzipped.
  const std::string images = TestPath("images.idx");
  const std::string labels = TestPath("labels.gz");
  WriteGzipFile(images, ThreeImagesIdx());
  WriteFile(labels, ThreeLabelsIdx());
  absl::StatusOr<LabelledImages> loaded = LoadIdx(images, labels);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectThreeImages(*loaded);
}

TEST(LoadIdx, WithoutLabelsIsUnlabelled) {
  const std::string images = TestPath("images.gz");
  WriteGzipFile(images, ThreeImagesIdx());
  absl::StatusOr<LabelledImages> loaded = LoadIdx(images, "");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->count, 3);
  EXPECT_FALSE(loaded->labelled());
  EXPECT_EQ(loaded->pixels, ThreeImagePixels());
}

TEST(LoadIdx, MaxCountReadsAPrefix) {
  const std::string images = TestPath("images.gz");
  const std::string labels = TestPath("labels.gz");
  WriteGzipFile(images, ThreeImagesIdx());
  WriteGzipFile(labels, ThreeLabelsIdx());
  absl::StatusOr<LabelledImages> two = LoadIdx(images, labels, 2);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->count, 2);
  const Bytes pixels = ThreeImagePixels();
  EXPECT_EQ(two->pixels, Bytes(pixels.begin(), pixels.begin() + 12));
  EXPECT_THAT(two->labels, ElementsAre(7, 0));

  absl::StatusOr<LabelledImages> more = LoadIdx(images, labels, 100);
  ASSERT_TRUE(more.ok()) << more.status();
  ExpectThreeImages(*more);

  EXPECT_EQ(LoadIdx(images, labels, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadIdx(images, labels, -2).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoadIdx, TruncatedRawFileIsDataLoss) {
  const std::string images = TestPath("images");
  Bytes bytes = ThreeImagesIdx();
  bytes.resize(bytes.size() - 4);
  WriteFile(images, bytes);
  const absl::Status status = LoadIdx(images, "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr(images));
  EXPECT_THAT(status.message(), HasSubstr("truncated"));
}

TEST(LoadIdx, TruncatedContentInsideGzipIsDataLoss) {
  const std::string images = TestPath("images.gz");
  Bytes bytes = ThreeImagesIdx();
  bytes.resize(bytes.size() - 4);
  WriteGzipFile(images, bytes);
  const absl::Status status = LoadIdx(images, "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr(images));
  EXPECT_THAT(status.message(), HasSubstr("truncated"));
}

TEST(LoadIdx, CutGzipStreamIsDataLoss) {
  // A gzip file cut mid-stream (an interrupted download): the stream itself is incomplete.
  const std::string whole = TestPath("whole.gz");
  Bytes pixels(5000);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7919 % 251);
  WriteGzipFile(whole, IdxFile({5, 20, 50}, pixels));
  Bytes compressed = testing_files::ReadFileBytes(whole);
  ASSERT_GT(compressed.size(), 100u);
  compressed.resize(compressed.size() / 2);
  const std::string cut = TestPath("cut.gz");
  WriteFile(cut, compressed);
  const absl::Status status = LoadIdx(cut, "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr(cut));
  EXPECT_THAT(status.message(), HasSubstr("truncated"));
}

TEST(LoadIdx, HeaderPromisingMoreThanTheFileHoldsFailsWithoutAllocatingIt) {
  // 1,000,000 images of 28x28 (747 MiB) declared by a file of a few bytes.
  const std::string raw = TestPath("liar");
  const std::string gz = TestPath("liar.gz");
  WriteFile(raw, IdxFile({1000000, 28, 28}, {1, 2, 3}));
  WriteGzipFile(gz, IdxFile({1000000, 28, 28}, {1, 2, 3}));
  for (const std::string& path : {raw, gz}) {
    const absl::Status status = LoadIdx(path, "").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_THAT(status.message(), HasSubstr("truncated"));
  }
}

TEST(LoadIdx, OversizedHeaderIsRejectedBeforeReading) {
  const std::string images = TestPath("huge");
  WriteFile(images, IdxFile({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {}));
  const absl::Status status = LoadIdx(images, "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr(images));
}

TEST(LoadIdx, ZeroDimensionIsRejected) {
  const std::string images = TestPath("empty");
  WriteFile(images, IdxFile({0, 28, 28}, {}));
  EXPECT_EQ(LoadIdx(images, "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoadIdx, BadMagicIsInvalidArgument) {
  const std::string images = TestPath("zip");
  WriteFile(images, {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  const absl::Status status = LoadIdx(images, "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(images));
  EXPECT_THAT(status.message(), HasSubstr("bad magic"));
}

TEST(LoadIdx, NonByteElementTypeIsInvalidArgument) {
  const std::string images = TestPath("floats");
  Bytes bytes = IdxFile({1, 1, 1}, {0, 0, 0, 0});
  bytes[2] = 0x0D;  // float32
  WriteFile(images, bytes);
  const absl::Status status = LoadIdx(images, "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("float32"));
}

TEST(LoadIdx, SwappedFilesAreNamedAsSuch) {
  const std::string images = TestPath("images");
  const std::string labels = TestPath("labels");
  WriteFile(images, ThreeImagesIdx());
  WriteFile(labels, ThreeLabelsIdx());
  const absl::Status status = LoadIdx(labels, images).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(labels));
  EXPECT_THAT(status.message(), HasSubstr("is it the labels file?"));
}

TEST(LoadIdx, LabelCountMismatchNamesBothFiles) {
  const std::string images = TestPath("images");
  const std::string labels = TestPath("labels");
  WriteFile(images, ThreeImagesIdx());
  WriteFile(labels, IdxFile({2}, {1, 2}));
  const absl::Status status = LoadIdx(images, labels).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("count mismatch"));
  EXPECT_THAT(status.message(), HasSubstr(images));
  EXPECT_THAT(status.message(), HasSubstr(labels));
}

TEST(LoadIdx, TrailingDataIsInvalidArgument) {
  const std::string images = TestPath("images");
  Bytes bytes = ThreeImagesIdx();
  bytes.push_back(0);
  WriteFile(images, bytes);
  const absl::Status status = LoadIdx(images, "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("unexpected data after byte"));
}

TEST(LoadIdx, MissingFileIsNotFound) {
  const std::string images = TestPath("does-not-exist");
  const absl::Status status = LoadIdx(images, "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(images));
}

TEST(LoadIdx, DirectoryIsInvalidArgument) {
  const absl::Status status = LoadIdx(::testing::TempDir(), "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("directory"));
}

// Two CIFAR-10 records: label 3 then 9; record r's pixel i is (i + r) % 256.
Bytes TwoCifarRecords() {
  Bytes bytes;
  const uint8_t record_labels[] = {3, 9};
  for (int r = 0; r < 2; ++r) {
    bytes.push_back(record_labels[r]);
    for (int i = 0; i < 3072; ++i) bytes.push_back(static_cast<uint8_t>((i + r) % 256));
  }
  return bytes;
}

void ExpectTwoCifarRecords(const LabelledImages& images) {
  EXPECT_EQ(images.count, 2);
  EXPECT_EQ(images.channels, 3);
  EXPECT_EQ(images.height, 32);
  EXPECT_EQ(images.width, 32);
  ASSERT_EQ(images.pixels.size(), 2u * 3072);
  EXPECT_THAT(images.labels, ElementsAre(3, 9));
  EXPECT_EQ(images.image(0)[1024], 1024 % 256);                  // G plane, (0, 0)
  EXPECT_EQ(images.image(1)[0], 1);                              // R plane, (0, 0)
  EXPECT_EQ(images.image(1)[2048 + 33], (2048 + 33 + 1) % 256);  // B plane, (1, 1)
}

TEST(LoadCifar10Binary, ReadsRawAndGzipFiles) {
  const std::string raw = TestPath("test.bin");
  const std::string gz = TestPath("test.bin.gz");
  WriteFile(raw, TwoCifarRecords());
  WriteGzipFile(gz, TwoCifarRecords());
  for (const std::string& path : {raw, gz}) {
    absl::StatusOr<LabelledImages> loaded = LoadCifar10Binary(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ExpectTwoCifarRecords(*loaded);
    absl::StatusOr<LabelledImages> one = LoadCifar10Binary(path, 1);
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_EQ(one->count, 1);
    EXPECT_EQ(one->pixels.size(), 3072u);
    EXPECT_THAT(one->labels, ElementsAre(3));
  }
}

TEST(LoadCifar10Binary, PartialRecordIsAnError) {
  Bytes bytes = TwoCifarRecords();
  bytes.resize(bytes.size() - 1);
  const std::string raw = TestPath("test.bin");
  const std::string gz = TestPath("test.bin.gz");
  WriteFile(raw, bytes);
  WriteGzipFile(gz, bytes);
  const absl::Status raw_status = LoadCifar10Binary(raw).status();
  EXPECT_EQ(raw_status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(raw_status.message(), HasSubstr(raw));
  EXPECT_THAT(raw_status.message(), HasSubstr("3073-byte records"));
  const absl::Status gz_status = LoadCifar10Binary(gz).status();
  EXPECT_EQ(gz_status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(gz_status.message(), HasSubstr(gz));
  EXPECT_THAT(gz_status.message(), HasSubstr("truncated"));
}

TEST(LoadCifar10Binary, LabelAboveNineIsAnError) {
  Bytes bytes = TwoCifarRecords();
  bytes[3073] = 10;
  const std::string path = TestPath("test.bin");
  WriteFile(path, bytes);
  const absl::Status status = LoadCifar10Binary(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("record 1 has label 10"));
}

TEST(LoadCifar10Binary, EmptyFileIsAnError) {
  const std::string raw = TestPath("empty.bin");
  const std::string gz = TestPath("empty.bin.gz");
  WriteFile(raw, {});
  WriteGzipFile(gz, {});
  EXPECT_EQ(LoadCifar10Binary(raw).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadCifar10Binary(gz).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoadDataset, IdxDerivesTheLabelsFileFromTheImagesName) {
  const std::string images = TestPath("t10k-images-idx3-ubyte.gz");
  const std::string labels = TestPath("t10k-labels-idx1-ubyte.gz");  // removes a stale one
  WriteGzipFile(images, ThreeImagesIdx());
  // No labels file yet: unlabelled.
  absl::StatusOr<LabelledImages> unlabelled = LoadDataset("idx:" + images);
  ASSERT_TRUE(unlabelled.ok()) << unlabelled.status();
  EXPECT_FALSE(unlabelled->labelled());

  WriteGzipFile(labels, ThreeLabelsIdx());
  absl::StatusOr<LabelledImages> labelled = LoadDataset("idx:" + images);
  ASSERT_TRUE(labelled.ok()) << labelled.status();
  ExpectThreeImages(*labelled);
}

TEST(LoadDataset, IdxDerivationRewritesOnlyTheFileName) {
  // The tag in a directory name is not the convention: no labels are looked for there.
  const std::string dir = TestPath("images-idx3");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST, true);
  const std::string images = dir + "/digits";
  WriteFile(images, ThreeImagesIdx());
  absl::StatusOr<LabelledImages> loaded = LoadDataset("idx:" + images);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->labelled());
}

TEST(LoadDataset, IdxWithExplicitLabelsAndMaxCount) {
  const std::string images = TestPath("a");
  const std::string labels = TestPath("b");
  WriteFile(images, ThreeImagesIdx());
  WriteFile(labels, ThreeLabelsIdx());
  absl::StatusOr<LabelledImages> loaded = LoadDataset("idx:" + images + ":" + labels, 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->count, 1);
  EXPECT_THAT(loaded->labels, ElementsAre(7));
}

TEST(LoadDataset, Cifar10) {
  const std::string path = TestPath("test.bin");
  WriteFile(path, TwoCifarRecords());
  absl::StatusOr<LabelledImages> loaded = LoadDataset("cifar10:" + path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectTwoCifarRecords(*loaded);
}

TEST(LoadDataset, BadSpecsAreInvalidArgument) {
  for (const std::string spec :
       {"", "mnist.gz", "mnist:x", "idx:", "cifar10:", "idx:a:b:c", "idx:a:", "idx::b"}) {
    const absl::Status status = LoadDataset(spec).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << spec;
    EXPECT_THAT(status.message(), HasSubstr("bad data set spec")) << spec;
    EXPECT_THAT(status.message(), HasSubstr("cifar10:PATH")) << spec;
  }
}

TEST(LoadDataset, MissingFileIsNotFound) {
  const std::string path = TestPath("missing.bin");
  const absl::Status status = LoadDataset("cifar10:" + path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(path));
}

// --- The shared real data sets. Missing files skip the test locally and fail it in CI.

bool IsRegularFile(const std::string& path) {
  struct stat info = {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

#define REQUIRE_SHARED_FILE(path)                                   \
  do {                                                              \
    if (!IsRegularFile(path)) {                                     \
      if (InCi()) FAIL() << "shared data file missing: " << (path); \
      GTEST_SKIP() << "shared data file missing: " << (path);       \
    }                                                               \
  } while (0)

TEST(SharedData, MnistTestSetWithDerivedLabels) {
  const std::string images = std::string(OCTET_SHARED_DATA) + "/mnist/t10k-images-idx3-ubyte.gz";
  REQUIRE_SHARED_FILE(images);
  REQUIRE_SHARED_FILE(std::string(OCTET_SHARED_DATA) + "/mnist/t10k-labels-idx1-ubyte.gz");
  absl::StatusOr<LabelledImages> mnist = LoadDataset("idx:" + images);
  ASSERT_TRUE(mnist.ok()) << mnist.status();
  EXPECT_EQ(mnist->count, 10000);
  EXPECT_EQ(mnist->channels, 1);
  EXPECT_EQ(mnist->height, 28);
  EXPECT_EQ(mnist->width, 28);
  ASSERT_EQ(mnist->labels.size(), 10000u);
  EXPECT_THAT(std::vector<int32_t>(mnist->labels.begin(), mnist->labels.begin() + 5),
              ElementsAre(7, 2, 1, 0, 4));
  // Checksums computed independently (Python's gzip module) from the same files.
  EXPECT_EQ(std::accumulate(mnist->image(0), mnist->image(1), int64_t{0}), 18454);
  EXPECT_EQ(std::accumulate(mnist->pixels.begin(), mnist->pixels.end(), int64_t{0}), 264923200);
  EXPECT_EQ(std::accumulate(mnist->labels.begin(), mnist->labels.end(), int64_t{0}), 44434);
}

TEST(SharedData, Cifar10TestSet) {
  const std::string path = std::string(OCTET_SHARED_DATA) + "/cifar10-jpeg/test.bin";
  REQUIRE_SHARED_FILE(path);
  absl::StatusOr<LabelledImages> cifar = LoadDataset("cifar10:" + path);
  ASSERT_TRUE(cifar.ok()) << cifar.status();
  EXPECT_EQ(cifar->count, 10000);
  EXPECT_EQ(cifar->channels, 3);
  EXPECT_EQ(cifar->height, 32);
  EXPECT_EQ(cifar->width, 32);
  ASSERT_EQ(cifar->labels.size(), 10000u);
  // The file is sorted by class, 1000 images each: a prefix is a single class.
  EXPECT_EQ(cifar->labels[0], 0);
  EXPECT_EQ(cifar->labels[9999], 9);
  EXPECT_EQ(std::accumulate(cifar->labels.begin(), cifar->labels.end(), int64_t{0}), 45000);
  const uint8_t* first = cifar->image(0);
  EXPECT_EQ(first[0], 141);     // R (0, 0)
  EXPECT_EQ(first[1024], 159);  // G (0, 0)
  EXPECT_EQ(first[2048], 179);  // B (0, 0)
  EXPECT_EQ(first[3071], 64);   // B (31, 31)
  EXPECT_EQ(std::accumulate(first, cifar->image(1), int64_t{0}), 475641);
  EXPECT_EQ(std::accumulate(cifar->image(9999), cifar->image(9999) + 3072, int64_t{0}), 384887);
}

}  // namespace
}  // namespace octet::datasets
