#!/bin/sh
# sanitize_test.sh — memory checks of cnncc and of the code it generates (tests/sanitize).
#
#   sanitize_test.sh valgrind-model --cnncc CNNCC --cc CC --work DIR [--cflags "..."]
#                                   [--threads T]
#       Compiles examples/quickstart/fashion_cnn.onnx with --main, builds the generated driver
#       with -O1 -g (plus --cflags) and runs it on samples/00_tshirt.npy under valgrind memcheck
#       (--error-exitcode, --leak-check=full: any error or leak fails); checks the logits against
#       expected_logits.npy.
#
#   sanitize_test.sh valgrind-cnncc --cnncc CNNCC --work DIR
#       Runs cnncc itself under valgrind memcheck (definite leaks are errors): compiling the
#       model (embedded weights, --main), compiling it with --weights, --info, and failing
#       compiles (a truncated model, a missing file, a bad option) whose error paths must not
#       leak either.
#
#   sanitize_test.sh debug-arena --cnncc CNNCC --cc CC --work DIR [--cflags "..."]
#       Builds the generated code with -DCNNRT_DEBUG (the runtime's CNNRT_ASSERTs on) together
#       with tests/sanitize/arena_check.c, under ASan+UBSan when the compiler has them, and runs
#       every sample through it: guard zones around the arena, arena poisoned with different
#       patterns before each run (outputs must not change), weights and inputs never written,
#       logits against expected_logits.npy.
#
# Exit status: 0 pass, 1 fail, 77 skipped (a tool is missing; ctest SKIP_RETURN_CODE).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
quick="$root/examples/quickstart"
model="$quick/fashion_cnn.onnx"
sample="$quick/samples/00_tshirt.npy"
expected="$quick/expected_logits.npy"

mode=${1:-}
[ $# -gt 0 ] && shift
cnncc="" cc="cc" work="" cflags="" threads=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cnncc) cnncc=$2; shift 2 ;;
    --cc) cc=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --cflags) cflags=$2; shift 2 ;;
    --cflags=*) cflags=${1#--cflags=}; shift ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "sanitize_test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$cnncc" ] || [ -z "$work" ]; then
  sed -n '2,24p' "$0" >&2
  exit 2
fi

say() { printf '$ %s\n' "$*"; }
run() { say "$*"; "$@"; }
fail() { echo "sanitize_test.sh: FAIL: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"

# Memcheck: every error is fatal (exit 99), definite and possible leaks count as errors.
VG_FLAGS="--tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,possible
  --errors-for-leak-kinds=definite,possible --track-origins=yes --num-callers=30 --quiet"

need_valgrind() {
  if ! command -v valgrind >/dev/null 2>&1; then
    echo "sanitize_test.sh: valgrind is not installed (apt-get install valgrind); skipped"
    exit 77
  fi
  # A cnncc built with ASan (CNNCC_SANITIZE) cannot run under valgrind.
  if [ "$mode" = valgrind-cnncc ] && grep -q "__asan_init" "$cnncc" 2>/dev/null; then
    echo "sanitize_test.sh: $cnncc is built with AddressSanitizer; skipped"
    exit 77
  fi
}

# Compares OUT.npy (float32 logits) with row ROW of expected_logits.npy: max|d| <= 1e-4 max|ref|.
check_logits() {
  if ! command -v python3 >/dev/null 2>&1 && [ ! -x /usr/bin/python3 ]; then
    echo "(no python3: logits not compared)"
    return 0
  fi
  py=/usr/bin/python3
  [ -x "$py" ] || py=python3
  "$py" - "$1" "$expected" "$2" <<'EOF' || fail "logits differ from expected_logits.npy"
import sys
import numpy as np
out, ref = np.load(sys.argv[1]).reshape(-1), np.load(sys.argv[2])[int(sys.argv[3])]
d = float(np.abs(out - ref).max())
print("logits: max|d| = %.3g (max|ref| %.3g)" % (d, float(np.abs(ref).max())))
sys.exit(0 if d <= 1e-4 * float(np.abs(ref).max()) else 1)
EOF
}

case "$mode" in
valgrind-model)
  need_valgrind
  run "$cnncc" "$model" -o "$work/fashion.c" --main
  # shellcheck disable=SC2086
  run "$cc" -std=c99 -O1 -g $cflags -I"$work" "$work/fashion.c" "$work/fashion_main.c" \
    -o "$work/fashion" -lm -lpthread
  mkdir -p "$work/out"
  targs=""
  [ -n "$threads" ] && targs="--threads $threads"
  # shellcheck disable=SC2086
  run valgrind $VG_FLAGS "$work/fashion" "$sample" --out-dir "$work/out" $targs ||
    fail "valgrind reported errors (or the program failed) running the generated model"
  check_logits "$work/out/logits.npy" 0
  ;;

valgrind-cnncc)
  need_valgrind
  vg() { # vg EXPECTED_STATUS cnncc-args...
    want=$1
    shift
    say "valgrind cnncc $*"
    set +e
    # shellcheck disable=SC2086
    valgrind $VG_FLAGS "$cnncc" "$@" >"$work/last.log" 2>&1
    rc=$?
    set -e
    if [ $rc -eq 99 ]; then
      cat "$work/last.log" >&2
      fail "valgrind reported errors in: cnncc $*"
    fi
    if [ $rc -ne "$want" ]; then
      cat "$work/last.log" >&2
      fail "cnncc $* exited with $rc, expected $want"
    fi
    tail -n 3 "$work/last.log"
  }
  vg 0 "$model" -o "$work/embedded/fashion.c" --main
  vg 0 "$model" -o "$work/file/fashion.c" --weights "$work/file/fashion.bin" --name fm
  vg 0 "$model" --info
  head -c 100000 "$model" >"$work/truncated.onnx"
  vg 1 "$work/truncated.onnx" -o "$work/bad/fashion.c"
  vg 1 "$work/missing.onnx" -o "$work/bad/fashion.c"
  vg 1 "$model" -o "$work/bad/fashion.c" --shape nosuchinput=1,2
  vg 1 "$model" -o "$work/bad/fashion.c" --max-arena 1000
  ls "$work/bad" 2>/dev/null | grep -q . && fail "a failed compile left files in $work/bad"
  echo "valgrind: no errors, no leaks in 7 cnncc runs"
  ;;

debug-arena)
  run "$cnncc" "$model" -o "$work/fashion.c" --main --weights "$work/fashion.bin"
  san=""
  echo 'int main(void){return 0;}' >"$work/probe.c"
  if "$cc" -fsanitize=address,undefined "$work/probe.c" -o "$work/probe" 2>/dev/null &&
    "$work/probe"; then
    san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  else
    echo "($cc has no ASan/UBSan here: built without them)"
  fi
  # shellcheck disable=SC2086
  run "$cc" -std=c99 -O1 -g -Wall -Wextra -Werror -DCNNRT_DEBUG $san $cflags -I"$work" \
    -DMODEL_HEADER='"fashion.h"' -DMODEL_PREFIX=fashion -DMODEL_PREFIX_UPPER=FASHION \
    "$here/arena_check.c" "$work/fashion.c" -o "$work/arena_check" -lm
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=66 \
    run "$work/arena_check" --weights "$work/fashion.bin" --ref "$expected" "$quick"/samples/*.npy ||
    fail "arena_check failed"
  # The bounds checks must be able to fire: a header that promises 64 bytes less arena than the
  # plan uses (as a memory-plan bug would) must stop the debug build at its first check.
  grep -q "cnnrt_arena_fits" "$work/fashion.c" || fail "no arena bounds checks in fashion.c"
  mkdir -p "$work/short"
  sed 's/^#define FASHION_ARENA_BYTES \([0-9]*\)$/#define FASHION_ARENA_BYTES (\1 - 64)/' \
    "$work/fashion.h" >"$work/short/fashion.h"
  cp "$work/fashion.c" "$work/short/" # (its #include "fashion.h" must find the short header)
  grep -q "FASHION_ARENA_BYTES (.* - 64)" "$work/short/fashion.h" || fail "could not shrink the arena"
  # shellcheck disable=SC2086
  run "$cc" -std=c99 -O1 -g -Wall -Wextra -Werror -DCNNRT_DEBUG $san $cflags -I"$work/short" \
    -I"$work" -DMODEL_HEADER='"fashion.h"' -DMODEL_PREFIX=fashion -DMODEL_PREFIX_UPPER=FASHION \
    "$here/arena_check.c" "$work/short/fashion.c" -o "$work/arena_check_short" -lm
  set +e
  ASAN_OPTIONS=detect_leaks=0 "$work/arena_check_short" --weights "$work/fashion.bin" \
    "$quick"/samples/00_tshirt.npy >"$work/short.log" 2>&1
  rc=$?
  set -e
  cat "$work/short.log"
  [ $rc -ne 0 ] || fail "a plan larger than the arena ran without an assertion"
  grep -q "Assertion .cnnrt_arena_fits(" "$work/short.log" || fail "the failure is not the arena bounds assertion"
  echo "an arena 64 bytes short of the plan fails the debug build's bounds assertion (status $rc)"
  ;;

*)
  sed -n '2,24p' "$0" >&2
  exit 2
  ;;
esac
echo "sanitize_test.sh $mode: ok"
