#!/bin/sh
# The shared library exports exactly the functions declared AIS_API in the public headers:
# nothing internal (ais__*), nothing without the ais_ prefix, and every declared one.
set -eu
lib=$1 incdir=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/exported"
grep -hv '^ *#' "$incdir"/*.h | tr '\n' ' ' | grep -o 'AIS_API[^;{]*(' | sed 's/ *($//; s/.*[ *]//' | sort -u > "$tmp/declared"
status=0
if grep -v '^ais_[a-z0-9]' "$tmp/exported" > "$tmp/bad"; then echo "exported symbols outside the public API:"; cat "$tmp/bad"; status=1; fi
if comm -13 "$tmp/exported" "$tmp/declared" | grep . > "$tmp/missing"; then echo "declared AIS_API but not exported:"; cat "$tmp/missing"; status=1; fi
if comm -23 "$tmp/exported" "$tmp/declared" | grep . > "$tmp/extra"; then echo "exported but not declared AIS_API in include/aistack:"; cat "$tmp/extra"; status=1; fi
[ $status -eq 0 ] && echo "ok: $(wc -l < "$tmp/exported") exported symbols, exactly the public ais_ API"
exit $status
