#!/bin/sh
# Installs the build into a temporary prefix, then builds and runs a tiny program against the
# installed tree twice: with CMake's find_package(aistack) and with pkg-config.
set -eu
build=$1 src=$2 cc=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
cmake -S "$src" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_COMPILER="$cc" > "$tmp/cfg.log" 2>&1 || { cat "$tmp/cfg.log"; exit 1; }
cmake --build "$tmp/b" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64" "$tmp/b/consumer"
"$tmp/b/consumer_static"
libdir=$(ls -d "$tmp/prefix"/lib*/pkgconfig | head -1)
PKG_CONFIG_PATH="$libdir" "$cc" "$src/consumer.c" -o "$tmp/consumer_pc" $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs aistack)
LD_LIBRARY_PATH="$libdir/.." "$tmp/consumer_pc"
PKG_CONFIG_PATH="$libdir" "$cc" "$src/consumer.c" -o "$tmp/consumer_pc_static" $(PKG_CONFIG_PATH="$libdir" pkg-config --static --cflags --libs aistack | sed 's/-laistack/-l:libaistack.a/')
"$tmp/consumer_pc_static"
echo "ok: installed tree works through find_package and pkg-config, shared and static"
