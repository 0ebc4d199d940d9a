#!/bin/bash
# The one prepared check for a machine with an NVIDIA GPU (meant to finish in under 5 minutes on
# an H100): builds with CUDA (Release, -j16), runs every GPU operator test against the reference
# and CPU results, runs them again under compute-sanitizer (memcheck), runs the CPU unit tests of
# the CUDA build, benchmarks models on GPU vs CPU when the session layer offers the CUDA backend,
# and prints a per-operator timing table (GPU vs CPU on the same inputs) with the device name.
#
#   scripts/gpu_check.sh            (results also go to $OUT when that names a directory)
#
# Each stage's failure is reported and later stages still run. The last line is
# "gpu_check: N passed, N failed". If the image lacks openblas/zstd/cjson/cmocka/dlpack/pkg-config,
# run scripts/gpu_deps.sh on the development machine first and carry .gpu-deps along.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
RES=${OUT:-}
if [ -n "$RES" ]; then mkdir -p "$RES" || RES=""; fi
[ -n "$RES" ] || RES=$(mktemp -d /tmp/gpu_check.XXXXXX)
LOG=$RES/gpu_check.log
BUILD=${AIS_GPU_BUILD:-$ROOT/build-gpu}
JOBS=${AIS_GPU_JOBS:-16}
: > "$LOG"
passed=0 failed=0
summary=""

say() { echo "$*" | tee -a "$LOG"; }
# stage NAME TIMEOUT CMD...: runs CMD with output to the log and the terminal.
stage() {
  local name=$1 limit=$2; shift 2
  say ""
  say "== $name"
  local t0=$SECONDS rc
  # Functions run in a child bash (timeout cannot run them directly): they are exported below.
  timeout --kill-after=10 "$limit" bash -c "$*" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  local dt=$((SECONDS - t0))
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); summary="$summary\n  PASS  $name (${dt}s)"
  else
    failed=$((failed + 1)); summary="$summary\n  FAIL  $name (rc=$rc, ${dt}s)"
    [ "$rc" -eq 124 ] && say "-- $name: timed out after ${limit}s"
  fi
  return 0
}

# ---- dependencies that the image may lack ----
setup_deps() {
  local missing=""
  command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
  for m in openblas libzstd libcjson cmocka; do
    pkg-config --exists "$m" 2>/dev/null || missing="$missing $m"
  done
  [ -f /usr/include/dlpack/dlpack.h ] || missing="$missing dlpack"
  if [ -z "$missing" ]; then echo "dependencies: all present"; return 0; fi
  echo "dependencies missing from the image:$missing"
  if ! ls "$ROOT"/.gpu-deps/*.deb >/dev/null 2>&1; then
    echo "no .gpu-deps/*.deb to unpack (run scripts/gpu_deps.sh here and carry .gpu-deps)"
    return 1
  fi
  local R=/tmp/ais-deps
  mkdir -p "$R"
  for f in "$ROOT"/.gpu-deps/*.deb; do dpkg-deb -x "$f" "$R" || return 1; done
  # Debian's .pc files name /usr: point them into the private prefix.
  find "$R" -name '*.pc' -exec sed -i -e "s#=/usr#=$R/usr#g" -e "s#-I/usr#-I$R/usr#g" -e "s#-L/usr#-L$R/usr#g" {} +
  local ma=$R/usr/lib/x86_64-linux-gnu
  export PKG_CONFIG_PATH="$ma/pkgconfig:$ma/openblas-pthread/pkgconfig:$R/usr/share/pkgconfig:${PKG_CONFIG_PATH:-}"
  export LD_LIBRARY_PATH="$ma:$ma/openblas-pthread:${LD_LIBRARY_PATH:-}"
  export LIBRARY_PATH="$ma:$ma/openblas-pthread:${LIBRARY_PATH:-}"
  export CPATH="$R/usr/include:${CPATH:-}"
  export CMAKE_PREFIX_PATH="$R/usr:${CMAKE_PREFIX_PATH:-}"
  if ! command -v pkg-config >/dev/null 2>&1 && [ -x "$R/usr/bin/pkgconf" ]; then
    mkdir -p "$R/bin" && ln -sf "$R/usr/bin/pkgconf" "$R/bin/pkg-config"
    export PATH="$R/bin:$PATH"
  fi
  for m in openblas libzstd libcjson cmocka; do
    pkg-config --exists "$m" || { echo "still missing: $m"; return 1; }
  done
  # The stage runs in a child shell: the parent sources these settings afterwards.
  { for v in PKG_CONFIG_PATH LD_LIBRARY_PATH LIBRARY_PATH CPATH CMAKE_PREFIX_PATH PATH; do
      printf 'export %s=%q\n' "$v" "${!v}"; done; } > "$R/env.sh"
  echo "dependencies: unpacked into $R"
}

env_info() {
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || return 1
  command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
  nvcc --version | tail -2 || return 1
  cmake --version | head -1
  nproc
}

configure_build() {
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAIS_CUDA=ON -DAIS_WERROR=OFF \
    -DAIS_BUILD_EXAMPLES=ON -DAIS_BUILD_BENCH=ON || return 1
  cmake --build "$BUILD" -j"$JOBS" || return 1
  grep -E '^AIS_CUDNN_LIBRARY' "$BUILD/CMakeCache.txt" || true
}

cuda_libdirs() {
  # cuDNN 9 dlopens its sub-libraries by soname: put its directory on the loader path.
  local lib
  lib=$(sed -n 's/^AIS_CUDNN_LIBRARY:FILEPATH=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
  [ -n "$lib" ] && [ -f "$lib" ] && export LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"
  return 0
}

find_test() { ls "$BUILD"/tests/"$1" 2>/dev/null || ls "$BUILD/$1" 2>/dev/null; }

gpu_tests() {
  local failed_any=0 t
  for t in $(ls "$BUILD"/tests/test_cuda_* 2>/dev/null); do
    [ -x "$t" ] || continue
    echo "-- $(basename "$t")"
    AIS_GPU_BENCH=1 "$t"; local rc=$?
    if [ $rc -eq 77 ]; then echo "SKIPPED on a GPU machine: counts as a failure"; failed_any=1
    elif [ $rc -ne 0 ]; then failed_any=1; fi
  done
  [ -n "$(ls "$BUILD"/tests/test_cuda_* 2>/dev/null)" ] || { echo "no test_cuda_* binaries"; return 1; }
  return $failed_any
}

sanitizer() {
  local cs=/usr/local/cuda/bin/compute-sanitizer
  [ -x "$cs" ] || cs=$(command -v compute-sanitizer 2>/dev/null || true)
  if [ -z "$cs" ]; then echo "compute-sanitizer not found (looked in /usr/local/cuda/bin and PATH)"; return 1; fi
  local failed_any=0 t
  for t in $(ls "$BUILD"/tests/test_cuda_* 2>/dev/null); do
    echo "-- memcheck $(basename "$t")"
    "$cs" --tool memcheck --error-exitcode 99 --leak-check no "$t" || failed_any=1
  done
  return $failed_any
}

cpu_tests() {
  ctest --test-dir "$BUILD" -L unit -LE cuda -j"$JOBS" --timeout 120 --output-on-failure
}

model_bench() {
  if ! grep -qs AIS_BACKEND_CUDA "$ROOT"/include/aistack/*.h; then
    echo "skipped: the session API has no AIS_BACKEND_CUDA yet (not a failure)"
    return 0
  fi
  local b
  for b in "$BUILD"/bench/bench_models "$BUILD"/bench_models "$BUILD"/examples/aistack; do
    if [ -x "$b" ]; then
      echo "-- $b (cpu)"; "$b" --backend cpu || return 1
      echo "-- $b (cuda)"; "$b" --backend cuda || return 1
      return 0
    fi
  done
  echo "skipped: no model benchmark program found (bench_models) (not a failure)"
  return 0
}

export ROOT RES LOG BUILD JOBS
export -f setup_deps env_info configure_build find_test gpu_tests sanitizer cpu_tests model_bench
rm -f /tmp/ais-deps/env.sh
say "gpu_check: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), results in $RES"
stage "environment (GPU, driver, toolkit)" 60 env_info
command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
stage "build dependencies" 120 setup_deps
[ -f /tmp/ais-deps/env.sh ] && . /tmp/ais-deps/env.sh
stage "configure and build (Release, CUDA, -j$JOBS)" 420 configure_build
cuda_libdirs
stage "GPU operator tests vs reference and CPU (+ timing table)" 180 gpu_tests
stage "compute-sanitizer memcheck of the GPU operator tests" 240 sanitizer
stage "CPU unit tests of the CUDA build" 180 cpu_tests
stage "model benchmark GPU vs CPU" 180 model_bench

say ""
say "== summary"
printf "%b\n" "$summary" | tee -a "$LOG"
grep -E '^(device:|operator \(f32\)|MatMul|Conv|Softmax|LayerNorm|Gelu|Add|Transpose|ReduceSum)' "$LOG" > "$RES/timings.txt" 2>/dev/null || true
say "gpu_check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
