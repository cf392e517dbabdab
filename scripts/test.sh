#!/usr/bin/env bash
# Sets up (with the parity-test packages), builds everything including the LibTorch parity suite and, when
# nvcc exists, the CUDA backend, then runs the whole CTest suite. GPU tests report "skipped" without a GPU.
# Then fuzzes every reader for FUZZ_SECONDS (default 30) each (scripts/fuzz.sh; FUZZ_SECONDS=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
scripts/build.sh -DYOCO_WITH_TORCH=ON
# Label `slow` (the emulated engine's op table under ASan) only when asked: YOCO_SLOW_TESTS=1.
slow=(-LE slow)
[[ "${YOCO_SLOW_TESTS:-0}" == 1 ]] && slow=()
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 900 "${slow[@]}")
if [[ "${FUZZ_SECONDS:-30}" != 0 ]]; then
  scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi
