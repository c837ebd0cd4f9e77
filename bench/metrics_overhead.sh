#!/usr/bin/env bash
# What metrics and shadow comparisons cost in served throughput (issue 6, item 5; goal: at most
# 2% with metrics on and shadowing off). Serves the example model (fashion-lenet) with
# octet-server and loads it with `octet perf MODEL --concurrency 32 --duration 10s`, in modes
# that alternate run by run (so slow drifts of the machine hit every mode alike):
#
#   off        FP32 version, --metrics-address "" (no exposer, events discarded)
#   on         FP32 version, Prometheus metrics served on /metrics (and scraped once a second
#              by this script, as Prometheus would)
#   int8       an INT8 version calibrated here, metrics on, shadow_fraction 0
#   int8+shadow  the same, shadow_fraction 1 (every INT8 answer offered to the FP32 rerun; what
#              the bounded queue cannot take is dropped and counted)
#
# Two measures per run: throughput (completed requests over the run's wall time, from perf),
# and the server process's CPU time per inference (user + system from /proc/PID/stat over the
# measured part only; the warm-up is a separate perf call before it). On a shared, busy machine
# throughput swings with what else runs; CPU time per inference is what metrics or shadowing
# add to the work of each request, and moves far less. Prints a Markdown table (medians over
# the runs, each run's numbers, the ratios to the baseline) and the load before and after.
#
# Usage: bench/metrics_overhead.sh [RUNS]          (default 3 runs of every mode)
# Environment: OCTET_BUILD_DIR (default build; needs octet-server and octet built there),
# CONCURRENCY (32), DURATION (10s), WARMUP (2s), SERVER_THREADS (0: all cores),
# FASHION_MNIST (/usr/share/datasets/fashion-mnist, for the INT8 modes; skipped without it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/${OCTET_BUILD_DIR:-build}
server_bin=$build/server/octet-server
octet=$build/client/octet
runs=${1:-3}
concurrency=${CONCURRENCY:-32}
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
threads=${SERVER_THREADS:-0}
fashion=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
for bin in "$server_bin" "$octet"; do
  [[ -x $bin ]] || { echo "missing $bin (build octet-server and octet first)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/octet-metrics-bench-XXXXXX)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The text of a /metrics page (curl when there is one: lighter than starting Python).
scrape() {
  if command -v curl > /dev/null; then
    curl -s "http://$1/metrics"
  else
    python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://%s/metrics" % sys.argv[1], timeout=5).read().decode())' "$1"
  fi
}

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat; the command
# name in field 2 may hold spaces, so count from the closing parenthesis).
cpu_ticks() {
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
ticks_per_second=$(getconf CLK_TCK)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server REPOSITORY METRICS_ADDRESS [FLAGS...]: starts it, sets $server_pid and $grpc.
start_server() {
  local repository=$1 metrics=$2
  shift 2
  : > "$work/server.out"
  "$server_bin" --model-repository "$repository" --grpc-address 127.0.0.1:0 \
    --metrics-address "$metrics" --threads "$threads" "$@" > "$work/server.out" 2> "$work/server.err" &
  server_pid=$!
  for _ in $(seq 600); do
    if grep -q "listening on port" "$work/server.out"; then
      grpc=127.0.0.1:$(awk '/listening on port/ {print $NF}' "$work/server.out")
      return
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "octet-server did not start:" >&2
  cat "$work/server.err" >&2
  exit 1
}

stop_server() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=
}

# Repositories: the example model as it is, and (when Fashion-MNIST is there) a copy with an
# INT8 version 2 calibrated through the Calibration endpoint, in two configs.
cp -r "$root/examples/models" "$work/fp32"
modes=(off on)
if [[ -f $fashion/train-images-idx3-ubyte.gz ]]; then
  cp -r "$root/examples/models" "$work/int8"
  start_server "$work/int8" ""
  "$octet" --url "$grpc" calibrate fashion-lenet --precision int8 \
    --dataset "idx:$fashion/train-images-idx3-ubyte.gz" --samples 500 \
    --validation-dataset "idx:$fashion/t10k-images-idx3-ubyte.gz" --validation-samples 1000 \
    > "$work/calibrate.out"
  stop_server
  cp -r "$work/int8" "$work/int8_shadow"
  for dir in int8 int8_shadow; do
    fraction=0
    [[ $dir == int8_shadow ]] && fraction=1
    printf '\nshadow_fraction: %s\n' "$fraction" >> "$work/$dir/fashion-lenet/config.pbtxt"
  done
  modes+=(int8 int8+shadow)
else
  echo "note: $fashion is missing; INT8 and shadow modes skipped" >&2
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq "$runs"); do
  for mode in "${modes[@]}"; do
    metrics=127.0.0.1:$(free_port)
    case $mode in
      off) repository=$work/fp32 metrics= ;;
      on) repository=$work/fp32 ;;
      int8) repository=$work/int8 ;;
      int8+shadow) repository=$work/int8_shadow ;;
    esac
    start_server "$repository" "$metrics"
    scraper=
    if [[ -n $metrics ]]; then  # scrape once a second, as Prometheus would
      (while sleep 1; do scrape "$metrics" > /dev/null || true; done) &
      scraper=$!
    fi
    "$octet" --url "$grpc" --json perf fashion-lenet --concurrency "$concurrency" \
      --duration "$warmup" --warmup 0s > /dev/null
    cpu_before=$(cpu_ticks "$server_pid")
    "$octet" --url "$grpc" --json perf fashion-lenet --concurrency "$concurrency" \
      --duration "$duration" --warmup 0s > "$work/perf.json"
    cpu=$(( $(cpu_ticks "$server_pid") - cpu_before ))
    shadow=
    if [[ $mode == int8+shadow ]]; then
      shadow=$(scrape "$metrics" | awk '
        /^octet_shadow_comparisons_total/ {c += $NF} /^octet_shadow_dropped_total/ {d += $NF}
        END {printf "%d compared, %d dropped", c, d}')
    fi
    [[ -n $scraper ]] && kill "$scraper" && wait "$scraper" 2>/dev/null || true
    stop_server
    python3 - "$mode" "$run" "$shadow" "$work/perf.json" "$cpu" "$ticks_per_second" \
      >> "$work/results.tsv" <<'EOF'
import json, sys
mode, run, shadow, path, cpu, hz = sys.argv[1:]
step = json.load(open(path))["steps"][0]
cpu_us = float(cpu) / float(hz) * 1e6 / max(1, step["requests"])
print("\t".join([mode, run, "%.1f" % step["throughput_per_s"], "%.3f" % step["latency_ms"]["p50"],
                 "%.3f" % step["latency_ms"]["p99"], str(step["errors"]), shadow,
                 "%.1f" % cpu_us]))
EOF
    echo "run $run $mode: $(tail -1 "$work/results.tsv" | cut -f3) inferences/s," \
      "$(tail -1 "$work/results.tsv" | cut -f8) us CPU per inference" >&2
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$work/results.tsv" "$load_before" "$load_after" "$concurrency" "$duration" <<'EOF'
import statistics, sys
path, before, after, concurrency, duration = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(path)]
modes = []
for r in rows:
    if r[0] not in modes:
        modes.append(r[0])
median = {m: statistics.median(float(r[2]) for r in rows if r[0] == m) for m in modes}
cpu = {m: statistics.median(float(r[7]) for r in rows if r[0] == m) for m in modes}
baseline = {"off": "off", "on": "off", "int8": "int8", "int8+shadow": "int8"}
print("| mode | throughput, median (inferences/s) | vs baseline | runs | server CPU per "
      "inference, median (us) | vs baseline | runs | p50 / p99 ms (median run) | errors "
      "| shadow comparisons |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in modes:
    mine = sorted((r for r in rows if r[0] == m), key=lambda r: float(r[2]))
    mid = mine[len(mine) // 2]
    b = baseline[m]
    print("| %s | %.1f | %.3f (%s) | %s | %.1f | %.3f (%s) | %s | %s / %s | %d | %s |" % (
        m, median[m], median[m] / median[b], b, ", ".join(r[2] for r in rows if r[0] == m),
        cpu[m], cpu[m] / cpu[b], b, ", ".join(r[7] for r in rows if r[0] == m),
        mid[3], mid[4], sum(int(r[5]) for r in mine), "; ".join(r[6] for r in mine if r[6])))
print()
print("concurrency %s, %s per run, %d runs per mode; load average (1, 5, 15 min) before %s, "
      "after %s" % (concurrency, duration, len(rows) // len(modes), before, after))
EOF
