#!/usr/bin/env bash
# Runs each libFuzzer target (fuzz/) for a bounded time, as CI does (docs/reliability.md):
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s each (or $OCTET_FUZZ_SECONDS),
#                                                        every target
#
# The targets are built with ASan+UBSan and coverage in the same tree as scripts/sanitizers.sh
# asan (build-asan, or $OCTET_ASAN_BUILD_DIR), so after that step only the fuzzers' own files
# compile. Each run starts from the committed seeds (fuzz/corpus/<target>) in a scratch corpus,
# so the repository is not modified; what a run finds is kept in $OCTET_FUZZ_OUT (default
# build-asan/fuzz-out): crash-*, leak-*, timeout-* or oom-* inputs, and the grown corpus.
# Targets run side by side, $OCTET_FUZZ_JOBS at a time (default: nproc): each is one
# single-threaded libFuzzer process, so on two cores the four take two rounds, not four.
# Exit status 1 when any target found something; the command to reproduce it is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${OCTET_FUZZ_SECONDS:-60}}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(onnx_import infer_request model_config calibration_table)
scripts/install-deps.sh sanitize
dir=${OCTET_ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$dir" -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -gline-tables-only" \
  "-DCMAKE_C_FLAGS_DEBUG=-O0 -gline-tables-only" -DOCTET_WERROR=OFF \
  -DOCTET_SANITIZE=address,undefined -DOCTET_FUZZ=ON >/dev/null
cmake --build "$dir" --parallel "${OCTET_JOBS:-$(nproc)}" --target "${targets[@]/%/_fuzzer}"
out=$(realpath -m "${OCTET_FUZZ_OUT:-$dir/fuzz-out}")
symbolizer=external_symbolizer_path=/usr/lib/llvm-14/bin/llvm-symbolizer
export ASAN_OPTIONS="$symbolizer:detect_leaks=1"
export UBSAN_OPTIONS="$symbolizer:print_stacktrace=1:halt_on_error=1"
fuzz_one() {  # fuzz_one TARGET: its log in $out/TARGET/log, its exit status in .../status
  local target=$1 corpus="$out/$1/corpus" status=0
  mkdir -p "$corpus" "$out/$target/artifacts"
  # -timeout: one input taking longer is a finding (a hang); -rss_limit_mb: so is a blow-up.
  "$dir/fuzz/${target}_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/$target/artifacts/" \
    "$corpus" "fuzz/corpus/$target" >"$out/$target/log" 2>&1 || status=$?
  echo "$status" >"$out/$target/status"
}
parallel=${OCTET_FUZZ_JOBS:-$(nproc)}
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
  echo "fuzz: $target for ${seconds}s"
  rm -f "$out/$target/status"
  fuzz_one "$target" &
done
wait
failed=()
for target in "${targets[@]}"; do
  if [[ $(cat "$out/$target/status" 2>/dev/null) == 0 ]]; then
    echo "fuzz: $target:"
    grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$out/$target/log" |
      sed "s/^/  /"
  else
    failed+=("$target")
    tail -60 "$out/$target/log"
    for artifact in "$out/$target/artifacts"/*; do
      echo "fuzz: $target found $artifact; reproduce with: $dir/fuzz/${target}_fuzzer $artifact"
    done
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: findings in ${failed[*]} (see $out)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, nothing found"
