#!/bin/sh
# Records the ABI of the shared library as the new baseline (abi/libaistack.abi).
# Run after a deliberate change to the public API, and commit the result with that change.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target aistack
mkdir -p abi
abidw --headers-dir include/aistack --no-corpus-path --out-file abi/libaistack.abi "$build/libaistack.so"
echo "wrote abi/libaistack.abi"
