#!/usr/bin/env bash
# The cnncc benchmark, in one command: cnncc-generated C vs ONNX Runtime vs PyTorch on five
# torchvision CNNs (224x224, batch 1), on this machine's CPU.
#
#   bench/run.sh [--quick] [--rounds R] [--models resnet18,resnet50,...]
#   bench/run.sh --libxsmm [--quick] [--rounds R] [--models ...]
#
# --libxsmm runs bench/xsmm.py instead: cnncc's own kernels vs --gemm libxsmm, whole models
# (1 and 2 threads, alternating) and per layer (report in build/bench/xsmm_results.md).
#
# On a fresh Debian 12 machine (as root, or a user who may sudo) it installs what is missing
# (apt-get; onnxruntime-node from npm into build/bench/node), builds cnncc, exports the models
# with random weights, compiles each with cnncc and gcc, times every engine in alternating
# rounds, checks cnncc's outputs against ONNX Runtime's, and prints a Markdown report, also
# written to build/bench/results.md. About 10-15 minutes on 2 cores; --quick for a smoke test.
# Environment: CNNCC_BUILD_DIR, where cnncc is built (default build/; a separate one avoids
# racing with a developer's own build there), CC (default gcc).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${CNNCC_BUILD_DIR:-$root/build}"
work="$root/build/bench"
py=/usr/bin/python3
export CC="${CC:-gcc}"

step() { printf '\n==> %s\n' "$*" >&2; }

# 1. Debian packages (only the missing ones).
packages=(build-essential cmake pkg-config libprotobuf-c-dev protobuf-c-compiler libcmocka-dev
          python3-numpy python3-onnx python3-torch python3-torchvision time libxsmm-dev)
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  # Node.js and npm by command, not package: a NodeSource 'nodejs' bundles npm and conflicts
  # with Debian's 'npm' package.
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    step "installing ${missing[*]}"
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
      command -v sudo >/dev/null 2>&1 || { echo "run.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
      sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
      "${missing[@]}" >&2
  fi
else
  echo "run.sh: no dpkg-query (not Debian?); assuming installed: ${packages[*]}" >&2
fi

# 2. ONNX Runtime for Node.js. --ignore-scripts: its install script fetches GPU extras
#    (and fails without them); the CPU libraries ship inside the npm package. A failure here
#    is not fatal: bench.py then says that ORT is missing and runs the rest.
node_dir="$work/node"
mkdir -p "$node_dir"
if ! (cd "$node_dir" && NODE_PATH="$node_dir/node_modules" \
      node -e "require('onnxruntime-node')" >/dev/null 2>&1); then
  step "installing onnxruntime-node into $node_dir"
  [[ -f "$node_dir/package.json" ]] || echo '{"name":"cnncc-bench","private":true}' > "$node_dir/package.json"
  (cd "$node_dir" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >&2) ||
    echo "run.sh: WARNING: npm install onnxruntime-node failed; ONNX Runtime will be skipped" >&2
fi

# 3. cnncc.
step "building cnncc in $build"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if ! cmake --build "$build" --target cnncc -j "$(nproc 2>/dev/null || echo 2)" >/dev/null; then
  echo "run.sh: building cnncc in $build failed (see above)" >&2
  exit 1
fi

# 4. The models (skipped when already exported).
step "exporting torchvision models to $work/models"
"$py" "$here/export_models.py" "$work/models" >&2

# 5. The benchmark: report on stdout and in $work/results.md; progress on stderr.
xsmm=0
args=()
for a in "$@"; do
  if [[ $a == --libxsmm ]]; then xsmm=1; else args+=("$a"); fi
done
if ((xsmm)); then
  step "own kernels vs --gemm libxsmm (progress below; report at the end and in $work/xsmm_results.md)"
  exec "$py" "$here/xsmm.py" --work "$work" --cnncc "$build/cnncc" "${args[@]}"
fi
step "benchmarking (progress below; report at the end and in $work/results.md)"
exec "$py" "$here/bench.py" --work "$work" --cnncc "$build/cnncc" \
  --node-modules "$node_dir/node_modules" "$@"
