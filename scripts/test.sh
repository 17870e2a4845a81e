#!/usr/bin/env bash
# Runs every cnncc test on a fresh Debian 12 machine: installs what the tests need (as root,
# or through sudo), builds cnncc, generates the ONNX node tests and runs ctest.
#   scripts/test.sh [ctest args...]        e.g.  scripts/test.sh -L onnx_node
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${CNNCC_BUILD_DIR:-$root/build}

packages=(build-essential cmake pkg-config clang libprotobuf-c-dev protobuf-c-compiler
          libcmocka-dev python3-numpy python3-onnx python3-torch python3-torchvision
          dataset-fashion-mnist libclang-rt-14-dev valgrind
          # cnncc --gemm libxsmm (tests/libxsmm, bench/run.sh): libxsmm 1.17, x86-64
          libxsmm-dev
          # ARM (tests/arm): cross compilers, their C libraries, qemu-user, the Cortex-M
          # toolchain with newlib, cmocka for the NEON kernel tests (multiarch), libclang for
          # cnncc --verify
          gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf
          libc6-dev-armhf-cross qemu-user gcc-arm-none-eabi libnewlib-arm-none-eabi
          libcmocka-dev:arm64 libcmocka-dev:armhf libclang-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  # the :arm64 / :armhf packages need those architectures enabled (multiarch)
  for arch in arm64 armhf; do
    dpkg --print-foreign-architectures | grep -qx "$arch" || $sudo dpkg --add-architecture "$arch"
  done
  # A mirror caught mid-sync fails the update for one index ("File has unexpected size"); try
  # again, and install with whatever lists were fetched if it keeps failing.
  for attempt in 1 2 3 4; do
    $sudo apt-get update -q && break
    echo "== apt-get update failed (attempt $attempt of 4)" >&2
    [ "$attempt" -eq 4 ] || sleep $((attempt * 15))
  done
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime (npm onnxruntime-node; --ignore-scripts: its install script fetches GPU extras)
# for the tests that run cnncc's ONNX output in it (emit_onnx, dsl, train). Not fatal: without
# it those comparisons say they are skipped.
ort_dir="$build/bench/node"
if command -v npm >/dev/null 2>&1 &&
   ! (cd "$ort_dir" 2>/dev/null && node -e "require('onnxruntime-node')" >/dev/null 2>&1); then
  echo "== installing onnxruntime-node into $ort_dir"
  mkdir -p "$ort_dir"
  [ -f "$ort_dir/package.json" ] || echo '{"name":"cnncc-tests","private":true}' > "$ort_dir/package.json"
  (cd "$ort_dir" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node) ||
    echo "== WARNING: npm install onnxruntime-node failed; ONNX Runtime comparisons are skipped"
fi

py=/usr/bin/python3
echo "== generating the ONNX backend node tests"
$py tests/onnx_node/generate.py "$build/onnx_node_data"

echo "== building"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCNNCC_NODE_TEST_DATA="$build/onnx_node_data" -DCNNCC_EXTRA_TESTS=arm >/dev/null
cmake --build "$build" -j"$(nproc)"

echo "== testing"
cd "$build"
ctest -j"$(nproc)" --output-on-failure "$@"
