#!/bin/sh
# Installs what libaistack needs to build and test on Debian 12 (bookworm):
#   scripts/setup.sh build   the Debian packages to build the library and the aistack tool
#   scripts/setup.sh test    those, the test tools, and the Python environments (default): .venv,
#                            and .venv-sklearn-oldest / -newest for the scikit-learn range tests,
#                            .venv-transformers for the all-MiniLM-L6-v2 test
# As root it installs missing packages with apt-get; otherwise it prints exactly which are
# missing and the command to install them, and fails.
set -eu
cd "$(dirname "$0")/.."
mode=${1:-test}

BUILD_PKGS="build-essential cmake pkg-config libopenblas-dev libzstd-dev libcjson-dev libxxhash-dev libdlpack-dev libutf8proc-dev libjpeg62-turbo-dev libpng-dev libmicrohttpd-dev libjwt-dev"
TEST_PKGS="$BUILD_PKGS curl wrk clang libclang-rt-14-dev libcmocka-dev abigail-tools python3 python3-venv python3-pip python3-numpy python3-torch python3-torchvision python3-pil chromium default-jre-headless"
case $mode in
  build) pkgs=$BUILD_PKGS ;;
  test) pkgs=$TEST_PKGS ;;
  *) echo "usage: scripts/setup.sh [build|test]" >&2; exit 2 ;;
esac

# A fresh test setup takes about 5 GiB here (four virtual environments, pip's unpacked downloads,
# then three build trees): warn below 6, since pip's "No space left on device" midway says less.
if [ "$mode" = test ] && [ ! -f .venv/.requirements-installed ]; then
  free_kib=$(df -Pk . | awk 'NR == 2 { print $4 }')
  if [ -n "$free_kib" ] && [ "$free_kib" -lt 6291456 ]; then
    echo "setup: warning: only $((free_kib / 1048576)) GiB free under $(pwd); the Python environments and" >&2
    echo "setup: warning: builds of the test command need about 6 GiB (the pip installs will fail with ENOSPC)" >&2
  fi
fi

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    # Quiet apt, but never silent: this is the longest step of a first run.
    echo "setup: updating the apt package lists..."
    apt-get update -q >/dev/null
    echo "setup: installing Debian packages (about a minute):$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
    echo "setup: Debian packages installed"
  else
    echo "setup: missing Debian packages:$missing" >&2
    echo "setup: install them with: sudo apt-get install$missing" >&2
    exit 1
  fi
fi

echo "setup: the Debian packages for '$mode' are present"

# venv DIR REQUIREMENTS [VENV_OPTION] [NODEPS_REQUIREMENTS]: makes DIR over Debian's python3 (not
# a pyenv one on the PATH) and installs REQUIREMENTS into it (then NODEPS_REQUIREMENTS with
# --no-deps: packages whose declared dependencies we must not pull in), again only when a file
# changed.
venv() {
  if [ ! -x "$1/bin/python" ]; then
    echo "setup: creating the Python environment $1"
    /usr/bin/python3 -m venv ${3:-} "$1"
  fi
  stamp=$1/.requirements-installed
  if [ ! -f "$stamp" ] || ! cat "$2" ${4:-} | cmp -s - "$stamp"; then
    echo "setup: installing Python packages from $2${4:+ and $4} into $1 (a few minutes)..."
    # --no-cache-dir under CI: a fresh machine gains nothing from a wheel cache, and the copy
    # of every download (pyspark alone is 300 MB) would only add to the peak disk use.
    "$1/bin/pip" install -q --disable-pip-version-check ${CI:+--no-cache-dir} -r "$2"
    if [ -n "${4:-}" ]; then
      "$1/bin/pip" install -q --disable-pip-version-check ${CI:+--no-cache-dir} --no-deps -r "$4"
    fi
    cat "$2" ${4:-} > "$stamp"
  fi
}

if [ "$mode" = test ]; then
  # --system-site-packages, so that Debian's python3-torch is importable.
  venv .venv tests/requirements.txt --system-site-packages tests/requirements-nodeps.txt
  # The oldest and newest scikit-learn that aistack.sklearn supports, each with its own NumPy,
  # SciPy and pandas, for the python_sklearn_export_{oldest,newest} tests.
  venv .venv-sklearn-oldest tests/requirements-sklearn-oldest.txt
  venv .venv-sklearn-newest tests/requirements-sklearn-newest.txt
  # Hugging Face transformers over Debian's torch, for the real-model test of text models
  # (python_text_minilm): its pins conflict with .venv's tokenizers (see the file's comment).
  venv .venv-transformers tests/requirements-transformers.txt --system-site-packages tests/requirements-nodeps.txt
fi
