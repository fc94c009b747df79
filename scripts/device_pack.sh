#!/usr/bin/env bash
# Packs a CUDA build made on a machine without a GPU (build-gpu/, configured with GAN_NATIVE=OFF so
# the host code runs on any x86-64) into .devbin.tar.xz (the binaries share their kernels, so a solid
# archive is ~5 MB), small enough to travel to a GPU machine, where
#   PREBUILT=.devbin.tar.xz scripts/device_check.sh
# runs it without rebuilding. Binaries keep the source path they were built in (data lookups,
# the app path the tests call); device_check.sh recreates it there as a link.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-gpu}
grep -q '^GAN_NATIVE:BOOL=OFF' "$BUILD/CMakeCache.txt" || { echo "device_pack: configure $BUILD with -DGAN_NATIVE=OFF" >&2; exit 1; }
rm -rf .devbin && mkdir -p .devbin/tests .devbin/apps .devbin/bench
strip -o .devbin/tests/gan_tests "$BUILD/tests/gan_tests"
strip -o .devbin/apps/gan "$BUILD/apps/gan"
for b in "$BUILD"/bench/bench_*; do [ -x "$b" ] && [ -f "$b" ] && strip -o ".devbin/bench/$(basename "$b")" "$b"; done
sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt" > .devbin/SOURCE_DIR
echo "$(cd "$BUILD" && pwd)" > .devbin/BUILD_DIR
# Shared libraries the binaries need that a GPU image may lack (Google Benchmark's runtime).
for lib in $(ldd .devbin/bench/* 2>/dev/null | awk '/benchmark/ {print $3}' | sort -u); do cp -L "$lib" .devbin/; done
tar -C .devbin -cf - . | xz -9 -T2 > .devbin.tar.xz
du -sh .devbin .devbin.tar.xz
