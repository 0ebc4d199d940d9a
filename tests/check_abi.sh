#!/bin/sh
# Compares the shared library's ABI with the recorded baseline (abi/libaistack.abi, written by
# scripts/abi-update.sh with libabigail's abidw). Any change to a public type or function fails
# until the baseline is updated in the same commit. Exit 77 (skip) only when abidiff is missing.
set -eu
lib=$1 baseline=$2 headers=$3
# Opaque handles are defined in lib/: their layout is not ABI (see the file's comment).
suppr="$(dirname "$baseline")/private-types.suppr"
command -v abidiff >/dev/null 2>&1 || { echo "SKIP: abidiff (abigail-tools) is not installed"; exit 77; }
[ -f "$baseline" ] || { echo "FAIL: no ABI baseline at $baseline (run scripts/abi-update.sh)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
abidw --headers-dir "$headers" --no-corpus-path --out-file "$tmp/current.abi" "$lib"
if abidiff --no-added-syms --suppressions "$suppr" "$baseline" "$tmp/current.abi" > "$tmp/diff"; then
  echo "ok: ABI matches the baseline"
  # Additions are compatible, but the baseline should record them: report, do not fail.
  abidiff --suppressions "$suppr" "$baseline" "$tmp/current.abi" > /dev/null || echo "note: functions were added since the baseline; run scripts/abi-update.sh"
else
  rc=$?
  cat "$tmp/diff"
  # abidiff's exit code is a bit field: 4 = ABI change, 8 = incompatible change.
  echo "FAIL: the ABI differs from abi/libaistack.abi (abidiff exit $rc); if deliberate, run scripts/abi-update.sh"
  exit 1
fi
