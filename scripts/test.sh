#!/bin/sh
# Builds and runs every test: the unit tests, ABI/header/install checks, fuzz-corpus replays,
# the ONNX conformance cases and the Python suites, first in a normal build (gcc), then again in
# a clang build with AddressSanitizer and UndefinedBehaviorSanitizer.
#   scripts/test.sh [--quick]   (--quick: skip the sanitizer build)
set -eu
cd "$(dirname "$0")/.."

echo "== setup: Debian packages and the Python environment .venv"
scripts/setup.sh test
jobs=$(nproc)
export AIS_PYTHON="$PWD/.venv/bin/python"

echo "== build (gcc, RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAIS_PYTHON="$AIS_PYTHON" >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build -j"$jobs" --output-on-failure --timeout 900

if [ "${1:-}" != "--quick" ]; then
  echo "== build (clang, AddressSanitizer + UndefinedBehaviorSanitizer)"
  CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAIS_CUDA=OFF \
    -DAIS_SANITIZE='address;undefined' -DAIS_BUILD_BENCH=OFF -DAIS_PYTHON="$AIS_PYTHON" >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== tests under sanitizers"
  # Python suites load the library into an uninstrumented interpreter; they run in the first pass.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan -j"$jobs" --output-on-failure --timeout 1800 -LE "python|abi"
fi
echo "== all tests passed"
