#!/usr/bin/env bash
# Installs every dependency from Debian packages and builds the `gan` command into build/ (what the
# README's main job needs, first and alone; scripts/test.sh builds the tests and benchmarks).
# CUDA is built when nvcc is found (GAN_CUDA=AUTO); pass GAN_CUDA=OFF in the environment to skip it.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config libeigen3-dev libgtest-dev libgmock-dev
          libbenchmark-dev libcli11-dev nlohmann-json3-dev libstb-dev libpng-dev zlib1g-dev libzip-dev
          graphviz libopenmpi-dev openmpi-bin libopenblas-openmp-dev)
# graphviz: `gan trace` draws the step's graph with dot. OpenMPI: `mpirun -np N gan train` (data
# parallel, docs/distributed.md); the build goes on without it, training one process. OpenBLAS
# (OpenMP build): the CPU matrix products, measured faster than Eigen's own (docs/PERFORMANCE.md).
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

# The CUDA backend: where nvcc is found but no GPU is visible, the main job trains on the CPU, so
# the first build leaves CUDA out (a minute less before training starts) and scripts/test.sh adds
# it; GAN_CUDA=AUTO|ON|OFF in the environment decides instead. An existing build keeps its choice.
cuda_args=()
if [ -n "${GAN_CUDA:-}" ]; then
  cuda_args=(-DGAN_CUDA="$GAN_CUDA" -DGAN_CUDA_DEFERRED=OFF)
elif [ ! -f build/CMakeCache.txt ] && { command -v nvcc >/dev/null || [ -n "${CUDACXX:-}" ]; } &&
     ! { nvidia-smi -L 2>/dev/null | grep -q '^GPU' || ls /dev/nvidia[0-9]* >/dev/null 2>&1; }; then
  echo "setup: nvcc found but no GPU visible: building the gan command for the CPU (scripts/test.sh compiles the CUDA code)"
  cuda_args=(-DGAN_CUDA=OFF -DGAN_CUDA_DEFERRED=ON)
fi

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" >/dev/null
cmake --build build -j "$jobs" --target gan
cuda=$(sed -n 's/^GAN_BUILT_WITH_CUDA:INTERNAL=//p' build/CMakeCache.txt)
echo "setup: built build/apps/gan (CUDA backend: ${cuda:-OFF})"
