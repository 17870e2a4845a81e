#!/usr/bin/env bash
# Training speed: the Fashion-MNIST example's train step (cnncc --train, gcc -O3 -march=native,
# one thread) against PyTorch training the same network single-threaded, batch 64, same
# optimizer, in one run (alternating rounds, so that load on the machine hits both alike).
#
#   bench/train.sh [STEPS_PER_ROUND] [ROUNDS]        (defaults 100 and 3)
#
# Prints images/s of the train steps alone (batch preparation and evaluation not timed) per
# round, and the median ratio. Needs a built cnncc (build/ or $CNNCC), python3-torch and the
# dataset-fashion-mnist package.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
steps=${1:-100}
rounds=${2:-3}
cnncc=${CNNCC:-$root/build/cnncc}
work=${WORK:-$root/build/bench/train}
py=/usr/bin/python3
ex=$root/examples/fashion-mnist
mkdir -p "$work/data"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f "$work/data/$f" ] || gunzip -c "/usr/share/datasets/fashion-mnist/$f.gz" > "$work/data/$f"
done
$py "$ex/model.py" "$work/fashion.onnx"
# shellcheck disable=SC2046
"$cnncc" "$work/fashion.onnx" --train --name fnet -o "$work/out/fnet.c" $(cat "$ex/train.flags")
gcc -std=c99 -O3 -march=native -I "$work/out" "$ex/train.c" "$work"/out/*.c -o "$work/train" -lm
limit=$((steps * 64))
c_rates=() ; t_rates=()
for r in $(seq "$rounds"); do
  c=$("$work/train" "$work/data" --epochs 1 --train-limit "$limit" --test-limit 64 --quiet |
      sed -n 's/.*: \([0-9]*\) images\/s; final.*/\1/p')
  t=$($py bench/train_torch.py "$work/data" "$steps" | sed -n 's/.*, \([0-9]*\) images\/s.*/\1/p')
  echo "round $r: cnncc $c images/s, pytorch $t images/s"
  c_rates+=("$c"); t_rates+=("$t")
done
$py - "${c_rates[*]}" "${t_rates[*]}" <<'PY'
import statistics, sys
c = [float(v) for v in sys.argv[1].split()]
t = [float(v) for v in sys.argv[2].split()]
print("median: cnncc %.0f images/s, pytorch (1 thread) %.0f images/s, ratio %.2fx (target >= 2x)"
      % (statistics.median(c), statistics.median(t), statistics.median(c) / statistics.median(t)))
PY
