#!/usr/bin/env bash
# CPU benchmark against PyTorch in the same run: 2 threads each, and glibc malloc settings that keep freed
# memory mapped so PyTorch is not slowed by page faults (our engine caches its own blocks).
set -euo pipefail
cd "$(dirname "$0")/.."
export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295
export OMP_NUM_THREADS=2
exec /usr/bin/python3 bench/compare.py --bench "${BENCH:-build/apps/bench/bench}" "$@"
