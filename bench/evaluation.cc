#include "bench/evaluation.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace octet::bench {

int32_t ArgMax(const Tensor& scores, int64_t row) {
  const int64_t classes = scores.shape().back();
  const float* r = scores.data<float>() + row * classes;
  return static_cast<int32_t>(std::max_element(r, r + classes) - r);
}

absl::StatusOr<EvalResult> Evaluate(Session& session, const datasets::LabelledImages& images,
                                    const datasets::Preprocessing& prep,
                                    const EvalOptions& options) {
  if (!images.labelled()) return absl::InvalidArgumentError("the data set has no labels");
  if (options.batch_size < 1) return absl::InvalidArgumentError("batch size must be >= 1");
  const auto& inputs = session.model().inputs();
  if (inputs.size() != 1 || inputs[0].shape.size() != 4) {
    return absl::InvalidArgumentError("evaluation needs a model with one 4-D image input");
  }
  OCTET_RETURN_IF_ERROR(datasets::ValidatePreprocessing(prep, images.channels));
  const bool nhwc = prep.layout == datasets::Preprocessing::Layout::kNHWC;
  const Shape image_dims = nhwc ? Shape{images.height, images.width, images.channels}
                                : Shape{images.channels, images.height, images.width};
  const int64_t total =
      options.max_samples < 0 ? images.count : std::min(options.max_samples, images.count);

  EvalResult result;
  result.predictions.reserve(total);
  const absl::Time start = absl::Now();
  for (int64_t first = 0; first < total; first += options.batch_size) {
    const int64_t n = std::min(options.batch_size, total - first);
    Shape shape = {n};
    shape.insert(shape.end(), image_dims.begin(), image_dims.end());
    Tensor batch(DataType::kFloat32, shape);
    OCTET_RETURN_IF_ERROR(datasets::FillBatch(
        images, first, n, prep, absl::MakeSpan(batch.data<float>(), batch.num_elements())));
    OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, session.Run({batch.view()}));
    if (outputs.empty() || outputs[0].shape().size() != 2 || outputs[0].shape()[0] != n) {
      return absl::InvalidArgumentError("evaluation needs a first output of shape [N, classes]");
    }
    for (int64_t i = 0; i < n; ++i) {
      const int32_t predicted = ArgMax(outputs[0], i);
      result.predictions.push_back(predicted);
      result.correct += predicted == images.labels[first + i];
    }
    result.samples += n;
  }
  result.elapsed = absl::Now() - start;
  return result;
}

absl::StatusOr<SpeedResult> MeasureSpeed(Session& session, const Tensor& sample,
                                         const SpeedOptions& options) {
  if (options.batch_size < 1 || options.timed_runs < 1) {
    return absl::InvalidArgumentError("batch size and runs must be >= 1");
  }
  Shape shape = sample.shape();
  const int64_t per_sample = sample.num_elements() / shape[0];
  shape[0] = options.batch_size;
  Tensor batch(sample.dtype(), shape);
  for (int64_t i = 0; i < options.batch_size; ++i) {
    std::memcpy(batch.data<float>() + i * per_sample,
                sample.data<float>() + (i % sample.shape()[0]) * per_sample,
                per_sample * sizeof(float));
  }
  const std::vector<TensorView> inputs = {batch.view()};
  for (int i = 0; i < options.warmup_runs; ++i) {
    OCTET_RETURN_IF_ERROR(session.Run(inputs).status());
  }
  std::vector<double> latencies_ms;
  SpeedResult result;
  for (int run = 0; run < options.timed_runs; ++run) {
    int64_t count = 0;
    const absl::Time start = absl::Now();
    absl::Duration elapsed;
    do {
      OCTET_RETURN_IF_ERROR(session.Run(inputs).status());
      ++count;
      elapsed = absl::Now() - start;
    } while (elapsed < options.min_run_time);
    latencies_ms.push_back(absl::ToDoubleMilliseconds(elapsed) / count);
    result.inferences += count;
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  result.batch_size = options.batch_size;
  result.threads = session.threads();
  result.latency_ms_min = latencies_ms.front();
  result.latency_ms_max = latencies_ms.back();
  result.latency_ms_median = latencies_ms[latencies_ms.size() / 2];
  result.throughput_per_s = options.batch_size * 1000.0 / result.latency_ms_median;
  return result;
}

}  // namespace octet::bench
