#!/usr/bin/env bash
# Soak test (bounded; not part of CI): one octet-server, `octet perf` clients keeping N requests
# in flight for a fixed time, and every step (a few seconds) one CSV row with the requests and
# errors of that step, its throughput and p99 latency, and the server's resident memory, both
# from /proc/PID/status (VmRSS) and from its own /metrics (process_resident_memory_bytes).
#
#   scripts/soak.sh [--duration 600] [--concurrency 16] [--step 10] [--model fashion-lenet]
#                   [--repository examples/models] [--out DIR] [--max-slope 1.0]
#
# Verdict (exit 0 when it holds): no errors at all, and no memory growth beyond warm-up: the
# least-squares slope of VmRSS over the last 80% of the run is below --max-slope MB per minute.
# The first 20% is warm-up (plans compiled per batch size, allocator pools, gRPC buffers).
# Binaries: $OCTET_SERVER_BIN and $OCTET_CLI_BIN, else built by scripts/build.sh into
# ${OCTET_BUILD_DIR:-build}. Traffic stays on 127.0.0.1; everything stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=600 concurrency=16 step=10 model=fashion-lenet repository=examples/models
out=build-soak/$(date +%Y%m%d-%H%M%S) max_slope=1.0
while (($#)); do
  case $1 in
    --duration) duration=$2 ;; --concurrency) concurrency=$2 ;; --step) step=$2 ;;
    --model) model=$2 ;; --repository) repository=$2 ;; --out) out=$2 ;;
    --max-slope) max_slope=$2 ;;
    *) echo "usage: $0 [--duration S] [--concurrency N] [--step S] [--model M]" \
         "[--repository DIR] [--out DIR] [--max-slope MB_PER_MIN]" >&2; exit 2 ;;
  esac
  shift 2
done
if [[ -z ${OCTET_SERVER_BIN:-} || -z ${OCTET_CLI_BIN:-} ]]; then
  scripts/build.sh >/dev/null
fi
server_bin=${OCTET_SERVER_BIN:-${OCTET_BUILD_DIR:-build}/server/octet-server}
cli_bin=${OCTET_CLI_BIN:-${OCTET_BUILD_DIR:-build}/client/octet}
mkdir -p "$out"
csv="$out/soak.csv"

metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server_bin" --model-repository "$repository" --grpc-address 127.0.0.1:0 \
  --metrics-address "127.0.0.1:$metrics_port" >"$out/server.stdout" 2>"$out/server.log" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  grep -q "listening on port" "$out/server.stdout" 2>/dev/null && break
  kill -0 $server_pid 2>/dev/null || { echo "soak: octet-server exited; see $out/server.log" >&2; exit 1; }
  sleep 0.2
done
port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$out/server.stdout")
[[ -n $port ]] || { echo "soak: octet-server did not start" >&2; exit 1; }

rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status"; }
metrics_rss_mb() {  # bash's /dev/tcp: no HTTP client needed
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$metrics_port" || return 0
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  line=$(timeout 5 grep -m1 '^process_resident_memory_bytes ' <&3 || true)
  exec 3<&-
  awk '{ if ($2 != "") printf "%.1f", $2 / 1048576 }' <<<"$line"
}

echo "elapsed_s,requests,errors,throughput_per_s,latency_p99_ms,vmrss_mb,metrics_rss_mb" >"$csv"
echo "soak: $model, concurrency $concurrency, ${duration}s, server pid $server_pid on port $port -> $csv"
start=$(date +%s)
while (( $(date +%s) - start < duration )); do
  if ! "$cli_bin" --url "127.0.0.1:$port" perf "$model" --concurrency "$concurrency" \
      --duration "${step}s" --warmup 0s --csv "$out/step.csv" >"$out/perf.log" 2>&1; then
    echo "soak: octet perf failed:" >&2; cat "$out/perf.log" >&2
  fi
  # requests, errors, throughput, p99 of the step (columns 4, 5, 7 and 11 of perf's CSV); no
  # result at all counts as an error.
  row=$(awk -F, 'NR == 2 { print $4 "," $5 "," $7 "," $11; found = 1 } END { if (!found) print "0,1,0," }' \
    "$out/step.csv" 2>/dev/null || echo "0,1,0,")
  rm -f "$out/step.csv"
  kill -0 $server_pid 2>/dev/null || { echo "soak: octet-server died; see $out/server.log" >&2; exit 1; }
  echo "$(( $(date +%s) - start )),$row,$(rss_mb),$(metrics_rss_mb)" | tee -a "$csv"
done

python3 - "$csv" "$max_slope" <<'PY' | tee "$out/verdict.txt"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
max_slope = float(sys.argv[2])
t = [float(r["elapsed_s"]) / 60 for r in rows]
rss = [float(r["vmrss_mb"]) for r in rows]
requests = sum(int(r["requests"]) for r in rows)
errors = sum(int(r["errors"]) for r in rows)
span = t[-1] - t[0]
steady = [i for i in range(len(rows)) if t[i] >= t[0] + 0.2 * span]
if len(steady) < 3:
    sys.exit("soak: too few samples for a verdict; run longer")
ts, rs = [t[i] for i in steady], [rss[i] for i in steady]
mt, mr = sum(ts) / len(ts), sum(rs) / len(rs)
slope = sum((a - mt) * (b - mr) for a, b in zip(ts, rs)) / sum((a - mt) ** 2 for a in ts)
ok = errors == 0 and slope < max_slope
print(f"requests {requests}, errors {errors}, mean throughput {requests / (span * 60):.0f}/s over "
      f"{span:.1f} min; VmRSS {rss[0]:.1f} MB at start, {rs[0]:.1f} MB after warm-up, "
      f"{rss[-1]:.1f} MB at the end (max {max(rss):.1f}); slope over the last 80%: "
      f"{slope:+.3f} MB/min (limit {max_slope}) -> {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
