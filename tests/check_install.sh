#!/bin/sh
# Installs the build into a temporary prefix, then builds and runs programs against the installed
# tree: a tiny consumer with CMake's find_package(aistack) and with pkg-config, shared and static,
# and the README's C example (examples/readme_example.c) both ways, on the shipped digits model.
# The README must show that example unchanged, so the documented code is the tested code.
set -eu
build=$1 src=$2 cc=$3
root=$(cd "$src/../.." && pwd)
example=$root/examples/readme_example.c
model=$root/models/digits_mlp.onnx
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# The README's block after the marker line, up to its closing fence, is the file.
awk '/^<!-- examples\/readme_example.c/ {on=1; next} on && /^```c$/ {inside=1; next}
     inside && /^```$/ {exit} inside {print}' "$root/README.md" > "$tmp/readme_block.c"
if ! cmp -s "$tmp/readme_block.c" "$example"; then
  echo "README.md's C example differs from examples/readme_example.c:" >&2
  diff -u "$example" "$tmp/readme_block.c" >&2 || true
  exit 1
fi

cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
cmake -S "$src" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_COMPILER="$cc" \
  -DAIS_README_EXAMPLE="$example" > "$tmp/cfg.log" 2>&1 || { cat "$tmp/cfg.log"; exit 1; }
cmake --build "$tmp/b" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
libdir=$(ls -d "$tmp/prefix"/lib*/pkgconfig | head -1); libdir=${libdir%/pkgconfig}
LD_LIBRARY_PATH="$libdir" "$tmp/b/consumer"
"$tmp/b/consumer_static"
PKG_CONFIG_PATH="$libdir/pkgconfig" "$cc" "$src/consumer.c" -o "$tmp/consumer_pc" $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs aistack)
LD_LIBRARY_PATH="$libdir" "$tmp/consumer_pc"
PKG_CONFIG_PATH="$libdir/pkgconfig" "$cc" "$src/consumer.c" -o "$tmp/consumer_pc_static" $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --static --cflags --libs aistack | sed 's/-laistack/-l:libaistack.a/')
"$tmp/consumer_pc_static"

# The README's example: built by CMake and by the README's pkg-config line; both must classify
# the image as the 2 it is.
PKG_CONFIG_PATH="$libdir/pkgconfig" "$cc" -Wall -Wextra -Werror "$example" -o "$tmp/readme_pc" $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs aistack)
for prog in "$tmp/b/readme_example" "$tmp/readme_pc"; do
  out=$(LD_LIBRARY_PATH="$libdir" "$prog" "$model")
  echo "$out"
  case $out in
    "digit 2 (probability "*) ;;
    *) echo "readme_example: expected digit 2, got: $out" >&2; exit 1 ;;
  esac
done
echo "ok: installed tree works through find_package and pkg-config, shared and static; README example runs"
