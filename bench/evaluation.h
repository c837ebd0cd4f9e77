// Top-1 accuracy of a model on a labelled image set, and throughput/latency measurement:
// the measuring half of `octet-bench`, shared with the accuracy tests so that the numbers
// the tests assert are the numbers the tool prints.
//
//   EvalOptions options;
//   options.batch_size = 64;
//   OCTET_ASSIGN_OR_RETURN(EvalResult r, Evaluate(*session, images, prep, options));
//   printf("%.2f%%\n", 100 * r.accuracy());
//
// Functions are stateless; the Session passed in is used from the calling thread only.
#ifndef OCTET_BENCH_EVALUATION_H_
#define OCTET_BENCH_EVALUATION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "datasets/dataset.h"
#include "datasets/preprocessing.h"
#include "engine/session.h"
#include "engine/tensor.h"

namespace octet::bench {

struct EvalOptions {
  int64_t batch_size = 64;
  int64_t max_samples = -1;  // -1: the whole set
};

struct EvalResult {
  int64_t samples = 0;
  int64_t correct = 0;
  std::vector<int32_t> predictions;  // top-1 class per sample
  absl::Duration elapsed;

  double accuracy() const { return samples == 0 ? 0.0 : static_cast<double>(correct) / samples; }
};

// Runs the model's single input over the images in batches and compares the arg-max of the
// first output (shape [N, classes]) with the labels.
absl::StatusOr<EvalResult> Evaluate(Session& session, const datasets::LabelledImages& images,
                                    const datasets::Preprocessing& prep,
                                    const EvalOptions& options);

// Index of the largest of row `row` of a [N, classes] float tensor.
int32_t ArgMax(const Tensor& scores, int64_t row);

struct SpeedOptions {
  int64_t batch_size = 1;
  int warmup_runs = 3;
  int timed_runs = 7;
  absl::Duration min_run_time = absl::Milliseconds(300);  // each timed run repeats this long
};

struct SpeedResult {
  int64_t batch_size = 0;
  int threads = 0;
  double throughput_per_s = 0;   // samples per second at the median latency
  double latency_ms_median = 0;  // per inference of one batch
  double latency_ms_min = 0;
  double latency_ms_max = 0;
  int64_t inferences = 0;  // timed inferences in total
};

// Measures inference of batches of `input` (whose dim 0 is replaced by the batch size and
// filled by repeating it) after warm-up runs.
absl::StatusOr<SpeedResult> MeasureSpeed(Session& session, const Tensor& sample,
                                         const SpeedOptions& options);

}  // namespace octet::bench

#endif  // OCTET_BENCH_EVALUATION_H_
