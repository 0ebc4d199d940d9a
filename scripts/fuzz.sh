#!/bin/sh
# Runs every libFuzzer target for SECONDS each (default 600) with clang, adding new crashes to
# tests/fuzz/artifacts/. Inputs that found a bug belong in tests/fuzz/corpus/<reader>/ once fixed,
# so the normal test run replays them.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/.."
secs=${1:-600}; shift 2>/dev/null || true
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAIS_FUZZ=ON -DAIS_CUDA=OFF \
  -DAIS_SANITIZE='address;undefined' -DAIS_BUILD_EXAMPLES=OFF -DAIS_BUILD_BENCH=OFF >/dev/null
targets=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')}
for t in $targets; do cmake --build build-fuzz -j2 --target fuzz_$t >/dev/null; done
mkdir -p tests/fuzz/artifacts
for t in $targets; do
  work=build-fuzz/corpus-$t; mkdir -p "$work"
  echo "== fuzz_$t for ${secs}s"
  ./build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$secs" -max_len=1048576 -rss_limit_mb=4096 \
    -artifact_prefix=tests/fuzz/artifacts/$t- "$work" tests/fuzz/corpus/$t 2>&1 | tail -n 3
done
