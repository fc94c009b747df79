#!/usr/bin/env bash
# Builds the tests and benchmarks of a configured tree (scripts/setup.sh configures it and builds
# the `gan` command) and runs the whole test suite.
# CUDA tests are part of the binary when CUDA was built; without a GPU they skip and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
