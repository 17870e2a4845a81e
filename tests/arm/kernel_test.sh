#!/usr/bin/env bash
# Cross-builds one cmocka kernel test for an ARM Linux target and runs it under qemu-user.
#
#   tests/arm/kernel_test.sh CROSS_CC QEMU SYSROOT LIBDIR SRC OUT [cflags...]
#
# LIBDIR holds the target's libcmocka (Debian multiarch: /usr/lib/aarch64-linux-gnu,
# /usr/lib/arm-linux-gnueabihf, from libcmocka-dev:arm64 / :armhf). It is put in the program's
# run path; qemu -L SYSROOT looks paths up in SYSROOT first and then on the host, where LIBDIR is.
set -euo pipefail
cross_cc=$1 qemu=$2 sysroot=$3 libdir=$4 src=$5 out=$6
shift 6
here=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -e "$libdir/libcmocka.so" ]; then
  echo "skipped: no $libdir/libcmocka.so (apt-get install libcmocka-dev:<arch> with multiarch)"
  exit 0
fi
mkdir -p "$(dirname "$out")"
"$cross_cc" "$@" -std=c99 -O2 -Wall -Wextra -Wpedantic -Wdouble-promotion -Werror \
  -I"$here/runtime" "$src" -o "$out" -L"$libdir" -Wl,-rpath,"$libdir" -lcmocka -lm
exec "$qemu" -L "$sysroot" "$out"
