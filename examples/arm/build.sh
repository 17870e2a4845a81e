#!/usr/bin/env bash
# The cnncc ARM example: one model, compiled by cnncc, cross-built for four ARM targets.
#
#   examples/arm/build.sh [options] [TARGET...]      TARGET: aarch64 armv7 cortex-m4 cortex-m7
#                                                    (default: all four)
#   aarch64, armv7        the model with cnncc's command-line driver, built with
#                         cmake/toolchains/{aarch64-linux-gnu,armv7-linux-gnueabihf}.cmake and run
#                         under qemu-user on the sample; prints the prediction (argmax) and
#                         the difference from the expected output
#   cortex-m4, cortex-m7  bare-metal firmware (firmware/main.c: the model on a static input with
#                         a static arena; no driver, no stdio) built with
#                         cmake/toolchains/cortex-m{4,7}.cmake; prints flash and RAM use
#                         (arm-none-eabi-size) next to the model's arena and weights. With
#                         qemu-system-arm installed it also runs a semihosting build of the
#                         firmware on QEMU's MPS2 boards (AN386: Cortex-M4, AN500: Cortex-M7).
# Everything is built with -O2 and -Wall -Wextra -Wpedantic -Werror (plus -Wdouble-promotion on
# Cortex-M). The exit status is 0 when every target built, ran and matched the expected output
# (if there is one: see --expected) within 1e-4 * max|ref|.
#
# options:
#   --cnncc PATH      the cnncc compiler (default: build/cnncc, built when missing)
#   --model FILE      an ONNX model with one float32 input and output
#                     (default: examples/quickstart/fashion_cnn.onnx)
#   --sample FILE     a float32 .npy input (default: examples/quickstart/samples/03_dress.npy)
#   --expected FILE   the expected output (.npy, float32) to compare with, at max|d| <=
#                     1e-4 * max|ref| (default for the shipped model and samples: PyTorch's
#                     logits from examples/quickstart/expected_logits.npy)
#   --cmake-arg ARG   pass ARG to the example's CMake configure step (repeatable)
#   --work DIR        where everything goes (default: build/arm-example)
#   --no-qemu-system  do not run the firmware under qemu-system-arm even if it is installed
#   --gen-target T    build the Cortex-M firmware from cnncc --target T output instead of
#                     --target cortex-m (e.g. aarch64: its NEON paths must fall back to portable C)
#
# Packages (Debian 12): cmake gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf
#   libc6-dev-armhf-cross qemu-user gcc-arm-none-eabi libnewlib-arm-none-eabi;
#   optional: qemu-system-arm.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
quick="$root/examples/quickstart"
toolchains="$root/cmake/toolchains"

cnncc=""
model="$quick/fashion_cnn.onnx"
sample="$quick/samples/03_dress.npy"
work="$root/build/arm-example"
expected=""
cmake_args=()
qemu_system=1
gen_target=cortex-m
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cnncc) cnncc=$2; shift 2 ;;
    --gen-target) gen_target=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --expected) expected=$2; shift 2 ;;
    --cmake-arg) cmake_args+=("$2"); shift 2 ;;
    --no-qemu-system) qemu_system=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    aarch64|armv7|cortex-m4|cortex-m7) targets+=("$1"); shift ;;
    *) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(aarch64 armv7 cortex-m4 cortex-m7)
abspath() { (cd "$(dirname "$1")" && echo "$PWD/$(basename "$1")"); }
model=$(abspath "$model")
sample=$(abspath "$sample")
[ -z "$expected" ] || expected=$(abspath "$expected")
mkdir -p "$work"
work=$(cd "$work" && pwd)

step() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { echo "build.sh: $*" >&2; exit 1; }
need() { # need TARGET PROGRAM... : fail with the packages to install
  local t=$1 p missing=()
  shift
  for p in "$@"; do command -v "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    case "$t" in
      aarch64) pk="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" ;;
      armv7) pk="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user" ;;
      *) pk="gcc-arm-none-eabi libnewlib-arm-none-eabi" ;;
    esac
    die "$t: ${missing[*]} not found (Debian/Ubuntu: apt-get install $pk)"
  fi
}

# The shipped model: class names and PyTorch's logits for the shipped samples.
classes=()
ref_row=-1
if [ "$model" = "$quick/fashion_cnn.onnx" ]; then
  classes=("T-shirt/top" "Trouser" "Pullover" "Dress" "Coat" "Sandal" "Shirt" "Sneaker" "Bag"
           "Ankle boot")
  i=0
  for f in "$quick"/samples/*.npy; do
    [ "$f" = "$sample" ] && ref_row=$i
    i=$((i + 1))
  done
fi
nsamples=$(ls "$quick"/samples/*.npy | wc -l)

# npy_f32 FILE N: the last N float32 values of a .npy file, one per line (the data follows a
# variable-length header; od prints 9 significant digits, enough to compare at 1e-4).
npy_f32() { tail -c $(($2 * 4)) "$1" | od -An -v -t f4 | tr -s ' ' '\n' | sed '/^$/d'; }

# ref_values N: the N expected output values, one per line (fails when there are none).
ref_values() {
  if [ -n "$expected" ]; then
    npy_f32 "$expected" "$1"
  elif [ "$ref_row" -ge 0 ]; then
    tail -c $(((nsamples - ref_row) * $1 * 4)) "$quick/expected_logits.npy" | head -c $(($1 * 4)) |
      od -An -v -t f4 | tr -s ' ' '\n' | sed '/^$/d'
  else
    return 1
  fi
}

# report NAME VALUES_FILE: print the prediction (argmax) and compare with the expected output.
status=0
report() {
  local name=$1 vals=$2 n best label="" ref="$work/ref_values.txt" cmp
  n=$(wc -l <"$vals")
  best=$(awk 'NR == 1 || $1 > m { m = $1; b = NR - 1 } END { print b }' "$vals")
  [ ${#classes[@]} -eq "$n" ] && label=" (${classes[$best]})"
  echo "$name: $(basename "$sample") -> class $best$label"
  if ref_values "$n" >"$ref"; then
    [ "$(wc -l <"$ref")" -eq "$n" ] || die "$name: $n outputs, but the expected output has $(wc -l <"$ref")"
    cmp=$(paste "$vals" "$ref" | awk '
      { d = $1 - $2; if (d < 0) d = -d; if (d > md) md = d
        r = $2 < 0 ? -$2 : $2; if (r > mr) mr = r }
      END { printf "%s max|d| = %.3g, tolerance %.3g", (md <= 1e-4 * mr ? "ok" : "FAIL"), md, 1e-4 * mr }')
    echo "$name: outputs vs expected: $cmp"
    case "$cmp" in FAIL*) status=1 ;; esac
  fi
}

# ---- cnncc --------------------------------------------------------------------------------
if [ -z "$cnncc" ]; then
  cnncc="$root/build/cnncc"
  if [ ! -x "$cnncc" ]; then
    step "building cnncc in $root/build"
    [ -f "$root/build/CMakeCache.txt" ] || cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$root/build" --target cnncc -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
  fi
fi
cnncc=$(abspath "$cnncc")
[ -x "$cnncc" ] || die "no cnncc at $cnncc"

# gen TARGET: compile the model for a cnncc --target into $work/gen-TARGET (named `model`).
gen() {
  local t=$1
  shift
  run "$cnncc" "$model" -o "$work/gen-$t/model.c" --name model --target "$t" "$@" >/dev/null
}

# configure_build DIR TOOLCHAIN [cmake -D...]: the example's CMake project, -O2, -Werror.
configure_build() {
  local dir=$1 tc=$2
  shift 2
  run cmake -S "$here" -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$toolchains/$tc" \
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" -DCNNCC_WERROR=ON \
    -DCNNCC_SAMPLE="$sample" "$@" ${cmake_args[@]+"${cmake_args[@]}"} >/dev/null
  if ! cmake --build "$dir" 2>&1 | sed -E '/^(\[ *[0-9]+%\]|g?make(\[[0-9]+\])?:)/d'; then
    die "build in $dir failed"
  fi
}

# ---- Linux targets under qemu-user --------------------------------------------------------
linux_target() {
  local t=$1 tc=$2 cross=$3 qemu=$4 sysroot=$5 dir="$work/$1"
  need "$t" "$cross" "$qemu"
  [ -f "$sysroot/lib/crt1.o" ] ||
    die "$t: no C library in $sysroot (apt-get install libc6-dev-$([ "$t" = aarch64 ] && echo arm64 || echo armhf)-cross)"
  step "$t: cnncc --target $t, cross-build with $tc, run under $qemu"
  gen "$t" --main
  configure_build "$dir" "$tc" -DCNNCC_GEN_DIR="$work/gen-$t"
  if command -v file >/dev/null 2>&1; then file -b "$dir/model_main" | cut -d, -f1-2; fi
  rm -rf "$dir/res"
  mkdir -p "$dir/res"
  run "$qemu" -L "$sysroot" "$dir/model_main" "$sample" --out-dir "$dir/res"
  local out
  out=$(ls "$dir"/res/*.npy | head -n1)
  npy_f32 "$out" "$(grep -m1 '^#define MODEL_OUTPUT0_SIZE' "$work/gen-$t/model.h" | awk '{print $3}')" \
    >"$dir/output.txt"
  report "$t" "$dir/output.txt"
}

# ---- Cortex-M firmware --------------------------------------------------------------------
cortex_m_target() {
  local t=$1 tc=$2 board=$3 dir="$work/$1"
  need "$t" arm-none-eabi-gcc arm-none-eabi-size
  step "$t: cnncc --target $gen_target, firmware built with $tc"
  gen "$gen_target"
  configure_build "$dir" "$tc" -DCNNCC_GEN_DIR="$work/gen-$gen_target"
  local h="$work/gen-$gen_target/model.h" arena weights
  arena=$(awk '$2 == "MODEL_ARENA_BYTES" { print $3 }' "$h")
  weights=$(awk '$2 == "MODEL_WEIGHTS_BYTES" { print $3 }' "$h")
  local stack flash_sz ram_sz
  stack=$(sed -n 's/^CNNCC_FW_STACK_SIZE:STRING=//p' "$dir/CMakeCache.txt")
  flash_sz=$(sed -n 's/^CNNCC_FW_FLASH_SIZE:STRING=//p' "$dir/CMakeCache.txt")
  ram_sz=$(sed -n 's/^CNNCC_FW_RAM_SIZE:STRING=//p' "$dir/CMakeCache.txt")
  arm-none-eabi-size "$dir/firmware.elf" | awk -v t="$t" -v arena="$arena" -v w="$weights" \
      -v stack="$stack" -v fs="$flash_sz" -v rs="$ram_sz" 'NR == 2 {
    printf "%s: flash %d B (text %d + data %d), RAM %d B (data %d + bss %d, of which stack %d)\n",
           t, $1 + $2, $1, $2, $2 + $3, $2, $3, stack
    printf "%s: model: MODEL_ARENA_BYTES %d (RAM), MODEL_WEIGHTS_BYTES %d (flash); " \
           "the rest is code, input and runtime\n", t, arena, w
    printf "%s: fits the memory map (CNNCC_FW_*): flash %s, RAM %s\n", t, fs, rs }'

  if [ "$qemu_system" -eq 1 ] && command -v qemu-system-arm >/dev/null 2>&1; then
    step "$t: the same firmware with semihosting, run on qemu-system-arm -M $board"
    configure_build "$dir-qemu" "$tc" -DCNNCC_GEN_DIR="$work/gen-$gen_target" \
      -DCNNCC_FW_SEMIHOSTING=ON -DCNNCC_FW_FLASH_ORIGIN=0x0 -DCNNCC_FW_FLASH_SIZE=4M \
      -DCNNCC_FW_RAM_ORIGIN=0x20000000 -DCNNCC_FW_RAM_SIZE=4M >/dev/null
    local log="$dir-qemu/run.log"
    printf '$ qemu-system-arm -M %s -nographic -semihosting-config enable=on,target=native -kernel %s\n' \
      "$board" "$dir-qemu/firmware.elf"
    if ! timeout 120 qemu-system-arm -M "$board" -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$dir-qemu/firmware.elf" \
        >"$log" 2>&1 </dev/null; then
      cat "$log"
      die "$t: the firmware failed under qemu-system-arm"
    fi
    grep -m1 'model_run' "$log"
    sed -n 's/^output\[[0-9]*\] = \([^ ]*\) .*/\1/p' "$log" >"$dir-qemu/output.txt"
    [ "$(wc -l <"$dir-qemu/output.txt")" -gt 0 ] || { cat "$log"; die "$t: no outputs printed"; }
    report "$t (qemu $board)" "$dir-qemu/output.txt"
  fi
}

for t in "${targets[@]}"; do
  case "$t" in
    aarch64) linux_target aarch64 aarch64-linux-gnu.cmake aarch64-linux-gnu-gcc qemu-aarch64 \
               /usr/aarch64-linux-gnu ;;
    armv7) linux_target armv7 armv7-linux-gnueabihf.cmake arm-linux-gnueabihf-gcc qemu-arm \
             /usr/arm-linux-gnueabihf ;;
    cortex-m4) cortex_m_target cortex-m4 cortex-m4.cmake mps2-an386 ;;
    cortex-m7) cortex_m_target cortex-m7 cortex-m7.cmake mps2-an500 ;;
  esac
done
[ "$status" -eq 0 ] || die "some outputs differ from the expected ones"
