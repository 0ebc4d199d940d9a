#!/bin/sh
# check_no_cuda_needed.sh LIBAISTACK [PROGRAM...] - libaistack.so must not need any CUDA library
# (the CUDA backend is the dlopen'd plugin libaistack_cuda.so), and programs linked with it must
# not map one at start: NEEDED entries (readelf -d) of the library, and everything ldd resolves
# for each program.
set -u
lib=$1
shift
fail=0
pattern='cuda|cublas|cudnn|nvrtc|libnvidia'
needed=$(readelf -d "$lib" | grep NEEDED) || { echo "readelf failed on $lib"; exit 1; }
if echo "$needed" | grep -Ei "$pattern"; then
    echo "FAIL: $lib has NEEDED entries on CUDA libraries (above)"
    fail=1
fi
echo "$needed" | grep -q 'libc.so' || { echo "FAIL: no NEEDED entries read from $lib"; fail=1; }
for prog in "$@"; do
    [ -n "$prog" ] || continue
    deps=$(ldd "$prog") || { echo "ldd failed on $prog"; exit 1; }
    if echo "$deps" | grep -Ei "$pattern"; then
        echo "FAIL: $prog loads CUDA libraries at start (above)"
        fail=1
    fi
    echo "$deps" | grep -q 'libc.so' || { echo "FAIL: ldd said nothing about $prog"; fail=1; }
done
[ $fail = 0 ] && echo "ok: no CUDA library needed by $lib $*"
exit $fail
