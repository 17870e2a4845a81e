#!/bin/sh
# run_fuzzers.sh — runs cnncc's libFuzzer targets (built by tests/fuzz/CMakeLists.txt).
#
#   run_fuzzers.sh [options] BIN_DIR [TARGET...]
#
# BIN_DIR is the build folder of tests/fuzz (build/tests/fuzz): it holds fuzz_<target>, the seed
# corpora seeds/<target>/ and dictionaries seeds/<target>.dict (make_seeds.py), and receives
# corpus/<target>/ (inputs the fuzzer found interesting, kept from run to run) and
# artifacts/<target>/ (crashing, leaking or slow inputs).
# TARGETs default to every fuzz_* binary in BIN_DIR: onnx_load, pipeline, npy (, dsl).
#
# Modes:
#   (default)         fuzz each target for -t SECONDS, one after the other; prints the execs
#   --replay DIR      run every file of DIR/<target>/ once through the target (regression
#                     corpus, tests/fuzz/regressions); an empty or missing folder passes
#
# Options:
#   -t SECONDS        fuzzing time per target (default 60)
#   -j JOBS           parallel fuzzing processes per target (libFuzzer -fork; default 1)
#   --rss MB          memory limit per process (default 2048)
#   --timeout S       per-input time limit (default 10)
#   --seed N          libFuzzer's random seed (default: chosen by libFuzzer)
#   --runs N          stop after N inputs as well (default: no limit)
#   --fresh           start from the seeds alone (empty corpus/<target>/ first)
#   -- ARGS           further libFuzzer flags
#
# With --seed, --runs and --fresh a run is reproducible: the same inputs in the same order on any
# machine, cut short only by -t. ctest's fuzz/<target> cases run that way, so a finding there is
# reproducible rather than luck; long local runs (no --seed) explore anew each time.
#
# A crash leaves the input in BIN_DIR/artifacts/<target>/; reproduce with
#   BIN_DIR/fuzz_<target> FILE
# and, once fixed, keep it in tests/fuzz/regressions/<target>/ (replayed by ctest -L fuzz).
set -u

seconds=60
jobs=1
rss=2048
timeout=10
replay=""
extra=""
extra_seed=""
extra_runs=""
fresh=""
while [ $# -gt 0 ]; do
  case "$1" in
    -t) seconds=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    --rss) rss=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --replay) replay=$2; shift 2 ;;
    --seed) extra_seed="-seed=$2"; shift 2 ;;
    --runs) extra_runs="-runs=$2"; shift 2 ;;
    --fresh) fresh=1; shift ;;
    --) shift; extra="$*"; break ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    -*) echo "run_fuzzers.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 1 ]; then
  sed -n '2,34p' "$0" >&2
  exit 2
fi
bin_dir=$1
shift
targets="$*"
if [ -z "$targets" ]; then
  for f in "$bin_dir"/fuzz_*; do
    case "${f##*/}" in
    fuzz_replay_*) continue ;; # the gcc-built regression replayers, not libFuzzer targets
    esac
    [ -x "$f" ] && targets="$targets ${f##*/fuzz_}"
  done
fi
if [ -z "$targets" ]; then
  echo "run_fuzzers.sh: no fuzz_* binaries in $bin_dir" >&2
  exit 2
fi

# Leak checking is on (ASan's default); a malloc limit equal to the RSS limit turns one absurd
# allocation into a reported bug instead of an out-of-memory kill.
common="-rss_limit_mb=$rss -malloc_limit_mb=$rss -timeout=$timeout -print_final_stats=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
summary=""
for t in $targets; do
  exe="$bin_dir/fuzz_$t"
  if [ ! -x "$exe" ]; then
    echo "run_fuzzers.sh: $exe is missing" >&2
    status=1
    continue
  fi
  if [ -n "$replay" ]; then
    files=$(find "$replay/$t" -type f ! -name '.*' ! -name 'README*' 2>/dev/null | sort)
    if [ -z "$files" ]; then
      echo "fuzz_$t: no regression inputs in $replay/$t"
      continue
    fi
    n=$(echo "$files" | wc -l)
    # Files as arguments: libFuzzer runs each once and stops at the first failure.
    # shellcheck disable=SC2086
    if "$exe" $common $extra $files >"$bin_dir/fuzz_$t.replay.log" 2>&1; then
      echo "fuzz_$t: $n regression input(s) pass"
    else
      cat "$bin_dir/fuzz_$t.replay.log" >&2
      echo "fuzz_$t: a regression input fails (see above)" >&2
      status=1
    fi
    continue
  fi
  corpus="$bin_dir/corpus/$t"
  seeds="$bin_dir/seeds/$t"
  artifacts="$bin_dir/artifacts/$t"
  [ -n "$fresh" ] && rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts"
  [ -d "$seeds" ] || seeds=""
  dict=""
  [ -f "$bin_dir/seeds/$t.dict" ] && dict="-dict=$bin_dir/seeds/$t.dict"
  log="$bin_dir/fuzz_$t.log"
  forkopt=""
  [ "$jobs" -gt 1 ] && forkopt="-fork=$jobs -ignore_crashes=0"
  echo "fuzz_$t: fuzzing for ${seconds}s (corpus $corpus${seeds:+, seeds $seeds})"
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$exe" $common $forkopt $dict -max_total_time="$seconds" -artifact_prefix="$artifacts/" \
    $extra_seed $extra_runs $extra \
    "$corpus" $seeds >"$log" 2>&1
  rc=$?
  end=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* cov: \([0-9]*\) .*/\1/p')
  line="fuzz_$t: ${execs:-?} execs in $((end - start))s, coverage ${cov:-?} edges, exit $rc"
  echo "$line"
  summary="$summary
$line"
  if [ $rc -ne 0 ]; then
    status=1
    echo "---- fuzz_$t failed; the end of $log:" >&2
    tail -n 60 "$log" >&2
    echo "---- the input is in $artifacts/" >&2
    ls -l "$artifacts" >&2
  fi
done
if [ -z "$replay" ]; then
  echo "summary:$summary"
fi
exit $status
