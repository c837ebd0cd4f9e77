#include "server/inference/warmup.h"

#include <cstdint>
#include <random>

#include "absl/strings/str_cat.h"
#include "server/config/model_config.h"

namespace octet::server {
namespace {

absl::Status Invalid(const std::string& path, const std::string& where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", where, ": ", what));
}

// Floats in [0, 1), integers 0 or 1, from a generator seeded per warm-up and input.
void FillRandom(Tensor* t, uint32_t seed) {
  std::mt19937 generator(seed);
  const int64_t n = t->num_elements();
  switch (t->dtype()) {
    case DataType::kFloat32: {
      std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
      for (int64_t i = 0; i < n; ++i) t->data<float>()[i] = uniform(generator);
      return;
    }
    default: {
      // Bytes of 0 or 1 make 0 or 1 for uint8 and int8; wider types get 0 or 1 per element.
      std::bernoulli_distribution bit;
      const size_t width = DataTypeSize(t->dtype());
      auto* bytes = static_cast<unsigned char*>(t->raw_data());
      for (int64_t i = 0; i < n; ++i) bytes[i * width] = bit(generator) ? 1 : 0;  // little-endian
      return;
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<WarmupRequest>> WarmupRequests(const v1::ModelConfig& config,
                                                          const ModelSignature& signature,
                                                          int64_t max_tensor_elements,
                                                          const std::string& path) {
  std::vector<WarmupRequest> requests;
  for (int w = 0; w < config.model_warmup_size(); ++w) {
    const v1::ModelWarmup& warmup = config.model_warmup(w);
    WarmupRequest request;
    request.label = WarmupLabel(warmup, w);
    const std::string& where = request.label;
    request.batch_size = warmup.batch_size();
    request.count = std::max<int>(1, static_cast<int>(warmup.count()));
    for (const auto& [name, unused] : warmup.inputs()) {
      bool known = false;
      for (const TensorSpec& spec : signature.inputs) known = known || spec.name == name;
      if (!known) return Invalid(path, where, absl::StrCat("'", name, "' is not a model input"));
    }
    for (size_t i = 0; i < signature.inputs.size(); ++i) {
      const TensorSpec& spec = signature.inputs[i];
      auto it = warmup.inputs().find(spec.name);
      if (it == warmup.inputs().end()) {
        return Invalid(path, where, absl::StrCat("input '", spec.name, "' is missing"));
      }
      const v1::ModelWarmup::Input& input = it->second;
      const std::string in = absl::StrCat("input '", spec.name, "'");
      if (input.data_type() != ToConfigDataType(spec.dtype)) {
        return Invalid(
            path, where,
            absl::StrCat(in, ": data_type ", v1::DataType_Name(input.data_type()),
                         " but the model's is ", v1::DataType_Name(ToConfigDataType(spec.dtype))));
      }
      const Shape dims(input.dims().begin(), input.dims().end());
      bool fits = dims.size() == spec.dims.size();
      for (size_t d = 0; fits && d < dims.size(); ++d) {
        fits = spec.dims[d] < 0 || spec.dims[d] == dims[d];
      }
      if (!fits) {
        return Invalid(path, where,
                       absl::StrCat(in, ": dims ", ShapeToString(dims), " do not fit the input's ",
                                    ShapeToString(spec.dims),
                                    signature.batching() ? " (without the batch dimension)" : ""));
      }
      Shape shape = dims;
      if (signature.batching()) shape.insert(shape.begin(), request.batch_size);
      absl::StatusOr<int64_t> elements = NumElements(shape);
      if (!elements.ok() || *elements > max_tensor_elements) {
        return Invalid(
            path, where,
            absl::StrCat(in, ": ", ShapeToString(shape), " is more than the ", max_tensor_elements,
                         " elements a request tensor may have (--max_tensor_elements)"));
      }
      Tensor tensor(spec.dtype, shape);  // zeros
      if (input.random_data()) FillRandom(&tensor, 0x5eed0000u + static_cast<uint32_t>(w * 64 + i));
      request.inputs.push_back(std::move(tensor));
    }
    requests.push_back(std::move(request));
  }
  return requests;
}

}  // namespace octet::server
