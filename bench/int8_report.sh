#!/usr/bin/env bash
# INT8 against FP32 on the shared models, on this machine, in one run: a Markdown report on
# stdout with
#   1. top-1 accuracy of all-INT8 ResNet-8 and mnist-8 for each calibration method, and of
#      MobileNet-tiny with per-channel / per-tensor weights, each weight scheme, and mixed
#      precision with a 0.5-point tolerance (full test sets; calibration on calib500.bin and
#      mnist-train10k, 500 images taken evenly through each);
#   2. throughput of INT8 and FP32 side by side (octet-bench speed: warm-up, then timed runs,
#      median) per batch size and thread count, with the ratio, and the weights' bytes.
#
# Usage: bench/int8_report.sh [--accuracy-only | --speed-only] > results.md
# OCTET_BENCH=/path/to/octet-bench skips the build (otherwise scripts/build.sh builds
# ${OCTET_BUILD_DIR:-build}); OCTET_SHARED_DATA defaults to ../shared/data beside the checkout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${OCTET_SHARED_DATA:-$root/../shared/data}
do_accuracy=1
do_speed=1
case "${1:-}" in
  --accuracy-only) do_speed=0 ;;
  --speed-only) do_accuracy=0 ;;
  "") ;;
  *) echo "usage: $0 [--accuracy-only | --speed-only]" >&2; exit 2 ;;
esac
if [[ -z ${OCTET_BENCH:-} ]]; then
  "$root/scripts/build.sh" >&2
  OCTET_BENCH="$root/${OCTET_BUILD_DIR:-build}/bench/octet-bench"
fi
bench=$OCTET_BENCH

cifar_test="cifar10:$shared/cifar10-jpeg/test.bin"
cifar_calib="cifar10:$shared/cifar10-jpeg/calib500.bin"
mnist_test="idx:$shared/mnist/t10k-images-idx3-ubyte.gz"
mnist_calib="idx:$shared/mnist-train10k/train10k-images-idx3-ubyte.gz"
resnet=(--model "$shared/models/resnet8-mlperf-tiny.onnx" --dataset "$cifar_test"
        --calibration-data "$cifar_calib")
mnist=(--model "$shared/models/mnist-8.onnx" --dataset "$mnist_test"
       --calibration-data "$mnist_calib")
mobilenet=(--model "$shared/models/mobilenet-tiny-cifar10.onnx" --dataset "$cifar_test"
           --calibration-data "$cifar_calib" --scale 1/255 --mean 0.4914,0.4822,0.4465
           --std 0.2470,0.2435,0.2616)

# One JSON line of `octet-bench eval` -> a Markdown row.
row() {
  local label=$1; shift
  local json
  json=$("$bench" eval --json "$@")
  python3 - "$label" "$json" <<'PY'
import json, sys
label, r = sys.argv[1], json.loads(sys.argv[2])
fp32, acc = 100 * r["fp32_accuracy"], 100 * r["accuracy"]
layers = r["int8_layers"] + r["fp32_layers"]
fallback = ", ".join(r["fallback"]) or "-"
share = 100 * r["weight_bytes"] / r["weight_bytes_fp32"]
print(f"| {label} | {fp32:.2f}% | {acc:.2f}% | {acc - fp32:+.2f} | {100 * r['agreement']:.2f}% | "
      f"{r['int8_layers']}/{layers} | {fallback} | "
      f"{r['weight_bytes']} / {r['weight_bytes_fp32']} ({share:.1f}%) |")
PY
}

echo "# INT8 against FP32"
echo
echo "Command: \`bench/int8_report.sh $*\`, $(date -u +%Y-%m-%d), commit $(git -C "$root" rev-parse --short HEAD)."
echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; oneDNN ISA $("$bench" speed --model "$shared/models/mnist-8.onnx" --batch 1 --runs 1 --warmup 0 --min-run-ms 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["isa"])')."
echo

if ((do_accuracy)); then
  echo "## Accuracy (full test sets)"
  echo
  echo "| model, precision, calibration | FP32 | INT8 | change (points) | top-1 agreement | INT8 layers | returned to FP32 | weight bytes INT8 / FP32 |"
  echo "|---|---|---|---|---|---|---|---|"
  for method in minmax percentile entropy mse; do
    row "ResNet-8, int8, $method" "${resnet[@]}" --precision int8 --calibration-method "$method"
  done
  for method in minmax percentile entropy mse; do
    row "mnist-8, int8, $method" "${mnist[@]}" --precision int8 --calibration-method "$method"
  done
  row "MobileNet-tiny, int8, per-channel" "${mobilenet[@]}" --precision int8
  row "MobileNet-tiny, int8, per-tensor" "${mobilenet[@]}" --precision int8 --per-tensor-weights
  row "MobileNet-tiny, int8, 7-bit weights" "${mobilenet[@]}" --precision int8 --weight-scheme seven_bit
  row "MobileNet-tiny, int8, full 8-bit weights" "${mobilenet[@]}" --precision int8 --weight-scheme full8
  row "MobileNet-tiny, mixed (0.5 points)" "${mobilenet[@]}" --precision mixed --tolerance 0.5
  row "MobileNet-tiny, mixed (0.5 points), full 8-bit weights" "${mobilenet[@]}" --precision mixed --tolerance 0.5 --weight-scheme full8
  echo
fi

if ((do_speed)); then
  echo "## Throughput, INT8 against FP32 (images/s, median of 7 timed runs)"
  echo
  echo "| model | batch | threads | FP32 | INT8 | INT8/FP32 | FP32 median ms | INT8 median ms |"
  echo "|---|---|---|---|---|---|---|---|"
  for m in resnet8-mlperf-tiny mobilenet-tiny-cifar10; do
    args=(--model "$shared/models/$m.onnx" --batch 1,16,64 --threads 1,2 --json)
    fp32=$("$bench" speed "${args[@]}")
    int8=$("$bench" speed "${args[@]}" --precision int8 --calibration-data "$cifar_calib")
    python3 - "$m" "$fp32" "$int8" <<'PY'
import json, sys
name, fp32, int8 = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
for f, q in zip(fp32["results"], int8["results"]):
    print(f"| {name} | {f['batch']} | {f['threads']} | {f['throughput_per_s']:.0f} | {q['throughput_per_s']:.0f} | "
          f"{q['throughput_per_s'] / f['throughput_per_s']:.2f}x | {f['latency_ms_median']:.3f} | {q['latency_ms_median']:.3f} |")
PY
  done
fi
