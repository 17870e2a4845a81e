#!/usr/bin/env bash
# A C compiler that cross-compiles and leaves a program the host can run through qemu-user.
#
#   tests/arm/qemu_cc.sh CROSS_CC QEMU SYSROOT [cc arguments...]
#   e.g. qemu_cc.sh aarch64-linux-gnu-gcc qemu-aarch64 /usr/aarch64-linux-gnu -O2 a.c -o prog -lm
#
# Runs CROSS_CC with the cc arguments (plus -static when linking, see below). When they name an
# output (-o FILE), the ARM program is
# moved to FILE.elf and FILE becomes a small shell script that runs `QEMU -L SYSROOT FILE.elf`
# with its arguments. The test runners (tests/models/run_model_test.py,
# tests/onnx_node/run_node_test.py) take it as their --cc and run their programs as usual, so
# the ARM tests need no binfmt_misc registration and no runner of their own.
#
# With CNNCC_QEMU_CC_CACHE=DIR set, *_main.c sources (cnncc's drivers: most of the compile time
# of a small model) are compiled once per distinct preprocessed text and flags, into DIR/*.o.
# Many ONNX node tests share their driver (same input/output names and shapes). The key does
# not include the compiler's version: clear DIR after upgrading the cross compiler.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 CROSS_CC QEMU SYSROOT [cc arguments...]" >&2
  exit 2
fi
cross_cc=$1 qemu=$2 sysroot=$3
shift 3

out=""
prev=""
for a in "$@"; do
  if [ "$prev" = "-o" ]; then out=$a; fi
  prev=$a
done

args=("$@")
cache=${CNNCC_QEMU_CC_CACHE:-}
for a in "$@"; do
  case "$a" in -c | -E | -S) cache="" ;; esac # not a link: compile as asked
done
if [ -n "$cache" ]; then
  cflags=()
  skip=0
  for a in "$@"; do
    if [ $skip -eq 1 ]; then skip=0; continue; fi
    case "$a" in
      -o) skip=1 ;;
      -l* | *.c | *.o | *.a) ;;
      *) cflags+=("$a") ;;
    esac
  done
  args=()
  for a in "$@"; do
    case "$a" in
      *_main.c)
        key=$({ printf '%s\n' "$cross_cc" "${cflags[@]}"; "$cross_cc" "${cflags[@]}" -E -P "$a"; } |
              sha256sum | cut -c1-40)
        obj="$cache/$key.o"
        if [ ! -f "$obj" ]; then
          mkdir -p "$cache"
          "$cross_cc" "${cflags[@]}" -c "$a" -o "$obj.$$.tmp"
          mv -f "$obj.$$.tmp" "$obj"
        fi
        args+=("$obj") ;;
      *) args+=("$a") ;;
    esac
  done
fi

# Programs are linked statically: under this machine's qemu-user 7.2 (Debian 12, host kernel
# 6.18), a dynamically linked program hangs (aarch64) or crashes (armv7) in pthread_create,
# while the same program linked with -static runs (the --threads tests need threads).
link=1
for a in "$@"; do
  case "$a" in -c | -E | -S) link=0 ;; esac
done
if [ $link -eq 1 ]; then
  args+=(-static)
fi

"$cross_cc" "${args[@]}"

if [ -n "$out" ] && [ -f "$out" ]; then
  elf="$out.elf"
  case "$elf" in /*) ;; *) elf="$PWD/$elf" ;; esac
  mv -f "$out" "$elf"
  qemu_path=$(command -v "$qemu" || echo "$qemu")
  {
    echo '#!/usr/bin/env bash' # %q quotes for bash
    printf 'exec %q -L %q %q "$@"\n' "$qemu_path" "$sysroot" "$elf"
  } >"$out"
  chmod +x "$out"
fi
