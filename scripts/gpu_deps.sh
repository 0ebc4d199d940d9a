#!/bin/sh
# Tied to the lent GPU machines: prepares their run, on the development machine.
# Run HERE (a Debian machine with apt), before carrying the tree to a GPU machine whose image may
# lack the build's C dependencies: downloads their .deb files into .gpu-deps/ (in .gitignore),
# which scripts/gpu_check.sh unpacks into a private prefix when pkg-config lacks them.
# Carry the folder with the run: carry [".gpu-deps"]. About 15 MiB.
set -eu
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps
cd .gpu-deps
apt-get download libopenblas-dev libopenblas0 libopenblas0-pthread libopenblas-pthread-dev \
  libgfortran5 libzstd-dev libcjson-dev libcjson1 libcmocka-dev libcmocka0 libdlpack-dev \
  libxxhash-dev libxxhash0 libutf8proc-dev libutf8proc2 pkgconf pkgconf-bin libpkgconf3
ls -la
