#!/usr/bin/env bash
# FP32 throughput of Octet beside ONNX Runtime's CPU library (the npm package
# onnxruntime-node, pinned in bench/onnxruntime/package.json) on the same models, on this
# machine, in one run. Prints a Markdown report on stdout: the machine, the versions, a check
# that both runtimes compute the same function (top-1 correct count on CIFAR-10 test), and
# one table row per model x threads x batch with both throughputs and their ratio.
#
# Both sides are measured alike: `octet-bench speed` and bench/onnxruntime/ort_speed.js feed
# the same pixels, run 3 warm-up and then 7 timed runs of >= 300 ms each, and report the
# median. Each cell is a fresh process per runtime, run back to back, the first one
# alternating from cell to cell, so that drift in the machine's load hits both sides alike.
#
# Usage: bench/compare_onnxruntime.sh [--runs N] [--warmup N] [--min-run-ms MS]
#          [--batch 1,16,64] [--threads 1,2] [--models NAME,...] [--no-check] > results.md
# The same settings can come from the environment: RUNS, WARMUP, MIN_RUN_MS, BATCHES,
# THREADS, MODELS; flags win. OCTET_BENCH=/path/to/octet-bench skips building Octet
# (otherwise scripts/build.sh builds it in Release into ${OCTET_BUILD_DIR:-build});
# OCTET_SHARED_DATA (default ../shared/data beside the checkout) holds models/ and cifar10-jpeg/test.bin.
# Takes about 2 minutes on 2 cores with the defaults, after the build and npm install.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ort_dir="$root/bench/onnxruntime"
shared=${OCTET_SHARED_DATA:-$(cd "$root/.." && pwd)/shared/data}
runs=${RUNS:-7}
warmup=${WARMUP:-3}
min_run_ms=${MIN_RUN_MS:-300}
batches=${BATCHES:-1,16,64}
threads=${THREADS:-1,2}
models=${MODELS:-resnet8-mlperf-tiny,mobilenet-tiny-cifar10}
check=1
command_line=$(echo "bench/compare_onnxruntime.sh $*" | sed 's/ *$//')

usage() { sed -n '/^# Usage:/,/^# Takes/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --min-run-ms) min_run_ms=$2; shift 2 ;;
    --batch) batches=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --no-check) check=0; shift ;;
    -h|--help) usage ;;
    *) echo "compare_onnxruntime.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

# Preprocessing of each model's CIFAR-10 input (x = (pixel * scale - mean) / std), as the
# accuracy tests and README give it; used only by the agreement check.
declare -A prep=(
  [resnet8-mlperf-tiny]="--scale 1"
  [mobilenet-tiny-cifar10]="--scale 1/255 --mean 0.4914,0.4822,0.4465 --std 0.2470,0.2435,0.2616"
)

log() { echo "compare_onnxruntime: $*" >&2; }

# --- What is missing: ONNX Runtime's npm package and the octet-bench binary. ---
ort_package="$ort_dir/node_modules/onnxruntime-node/package.json"
installed_ort=$(node -p "require('$ort_package').version" 2>/dev/null || true)
pinned_ort=$(node -p "require('$ort_dir/package.json').dependencies['onnxruntime-node']")
if [[ "$installed_ort" != "$pinned_ort" ]]; then
  log "installing onnxruntime-node $pinned_ort (npm ci)"
  # skip: only the CPU library bundled in the package, no download of CUDA/TensorRT binaries.
  (cd "$ort_dir" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >&2)
fi
ort_version=$(node -p "require('$ort_package').version")

binary_origin="built from this tree by scripts/build.sh"
if [[ -n "${OCTET_BENCH:-}" ]]; then
  binary_origin="given by OCTET_BENCH, built from whatever tree it was"
else
  log "building Octet in Release (scripts/build.sh)"
  "$root/scripts/build.sh" >&2
  OCTET_BENCH="$root/${OCTET_BUILD_DIR:-build}/bench/octet-bench"
fi
[[ -x "$OCTET_BENCH" ]] || { log "no octet-bench at '$OCTET_BENCH'"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# json FILE EXPRESSION: evaluates a JavaScript expression over the JSON object `j` in FILE.
json() { node -e "const j = JSON.parse(require('fs').readFileSync('$1', 'utf8')); console.log($2)"; }

# --- The report's header: machine and versions. ---
first_model="$shared/models/${models%%,*}.onnx"
"$OCTET_BENCH" speed --model "$first_model" --batch 1 --threads 1 --warmup 0 --runs 1 \
  --min_run_ms 0 --json > "$tmp/isa.json"
commit=$(git -C "$root" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
echo "## Octet vs ONNX Runtime, FP32 throughput on CPU"
echo
echo "- command: \`$command_line\` (runs $runs, warm-up $warmup, min run $min_run_ms ms)"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores available" \
     "($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core)," \
     "oneDNN ISA used by Octet: $(json "$tmp/isa.json" j.isa)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- Octet: tree at commit $commit; \`$OCTET_BENCH\` $binary_origin"
echo "- ONNX Runtime: onnxruntime-node $ort_version (CPU execution provider; intra-op threads" \
     "= threads, inter-op 1, sequential, graph optimization all), Node $(node --version)"
echo

# --- Agreement: both runtimes must compute the same function before speeds mean anything. ---
cifar="$shared/cifar10-jpeg/test.bin"
if ((check)) && [[ -f "$cifar" ]]; then
  echo "Top-1 correct on CIFAR-10 test (10,000 images), Octet vs ONNX Runtime:"
  echo
  for m in ${models//,/ }; do
    [[ -n "${prep[$m]:-}" ]] || { echo "- $m: no preprocessing known, not checked"; continue; }
    model="$shared/models/$m.onnx"
    log "checking $m on CIFAR-10 test"
    # shellcheck disable=SC2086  # the preprocessing flags are meant to split
    "$OCTET_BENCH" eval --model "$model" --dataset "cifar10:$cifar" ${prep[$m]} --json \
      > "$tmp/octet_eval.json"
    # shellcheck disable=SC2086
    node "$ort_dir/ort_eval.js" --model "$model" --dataset "cifar10:$cifar" ${prep[$m]} --json \
      > "$tmp/ort_eval.json"
    octet_correct=$(json "$tmp/octet_eval.json" j.correct)
    ort_correct=$(json "$tmp/ort_eval.json" j.correct)
    verdict="agree"
    [[ "$octet_correct" == "$ort_correct" ]] || verdict="DIFFER"
    echo "- $m: Octet $octet_correct, ONNX Runtime $ort_correct ($verdict)"
  done
  echo
elif ((check)); then
  echo "(agreement not checked: no $cifar)"
  echo
fi

# --- The measurements, interleaved. ---
echo "| model | batch | threads | Octet img/s | ONNX Runtime img/s | Octet/ORT" \
     "| Octet median ms | ORT median ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
common=(--warmup "$warmup" --runs "$runs" --json)
cell=0
for m in ${models//,/ }; do
  model="$shared/models/$m.onnx"
  [[ -f "$model" ]] || { log "no model $model"; exit 1; }
  for t in ${threads//,/ }; do
    for b in ${batches//,/ }; do
      run_octet() {
        "$OCTET_BENCH" speed --model "$model" --batch "$b" --threads "$t" \
          --min_run_ms "$min_run_ms" "${common[@]}" > "$tmp/octet.json"
      }
      run_ort() {
        node "$ort_dir/ort_speed.js" --model "$model" --batch "$b" --threads "$t" \
          --min-run-ms "$min_run_ms" "${common[@]}" > "$tmp/ort.json"
      }
      log "$m, $t thread(s), batch $b"
      if ((cell++ % 2 == 0)); then run_octet; run_ort; else run_ort; run_octet; fi
      octet_ips=$(json "$tmp/octet.json" 'j.results[0].throughput_per_s.toFixed(1)')
      ort_ips=$(json "$tmp/ort.json" 'j.results[0].throughput_per_s.toFixed(1)')
      octet_ms=$(json "$tmp/octet.json" 'j.results[0].latency_ms_median.toFixed(3)')
      ort_ms=$(json "$tmp/ort.json" 'j.results[0].latency_ms_median.toFixed(3)')
      ratio=$(node -p "($octet_ips / $ort_ips).toFixed(2)")
      echo "| $m | $b | $t | $octet_ips | $ort_ips | ${ratio}x | $octet_ms | $ort_ms |"
    done
  done
done
echo
echo "Octet/ORT > 1 means Octet is faster. img/s = batch x 1000 / median latency of the timed runs."
