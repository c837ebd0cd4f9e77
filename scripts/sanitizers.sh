#!/usr/bin/env bash
# Sanitizer builds and their test runs, as CI runs them (docs/reliability.md):
#
#   scripts/sanitizers.sh asan   AddressSanitizer + UndefinedBehaviorSanitizer (clang-14): every
#                                target, the fuzz targets included, in build-asan; then every
#                                ctest test. A UBSan report aborts (-fno-sanitize-recover), so
#                                it fails its test like an ASan or LeakSanitizer report does.
#   scripts/sanitizers.sh tsan   ThreadSanitizer: the batcher and server tests (unit, end to end,
#                                faults) in build-tsan, against Abseil's synchronization library
#                                rebuilt with TSan from Debian's own source package (see below).
#
# Extra arguments go to ctest (e.g. -LE accuracy, -R Batch). Environment: OCTET_ASAN_BUILD_DIR,
# OCTET_TSAN_BUILD_DIR, OCTET_TSAN_ABSEIL_DIR (build directories), OCTET_JOBS (default: nproc).
#
# Both builds use -O0: on two cores compile time is what CI waits for (the same file takes about
# twice as long at -O1 with ASan+UBSan), and the checks are the same at any level. -Werror is off
# there: the warning policy is enforced by the Release (gcc) build of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
[[ $mode == asan || $mode == tsan ]] || { echo "usage: $0 asan|tsan [ctest args...]" >&2; exit 2; }
shift
scripts/install-deps.sh sanitize
jobs=${OCTET_JOBS:-$(nproc)}
supp="$PWD/scripts/sanitizers"
# Reports name functions only through llvm-symbolizer, and the suppressions match those names.
symbolizer=external_symbolizer_path=/usr/lib/llvm-14/bin/llvm-symbolizer

configure() {  # configure DIR SANITIZERS [cmake args...]
  local dir=$1 sanitizers=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -gline-tables-only" \
    "-DCMAKE_C_FLAGS_DEBUG=-O0 -gline-tables-only" -DOCTET_WERROR=OFF \
    "-DOCTET_SANITIZE=$sanitizers" "$@" >/dev/null
}

# A ctest -R pattern matching every test of the given gtest binaries (their suites).
suites_of() {
  local suites
  suites=$(for binary in "$@"; do "$binary" --gtest_list_tests | grep -v '^ ' ; done |
    sed 's/\.$//; s/[][\\.*^$+?(){}|]/\\&/g' | sort -u | paste -sd'|')
  echo "^($suites)\\."
}

if [[ $mode == asan ]]; then
  dir=${OCTET_ASAN_BUILD_DIR:-build-asan}
  configure "$dir" address,undefined -DOCTET_FUZZ=ON
  cmake --build "$dir" --parallel "$jobs"
  export ASAN_OPTIONS="$symbolizer:detect_leaks=1:check_initialization_order=1:strict_string_checks=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="$symbolizer:print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  cd "$dir"
  exec ctest --output-on-failure --timeout 1800 "$@"
fi

# --- tsan ---
# Debian's Abseil is built without TSan, so TSan cannot see absl::Mutex (ours or gRPC's) lock and
# unlock: every access guarded by one is reported as a race. Abseil annotates its Mutex for TSan
# when it is compiled with -fsanitize=thread, so the synchronization library and what it depends
# on are rebuilt that way from the very source Debian built its package from (apt-get source,
# same version and patches, hence the same ABI and SONAMEs), and the tests load it first through
# LD_LIBRARY_PATH. gRPC's own uses of absl::Mutex then become visible too.
absl_dir=$(realpath -m "${OCTET_TSAN_ABSEIL_DIR:-build-tsan-abseil}")
if [[ ! -e $absl_dir/lib/libabsl_synchronization.so.20220623 ]]; then
  version=$(dpkg-query -W -f='${Version}' libabsl-dev)
  mkdir -p "$absl_dir"
  if ! ls -d "$absl_dir"/abseil-*/ >/dev/null 2>&1; then
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
       ! grep -qs '^deb-src' /etc/apt/sources.list; then
      # The machine's Debian sources, for source packages too (apt-get source needs deb-src):
      # deb822 (debian.sources, as Debian 12 installs) or one-line (sources.list, as debootstrap
      # writes).
      if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
          > /etc/apt/sources.list.d/octet-deb-src.sources
      else
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list \
          > /etc/apt/sources.list.d/octet-deb-src.list
      fi
      apt-get update -qq
    fi
    (cd "$absl_dir" && apt-get source -qq "abseil=$version" >/dev/null)
  fi
  src=$(ls -d "$absl_dir"/abseil-*/ | head -1)
  cmake -S "$src" -B "$absl_dir/build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS=-fsanitize=thread" -DBUILD_SHARED_LIBS=ON -DCMAKE_CXX_STANDARD=17 \
    -DABSL_PROPAGATE_CXX_STD=ON -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$absl_dir/build" --parallel "$jobs" --target synchronization
  mkdir -p "$absl_dir/lib"
  find "$absl_dir/build" -name 'libabsl_*.so.*' -exec cp -P {} "$absl_dir/lib/" \;
fi
export LD_LIBRARY_PATH="$absl_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

dir=${OCTET_TSAN_BUILD_DIR:-build-tsan}
configure "$dir" thread
# The batcher, the serving modules' unit tests, and the end-to-end and fault tests, which run the
# whole server (in process, and octet-server as a child process, also built with TSan).
targets=(batch_scheduler_test fake_clock_test octet_server_config_test octet_server_inference_test
  octet_server_repository_test octet_server_grpc_test octet_server_calibration_test
  prometheus_metrics_test metrics_exposer_test process_collector_test octet_e2e_test
  octet_faults_test)
cmake --build "$dir" --parallel "$jobs" --target "${targets[@]}"
binaries=()
for target in "${targets[@]}"; do
  binaries+=("$(find "$dir" -type f -executable -name "$target" | head -1)")
done
# ldd's whole output first: under pipefail `ldd | grep -q` fails whenever grep exits on its match
# before the loader has written its last line (SIGPIPE). On a loaded machine that was 9 runs in
# 100, and it failed a fresh-machine run of .ci/run once.
libraries=$(ldd "${binaries[0]}")
if ! grep -q "libabsl_synchronization.* => $absl_dir/" <<<"$libraries"; then
  echo "sanitizers.sh: the tests do not load the TSan-built Abseil from $absl_dir:" >&2
  grep absl <<<"$libraries" >&2
  exit 1
fi
# ignore_noninstrumented_modules: oneDNN (its primitive cache's locks), libgomp (its barriers)
# and gRPC (its reference counts and slices) are Debian's uninstrumented builds; TSan cannot see
# their synchronization, so the memory functions they call (memcpy, memcmp, malloc) would be
# reported against each other. TSan's own advice for OpenMP; Octet's code is instrumented either way.
export TSAN_OPTIONS="$symbolizer:halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$supp/tsan.supp"
pattern=$(suites_of "${binaries[@]}")
cd "$dir"
exec ctest --output-on-failure --timeout 1800 -R "$pattern" "$@"
