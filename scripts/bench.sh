#!/bin/sh
# The benchmark commands: install the peers (ONNX Runtime, XGBoost, LightGBM from PyPI into .venv
# with tests/requirements.txt, Treelite/TL2cgen with bench/requirements.txt; Debian's PyTorch)
# through scripts/setup.sh, build a Release libaistack, and run
#   scripts/bench.sh [harness options, e.g. --quick]   bench/harness.py: neural networks against
#                                                       ONNX Runtime 1.31.1 and OpenVINO
#   scripts/bench.sh trees [options, e.g. --quick]     bench/bench_trees.py: tree ensembles against
#                                                       XGBoost, LightGBM and TL2cgen
# Both write bench/results/*.json and print their tables.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh test
stamp=.venv/.bench-requirements-installed
if [ ! -f "$stamp" ] || ! cmp -s bench/requirements.txt "$stamp"; then
  echo "bench: installing Python packages from bench/requirements.txt into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt "$stamp"
fi
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DAIS_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
export AISTACK_LIBRARY="$PWD/build-release/libaistack.so"
if [ "${1:-}" = trees ]; then
  shift
  exec .venv/bin/python bench/bench_trees.py --build build-release "$@"
fi
exec .venv/bin/python bench/harness.py "$@"
