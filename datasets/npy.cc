// NumPy .npy reader and writer. Format
// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
//   "\x93NUMPY" major minor, header length (uint16 LE in 1.0, uint32 LE in 2.0/3.0),
//   a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//   padded with spaces to a multiple of 64 bytes and ended by '\n', then the data.
// The dict is parsed by a small recursive-descent reader that accepts exactly the
// literals NumPy writes (quoted strings, True/False, tuples of integers): never eval.

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "datasets/file_tensor.h"
#include "datasets/internal/input_file.h"
#include "datasets/internal/status_macros.h"
#include "datasets/internal/tensor_layout.h"

namespace octet::datasets {
namespace {

using internal::InputFile;

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicBytes = 6;
constexpr size_t kNpyPreambleBytes = 8;           // magic + major + minor
constexpr uint64_t kMaxNpyHeaderBytes = 1 << 20;  // NumPy's own reader stops at 10000
constexpr size_t kNpyHeaderAlignment = 64;
constexpr size_t kMaxShapeDigits = 18;  // keeps a dimension within int64

struct DtypeCode {
  const char* dtype;
  const char* descr;  // what NumPy writes
};
constexpr DtypeCode kDtypeCodes[] = {
    {"float32", "<f4"}, {"uint8", "|u1"}, {"int8", "|i1"}, {"int32", "<i4"}, {"int64", "<i8"},
};

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// --- Header dict parsing. Each Parse* consumes from the front of `s` and returns
// nullopt on a syntax error (the caller reports it with the header text).

void SkipSpace(absl::string_view& s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
}

bool Consume(absl::string_view& s, char c) {
  SkipSpace(s);
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

std::optional<std::string> ParseString(absl::string_view& s) {
  SkipSpace(s);
  if (s.empty() || (s.front() != '\'' && s.front() != '"')) return std::nullopt;
  const char quote = s.front();
  const size_t end = s.find(quote, 1);
  if (end == absl::string_view::npos) return std::nullopt;
  const absl::string_view body = s.substr(1, end - 1);
  if (body.find('\\') != absl::string_view::npos) return std::nullopt;  // no escapes in NumPy's
  s.remove_prefix(end + 1);
  return std::string(body);
}

std::optional<bool> ParseBool(absl::string_view& s) {
  SkipSpace(s);
  if (absl::ConsumePrefix(&s, "True")) return true;
  if (absl::ConsumePrefix(&s, "False")) return false;
  return std::nullopt;
}

std::optional<std::vector<int64_t>> ParseTuple(absl::string_view& s) {
  if (!Consume(s, '(')) return std::nullopt;
  std::vector<int64_t> dims;
  while (true) {
    if (Consume(s, ')')) return dims;
    size_t digits = 0;
    while (digits < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[digits]))) {
      ++digits;
    }
    int64_t dim = 0;
    if (digits == 0 || digits > kMaxShapeDigits || !absl::SimpleAtoi(s.substr(0, digits), &dim)) {
      return std::nullopt;
    }
    s.remove_prefix(digits);
    absl::ConsumePrefix(&s, "L");  // Python 2 wrote long integers as 3L
    dims.push_back(dim);
    if (!Consume(s, ',')) return Consume(s, ')') ? std::optional(dims) : std::nullopt;
  }
}

absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view text, const std::string& path) {
  const auto malformed = [&](absl::string_view why) {
    constexpr size_t kShown = 200;
    std::string shown(absl::StripTrailingAsciiWhitespace(text.substr(0, kShown)));
    return absl::InvalidArgumentError(
        absl::StrFormat("npy file '%s' has a malformed header (%s): %s", path, why, shown));
  };
  absl::string_view s = text;
  if (!Consume(s, '{')) return malformed("expected '{'");
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<int64_t>> shape;
  while (!Consume(s, '}')) {
    const std::optional<std::string> key = ParseString(s);
    if (!key.has_value()) return malformed("expected a quoted key");
    if (!Consume(s, ':')) return malformed("expected ':' after a key");
    if (*key == "descr" && !descr.has_value()) {
      descr = ParseString(s);
      if (!descr.has_value()) return malformed("'descr' is not a string");
    } else if (*key == "fortran_order" && !fortran_order.has_value()) {
      fortran_order = ParseBool(s);
      if (!fortran_order.has_value()) return malformed("'fortran_order' is not True/False");
    } else if (*key == "shape" && !shape.has_value()) {
      shape = ParseTuple(s);
      if (!shape.has_value()) return malformed("'shape' is not a tuple of integers");
    } else {
      return malformed(absl::StrFormat("unexpected or repeated key '%s'", *key));
    }
    if (!Consume(s, ',')) {
      if (Consume(s, '}')) break;
      return malformed("expected ',' or '}'");
    }
  }
  SkipSpace(s);
  if (!s.empty()) return malformed("text after the closing '}'");
  if (!descr.has_value() || !fortran_order.has_value() || !shape.has_value()) {
    return malformed("'descr', 'fortran_order' and 'shape' are all required");
  }
  return NpyHeader{*descr, *fortran_order, *shape};
}

// The dtype name for a NumPy descr. Single-byte types have no byte order, so any order
// character is accepted for them.
absl::StatusOr<std::string> DtypeFromDescr(const std::string& descr, const std::string& path) {
  if (descr.size() == 3) {
    const char order = descr[0];
    const absl::string_view kind_size = absl::string_view(descr).substr(1);
    const bool any_order = order == '|' || order == '<' || order == '>' || order == '=';
    if (kind_size == "u1" && any_order) return std::string("uint8");
    if (kind_size == "i1" && any_order) return std::string("int8");
    for (const DtypeCode& code : kDtypeCodes) {
      if (descr == code.descr) return std::string(code.dtype);
    }
    if (order == '>' && (kind_size == "f4" || kind_size == "i4" || kind_size == "i8")) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "npy file '%s' holds big-endian data ('%s'); only little-endian is supported", path,
          descr));
    }
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "npy file '%s' has unsupported dtype '%s'; supported: '<f4' (float32), '|u1' (uint8), "
      "'|i1' (int8), '<i4' (int32), '<i8' (int64)",
      path, descr));
}

uint64_t ReadLittleEndian(const uint8_t* p, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = bytes; i-- > 0;) value = value << 8 | p[i];
  return value;
}

std::string ShapeTuple(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

absl::StatusOr<FileTensor> LoadNpy(const std::string& path) {
  ASSIGN_OR_RETURN(InputFile file, InputFile::Open(path, InputFile::Compression::kDetect));
  std::vector<uint8_t> preamble;
  RETURN_IF_ERROR(file.ReadExactly(kNpyPreambleBytes, "npy preamble", &preamble));
  if (std::memcmp(preamble.data(), kNpyMagic, kNpyMagicBytes) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "'%s' is not a .npy file: bad magic %02x %02x %02x %02x %02x %02x (expected "
        "\\x93NUMPY)",
        path, preamble[0], preamble[1], preamble[2], preamble[3], preamble[4], preamble[5]));
  }
  const int major = preamble[6];
  const int minor = preamble[7];
  if (major < 1 || major > 3) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "npy file '%s' has format version %d.%d; supported: 1.0, 2.0, 3.0", path, major, minor));
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  std::vector<uint8_t> length_field;
  RETURN_IF_ERROR(file.ReadExactly(length_bytes, "npy header length", &length_field));
  const uint64_t header_length = ReadLittleEndian(length_field.data(), length_bytes);
  if (header_length > kMaxNpyHeaderBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("npy file '%s' declares a %d-byte header, more than the %d accepted", path,
                        header_length, kMaxNpyHeaderBytes));
  }
  std::vector<uint8_t> header_bytes;
  RETURN_IF_ERROR(file.ReadExactly(header_length, "npy header", &header_bytes));
  const absl::string_view header_text(reinterpret_cast<const char*>(header_bytes.data()),
                                      header_bytes.size());
  ASSIGN_OR_RETURN(const NpyHeader header, ParseNpyHeader(header_text, path));
  if (header.fortran_order) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "npy file '%s' is stored in Fortran (column-major) order; only C order is supported "
        "(save np.ascontiguousarray(x) instead)",
        path));
  }

  FileTensor tensor;
  ASSIGN_OR_RETURN(tensor.dtype, DtypeFromDescr(header.descr, path));
  tensor.shape = header.shape;
  ASSIGN_OR_RETURN(
      const uint64_t data_bytes,
      internal::TensorByteSize(tensor.dtype, tensor.shape, absl::StrFormat("npy file '%s'", path)));
  RETURN_IF_ERROR(file.ReadExactly(data_bytes, "tensor data", &tensor.bytes));
  RETURN_IF_ERROR(file.ExpectEnd("its header's shape"));
  return tensor;
}

absl::Status SaveNpy(const std::string& path, const FileTensor& tensor) {
  const std::string context = absl::StrFormat("SaveNpy '%s'", path);
  ASSIGN_OR_RETURN(const uint64_t data_bytes,
                   internal::TensorByteSize(tensor.dtype, tensor.shape, context));
  if (tensor.bytes.size() != data_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: a %s tensor of shape %s needs %d bytes, the tensor holds %d", context, tensor.dtype,
        internal::ShapeString(tensor.shape), data_bytes, tensor.bytes.size()));
  }
  const char* descr = nullptr;
  for (const DtypeCode& code : kDtypeCodes) {
    if (tensor.dtype == code.dtype) descr = code.descr;
  }

  std::string header = absl::StrFormat("{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                                       descr, ShapeTuple(tensor.shape));
  int major = 1;
  size_t preamble_bytes = kNpyPreambleBytes + 2;
  if (preamble_bytes + header.size() + 1 > 0xFFFF) {
    major = 2;
    preamble_bytes = kNpyPreambleBytes + 4;
  }
  const size_t unpadded = preamble_bytes + header.size() + 1;
  header.append((kNpyHeaderAlignment - unpadded % kNpyHeaderAlignment) % kNpyHeaderAlignment, ' ');
  header.push_back('\n');

  std::string preamble(kNpyMagic, kNpyMagicBytes);
  preamble.push_back(static_cast<char>(major));
  preamble.push_back(0);
  for (size_t i = 0; i < preamble_bytes - kNpyPreambleBytes; ++i) {
    preamble.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFF));
  }

  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
  if (file == nullptr) {
    const int error = errno;
    return absl::ErrnoToStatus(error, absl::StrFormat("cannot create '%s'", path));
  }
  const auto write = [&](const void* data, size_t size) {
    // fwrite's buffer must not be null, even for 0 bytes (an empty tensor).
    return size == 0 || std::fwrite(data, 1, size, file.get()) == size;
  };
  int error = 0;
  if (!write(preamble.data(), preamble.size()) || !write(header.data(), header.size()) ||
      !write(tensor.bytes.data(), tensor.bytes.size())) {
    error = errno != 0 ? errno : EIO;
  }
  if (std::fclose(file.release()) != 0 && error == 0) error = errno != 0 ? errno : EIO;
  if (error != 0) {
    std::remove(path.c_str());
    return absl::ErrnoToStatus(error, absl::StrFormat("cannot write '%s'", path));
  }
  return absl::OkStatus();
}

}  // namespace octet::datasets
