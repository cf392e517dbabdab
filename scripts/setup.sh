#!/usr/bin/env bash
# Installs the Debian packages yoco needs (idempotent: only what is missing). `--tests` adds LibTorch and
# PyTorch for the parity suite and the benchmarks, and clang with its libFuzzer/sanitizer runtimes and OpenMP for
# the fuzz targets (scripts/fuzz.sh).
set -euo pipefail
# OpenMPI: the apps' scale-out over processes and machines (optional at configure time; docs/scaling.md).
pkgs=(cmake ninja-build g++ libdnnl-dev doctest-dev libcli11-dev nlohmann-json3-dev libstb-dev zlib1g-dev
      openmpi-bin libopenmpi-dev dataset-fashion-mnist)
if [[ "${1:-}" == "--tests" ]]; then
  pkgs+=(libtorch-dev python3-torch python3-numpy clang libclang-rt-14-dev libomp-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all packages present"
fi
