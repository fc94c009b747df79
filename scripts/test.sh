#!/usr/bin/env bash
# Runs the whole test suite of an already built tree (scripts/setup.sh builds it).
# CUDA tests are part of the binary when CUDA was built; without a GPU they skip and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
