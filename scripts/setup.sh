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

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGAN_CUDA="${GAN_CUDA:-AUTO}" >/dev/null
cmake --build build -j "$jobs" --target gan
cuda=$(sed -n 's/^GAN_BUILT_WITH_CUDA:INTERNAL=//p' build/CMakeCache.txt)
echo "setup: built build/apps/gan (CUDA backend: ${cuda:-OFF})"
