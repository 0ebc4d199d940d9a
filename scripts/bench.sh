#!/bin/sh
# The benchmark command: installs the peers (ONNX Runtime from PyPI into .venv, Debian's PyTorch)
# through scripts/setup.sh, builds a Release libaistack, and runs bench/harness.py, which compares
# libaistack with ONNX Runtime and PyTorch on the model set and writes bench/results/*.json.
#   scripts/bench.sh [harness options, e.g. --quick]
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh test
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DAIS_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
AISTACK_LIBRARY="$PWD/build-release/libaistack.so" .venv/bin/python bench/harness.py "$@"
