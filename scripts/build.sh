#!/usr/bin/env bash
# Configures and builds yoco into build/ (Release). CUDA sources are compiled when nvcc is present;
# pass extra CMake flags after the script name, e.g. scripts/build.sh -DYOCO_WITH_TORCH=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
