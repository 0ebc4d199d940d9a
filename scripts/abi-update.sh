#!/bin/sh
# Records the ABI of the shared library as the new baseline (abi/libaistack.abi), from a
# RelWithDebInfo build configured like scripts/test.sh's (the ctest abi_abidiff check compares
# that build with this file). Run after a deliberate change to the public API, and commit the
# result with that change.
set -eu
cd "$(dirname "$0")/.."
build=build-abi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAIS_BUILD_TESTS=OFF -DAIS_BUILD_EXAMPLES=OFF -DAIS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target aistack >/dev/null
mkdir -p abi
abidw --headers-dir include/aistack --no-corpus-path --out-file abi/libaistack.abi "$build/libaistack.so"
echo "wrote abi/libaistack.abi"
