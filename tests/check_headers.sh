#!/bin/sh
# Every public header compiles on its own, as C11 -pedantic and as C++ (extern "C").
set -eu
incdir=$1 cc=$2 cxx=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$incdir"/aistack/*.h; do
  name=$(basename "$h")
  printf '#include <aistack/%s>\n#include <aistack/%s>\nint ais_test_dummy;\n' "$name" "$name" > "$tmp/t.c"
  "$cc" -std=c11 -pedantic -Wall -Wextra -Werror -I"$incdir" -c "$tmp/t.c" -o "$tmp/t.o" || { echo "FAIL: $name as C11"; exit 1; }
  cp "$tmp/t.c" "$tmp/t.cpp"
  "$cxx" -std=c++11 -pedantic -Wall -Wextra -Werror -I"$incdir" -c "$tmp/t.cpp" -o "$tmp/t.o" || { echo "FAIL: $name as C++"; exit 1; }
  n=$((n+1))
done
echo "ok: $n headers compile alone as C11 and C++"
