// InputFile: a file opened for sequential reading by the datasets loaders, with the size
// guards that keep a corrupt or hostile file from crashing the process or making it
// allocate memory the file cannot back.
//
//   ASSIGN_OR_RETURN(InputFile file, InputFile::Open(path, InputFile::Compression::kDetect));
//   std::vector<uint8_t> header;
//   RETURN_IF_ERROR(file.ReadExactly(16, "IDX header", &header));
//
// With Compression::kDetect, a file whose first bytes are the gzip magic 1f 8b is
// decompressed on the fly (zlib decides by content, never by file name) and any other
// file is read as is. Compression::kNone reads the bytes as they are, for formats whose
// content may legitimately begin with 1f 8b (raw tensors).
//
// Ownership: InputFile owns its descriptor and closes it on destruction. Movable, not
// copyable. Not thread-safe: one thread reads a given InputFile at a time.
#ifndef OCTET_DATASETS_INTERNAL_INPUT_FILE_H_
#define OCTET_DATASETS_INTERNAL_INPUT_FILE_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct gzFile_s;  // zlib's handle, so that this header needs no zlib.h

namespace octet::datasets::internal {

// The largest payload (after decompression) any loader accepts. It bounds what a
// header's dimensions, or a gzip bomb, can make us allocate.
inline constexpr uint64_t kMaxPayloadBytes = uint64_t{4} << 30;  // 4 GiB

// *product = a * b; false (and *product untouched) when the product overflows 64 bits.
bool MultiplyChecked(uint64_t a, uint64_t b, uint64_t* product);

// "1.5 GiB"-style rendering for messages.
std::string HumanBytes(uint64_t bytes);

class InputFile {
 public:
  enum class Compression { kDetect, kNone };

  // NotFound for a missing file; InvalidArgument for a directory; other errno-based
  // codes for the rest. Messages name the path.
  static absl::StatusOr<InputFile> Open(const std::string& path, Compression compression);

  InputFile(InputFile&&) = default;
  InputFile& operator=(InputFile&&) = default;
  ~InputFile() = default;

  const std::string& path() const { return path_; }
  bool gzip() const { return gzip_; }

  // Bytes left to read when that is known without reading: an uncompressed regular file.
  // nullopt for gzip streams (the gzip trailer's size is modulo 2^32, so not trusted)
  // and for pipes.
  std::optional<uint64_t> RemainingIfKnown() const;

  // Reads up to `n` bytes into `dst`; fewer only at the end of the content. A gzip
  // stream that ends mid-way, or a CRC mismatch, is DataLoss.
  absl::StatusOr<size_t> ReadSome(void* dst, size_t n);

  // Appends exactly `n` bytes to `*dst`, or fails with DataLoss naming `what` when the
  // content ends first. Memory grows with the bytes actually read (in 1 MiB chunks), so
  // a header that promises more than the file holds never causes a matching allocation.
  absl::Status ReadExactly(uint64_t n, absl::string_view what, std::vector<uint8_t>* dst);

  // InvalidArgument when any byte remains: content beyond what the header describes
  // means the file is not what we think it is.
  absl::Status ExpectEnd(absl::string_view described_by);

 private:
  struct GzCloser {
    void operator()(gzFile_s* gz) const;
  };
  struct FileCloser {
    void operator()(std::FILE* file) const;
  };

  InputFile() = default;

  std::string path_;
  bool gzip_ = false;
  std::optional<uint64_t> file_size_;             // set for regular files
  uint64_t consumed_ = 0;                         // bytes handed out so far (decompressed)
  std::unique_ptr<gzFile_s, GzCloser> gz_;        // Compression::kDetect
  std::unique_ptr<std::FILE, FileCloser> plain_;  // Compression::kNone
};

}  // namespace octet::datasets::internal

#endif  // OCTET_DATASETS_INTERNAL_INPUT_FILE_H_
