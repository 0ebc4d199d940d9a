#!/bin/sh
# Installs what libaistack needs to build and test on Debian 12 (bookworm):
#   scripts/setup.sh build   the Debian packages to build the library and the aistack tool
#   scripts/setup.sh test    those, the test tools, and the Python environment .venv (default)
# As root it installs missing packages with apt-get; otherwise it prints exactly which are
# missing and the command to install them, and fails.
set -eu
cd "$(dirname "$0")/.."
mode=${1:-test}

BUILD_PKGS="build-essential cmake pkg-config libopenblas-dev libzstd-dev libcjson-dev libxxhash-dev libdlpack-dev libutf8proc-dev"
TEST_PKGS="$BUILD_PKGS clang libclang-rt-14-dev libcmocka-dev abigail-tools python3 python3-venv python3-pip python3-numpy python3-torch python3-torchvision"
case $mode in
  build) pkgs=$BUILD_PKGS ;;
  test) pkgs=$TEST_PKGS ;;
  *) echo "usage: scripts/setup.sh [build|test]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages:$missing"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
  else
    echo "setup: missing Debian packages:$missing" >&2
    echo "setup: install them with: sudo apt-get install$missing" >&2
    exit 1
  fi
fi

if [ "$mode" = test ]; then
  # Debian's python3 (not a pyenv one on the PATH), so that Debian's python3-torch is importable.
  if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv --system-site-packages .venv
  fi
  stamp=.venv/.requirements-installed
  if [ ! -f "$stamp" ] || ! cmp -s tests/requirements.txt "$stamp"; then
    echo "setup: installing Python packages from tests/requirements.txt into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
    .venv/bin/pip install -q --disable-pip-version-check --no-deps -r tests/requirements-nodeps.txt
    cp tests/requirements.txt "$stamp"
  fi
fi
