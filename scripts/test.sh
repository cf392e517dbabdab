#!/usr/bin/env bash
# Sets up (with the parity-test packages), builds everything including the LibTorch parity suite and, when
# nvcc exists, the CUDA backend, then runs the whole CTest suite. GPU tests report "skipped" without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
scripts/build.sh -DYOCO_WITH_TORCH=ON
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 900
