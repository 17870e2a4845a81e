#!/usr/bin/env bash
# Trains the Fashion-MNIST CNN from scratch in C: exports the network (model.py, random
# weights), compiles a train step with `cnncc --train $(cat train.flags)`, builds train.c with
# it, trains (5 epochs by default: per-epoch loss, test accuracy, images/s, progress bar) and
# writes the trained model back as ONNX (trained.onnx, loadable by ONNX Runtime and cnncc).
#
#   examples/fashion-mnist/run.sh [--epochs N] [other train.c options]
#
# On a fresh Debian 12 machine, run scripts/test.sh once first (it installs the packages:
# python3-torch, dataset-fashion-mnist, ...) or install them yourself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${WORK:-$root/build/examples/fashion-mnist}
py=/usr/bin/python3
if [ ! -x "$root/build/cnncc" ]; then
  cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$root/build" -j"$(nproc)" --target cnncc
fi
mkdir -p "$work/data"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f "$work/data/$f" ] || gunzip -c "/usr/share/datasets/fashion-mnist/$f.gz" > "$work/data/$f"
done
$py "$here/model.py" "$work/fashion.onnx"
# shellcheck disable=SC2046
"$root/build/cnncc" "$work/fashion.onnx" --train --name fnet -o "$work/out/fnet.c" $(cat "$here/train.flags")
gcc -std=c99 -O3 -march=native -Wall -Wextra -Wpedantic -Werror -I "$work/out" "$here/train.c" \
    "$work"/out/*.c -o "$work/train" -lm
"$work/train" "$work/data" --save "$work/trained.bin" "$@"
"$root/build/cnncc" "$work/fashion.onnx" --params "$work/trained.bin" --emit-onnx "$work/trained.onnx"
echo "trained model: $work/trained.onnx"
