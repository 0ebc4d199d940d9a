#!/bin/bash
# Tied to one kind of machine: a lent, quiet device machine (16 cores, no network, no Python).
# The tree benchmark on a machine without Python (a lent, quiet machine): libaistack against
# XGBoost's and LightGBM's own C predictors and TL2cgen-compiled code, all from C
# (bench/bench_tree_peers), at threads 1, 2, 4, 8 (those <= nproc) and batches 1, 100, 10000.
#
#   scripts/bench_trees_device.sh DIR      (results go to $OUT when set, else a temporary folder)
#
# DIR comes from `bench/bench_trees.py --export-dir DIR` on a machine with the Python packages:
# models, TL2cgen libraries, rows.npy, the peers' .so files, cases.tsv, manifest.json. Steps:
# build dependencies (scripts/gpu_check.sh's deps stage: unpacks .gpu-deps/*.deb, made by
# scripts/gpu_deps.sh, when the image lacks them), a Release build with CUDA off at -j$(nproc)
# of bench_tree_peers and bench_trees, then bench_tree_peers per case of cases.tsv. Meant to
# finish within 6 minutes on 16 cores (estimate: 1 for the build, 2-3 for the runs): each case
# gets AIS_PEERS_CASE_S seconds (default 70) after which its remaining cells are skipped (and is
# killed at that + 40 s), AIS_PEERS_ROUNDS rounds (default 7) of AIS_PEERS_CHUNK_S seconds
# (default 0.2) per system. Writes $OUT/peers-CASE.json,
# $OUT/peers.md (the tables), $OUT/machine.txt and $OUT/bench_trees_device.log.
# Exit status: 0 when everything built and every system's outputs matched libaistack's.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
if [ $# -ne 1 ] || [ ! -f "$1/cases.tsv" ]; then
  echo "usage: scripts/bench_trees_device.sh DIR (made by bench/bench_trees.py --export-dir DIR)" >&2
  exit 2
fi
DIR=$(cd "$1" && pwd)
RES=${OUT:-}
if [ -n "$RES" ]; then mkdir -p "$RES" || RES=""; fi
[ -n "$RES" ] || RES=$(mktemp -d /tmp/bench_trees_device.XXXXXX)
LOG=$RES/bench_trees_device.log
BUILD=${AIS_PEERS_BUILD:-$ROOT/build-peers}
JOBS=$(nproc)
CASE_S=${AIS_PEERS_CASE_S:-70}
ROUNDS=${AIS_PEERS_ROUNDS:-7}
CHUNK_S=${AIS_PEERS_CHUNK_S:-0.2}
: > "$LOG"
say() { echo "$*" | tee -a "$LOG"; }
status=0

say "bench_trees_device: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), results in $RES"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
  echo "nproc: $JOBS"
  echo "load: $(cat /proc/loadavg)"
  echo "kernel: $(uname -sr)"
  echo "cc: $(${CC:-cc} --version | head -1)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) $(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo '(with local changes)')"
} > "$RES/machine.txt"
tee -a "$LOG" < "$RES/machine.txt"

# ---- build dependencies: the deps stage of gpu_check.sh, which writes /tmp/ais-deps/env.sh
# when it had to unpack .gpu-deps ----
say "== build dependencies"
mkdir -p "$RES/deps"
OUT="$RES/deps" AIS_GPU_STAGES="deps" "$ROOT/scripts/gpu_check.sh" 2>&1 | tee -a "$LOG" |
  grep -E '^(dependencies|still missing|no \.gpu-deps)' || true
# shellcheck disable=SC1091
[ -f /tmp/ais-deps/env.sh ] && . /tmp/ais-deps/env.sh

# ---- build ----
say "== configure and build (Release, CUDA off, -j$JOBS)"
t0=$SECONDS
if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAIS_CUDA=OFF -DAIS_BUILD_TESTS=OFF \
         -DAIS_BUILD_EXAMPLES=OFF -DAIS_BUILD_BENCH=ON >> "$LOG" 2>&1 &&
       cmake --build "$BUILD" -j"$JOBS" --target bench_tree_peers bench_trees >> "$LOG" 2>&1; }; then
  say "build failed (see $LOG):"
  tail -30 "$LOG"
  exit 1
fi
say "built in $((SECONDS - t0)) s"
PEERS=$BUILD/bench/bench_tree_peers

# LightGBM needs libgomp.so.1: the export carries one for an image without it (used only then:
# on LD_LIBRARY_PATH it would also replace the system's for bench_tree_peers itself).
if ! { PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null | grep -q 'libgomp\.so\.1 ' ||
       ldd "$PEERS" 2>/dev/null | grep -q 'libgomp\.so\.1 => /'; }; then
  say "no libgomp.so.1 on this machine: using $DIR/lib"
  export LD_LIBRARY_PATH="$DIR/lib:${LD_LIBRARY_PATH:-}"
fi

# ---- run ----
THREADS=""
for t in 1 2 4 8; do [ "$t" -le "$JOBS" ] && THREADS="$THREADS${THREADS:+,}$t"; done
say "== bench_tree_peers: threads $THREADS, batches 1,100,10000, $ROUNDS rounds of ${CHUNK_S}s, at most ${CASE_S}s per case"
: > "$RES/peers.md"
while IFS=$'\t' read -r case lib model tl2; do
  [ -n "$case" ] || continue
  peer_opt=()
  case $lib in
    xgboost) peer_opt=(--xgboost "$DIR/site/xgboost/lib/libxgboost.so") ;;
    lightgbm) peer_opt=(--lightgbm "$DIR/site/lightgbm/lib/lib_lightgbm.so") ;;
  esac
  say ""
  say "-- $case"
  t0=$SECONDS
  timeout --kill-after=10 $((CASE_S + 40)) "$PEERS" "$DIR/$model" --label "$case" \
    --input "$DIR/rows.npy" "${peer_opt[@]}" --tl2cgen "$DIR/$tl2" --threads "$THREADS" \
    --batch 1,100,10000 --rounds "$ROUNDS" --chunk-s "$CHUNK_S" --deadline-s "$CASE_S" \
    --json "$RES/peers-$case.json" > "$RES/peers-$case.out" 2>&1
  rc=$?
  tee -a "$LOG" < "$RES/peers-$case.out"
  # one table for all cases: the header once
  if [ -s "$RES/peers.md" ]; then
    grep '^|' "$RES/peers-$case.out" | grep -v -e '^| model' -e '^|---' >> "$RES/peers.md"
  else
    grep '^|' "$RES/peers-$case.out" >> "$RES/peers.md"
  fi
  say "-- $case: exit status $rc after $((SECONDS - t0)) s"
  [ "$rc" -eq 0 ] || status=1
done < "$DIR/cases.tsv"

say ""
say "== all cases"
tee -a "$LOG" < "$RES/peers.md"
say "bench_trees_device: $([ $status -eq 0 ] && echo ok || echo FAILED) (results in $RES)"
exit $status
