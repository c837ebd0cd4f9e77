// Reads an ONNX ModelProto (via Debian's libonnx, ONNX_ML=1) into Octet's graph IR.
//
// The importer is strict: an operator, attribute or opset that Octet does not implement, a
// tensor whose byte count disagrees with its shape, or a truncated or corrupt file is refused
// with a message that names the node or tensor. `Constant` nodes become constant values and
// initializers listed among the graph inputs (IR version < 4) are treated as constants.
//
//   OCTET_ASSIGN_OR_RETURN(Graph graph, ImportOnnxFile("model.onnx"));
//
// Stateless; thread-safe.
#ifndef OCTET_ENGINE_ONNX_IMPORTER_H_
#define OCTET_ENGINE_ONNX_IMPORTER_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/graph.h"

namespace octet {

// Parses serialized ModelProto bytes.
absl::StatusOr<Graph> ImportOnnxModel(const std::string& bytes);
// Reads and parses a .onnx file.
absl::StatusOr<Graph> ImportOnnxFile(const std::string& path);
// Reads a serialized TensorProto (the ONNX test-data format, input_0.pb) into a Tensor.
absl::StatusOr<Tensor> ReadOnnxTensorFile(const std::string& path);

// Reads a whole file into memory.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace octet

#endif  // OCTET_ENGINE_ONNX_IMPORTER_H_
