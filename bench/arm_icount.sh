#!/usr/bin/env bash
# Dynamic instruction counts of cnncc's ARM output under qemu-user: NEON build vs portable build.
#
#   bench/arm_icount.sh [--build DIR] [--models "resnet18 mobilenet_v2 squeezenet1_1"]
#
# Speed on ARM cannot be timed here (no ARM hardware; qemu's time says nothing about a core), so
# this counts the guest instructions one inference executes, with a small TCG plugin
# (bench/arm_icount_plugin.c; Debian's qemu-user 7.2 supports -plugin but ships no plugin, and
# qemu's -d statistics are translation counts, not executed instructions). Per model, for
# --target aarch64 and --target armv7 output:
#   NEON      the output as generated, built -O2 for the target (NEON kernels)
#   portable  the same output built with -U__ARM_NEON -U__ARM_NEON__: every #if'd NEON call
#             falls back to its portable kernel (the compiler may still auto-vectorize those)
# and, for aarch64, the executed FMLA instructions (single precision, by element or vector) and
# their lanes: FMLA lanes per instruction over the whole run. Then the microkernels alone over a
# long k loop (bench/arm_microkernel.c): instructions per k step and FMAs per instruction.
# Inputs: the tests' models and inputs (build/models/<name>, made by the model/export test:
# ctest -R model/export). Needs the ARM cross compilers and qemu-user (scripts/test.sh installs
# them). Prints a markdown table (docs/arm.md has one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
models="resnet18 mobilenet_v2 squeezenet1_1"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--models \"a b\"]" >&2; exit 2 ;;
  esac
done
cnncc=$build/cnncc
work=$build/arm_icount
mkdir -p "$work"
plugin=$work/libarmicount.so
cc -shared -fPIC -O2 "$root/bench/arm_icount_plugin.c" -o "$plugin"

# count QEMU ARCHARG PROG ARGS... -> "insns fmla lanes"
count() {
  local qemu=$1 arch=$2
  shift 2
  local out=$work/count.txt
  rm -f "$out"
  "$qemu" -plugin "$plugin,out=$out$arch" "$@" >/dev/null
  sed -E 's/.*insns=([0-9]+) fmla=([0-9]+) fmla_lanes=([0-9]+).*/\1 \2 \3/' "$out"
}

declare -A CC=([aarch64]=aarch64-linux-gnu-gcc [armv7]=arm-linux-gnueabihf-gcc)
declare -A FLAGS=([aarch64]="" [armv7]="-march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard")
declare -A QEMU=([aarch64]=qemu-aarch64 [armv7]=qemu-arm)
declare -A ARCH=([aarch64]="" [armv7]=",arch=arm")

echo "| model | MACs | target | portable insns | NEON insns | portable / NEON | NEON FMLA lanes / insn |"
echo "|---|---:|---|---:|---:|---:|---:|"
for m in $models; do
  md=$build/models/$m
  [ -f "$md/model.onnx" ] || { echo "no $md/model.onnx (run ctest -R model/export)" >&2; exit 1; }
  macs=$("$cnncc" --info "$md/model.onnx" | sed -n 's/^MACs: \([0-9]*\).*/\1/p')
  for t in aarch64 armv7; do
    d=$work/$t/$m
    "$cnncc" "$md/model.onnx" -o "$d/out/m.c" --main --target "$t" >/dev/null
    # shellcheck disable=SC2086
    ${CC[$t]} ${FLAGS[$t]} -O2 -std=c99 -static "$d"/out/*.c -o "$d/neon" -lm -lpthread
    # shellcheck disable=SC2086
    ${CC[$t]} ${FLAGS[$t]} -O2 -std=c99 -static -U__ARM_NEON -U__ARM_NEON__ "$d"/out/*.c \
      -o "$d/portable" -lm -lpthread
    mkdir -p "$d/res"
    read -r pi _ _ < <(count "${QEMU[$t]}" "${ARCH[$t]}" "$d/portable" "$md/input.npy" --out-dir "$d/res")
    read -r ni nf nl < <(count "${QEMU[$t]}" "${ARCH[$t]}" "$d/neon" "$md/input.npy" --out-dir "$d/res")
    lanes="-"
    if [ "$t" = aarch64 ]; then
      lanes=$(awk -v l="$nl" -v i="$ni" 'BEGIN { printf "%.3f", l / i }')
    fi
    awk -v m="$m" -v mac="$macs" -v t="$t" -v p="$pi" -v n="$ni" -v l="$lanes" 'BEGIN {
      printf "| %s | %.0fM | %s | %.1fM | %.1fM | %.2fx | %s |\n", m, mac / 1e6, t, p / 1e6, n / 1e6, p / n, l }'
  done
done

echo
echo "| microkernel | target | insns per k step | FMAs per k step | FMAs per insn |"
echo "|---|---|---:|---:|---:|"
kc=200000
for spec in "8x12 aarch64 8 96" "4x12 aarch64 4 48" "4x8 armv7 4 32"; do
  read -r name t which fmas <<<"$spec"
  # scalar multiply-adds per k step: 8x12 = 96, 4x12 = 48, 4x8 = 32; vector instructions = /4
  d=$work/micro-$t
  mkdir -p "$d"
  # shellcheck disable=SC2086
  ${CC[$t]} ${FLAGS[$t]} -O2 -std=c99 -static -I"$root/runtime" "$root/bench/arm_microkernel.c" \
    -o "$d/micro" -lm
  read -r i1 _ _ < <(count "${QEMU[$t]}" "${ARCH[$t]}" "$d/micro" 10 "$which")
  read -r i2 _ _ < <(count "${QEMU[$t]}" "${ARCH[$t]}" "$d/micro" $((kc + 10)) "$which")
  awk -v nm="$name" -v t="$t" -v d="$((i2 - i1))" -v kc="$kc" -v f="$fmas" 'BEGIN {
    s = d / kc; printf "| %s | %s | %.2f | %d (%d vector) | %.2f (%.2f vector) |\n", nm, t, s, f, f / 4, f / s, f / 4 / s }'
done
