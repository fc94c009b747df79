#!/usr/bin/env bash
# Builds the tests and benchmarks of a configured tree (scripts/setup.sh configures it and builds
# the `gan` command) and runs the whole test suite.
# CUDA tests are part of the binary when CUDA was built; without a GPU they skip and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# scripts/setup.sh built the `gan` command without CUDA where no GPU is visible; the suite compiles
# the CUDA code wherever nvcc exists (its tests skip without a GPU). Only the sources that include
# CUDA headers or engine/build_config.h recompile.
if [ -z "${GAN_CUDA:-}" ] && grep -q '^GAN_CUDA_DEFERRED:BOOL=ON' build/CMakeCache.txt 2>/dev/null; then
  cmake -S . -B build -DGAN_CUDA=AUTO -DGAN_CUDA_DEFERRED=OFF >/dev/null
fi
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
