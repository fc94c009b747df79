#!/usr/bin/env bash
# Packs a CUDA build made on a machine without a GPU (build-gpu/, configured with a portable CPU
# target, -DGAN_CPU_ARCH=x86-64-v3 (AVX2, any x86-64 from the last decade) or "" (any x86-64), not
# native, so the host code runs on the GPU machine's CPU) into .devbin.tar.xz (the binaries share their kernels, so a solid
# archive is ~5 MB), small enough to travel to a GPU machine, where
#   PREBUILT=.devbin.tar.xz scripts/device_check.sh
# runs it without rebuilding. Binaries keep the source path they were built in (data lookups,
# the app path the tests call); device_check.sh recreates it there as a link.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-gpu}
# The CPU target the build used: GAN_CPU_ARCH, or an older cache's GAN_NATIVE=OFF (no -march flag).
if grep -q '^GAN_CPU_ARCH:' "$BUILD/CMakeCache.txt"; then
  ARCH=$(sed -n 's/^GAN_CPU_ARCH:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
elif grep -q '^GAN_NATIVE:BOOL=OFF' "$BUILD/CMakeCache.txt"; then
  ARCH=""
else
  ARCH=native
fi
if [ "$ARCH" = native ]; then
  echo "device_pack: $BUILD is built for this machine's CPU (-march=native); configure it with" \
       "-DGAN_CPU_ARCH=x86-64-v3 (or -DGAN_CPU_ARCH=\"\")" >&2
  exit 1
fi
case "$ARCH" in
  ""|OFF|off|NO|no|FALSE|false|0|NONE|none) echo "device_pack: host code built with no -march flag" ;;
  *) echo "device_pack: host code built with -march=$ARCH" ;;
esac
rm -rf .devbin && mkdir -p .devbin/tests .devbin/apps .devbin/bench
strip -o .devbin/tests/gan_tests "$BUILD/tests/gan_tests"
strip -o .devbin/apps/gan "$BUILD/apps/gan"
for b in "$BUILD"/bench/bench_*; do [ -x "$b" ] && [ -f "$b" ] && strip -o ".devbin/bench/$(basename "$b")" "$b"; done
sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt" > .devbin/SOURCE_DIR
echo "$(cd "$BUILD" && pwd)" > .devbin/BUILD_DIR
# MPI cannot travel this way (its launcher and plugins are installed, not linked).
if ldd .devbin/apps/gan | grep -q libmpi; then
  echo "device_pack: $BUILD links MPI, which a GPU image may lack; configure it with -DGAN_MPI=OFF" >&2
  exit 1
fi
# Shared libraries the binaries need that a GPU image may lack (Google Benchmark's runtime,
# OpenBLAS and its Fortran runtime).
for lib in $(ldd .devbin/bench/* .devbin/apps/gan .devbin/tests/gan_tests 2>/dev/null |
             awk '/benchmark|openblas|gfortran|quadmath/ {print $3}' | sort -u); do cp -L "$lib" .devbin/; done
tar -C .devbin -cf - . | xz -9 -T2 > .devbin.tar.xz
du -sh .devbin .devbin.tar.xz
