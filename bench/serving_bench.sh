#!/usr/bin/env bash
# Served throughput and latency of octet-server against the raw engine, on ResNet-8 (issue 4,
# item 9). Prints a Markdown report on stdout: the machine and its load, the goals with the
# measured ratios, every perf step, the engine's own numbers, and the variants.
#
#   (a) served throughput with 32 and 64 concurrent clients (`octet perf`) against the raw
#       engine (`octet-bench speed`) at the batch size the server actually formed (read from
#       ModelStatistics' batch statistics over the step), at that size's padded bucket, and
#       at 32; goal >= 90%;
#   (b) dynamic batching (max_batch_size 64, max_queue_delay_microseconds 0: a batch is
#       whatever queued while the engine was busy) against max_batch_size 1, both with 32
#       concurrent clients; goal >= 3x;
#   (c) p50 and p99 latency at concurrency 1 against the engine's own batch-1 latency with as
#       many threads as the server's instance; goal: at most 150 us above it;
#   and variants: max_queue_delay 500 us against 0, 2 instances against 1, and every batch size
#   compiled (batch_size_buckets 1..64) against the default buckets (powers of two and midpoints).
#
# The server, the load generator and the engine share this machine: with --threads 1 the
# instance's OpenMP team has one core and gRPC plus `octet perf` share the other(s).
#
# Usage: bench/serving_bench.sh [--duration 5s] [--warmup 1s] [--threads 1]
#          [--concurrency 32,64] [--no-variants] > results.md
# OCTET_BUILD_DIR (default build) is where octet-server, octet and octet-bench are built, or
# found when OCTET_SKIP_BUILD=1; JOBS (default 2) bounds the build's parallelism;
# OCTET_SHARED_DATA (default ../shared/data beside the checkout) holds models/resnet8-mlperf-tiny.onnx.
# Takes about 2 minutes with the defaults, after the build.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shared=${OCTET_SHARED_DATA:-$root/../shared/data}
model_file=$shared/models/resnet8-mlperf-tiny.onnx
build_dir=${OCTET_BUILD_DIR:-build}
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
duration=5s
warmup=1s
threads=1
concurrency=32,64
variants=1
command_line=$(echo "bench/serving_bench.sh $*" | sed 's/ *$//')

usage() { sed -n '/^# Usage:/,/^# Takes/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --no-variants) variants=0; shift ;;
    -h|--help) usage ;;
    *) echo "serving_bench.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
log() { echo "serving_bench: $*" >&2; }
[[ -r $model_file ]] || { log "missing $model_file (set OCTET_SHARED_DATA)"; exit 1; }

if [[ ${OCTET_SKIP_BUILD:-0} != 1 ]]; then
  log "building octet-server, octet and octet-bench in $build_dir (Release)"
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build "$build_dir" --parallel "${JOBS:-2}" --target octet-server octet octet-bench >&2
fi
server_bin=$build_dir/server/octet-server
octet_bin=$build_dir/client/octet
bench_bin=$build_dir/bench/octet-bench
for b in "$server_bin" "$octet_bin" "$bench_bin"; do
  [[ -x $b ]] || { log "missing $b (build it, or set OCTET_BUILD_DIR)"; exit 1; }
done

tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- The model repository: one model directory per configuration, the same ONNX file. ---
repo=$tmp/repo
add_model() {  # NAME MAX_BATCH QUEUE_DELAY_US INSTANCES [BATCH_SIZE_BUCKETS]
  mkdir -p "$repo/$1/1"
  cp "$model_file" "$repo/$1/1/model.onnx"  # a copy: the server follows no link out of its repository
  cat >"$repo/$1/config.pbtxt" <<EOF
max_batch_size: $2
dynamic_batching { max_queue_delay_microseconds: $3 max_queue_size: 4096 }
instance_group [ { count: $4 kind: KIND_CPU } ]
optimization { precision: PRECISION_FP32 threads: $threads ${5:+batch_size_buckets: [ $5 ]} }
EOF
}
add_model resnet8 64 0 1
add_model resnet8-b1 1 0 1
if ((variants)); then
  add_model resnet8-delay500 64 500 1
  add_model resnet8-x2 64 0 2
  # Every batch size compiled: no padding up to a bucket.
  add_model resnet8-exact 64 0 1 "$(seq -s, 1 64)"
fi

log "starting octet-server"
"$server_bin" --model-repository "$repo" --grpc-address 127.0.0.1:0 \
  --metrics-address 127.0.0.1:0 --threads "$threads" >"$tmp/server.out" 2>"$tmp/server.log" &
server_pid=$!
for _ in $(seq 600); do
  grep -q "listening on port" "$tmp/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
  sleep 0.1
done
port=$(awk '/listening on port/ {print $NF}' "$tmp/server.out")
[[ -n $port ]] || { log "octet-server did not start"; cat "$tmp/server.log" >&2; exit 1; }
octet=("$octet_bin" --url "127.0.0.1:$port" --timeout 60s)

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "$(loadavg)" >"$tmp/load-start"

# CPU seconds the server process has used so far (user + system, all threads).
server_cpu() { awk -v tck="$(getconf CLK_TCK)" '{printf "%.3f\n", ($14 + $15) / tck}' "/proc/$server_pid/stat"; }
# Per thread: "name cpu_seconds" lines (threads that share a name are summed).
server_threads() {
  for t in /proc/"$server_pid"/task/*; do
    # comm may hold spaces: the fields after ") " are numbered from 3.
    sed -E 's/^[0-9]+ \((.*)\) (.*)$/\1|\2/' "$t/stat"
  done | awk -F'|' -v tck="$(getconf CLK_TCK)" '{split($2, f, " "); cpu[$1] += (f[12] + f[13]) / tck}
    END {for (n in cpu) printf "%s\t%.3f\n", n, cpu[n]}' | sort
}

# One perf step, with the model's statistics and the CPU time of the server and of the client
# before and after it: perf_step TAG MODEL CONCURRENCY
perf_step() {
  log "perf $2 at concurrency $3 ($duration, load $(loadavg))"
  "${octet[@]}" stats "$2" --json >"$tmp/stats-$1-before.json"
  server_cpu >"$tmp/cpu-$1-before"
  server_threads >"$tmp/threads-$1-before"
  /usr/bin/time -f "%e %U %S" -o "$tmp/client-cpu-$1" \
    "${octet[@]}" perf "$2" --concurrency "$3" --duration "$duration" --warmup "$warmup" \
    --json >"$tmp/perf-$1.json" 2>>"$tmp/perf.log"
  server_cpu >"$tmp/cpu-$1-after"
  server_threads >"$tmp/threads-$1-after"
  "${octet[@]}" stats "$2" --json >"$tmp/stats-$1-after.json"
  echo "$(loadavg)" >"$tmp/load-$1"
}
# The raw engine: engine TAG BATCHES, wall-clock (median of 7 runs of >= 300 ms); and per batch
# size its CPU time per batch, from two runs of single inferences that differ only in their
# count (so that loading and compiling cancel out): robust when other processes take the cores.
engine() {
  log "octet-bench speed --batch $2 --threads $threads (load $(loadavg))"
  "$bench_bin" speed --model "$model_file" --batch "$2" --threads "$threads" --json \
    >"$tmp/engine-$1.json" 2>>"$tmp/engine.log"
  local b
  for b in ${2//,/ }; do
    local few=$(( (64 + b - 1) / b + 2 )) many=$(( (640 + b - 1) / b + 10 ))
    for runs in "$few" "$many"; do
      /usr/bin/time -f "%U %S" -o "$tmp/engine-cpu-$b-$runs" "$bench_bin" speed \
        --model "$model_file" --batch "$b" --threads "$threads" --warmup 3 --runs "$runs" \
        --min-run-ms 0 --json >"$tmp/engine-single-$b-$runs.json" 2>>"$tmp/engine.log"
    done
    echo "$b $few $many" >>"$tmp/engine-cpu-index"
  done
}

# (c) latency at concurrency 1, and the engine's batch-1 latency right after.
perf_step c1 resnet8 1
engine b1 1
# (a) throughput with many clients, and the engine at the batch sizes the server formed.
IFS=, read -ra levels <<<"$concurrency"
for c in "${levels[@]}"; do perf_step "c$c" resnet8 "$c"; done
formed=$(python3 "$root/bench/serving/serving_report.py" formed-batches "$tmp" "${levels[@]}")
engine formed "$(echo "$formed,32,64" | tr , '\n' | sort -nu | paste -sd,)"
# (b) batching against max_batch_size 1, at 32 clients.
perf_step b1-c32 resnet8-b1 32
if ((variants)); then
  perf_step delay500-c32 resnet8-delay500 32
  perf_step delay500-c1 resnet8-delay500 1
  perf_step x2-c32 resnet8-x2 32
  for c in "${levels[@]}"; do perf_step "exact-c$c" resnet8-exact "$c"; done
fi
echo "$(loadavg)" >"$tmp/load-end"

python3 "$root/bench/serving/serving_report.py" report "$tmp" "${levels[@]}" \
  --command "$command_line" --threads "$threads" --duration "$duration" --warmup "$warmup" \
  --model "$model_file" --server "$server_bin" --variants "$variants"
