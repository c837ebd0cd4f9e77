#!/usr/bin/env bash
# Builds Octet's container image from the Dockerfile and checks it, on a machine without a Docker
# engine or a registry: podman only, with a Debian 12 base image made here by debootstrap.
#
#   deploy/test-image.sh            # as root (or with sudo); about 20 minutes cold on 2 cores
#
#   1. installs what it needs when missing (podman, runc, debootstrap, curl, dataset-fashion-mnist)
#   2. makes localhost/debian12-base with debootstrap (cached as a tarball under /var/tmp)
#   3. podman build --isolation chroot --format docker, both stages FROM that base
#   4. podman run --runtime runc, read-only root, ports published on 127.0.0.1 only
#   5. checks from the host: the image's HEALTHCHECK (command, and `podman healthcheck run`),
#      `octet health`, one inference with a known top-1 (Fashion-MNIST test image 0: class 9,
#      Ankle boot), a scrape of /metrics with octet_ families that counted that request, a
#      Prometheus (Debian's, when installed) scraping it with deploy/prometheus/, the user, and
#      that SIGTERM drains the server to exit status 0
#   6. reports the image size and removes the container and the image
#
# Kept between runs, to make the next one faster: the base tarball, localhost/debian12-base and
# podman's layer cache. `deploy/test-image.sh --clean-all` removes those too, and stops.
#
# Environment: OCTET_IMAGE (default localhost/octet:test), OCTET_BUILD_JOBS (2), OCTET_CLI (a
# host octet binary; default ${OCTET_BUILD_DIR:-build}/client/octet when it runs, otherwise the
# image's CLI in a container on the host network), DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR,
# OCTET_BASE_TARBALL, KEEP_IMAGE=1 (keep the image and print how to run it).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${OCTET_IMAGE:-localhost/octet:test}
base_image=localhost/debian12-base
base_tarball=${OCTET_BASE_TARBALL:-/var/tmp/octet-debian12-base.tar}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
build_jobs=${OCTET_BUILD_JOBS:-2}
container=octet-image-test-$$
dataset=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
labels=examples/models/fashion-lenet/labels.txt

start=$SECONDS
log() { printf '[test-image %4ds] %s\n' $((SECONDS - start)) "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)

if [[ ${1:-} == --clean-all ]]; then
  "${sudo[@]}" podman rmi -f "$image" "$base_image" 2>/dev/null || true
  "${sudo[@]}" podman image prune -f >/dev/null
  "${sudo[@]}" rm -f "$base_tarball"
  log "removed $image, $base_image, dangling build layers and $base_tarball"
  exit 0
fi
podman=("${sudo[@]}" podman)

# ---- 1. tools ----
declare -A tool_package=([podman]=podman [runc]=runc [debootstrap]=debootstrap [curl]=curl
                         [python3]=python3)
missing=()
for tool in "${!tool_package[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${tool_package[$tool]}")
done
[[ -f $dataset ]] || missing+=(dataset-fashion-mnist)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

workdir=$(mktemp -d /tmp/octet-image-test.XXXXXX)
prometheus_pid=
cleanup() {
  local status=$?
  "${podman[@]}" rm -f -t 0 "$container" >/dev/null 2>&1 || true
  [[ -n $prometheus_pid ]] && kill "$prometheus_pid" 2>/dev/null && wait "$prometheus_pid" 2>/dev/null
  if [[ ${KEEP_IMAGE:-0} != 1 ]]; then
    "${podman[@]}" rmi -f "$image" >/dev/null 2>&1 || true
  fi
  rm -rf "$workdir"
  ((status == 0)) && log "PASS in $((SECONDS - start)) s" || log "failed after $((SECONDS - start)) s"
}
trap cleanup EXIT

# ---- 2. the Debian 12 base image ----
# Deletes, inside ROOTFS only, the files that the given absolute path patterns (as dpkg's
# path-exclude writes them) match, except copyright files, and apt's package lists. Refuses anything but a debootstrap
# folder of ours: a wrong ROOTFS must never reach the host's /usr.
slim_rootfs() {
  local rootfs=$1
  shift
  [[ $rootfs == "$workdir"/rootfs && -x $rootfs/usr/bin/apt-get ]] ||
    fail "slim_rootfs: '$rootfs' is not this run's debootstrap folder"
  local pattern dir
  for pattern in "$@"; do
    dir=$rootfs${pattern%/\*}
    [[ -d $dir ]] || continue
    "${sudo[@]}" find "$dir" -mindepth 1 -not -type d -not -name copyright -delete
    "${sudo[@]}" find "$dir" -mindepth 1 -depth -type d -empty -delete
  done
  "${sudo[@]}" rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
}

phase=$SECONDS
if ! "${podman[@]}" image exists "$base_image"; then
  if [[ ! -s $base_tarball ]]; then
    rootfs=$workdir/rootfs
    log "debootstrap bookworm (minbase) from $mirror"
    "${sudo[@]}" debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$workdir/debootstrap.log" 2>&1 ||
      { tail -20 "$workdir/debootstrap.log" >&2; fail "debootstrap"; }
    # The same suites as docker.io/library/debian:bookworm, with their updates.
    "${sudo[@]}" tee "$rootfs/etc/apt/sources.list" >/dev/null <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
EOF
    # Slimmed as debian:bookworm-slim is (debuerreotype): no documentation, manuals or
    # translations, now or from packages installed later, so that image sizes compare.
    slim_paths=('/usr/share/doc/*' '/usr/share/groff/*' '/usr/share/info/*' '/usr/share/linda/*'
                '/usr/share/lintian/*' '/usr/share/locale/*' '/usr/share/man/*')
    {
      for path in "${slim_paths[@]}"; do echo "path-exclude $path"; done
      echo "path-include /usr/share/doc/*/copyright"
    } | "${sudo[@]}" tee "$rootfs/etc/dpkg/dpkg.cfg.d/docker" >/dev/null
    slim_rootfs "$rootfs" "${slim_paths[@]}"
    "${sudo[@]}" chroot "$rootfs" apt-get clean
    "${sudo[@]}" tar --numeric-owner -C "$rootfs" -cf "$base_tarball.partial" .
    "${sudo[@]}" mv "$base_tarball.partial" "$base_tarball"
    "${sudo[@]}" rm -rf "$rootfs"
  fi
  log "importing $base_tarball as $base_image"
  "${podman[@]}" import --change 'CMD ["/bin/bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$base_tarball" "$base_image" >/dev/null
fi
log "base image ready ($((SECONDS - phase)) s)"

# ---- 3. build ----
phase=$SECONDS
log "podman build --isolation chroot ($build_jobs compile jobs)"
"${podman[@]}" build --isolation chroot --format docker --pull=never \
  --build-arg BUILD_BASE_IMAGE="$base_image" --build-arg RUNTIME_BASE_IMAGE="$base_image" \
  --build-arg BUILD_JOBS="$build_jobs" -t "$image" -f Dockerfile . >"$workdir/build.log" 2>&1 ||
  { tail -40 "$workdir/build.log" >&2; fail "podman build"; }
build_seconds=$((SECONDS - phase))
log "built $image ($build_seconds s)"

healthcheck=$("${podman[@]}" image inspect --format '{{json .Config.Healthcheck.Test}}' "$image")
expected='["CMD","octet","--url","127.0.0.1:8001","--timeout","3s","health"]'
[[ $healthcheck == "$expected" ]] || fail "HEALTHCHECK is $healthcheck, expected $expected"
user=$("${podman[@]}" image inspect --format '{{.Config.User}}' "$image")
[[ $user == 10001:10001 ]] || fail "the image runs as '$user', expected 10001:10001"

# ---- 4. run ----
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
grpc_port=$(free_port)
metrics_port=$(free_port)
while [[ $metrics_port == "$grpc_port" ]]; do metrics_port=$(free_port); done
# --read-only as Kubernetes' readOnlyRootFilesystem (podman adds tmpfs at /tmp, /run, /var/tmp).
# The open-files limit is this shell's: podman's default (2^20) may be above what a sandbox
# allows. No health timer (it needs systemd): the checks below run the HEALTHCHECK themselves.
# Explicit limits: podman's defaults for a rootful container (nproc 4194304) exceed what runc may
# set in some sandboxes ("error setting rlimit type 6: operation not permitted"); the server
# needs far fewer processes and files than these.
run_options=(--runtime runc --ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
"${podman[@]}" run -d "${run_options[@]}" --health-interval disable --name "$container" \
  --read-only -p "127.0.0.1:$grpc_port:8001" -p "127.0.0.1:$metrics_port:8002" "$image" \
  >/dev/null || fail "podman run"
log "running $container: gRPC on 127.0.0.1:$grpc_port, metrics on 127.0.0.1:$metrics_port"

# The host-side client: a host build of the CLI, or else the image's, in a container that shares
# the host's network (so it, too, reaches the server through the published port).
cli=${OCTET_CLI:-${OCTET_BUILD_DIR:-build}/client/octet}
if [[ -x $cli ]] && "$cli" --help >/dev/null 2>&1; then
  client=("$cli")
  client_files=("$dataset" "$labels")
  log "client: $cli (host)"
else
  client=("${podman[@]}" run --rm "${run_options[@]}" --network host
          -v "$(dirname "$dataset"):/data:ro" -v "$PWD/$(dirname "$labels"):/labels:ro"
          --entrypoint octet "$image")
  client_files=("/data/$(basename "$dataset")" "/labels/$(basename "$labels")")
  log "client: the image's octet CLI on the host network (no host build at $cli)"
fi
url=127.0.0.1:$grpc_port

# ---- 5. checks ----
phase=$SECONDS
for ((i = 0; ; i++)); do
  "${client[@]}" --url "$url" --timeout 2s health >/dev/null 2>&1 && break
  if [[ $("${podman[@]}" inspect --format '{{.State.Running}}' "$container") != true ]]; then
    "${podman[@]}" logs "$container" >&2 || true
    fail "the container exited"
  fi
  ((i < 120)) || { "${podman[@]}" logs "$container" >&2; fail "not live and ready after 120 s"; }
  sleep 1
done
log "health: live and ready after $((SECONDS - phase)) s (octet health from the host)"

# The HEALTHCHECK's own command, inside the container, and podman's run of it.
"${podman[@]}" exec "$container" octet --url 127.0.0.1:8001 --timeout 3s health >/dev/null ||
  fail "the HEALTHCHECK command fails inside the container"
if out=$("${podman[@]}" healthcheck run "$container" 2>&1); then
  log "healthcheck: podman healthcheck run: healthy"
else
  fail "podman healthcheck run: $out"
fi
uid=$("${podman[@]}" exec "$container" id -u)
[[ $uid == 10001 ]] || fail "the server runs as uid $uid"

inference=$("${client[@]}" --url "$url" --json infer fashion-lenet \
  --dataset "idx:${client_files[0]}" --index 0 --labels "${client_files[1]}") ||
  fail "octet infer"
python3 - "$inference" <<'EOF' || fail "unexpected inference result: $inference"
import json, sys
result = json.loads(sys.argv[1])
top = result["top_k"]["rows"][0]["classes"][0]
logits = next(o for o in result["outputs"] if o["name"] == "logits")["data"]
# Fashion-MNIST t10k image 0 is an ankle boot (class 9); logits from PyTorch in examples/README.md.
assert top["class"] == 9 and top["name"] == "Ankle boot", top
assert abs(logits[9] - 9.388601) < 1e-3, logits
EOF
log "inference: fashion-lenet, test image 0 -> class 9 (Ankle boot), logit 9.3886"

metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics") || fail "scraping /metrics"
families=$(grep -c '^# TYPE octet_' <<<"$metrics" || true)
((families > 0)) || fail "/metrics has no octet_ families"
grep -Eq '^octet_inference_requests_total\{[^}]*model="fashion-lenet"[^}]*outcome="success"[^}]*\} [1-9]' <<<"$metrics" ||
  fail "/metrics does not count the successful request: $(grep requests_total <<<"$metrics")"
grep -Eq '^octet_model_ready\{[^}]*model="fashion-lenet"[^}]*\} 1' <<<"$metrics" ||
  fail "/metrics does not say fashion-lenet is ready"
log "metrics: $families octet_ families; the request is counted; fashion-lenet ready"

# The README's way to load the compose stack: the image's `octet perf` against its own server.
perf=$("${podman[@]}" exec "$container" octet --json perf fashion-lenet --concurrency 4 \
  --duration 3s --warmup 1s 2>"$workdir/perf.err") || fail "octet perf in the container: $perf $(cat "$workdir/perf.err")"
perf_summary=$(python3 - "$perf" <<'EOF'
import json, sys
step = json.loads(sys.argv[1])["steps"][0]
assert step["requests"] > 0 and step["errors"] == 0, step
print("%d requests, %.0f/s, p99 %.2f ms" % (step["requests"], step["throughput_per_s"],
                                            step["latency_ms"]["p99"]))
EOF
) || fail "unexpected octet perf result: $perf"
log "perf: octet perf (concurrency 4, 3 s) in the container: $perf_summary"

# Prometheus with deploy/prometheus/ as compose mounts it, `octet:8002` pointed at the container.
if command -v prometheus >/dev/null 2>&1; then
  prom_port=$(free_port)
  mkdir -p "$workdir/prometheus/data"
  sed "s/octet:8002/127.0.0.1:$metrics_port/" deploy/prometheus/prometheus.yml >"$workdir/prometheus/prometheus.yml"
  cp deploy/prometheus/alerts.yml "$workdir/prometheus/"
  prometheus --config.file="$workdir/prometheus/prometheus.yml" \
    --storage.tsdb.path="$workdir/prometheus/data" --web.listen-address="127.0.0.1:$prom_port" \
    >"$workdir/prometheus.log" 2>&1 &
  prometheus_pid=$!
  query() { curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" 2>/dev/null; }
  for ((i = 0; ; i++)); do
    answer=$(query 'octet_model_ready{job="octet",model="fashion-lenet"} == 1') || answer=
    [[ $answer == *'"result":[{'* ]] && break
    ((i < 60)) || { tail -20 "$workdir/prometheus.log" >&2; fail "Prometheus did not scrape the container"; }
    sleep 1
  done
  rules=$(curl -fsS "http://127.0.0.1:$prom_port/api/v1/rules")
  [[ $rules == *'"name":"octet"'* ]] || fail "Prometheus did not load deploy/prometheus/alerts.yml"
  log "prometheus: $(prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3) scraped the container with deploy/prometheus/; alert rules loaded"
else
  log "prometheus: not installed, scrape config not exercised (scripts/install-deps.sh test installs it)"
fi

# SIGTERM (podman stop) drains the server, which exits 0 as PID 1.
"${podman[@]}" stop -t 30 "$container" >/dev/null
exit_code=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$container")
[[ $exit_code == 0 ]] || { "${podman[@]}" logs "$container" >&2; fail "exit status $exit_code after SIGTERM"; }
log "stop: SIGTERM drained the server, exit status 0"

# ---- 6. report ----
size=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
base_size=$("${podman[@]}" image inspect --format '{{.Size}}' "$base_image")
log "image $image: $((size / 1000000)) MB ($((size / 1048576)) MiB; the Debian 12 base is $((base_size / 1000000)) MB), built in $build_seconds s"
if [[ ${KEEP_IMAGE:-0} == 1 ]]; then
  log "kept: podman run --rm --runtime runc -p 8001:8001 -p 8002:8002 $image"
fi
