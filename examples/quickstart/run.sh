#!/usr/bin/env bash
# The quickstart, start to finish: install the build dependencies (Debian/Ubuntu, only those
# missing), build cnncc, compile fashion_cnn.onnx to C, build classify.c with the generated model
# and classify the sample images. Works from any current directory.
#
#   examples/quickstart/run.sh            (as root, or as a user who may sudo)
#
# Outputs go to build/quickstart/ at the top of the repository (CC picks the C compiler).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$root/build"
work="$build/quickstart"
cc="${CC:-cc}"

step() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# 1. Packages: a C compiler, CMake, protobuf-c (the ONNX reader) and cmocka (cnncc's
#    configure step also sets up its unit tests).
packages=(build-essential cmake pkg-config libprotobuf-c-dev protobuf-c-compiler libcmocka-dev)
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]})); then
    step "installing ${missing[*]}"
    if [[ $(id -u) -eq 0 ]]; then
      sudo=()
    elif command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "run.sh: need root or sudo to install: ${missing[*]}" >&2
      exit 1
    fi
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
      "${missing[@]}"
  fi
else
  echo "run.sh: no dpkg-query (not Debian?); assuming these are installed: ${packages[*]}" >&2
fi

# 2. cnncc itself.
step "building cnncc in $build"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target cnncc -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
cnncc="$build/cnncc"

# 3. The model, as C: fashion.c, fashion.h and the runtime headers they include.
step "compiling fashion_cnn.onnx to C"
mkdir -p "$work"
run "$cnncc" "$here/fashion_cnn.onnx" -o "$work/fashion.c"
(cd "$work" && ls -C fashion.c fashion.h cnnrt*.h)

# 4. The application: plain C99, nothing but the C library and libm.
step "building classify"
run "$cc" -O2 -std=c99 -Wall -Wextra -Wpedantic -I"$work" "$here/classify.c" "$work/fashion.c" \
  -o "$work/classify" -lm

# 5. Run it on the shipped samples (from the quickstart folder, for short names).
step "classifying the samples"
cd "$here"
run "$work/classify" samples/*.npy
