#!/bin/bash
# Tied to one kind of machine: a lent NVIDIA GPU machine (H100/H200, 16 cores) with no network;
# not a general test entry point (that is scripts/test.sh).
#
# The one prepared check for a machine with an NVIDIA GPU (meant to finish in under 5 minutes on
# an H100): builds with CUDA (Release, -j16), runs every GPU operator test against the reference
# and CPU results, runs them again under compute-sanitizer (memcheck), runs the CPU unit tests of
# the CUDA build, benchmarks models on GPU vs CPU and prints a per-operator timing table (GPU vs
# CPU on the same inputs) with the device name.
#
#   scripts/gpu_check.sh            (results also go to $OUT when that names a directory)
#
# The model stage runs bench/bench_model --backend cuda --compare-cpu --placement on every *.onnx
# in $AIS_GPU_MODELS (default $ROOT/.gpu-models) and in models/: a CUDA session's outputs must
# match a CPU session's on the same random inputs within a normalized bound (max|gpu - cpu| /
# max|cpu| <= 1e-3 for f32, 1e-2 for f16/bf16: cuDNN/cuBLAS pick other summation orders), and
# it prints which nodes fell back to the CPU. The build uses -Werror; if that fails it builds
# again without it (so that the later stages run) and the build stage counts as failed.
#
# AIS_GPU_STAGES picks stages (default: all of "env deps build gpu sanitizer cpu models");
# AIS_GPU_SANITIZE names the test binaries that compute-sanitizer runs (default "test_cuda_*").
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
# The test and bench programs link the static library, which finds the CUDA plugin beside the
# program or through this (libaistack.so finds it beside itself).
export AISTACK_CUDA_PLUGIN=${AISTACK_CUDA_PLUGIN:-$BUILD/libaistack_cuda.so.0}
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
  for m in openblas libzstd libcjson libxxhash libutf8proc cmocka; do
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
  for m in openblas libzstd libcjson libxxhash libutf8proc cmocka; do
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
  local rc=0
  if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAIS_CUDA=ON -DAIS_WERROR=ON \
           -DAIS_BUILD_EXAMPLES=ON -DAIS_BUILD_BENCH=ON && cmake --build "$BUILD" -j"$JOBS"; }; then
    echo "-- the -Werror build failed (see above): building without -Werror so later stages run"
    rc=1
    cmake -S "$ROOT" -B "$BUILD" -DAIS_WERROR=OFF || return 1
    cmake --build "$BUILD" -j"$JOBS" || return 1
  fi
  grep -E '^AIS_CUDNN_LIBRARY' "$BUILD/CMakeCache.txt" || true
  return $rc
}

cuda_libdirs() {
  # cuDNN 9 dlopens its sub-libraries by soname: put its directory on the loader path.
  local lib
  lib=$(sed -n 's/^AIS_CUDNN_LIBRARY:FILEPATH=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
  [ -n "$lib" ] && [ -f "$lib" ] && export LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"
  # cuBLAS may come from a pip wheel outside the loader's default paths.
  for v in CUDA_cublas_LIBRARY CUDA_cublasLt_LIBRARY; do
    lib=$(sed -n "s/^$v:FILEPATH=//p" "$BUILD/CMakeCache.txt" 2>/dev/null)
    [ -n "$lib" ] && [ -f "$lib" ] && export LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"
  done
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
  for t in $(ls "$BUILD"/tests/${AIS_GPU_SANITIZE:-test_cuda_*} 2>/dev/null); do
    echo "-- memcheck $(basename "$t")"
    "$cs" --tool memcheck --error-exitcode 99 --leak-check no "$t" || failed_any=1
  done
  return $failed_any
}

cpu_tests() {
  ctest --test-dir "$BUILD" -L unit -LE cuda -j"$JOBS" --timeout 120 --output-on-failure
}

model_bench() {
  local bm="$BUILD/bench/bench_model" dir=${AIS_GPU_MODELS:-$ROOT/.gpu-models} m name rc
  local failed_any=0 n=0
  [ -x "$bm" ] || { echo "no $bm"; return 1; }
  for m in "$dir"/*.onnx "$ROOT"/models/*.onnx; do
    [ -f "$m" ] || continue
    n=$((n + 1))
    name=$(basename "$m" .onnx)
    # Optional MODEL.args beside a model: extra bench_model options (e.g. --dim seq=128).
    extra=$(cat "${m%.onnx}.args" 2>/dev/null || true)
    echo "-- $m $extra"
    # shellcheck disable=SC2086
    "$bm" "$m" $extra --backend cuda --compare-cpu --placement --iters 50 --warmup 5 \
      --json "$RES/bench_${name}_cuda.json"
    rc=$?
    case $rc in
      0) ;;
      3) echo "FAIL: $name: CUDA outputs differ from the CPU's beyond the bound"; failed_any=1 ;;
      *) echo "FAIL: $name: bench_model exited with $rc"; failed_any=1 ;;
    esac
    # shellcheck disable=SC2086
    "$bm" "$m" $extra --backend cpu --threads 0 --iters 20 --warmup 2 --json "$RES/bench_${name}_cpu.json" ||
      { echo "FAIL: $name: the CPU run failed"; failed_any=1; }
  done
  [ "$n" -gt 0 ] || { echo "no *.onnx in $dir or $ROOT/models"; return 1; }
  return $failed_any
}

export ROOT RES LOG BUILD JOBS
export -f setup_deps env_info configure_build find_test gpu_tests sanitizer cpu_tests model_bench
rm -f /tmp/ais-deps/env.sh
say "gpu_check: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), results in $RES"
STAGES=" ${AIS_GPU_STAGES:-env deps build gpu sanitizer cpu models} "
want() { case $STAGES in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
want env && stage "environment (GPU, driver, toolkit)" 60 env_info
command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
want deps && stage "build dependencies" 120 setup_deps
[ -f /tmp/ais-deps/env.sh ] && . /tmp/ais-deps/env.sh
want build && stage "configure and build (Release, CUDA, -Werror, -j$JOBS)" 420 configure_build
cuda_libdirs
want gpu && stage "GPU tests (operators, sessions) vs reference and CPU (+ timing table)" 180 gpu_tests
want sanitizer && stage "compute-sanitizer memcheck of the GPU tests" 240 sanitizer
want cpu && stage "CPU unit tests of the CUDA build" 180 cpu_tests
want models && stage "model benchmark GPU vs CPU (bench_model --compare-cpu)" 180 model_bench

say ""
say "== summary"
printf "%b\n" "$summary" | tee -a "$LOG"
grep -E '^(device:|/.*backend=(cpu|cuda) |operator \(f32\)|MatMul|Conv|Softmax|LayerNorm|Gelu|Add|Transpose|ReduceSum)' "$LOG" > "$RES/timings.txt" 2>/dev/null || true
say "gpu_check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
